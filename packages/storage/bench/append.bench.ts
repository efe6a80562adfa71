/**
 * What the replica log's fsync policy costs: appends of 128-byte entries in batches (append the
 * batch, then await `sync()`, as a replica does before acting on decided entries), under each
 * policy, on the file system of `os.tmpdir()` (or $AMCAST_BENCH_DIR).
 * Run: pnpm --filter @amcast/storage bench   (after pnpm run build)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Bench } from "tinybench";
import type { FsyncPolicy } from "../src/index.js";
import { FSYNC_POLICIES, ReplicaLog } from "../src/index.js";

const PAYLOAD_BYTES = 128;
const BATCH_SIZES = [1, 64];
const root = mkdtempSync(join(process.env.AMCAST_BENCH_DIR ?? tmpdir(), "amcast-log-bench-"));
const payload = Buffer.alloc(PAYLOAD_BYTES, 7);

const bench = new Bench({ name: "replica log appends", time: 2000, warmupTime: 200 });
const logs: ReplicaLog[] = [];
const batchOf = new Map<string, number>();
for (const fsync of FSYNC_POLICIES)
  for (const batch of BATCH_SIZES) {
    const { log } = await ReplicaLog.open(join(root, `${fsync}-${batch}`), { fsync: fsync as FsyncPolicy });
    logs.push(log);
    const name = `fsync ${fsync}, ${batch} entr${batch === 1 ? "y" : "ies"} per sync`;
    batchOf.set(name, batch);
    bench.add(name, async () => {
      for (let index = 0; index < batch; index += 1) log.append(payload);
      await log.sync();
    });
  }
await bench.run();
for (const log of logs) await log.close();
rmSync(root, { recursive: true, force: true });

process.stdout.write(`${bench.name}: ${PAYLOAD_BYTES}-byte entries, in ${root}\n`);
process.stdout.write(
  "policy and batch                          | syncs/s   | entries/s  | MB/s   | p50 sync µs\n",
);
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== "completed") {
    process.stdout.write(`${task.name}: ${result.state}\n`);
    continue;
  }
  const batch = batchOf.get(task.name) as number;
  const syncsPerSec = result.throughput.mean;
  const entriesPerSec = syncsPerSec * batch;
  const megabytesPerSec = (entriesPerSec * (PAYLOAD_BYTES + 16)) / 1e6;
  process.stdout.write(
    `${task.name.padEnd(41)} | ${syncsPerSec.toFixed(0).padStart(9)} | ${entriesPerSec.toFixed(0).padStart(10)} | ${megabytesPerSec.toFixed(1).padStart(6)} | ${((result.latency.p50 ?? 0) * 1000).toFixed(0).padStart(6)}\n`,
  );
}
