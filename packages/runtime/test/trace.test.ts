import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatMs, jsonIds, jsonString, TraceFile } from "../src/trace-writer.js";

describe("trace lines", () => {
  it("formats times to the microsecond as JSON numbers, without printing floats", () => {
    for (const ms of [0, 0.0004, 0.0006, 1, 12.5, 1234.5678, 99999.9999, 1.0005, 7_000_000.001]) {
      const text = formatMs(ms);
      expect(Number(JSON.parse(text))).toBeCloseTo(Math.round(ms * 1000) / 1000, 6);
    }
    expect(formatMs(1234.5678)).toBe("1234.568");
    expect(formatMs(2)).toBe("2.000");
  });

  it("quotes ids exactly as JSON.stringify does", () => {
    for (const text of ["c3:17", "g0/1", "Sao Paulo", 'quote"d', "back\\slash", "tab\t", "é", ""])
      expect(JSON.parse(jsonString(text))).toBe(text);
    expect(JSON.parse(jsonIds(["a", 'b"']))).toEqual(["a", 'b"']);
    expect(jsonIds(["g0"])).toBe('["g0"]');
  });

  it("writes every line, in order, including lines longer than its buffer", () => {
    const dir = mkdtempSync(join(tmpdir(), "amcast-trace-"));
    try {
      const file = new TraceFile(join(dir, "t.jsonl"));
      const long = "x".repeat(200_000);
      const lines = Array.from({ length: 5000 }, (_, n) => JSON.stringify({ n, s: n === 2500 ? long : "é" }));
      for (const line of lines) file.write(line);
      file.close();
      file.write("after close is ignored");
      expect(readFileSync(join(dir, "t.jsonl"), "utf8")).toBe(`${lines.join("\n")}\n`);
      expect(file.lines).toBe(5000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
