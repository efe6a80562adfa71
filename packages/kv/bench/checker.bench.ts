/**
 * How long the linearizability checker takes on key-value histories of 10,000 and 100,000
 * operations: `pnpm --filter @amcast/kv exec tsx bench/checker.bench.ts [--sizes 10000,100000]`.
 * The histories come from the simulator (Skeen, three shards, twelve clients, WAN delays); on
 * the linearizable variant every check does its full work and answers "linearizable":
 * - single-key: get, put, compare-and-set and delete, each on one key: the checker splits the
 *   history per key (P-compositionality) and searches each key alone;
 * - range reads: puts and gets on six keys, and range reads over two shards that tie every key
 *   together: one search over the whole history;
 * - the same on plain Skeen: not linearizable; the time includes shrinking the witness.
 */
import { parseArgs } from "node:util";
import type { HistoryEvent } from "@amcast/check";
import { checkLinearizability, kvModel } from "@amcast/check";
import { createSimCluster } from "@amcast/smr";
import { Bench } from "tinybench";
import type { KvCommand, KvReply, KvWorkloadSpec } from "../src/index.js";
import {
  DEFAULT_KV_WORKLOAD,
  evenRangePartitioning,
  HistoryRecorder,
  KvShard,
  simulateKvWorkload,
  workloadClients,
} from "../src/index.js";

const GROUPS = ["Canada", "Virginia", "SaoPaulo"];
const CLIENTS_PER_GROUP = 4;

function history(
  operations: number,
  mix: KvWorkloadSpec["mix"],
  keysPerShard: number,
  linearizable: boolean,
): HistoryEvent[] {
  const partitioning = evenRangePartitioning(GROUPS);
  const cluster = createSimCluster<KvCommand, KvReply>({
    groups: GROUPS,
    protocol: "skeen",
    linearizable,
    keepTrace: false,
    application: (group) => new KvShard(group, partitioning).application,
    latencyMs: [
      [5, 16, 128],
      [17, 7, 114],
      [126, 116, 3],
    ],
  });
  const spec: KvWorkloadSpec = {
    ...DEFAULT_KV_WORKLOAD,
    clientsPerGroup: CLIENTS_PER_GROUP,
    operationsPerClient: Math.ceil(operations / (GROUPS.length * CLIENTS_PER_GROUP)),
    keysPerShard,
    mix,
  };
  const events: HistoryEvent[] = [];
  simulateKvWorkload(
    cluster,
    partitioning,
    workloadClients(spec, partitioning, 1),
    spec,
    new HistoryRecorder((event) => events.push(event)),
  );
  return events;
}

const { values } = parseArgs({ options: { sizes: { type: "string" } } });
const sizes = (values.sizes ?? "10000,100000").split(",").map(Number);
const bench = new Bench({ iterations: 3, time: 0, warmupIterations: 1, warmupTime: 0 });
const shapes = [
  {
    name: "single-key",
    mix: { get: 40, put: 40, cas: 10, delete: 10 },
    keysPerShard: 50,
    linearizable: true,
  },
  { name: "range reads", mix: { put: 50, get: 10, range: 40 }, keysPerShard: 2, linearizable: true },
  // Plain Skeen: the history is not linearizable; the time includes finding the minimal witness.
  { name: "range reads, plain", mix: { put: 50, get: 10, range: 40 }, keysPerShard: 2, linearizable: false },
];
for (const size of sizes)
  for (const shape of shapes) {
    const events = history(size, shape.mix, shape.keysPerShard, shape.linearizable);
    const report = checkLinearizability(events, kvModel);
    if (report.verdict !== (shape.linearizable ? "linearizable" : "violation"))
      throw new Error(`${shape.name} ${size}: ${report.verdict}`);
    const witness = report.witness === null ? "" : `, witness of ${report.witness.operations.length}`;
    const label = `${shape.name}, ${report.operations} ops (${report.parts} parts, largest ${report.largestPart}, ${report.states} states${witness})`;
    bench.add(label, () => {
      checkLinearizability(events, kvModel);
    });
  }
await bench.run();
console.table(
  bench.tasks.map((task) => {
    const result = task.result;
    const completed = result.state === "completed";
    return {
      history: task.name,
      "median ms": completed ? result.latency.p50?.toFixed(1) : result.state,
      "mean ms": completed ? result.latency.mean.toFixed(1) : "",
      runs: completed ? result.latency.samplesCount : 0,
    };
  }),
);
