import type { HistoryEvent } from "@amcast/check";
import { checkLinearizability, kvModel } from "@amcast/check";
import { JsonFields } from "@amcast/core";

const JSON_WORKLOAD = (value: unknown): JsonFields => JsonFields.root(value, "workload");

import { protocolNames } from "@amcast/protocols";
import type { ProtocolName, ReplicationMode } from "@amcast/smr";
import { createSimCluster } from "@amcast/smr";
import { describe, expect, it } from "vitest";
import type { KvCommand, KvReply } from "../src/index.js";
import {
  evenRangePartitioning,
  HistoryRecorder,
  KvClient,
  KvError,
  KvShard,
  Partitioning,
  readKvWorkload,
  simulateKvWorkload,
  workloadClients,
} from "../src/index.js";

const GROUPS = ["east", "west", "south"];

function cluster(
  partitioning: Partitioning,
  options: { protocol?: ProtocolName; mode?: ReplicationMode; linearizable?: boolean; seed?: number } = {},
) {
  const shards = new Map<string, KvShard>();
  const sim = createSimCluster<KvCommand, KvReply>({
    groups: GROUPS,
    application: (group, replica) => {
      const shard = new KvShard(group, partitioning);
      shards.set(replica, shard);
      return shard.application;
    },
    latencyMs: [
      [1, 30, 60],
      [30, 1, 45],
      [60, 45, 1],
    ],
    ...options,
  });
  return { sim, shards };
}

describe("partitioning", () => {
  it("range: each shard holds its interval, range reads ask the shards they overlap", () => {
    const p = Partitioning.range([
      { group: "a", from: "" },
      { group: "b", from: "h" },
      { group: "c", from: "p" },
    ]);
    expect(["apple", "h", "kiwi", "plum", "zz"].map((key) => p.shardOf(key))).toEqual([
      "a",
      "b",
      "b",
      "c",
      "c",
    ]);
    expect(p.shardsOfRange("b", "i")).toEqual(["a", "b"]);
    expect(p.shardsOfRange("h", "p")).toEqual(["b"]);
    expect(p.shardsOfRange("i", null)).toEqual(["b", "c"]);
    expect(p.holds("b", "kiwi")).toBe(true);
    expect(p.holds("a", "kiwi")).toBe(false);
  });

  it("hash: every key has exactly one shard, the same on every machine; a range read asks all", () => {
    const p = Partitioning.hash(["a", "b", "c"]);
    const counts = new Map<string, number>();
    for (let index = 0; index < 3000; index += 1) {
      const shard = p.shardOf(`key-${index}`);
      counts.set(shard, (counts.get(shard) ?? 0) + 1);
      expect(p.holds(shard, `key-${index}`)).toBe(true);
    }
    for (const count of counts.values()) expect(count).toBeGreaterThan(800);
    // FNV-1a is fixed: these stay where they are on every machine.
    expect(["x", "y", "z"].map((key) => p.shardOf(key))).toEqual(["a", "b", "b"]);
    expect(p.shardsOfRange("a", "b")).toEqual(["a", "b", "c"]);
  });

  it("rejects bad specs and keys no shard holds, saying what and where", () => {
    expect(() => Partitioning.fromSpec({ kind: "modulo" }, "cfg.json")).toThrow(
      'cfg.json: kind: expected "hash" or "range", got "modulo"',
    );
    expect(() =>
      Partitioning.fromSpec(
        {
          kind: "range",
          shards: [
            { group: "a", from: "m" },
            { group: "b", from: "c" },
          ],
        },
        "cfg.json",
      ),
    ).toThrow('cfg.json: shards[1].from: "c" must be above the previous shard\'s "m"');
    expect(() => Partitioning.fromSpec({ kind: "hash", groups: ["a", "a"] }, "cfg.json")).toThrow(
      "lists a group twice",
    );
    const p = Partitioning.range([{ group: "a", from: "m" }]);
    expect(() => p.shardOf("apple")).toThrow(KvError);
    expect(() => p.shardOf("apple")).toThrow('unknown-shard: no shard holds key "apple"');
    expect(() => p.checkGroups(["b"])).toThrow(
      "unknown-shard: the partitioning names a, not groups of the service",
    );
  });
});

