import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { ReplicaLog } from "../src/index.js";

const WRITER = fileURLToPath(new URL("./fixtures/writer.mjs", import.meta.url));

/** Runs the writer until it reported `durableMin` durable entries, then SIGKILLs it mid-write. */
function runAndKill(directory: string, durableMin: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, directory], { stdio: ["ignore", "pipe", "inherit"] });
    let durable = 0;
    let buffered = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^durable (\d+)$/.exec(line);
        if (match !== null) durable = Number(match[1]);
      }
      if (durable >= durableMin) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) =>
      signal === "SIGKILL"
        ? resolve(durable)
        : reject(new Error(`writer exited without being killed (${signal})`)),
    );
  });
}

it("keeps every entry it reported durable across SIGKILL, twice, and continues the sequence", {
  timeout: 60_000,
}, async () => {
  const directory = mkdtempSync(join(tmpdir(), "amcast-kill-"));
  try {
    const first = await runAndKill(directory, 2000);
    const afterFirst = await ReplicaLog.open(directory);
    const firstCount = afterFirst.recovery.entries.length;
    expect(firstCount).toBeGreaterThanOrEqual(first);
    await afterFirst.log.close();

    const second = await runAndKill(directory, first + 2000);
    const { log, recovery } = await ReplicaLog.open(directory);
    expect(recovery.entries.length).toBeGreaterThanOrEqual(second);
    recovery.entries.forEach((entry, index) => {
      expect(entry.position).toBe(index + 1);
      expect(entry.payload.toString()).toBe(`entry ${entry.position} `.repeat(1 + (entry.position % 9)));
    });
    await log.close();
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
