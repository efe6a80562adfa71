// A partitioned key-value store on atomic multicast: keys a-m live in group "left", n-z in
// "right". A command that touches keys of both groups is one multicast to both, so multi-key
// writes are atomic and multi-key reads consistent across shards. Run: pnpm exec tsx examples/kv-store.ts
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type { Client, StatefulApplication } from "@amcast/smr";
import {
  connectClient,
  createSimCluster,
  restoreApplication,
  snapshotApplication,
  startReplica,
} from "@amcast/smr";

type Command = { op: "put"; entries: Record<string, string> } | { op: "get"; keys: string[] };
type Reply = Record<string, string | null>;

const shardOf = (key: string): string => (key < "n" ? "left" : "right");

/**
 * One replica's state machine: it applies the part of each command that falls in its shard. Its
 * state is explicit and split by first letter, so a replica can be snapshotted and rebuilt one
 * partition at a time, each checked against its hash.
 */
function kvStore(group: string): StatefulApplication<Command, Reply> {
  const byLetter = new Map<string, Map<string, string>>(); // first letter -> key -> value
  const partition = (key: string): Map<string, string> => {
    const letter = key.slice(0, 1);
    const data = byLetter.get(letter) ?? new Map<string, string>();
    byLetter.set(letter, data);
    return data;
  };
  return {
    apply({ payload }) {
      const reply: Reply = {};
      if (payload.op === "put") {
        for (const [key, value] of Object.entries(payload.entries))
          if (shardOf(key) === group) partition(key).set(key, value);
      } else {
        for (const key of payload.keys)
          if (shardOf(key) === group) reply[key] = byLetter.get(key.slice(0, 1))?.get(key) ?? null;
      }
      return reply;
    },
    partitions: () => [...byLetter.keys()],
    // Sorted, so replicas with the same data give the same bytes (and hash) whatever the write order.
    snapshot: (letter) => [...(byLetter.get(letter) ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)),
    restore: (letter, entries) => void byLetter.set(letter, new Map(entries as [string, string][])),
  };
}

async function put(client: Client<Command, Reply>, entries: Record<string, string>): Promise<void> {
  await client.multicast(Object.keys(entries).map(shardOf), { op: "put", entries });
}

async function get(client: Client<Command, Reply>, keys: string[]): Promise<Reply> {
  const replies = await client.multicast(keys.map(shardOf), { op: "get", keys });
  return Object.assign({}, ...Object.values(replies)); // one reply per destination group
}

// 1. On the simulator: both groups in this process, 40 ms apart, virtual time.
const sim = createSimCluster<Command, Reply>({
  groups: ["left", "right"],
  application: (group) => kvStore(group),
  latencyMs: [
    [1, 40],
    [40, 1],
  ],
});
const alice = sim.client({ home: "left" });
const bob = sim.client({ home: "right" });
await put(alice, { apple: "red", pear: "green" }); // one atomic multicast to both groups
await Promise.all([
  put(alice, { apple: "yellow", pear: "yellow" }),
  put(bob, { apple: "pink", pear: "pink" }),
]);
const fruit = await get(bob, ["apple", "pear"]);
assert.equal(fruit.apple, fruit.pear); // both writes were ordered the same way in both groups
console.log("simulator:", fruit, `(${sim.nowMs.toFixed(1)} virtual ms)`);
assert.deepEqual(sim.check().violations, []); // the oracles agree

// 2. On the network: one replica per group, each a server (here in this process; normally each
// runs `startReplica` on its own machine), and a client host, all holding the cluster secret.
const secret = randomBytes(32);
// Fixed ports below Linux's ephemeral range (32768-60999): no outgoing connection can hold them.
const cluster = {
  groups: {
    left: [{ host: "127.0.0.1", port: 17101 }],
    right: [{ host: "127.0.0.1", port: 17102 }],
  },
};
const stores = { left: kvStore("left"), right: kvStore("right") };
const replicas = await Promise.all(
  (["left", "right"] as const).map((group) =>
    startReplica({ cluster, id: `${group}/0`, secret, application: stores[group] }),
  ),
);
const client = await connectClient<Command, Reply>({ cluster, secret });
await put(client, { apple: "red", kiwi: "green", plum: "purple" });
const basket = await get(client, ["apple", "kiwi", "plum", "quince"]);
assert.deepEqual(basket, { apple: "red", kiwi: "green", plum: "purple", quince: null });
console.log("network:", basket);

// 3. Explicit state: a snapshot of a replica (one hash per partition, one root over them) rebuilds
// a fresh replica that holds the same data and hashes to the same root.
const snapshot = snapshotApplication(stores.left);
const rebuilt = kvStore("left");
restoreApplication(rebuilt, snapshot);
assert.equal(snapshotApplication(rebuilt).manifest.root, snapshot.manifest.root);
console.log(
  "snapshot of left/0:",
  snapshot.manifest.partitions.map((entry) => entry.name),
);
await client.close();
await Promise.all(replicas.map((replica) => replica.stop()));