describe("the key-value service on the simulator", () => {
  it("runs every operation across shards, atomically, with typed results", async () => {
    const partitioning = evenRangePartitioning(GROUPS);
    const { sim, shards } = cluster(partitioning);
    const events: HistoryEvent[] = [];
    const history = new HistoryRecorder((event) => events.push(event));
    const kv = new KvClient(sim.client({ home: "east" }), { partitioning, history });
    await kv.multiPut({ "s0/a": "1", "s1/a": "2", "s2/a": "3" });
    expect(await kv.get("s1/a")).toBe("2");
    expect(await kv.multiGet(["s0/a", "s2/a", "s2/zz"])).toEqual(
      new Map([
        ["s0/a", "1"],
        ["s2/a", "3"],
        ["s2/zz", null],
      ]),
    );
    expect(await kv.compareAndSet("s0/a", "1", "10")).toBe(true);
    expect(await kv.compareAndSet("s0/a", "1", "11")).toBe(false);
    expect(await kv.compareAndSet("s0/new", null, "n")).toBe(true);
    await kv.put("s1/b", "4");
    expect(await kv.range("s0", "s2")).toEqual([
      ["s0/a", "10"],
      ["s0/new", "n"],
      ["s1/a", "2"],
      ["s1/b", "4"],
    ]);
    expect(await kv.delete("s1/a")).toBe(true);
    expect(await kv.delete("s1/a")).toBe(false);
    expect(await kv.range("s1", null)).toEqual([
      ["s1/b", "4"],
      ["s2/a", "3"],
    ]);
    // Each shard holds only its keys, and all replicas of a group the same ones.
    expect(shards.get("east/0")?.entries()).toEqual([
      ["s0/a", "10"],
      ["s0/new", "n"],
    ]);
    expect(sim.check().violations).toEqual([]);
    expect(events.filter((event) => event.ev === "invoke")).toHaveLength(11);
    expect(checkLinearizability(events, kvModel).verdict).toBe("linearizable");
  });

  it("refuses what it should not send, with a clear error code, before sending anything", async () => {
    const partitioning = Partitioning.range([
      { group: "east", from: "a" },
      { group: "west", from: "n" },
    ]);
    const { sim } = cluster(partitioning);
    const kv = new KvClient(sim.client(), {
      partitioning,
      limits: { valueBytesMax: 8, keysPerOperationMax: 2 },
    });
    await expect(kv.put("apple", "123456789")).rejects.toThrow(
      'value-too-large: the value of "apple" has 9 bytes (at most 8)',
    );
    await expect(kv.put("apple", "ééééé")).rejects.toMatchObject({ code: "value-too-large" });
    await expect(kv.get("Apple")).rejects.toMatchObject({ code: "unknown-shard" });
    await expect(kv.multiGet(["a", "b", "c"])).rejects.toMatchObject({ code: "too-many-keys" });
    await expect(kv.get("x".repeat(300))).rejects.toMatchObject({ code: "key-too-large" });
    await expect(kv.get("__proto__")).rejects.toMatchObject({ code: "bad-argument" });
    await expect(kv.range("z", "a")).rejects.toMatchObject({ code: "bad-argument" });
    expect(sim.trace.filter((event) => event.ev === "multicast")).toHaveLength(0);
  });

  it("a replica refuses malformed commands and keys of other shards, and the client says so", async () => {
    const partitioning = evenRangePartitioning(GROUPS);
    const shard = new KvShard("east", partitioning);
    expect(shard.execute({ f: "put", key: "s0/a" })).toEqual({
      error: "command: args.value: expected a string, got nothing",
    });
    expect(shard.execute("drop table")).toMatchObject({
      error: expect.stringContaining("expected an operation"),
    });
    expect(shard.execute({ f: "get", key: "s1/a" })).toEqual({ error: 'key "s1/a" is not in shard east' });
    expect(shard.size).toBe(0);
    const { sim } = cluster(partitioning);
    const raw = sim.client();
    const kv = new KvClient(
      { id: raw.id, multicast: () => raw.multicast("west", { f: "get", key: "s0/a" }), nowMs: () => 0 },
      { partitioning },
    );
    await expect(kv.get("s0/a")).rejects.toMatchObject({ code: "rejected" });
  });

  // Every registered protocol: a protocol joins the registry, and the service is tested on it.
  const protocols: ProtocolName[] = protocolNames();
  const modes: ReplicationMode[] = ["solo", "crash", "byzantine"];
  for (const protocol of protocols)
    for (const mode of modes)
      it(`${protocol}/${mode}: a linearizable service gives linearizable histories under a mixed workload`, () => {
        const partitioning = evenRangePartitioning(GROUPS);
        const { sim, shards } = cluster(partitioning, { protocol, mode, linearizable: true, seed: 3 });
        const perClient = mode === "byzantine" ? 8 : 15;
        const spec = readKvWorkload(
          JsonFields.root(
            {
              clientsPerGroup: 2,
              // Byzantine groups (four replicas, signatures) cost the most: fewer operations there.
              operationsPerClient: perClient,
              mix: { put: 25, get: 10, delete: 5, cas: 10, "multi-put": 15, "multi-get": 10, range: 25 },
            },
            "workload",
          ),
        );
        const events: HistoryEvent[] = [];
        const result = simulateKvWorkload(
          sim,
          partitioning,
          workloadClients(spec, partitioning, 3),
          spec,
          new HistoryRecorder((event) => events.push(event)),
        );
        expect(result.operations).toBe(GROUPS.length * 2 * perClient);
        expect(result.refused).toBe(0);
        const report = checkLinearizability(events, kvModel);
        expect(report.verdict).toBe("linearizable");
        expect(sim.check().violations).toEqual([]);
        // All replicas of a group hold the same data.
        for (const group of GROUPS) {
          const replicas = [...shards]
            .filter(([id]) => id.startsWith(`${group}/`))
            .map(([, shard]) => shard.entries());
          for (const replica of replicas) expect(replica).toEqual(replicas[0]);
        }
      });

  for (const protocol of protocols)
    it(`${protocol}/crash/linearizable: histories stay linearizable through crashed replicas and a cut link`, () => {
      const partitioning = evenRangePartitioning(GROUPS);
      const { sim, shards } = cluster(partitioning, { protocol, mode: "crash", linearizable: true, seed: 9 });
      const spec = readKvWorkload(
        JSON_WORKLOAD({
          clientsPerGroup: 2,
          operationsPerClient: 20,
          mix: { put: 40, get: 10, cas: 10, "multi-put": 10, range: 30 },
        }),
      );
      const events: HistoryEvent[] = [];
      const faults = {
        // One replica of each of two groups goes down (one recovers), and a third is cut off a while.
        crashes: [
          { proc: "east/0", atMs: 150, recoverAtMs: 900 },
          { proc: "west/1", atMs: 300 },
        ],
        partitions: [{ side: ["south/2"], atMs: 100, healAtMs: 700 }],
      };
      const outcome = simulateKvWorkload(
        sim,
        partitioning,
        workloadClients(spec, partitioning, 9),
        spec,
        new HistoryRecorder((event) => events.push(event)),
        undefined,
        faults,
      );
      expect(outcome.operations).toBe(GROUPS.length * 2 * 20);
      expect(checkLinearizability(events, kvModel).verdict).toBe("linearizable");
      const report = sim.check();
      expect(report.violations).toEqual([]);
      expect(report.counts.faultyProcesses).toBe(2);
      // The live replicas of a group, the recovered one included, hold the same data.
      for (const group of GROUPS) {
        const live = [...shards]
          .filter(([id]) => id.startsWith(`${group}/`) && id !== "west/1")
          .map(([, shard]) => shard.entries());
        for (const replica of live) expect(replica).toEqual(live[0]);
      }
    });
});

