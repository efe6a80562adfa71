import { randomBytes } from "node:crypto";
import type { HistoryEvent } from "@amcast/check";
import { checkLinearizability, kvModel } from "@amcast/check";
import { protocolNames } from "@amcast/protocols";
import type { ProtocolName, ReplicaHandle, ReplicationMode, ServiceClient } from "@amcast/smr";
import { connectClient, startReplica } from "@amcast/smr";
import { afterEach, describe, expect, it } from "vitest";
import type { KvCommand, KvReply } from "../src/index.js";
import { HistoryRecorder, KvClient, KvShard, Partitioning } from "../src/index.js";
import { loopbackCluster } from "./loopback.js";

const GROUPS = ["a", "b", "c"];

const replicas: ReplicaHandle[] = [];
const clients: ServiceClient<KvCommand, KvReply>[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
});

/**
 * The service on the network runtime (every replica a server on loopback, here in this process)
 * with two client hosts writing one history on the hosts' clock; the history must be
 * linearizable for the linearizable variant.
 */
async function runOnNetwork(
  protocol: ProtocolName,
  mode: ReplicationMode,
  linearizable: boolean,
): Promise<HistoryEvent[]> {
  const perGroup = mode === "crash" ? 3 : 1;
  const secret = randomBytes(32);
  const partitioning = Partitioning.range([
    { group: "a", from: "" },
    { group: "b", from: "h" },
    { group: "c", from: "p" },
  ]);
  const cluster = await loopbackCluster(
    GROUPS,
    perGroup,
    { protocol, mode, linearizable, clientHosts: { east: 2, west: 2 } },
    async (cluster) => {
      for (const group of GROUPS)
        for (let index = 0; index < perGroup; index += 1)
          replicas.push(
            await startReplica({
              cluster,
              id: `${group}/${index}`,
              secret,
              application: new KvShard(group, partitioning).application,
              log: () => {},
            }),
          );
    },
    async () => {
      await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
    },
  );
  const events: HistoryEvent[] = [];
  const kvs: KvClient[] = [];
  for (const host of ["east", "west"]) {
    const service = await connectClient<KvCommand, KvReply>({ cluster, secret, host, log: () => {} });
    clients.push(service);
    // One recorder per host, ids prefixed, as each host would write its own file.
    kvs.push(
      new KvClient(service, {
        partitioning,
        history: new HistoryRecorder((event) => events.push(event), { idPrefix: `${host}:` }),
      }),
    );
  }
  const [east, west] = kvs as [KvClient, KvClient];
  await east.multiPut({ apple: "1", kiwi: "1", plum: "1" });
  // Writers on every shard and range readers across shards, concurrently, from both hosts.
  await Promise.all(
    Array.from({ length: 6 }, async (_, round) => {
      await Promise.all([
        east.put("apple", `e${round}`),
        west.put("plum", `w${round}`),
        east.range("a", "q"),
        west.range("h", null),
        west.compareAndSet("kiwi", round === 0 ? "1" : `k${round - 1}`, `k${round}`),
      ]);
    }),
  );
  expect(await east.multiGet(["apple", "plum"])).toEqual(
    new Map([
      ["apple", "e5"],
      ["plum", "w5"],
    ]),
  );
  return events;
}

describe("the key-value service on the network runtime", () => {
  // Every registered protocol in both modes the runtime runs, the variants alternating.
  const runs: [ProtocolName, ReplicationMode, boolean][] = protocolNames().flatMap((protocol, index) => [
    [protocol, "solo", index % 2 === 0] as [ProtocolName, ReplicationMode, boolean],
    [protocol, "crash", index % 2 === 1] as [ProtocolName, ReplicationMode, boolean],
  ]);
  for (const [protocol, mode, linearizable] of runs)
    it(`${protocol}/${mode}${linearizable ? "/linearizable" : ""}: every operation runs across shards, and the history on the hosts' clock checks`, {
      timeout: 60_000,
    }, async () => {
      const events = await runOnNetwork(protocol, mode, linearizable);
      expect(events.filter((event) => event.ev === "invoke")).toHaveLength(1 + 6 * 5 + 1);
      // Times come from the hosts' clock (Unix ms), in the order things happened on it.
      expect(events.every((event) => event.t > 1_600_000_000_000)).toBe(true);
      const report = checkLinearizability(events, kvModel);
      if (linearizable) expect(report.verdict).toBe("linearizable");
      else expect(report.verdict).not.toBe("unknown");
    });
});
