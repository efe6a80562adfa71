import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TraceEvent } from "@amcast/core";
import { expect, it } from "vitest";
import { mergeTraceFiles } from "../src/index.js";

it("merges node traces by time, skipping a missing file and a last line cut short by a kill", () => {
  const dir = mkdtempSync(join(tmpdir(), "amcast-merge-"));
  try {
    const a = join(dir, "a.jsonl");
    const b = join(dir, "b.jsonl");
    writeFileSync(
      a,
      '{"ev":"multicast","id":"c0:0","client":"c0","dst":["g"],"t":1}\n{"ev":"complete","id":"c0:0","client":"c0","t":5}\n',
    );
    // b was killed while writing its second line.
    writeFileSync(b, '{"ev":"deliver","id":"c0:0","group":"g","proc":"g/0","t":3}\n{"ev":"deliver","id":"c0');
    const events: TraceEvent[] = [];
    expect(mergeTraceFiles([a, join(dir, "missing.jsonl"), b], (event) => events.push(event))).toBe(3);
    expect(events.map((event) => event.t)).toEqual([1, 3, 5]);
    // A broken line anywhere else is an error, not something to skip.
    writeFileSync(
      b,
      '{"ev":"deliver","id":"c0\n{"ev":"deliver","id":"c0:0","group":"g","proc":"g/0","t":3}\n',
    );
    expect(() => mergeTraceFiles([b], () => {})).toThrow();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