describe("a replica that lost its memory gets its shard back from its group", () => {
  /** Puts to 2000 keys over three shards while east/1 crashes with amnesia and comes back. */
  function amnesiaRun(stateful: boolean) {
    const partitioning = Partitioning.hash(GROUPS);
    const shards = new Map<string, KvShard>();
    const sim = createSimCluster<KvCommand, KvReply>({
      groups: GROUPS,
      mode: "crash",
      checkpointEntries: 32,
      application: (group, replica) => {
        // Called again for the restarted replica: the map keeps its new, empty shard.
        const shard = new KvShard(group, partitioning);
        shards.set(replica, shard);
        return stateful ? shard.stateful : shard.application;
      },
      latencyMs: 5,
    });
    const clients = [0, 1, 2, 3].map((client) => {
      let count = 0;
      return {
        multicasts: 150,
        next: () => {
          count += 1;
          const key = `key-${(client * 7919 + count * 31) % 2000}`;
          return {
            destinations: partitioning.shardOf(key),
            payload: { f: "put", key, value: `${client}:${count}` } as KvCommand,
          };
        },
      };
    });
    sim.run(clients, {
      faults: {
        crashes: [{ proc: "east/1", atMs: 60, recoverAtMs: 2000, kind: "amnesia" }],
        partitions: [],
      },
    });
    const installed = sim.trace.some(
      (event) => event.ev === "fault" && event.kind === "install" && event.proc === "east/1",
    );
    const entries = (replica: string) => (shards.get(replica) as KvShard).entries();
    return { sim, installed, entries };
  }

  it("with the shard's state in the checkpoints (stateful): installs one and ends equal to its peers", () => {
    const { sim, installed, entries } = amnesiaRun(true);
    expect(installed).toBe(true);
    expect(entries("east/0").length).toBeGreaterThan(20);
    expect(entries("east/1")).toEqual(entries("east/0"));
    expect(entries("east/2")).toEqual(entries("east/0"));
    expect(sim.check().violations).toEqual([]);
  });

  it("without it (a plain application): the restarted replica misses what came before its checkpoint", () => {
    const { installed, entries } = amnesiaRun(false);
    expect(installed).toBe(true);
    expect(entries("east/1").length).toBeLessThan(entries("east/0").length);
    expect(entries("east/1")).not.toEqual(entries("east/0"));
  });
});
