// The sharded key-value service of @amcast/kv: keys partitioned by range over three groups, each
// operation one atomic multicast to the shards it touches, every call recorded in a history and
// the history checked for linearizability. Run: pnpm exec tsx examples/kv-service.ts
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { HistoryEvent } from "@amcast/check";
import { checkLinearizability, formatLinearizabilityReport, kvModel } from "@amcast/check";
import type { KvCommand, KvReply } from "@amcast/kv";
import { HistoryRecorder, KvClient, type KvError, KvShard, Partitioning } from "@amcast/kv";
import { connectClient, createSimCluster, startReplica } from "@amcast/smr";

// Shard "eu" holds keys below "h", "us" from "h" to "p", "asia" from "p" on.
const partitioning = Partitioning.range([
  { group: "eu", from: "" },
  { group: "us", from: "h" },
  { group: "asia", from: "p" },
]);

// 1. On the simulator: linearizable Skeen, crash-tolerant groups (3 replicas each), WAN delays.
const sim = createSimCluster<KvCommand, KvReply>({
  groups: ["eu", "us", "asia"],
  protocol: "skeen",
  linearizable: true,
  mode: "crash",
  application: (group) => new KvShard(group, partitioning).application,
  latencyMs: [
    [1, 40, 110],
    [40, 1, 80],
    [110, 80, 1],
  ],
});
const history: HistoryEvent[] = [];
const recorder = new HistoryRecorder((event) => history.push(event));
const kv = (home: string) => new KvClient(sim.client({ home }), { partitioning, history: recorder });
const [alice, bob] = [kv("eu"), kv("asia")];

await alice.multiPut({ apple: "1", kiwi: "2", quince: "3" }); // one multicast to all three shards
assert.equal(await bob.compareAndSet("kiwi", "2", "20"), true);
const [, stock] = await Promise.all([alice.put("zucchini", "9"), bob.range("a", "r")]);
assert.ok(stock.length === 3 && stock[1]?.[1] === "20");
assert.equal(await alice.delete("apple"), true);
await assert.rejects(
  alice.put("kiwi", "x".repeat(70_000)),
  (error: KvError) => error.code === "value-too-large",
);

const report = checkLinearizability(history, kvModel);
assert.equal(report.verdict, "linearizable");
console.log(`simulator: ${formatLinearizabilityReport(report)} at ${sim.nowMs.toFixed(0)} virtual ms`);

// 2. On the network: one replica per shard (here in this process), a client host, a secret.
// Its ports are below Linux's ephemeral range (32768-60999), so no outgoing connection holds them.
const secret = randomBytes(32);
const cluster = {
  protocol: "flexcast" as const,
  groups: {
    eu: [{ host: "127.0.0.1", port: 17201 }],
    us: [{ host: "127.0.0.1", port: 17202 }],
    asia: [{ host: "127.0.0.1", port: 17203 }],
  },
};
const replicas = await Promise.all(
  (["eu", "us", "asia"] as const).map((group) =>
    startReplica({
      cluster,
      id: `${group}/0`,
      secret,
      application: new KvShard(group, partitioning).application,
    }),
  ),
);
const service = await connectClient<KvCommand, KvReply>({ cluster, secret });
const remote = new KvClient(service, { partitioning });
await remote.multiPut([
  ["fig", "a"],
  ["mango", "b"],
  ["plum", "c"],
]);
assert.deepEqual(
  await remote.multiGet(["fig", "plum", "nope"]),
  new Map([
    ["fig", "a"],
    ["plum", "c"],
    ["nope", null],
  ]),
);
console.log("network:", await remote.range("", null));
await service.close();
await Promise.all(replicas.map((replica) => replica.stop()));
