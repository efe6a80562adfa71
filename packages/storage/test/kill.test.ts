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

it("keeps every entry it reported durable across SIGKILLs, with its checkpoints, and continues the sequence", {
  timeout: 60_000,
}, async () => {
  const directory = mkdtempSync(join(tmpdir(), "amcast-kill-"));
  try {
    let durable = 0;
    for (let kill = 1; kill <= 4; kill += 1) {
      durable = await runAndKill(directory, durable + 1700);
      const { log, recovery } = await ReplicaLog.open(directory);
      const covered = recovery.checkpoint?.position ?? 0;
      expect(covered).toBeGreaterThan(durable - 600); // checkpoints go on after every restart
      expect(recovery.checkpoint?.state.toString()).toBe(`state after ${covered}`);
      // The checkpoint and the entries after it hold every entry reported durable, in sequence.
      expect(covered + recovery.entries.length).toBeGreaterThanOrEqual(durable);
      recovery.entries.forEach((entry, index) => {
        expect(entry.position).toBe(covered + index + 1);
        expect(entry.payload.toString()).toBe(`entry ${entry.position} `.repeat(1 + (entry.position % 9)));
      });
      await log.close();
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
