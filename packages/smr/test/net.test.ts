import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GroupId } from "@amcast/core";
import { Keyring, publicKeysFromSecret } from "@amcast/runtime";
import { afterEach, describe, expect, it } from "vitest";
import type { Application, ClusterConfig, ReplicaHandle, ServiceClient } from "../src/index.js";
import { connectClient, startReplica } from "../src/index.js";
import { freeLoopbackPorts, loopbackGroups, onFreePorts } from "../src/ports.js";

function configOn(
  ports: readonly number[],
  groups: readonly GroupId[],
  perGroup: number,
  extra: Partial<ClusterConfig>,
): ClusterConfig {
  return { groups: loopbackGroups(ports, groups, perGroup), ...extra };
}

/** A configuration on free loopback ports, for a cluster that is never started. */
async function config(
  groups: readonly GroupId[],
  perGroup: number,
  extra: Partial<ClusterConfig>,
): Promise<ClusterConfig> {
  return configOn(await freeLoopbackPorts(groups.length * perGroup), groups, perGroup, extra);
}

/** Answers each message with its position in this replica's delivery order. */
function sequencer(): Application<number, number> {
  let delivered = 0;
  return () => {
    delivered += 1;
    return delivered;
  };
}

const replicas: ReplicaHandle[] = [];
const clients: ServiceClient<unknown, unknown>[] = [];
/** Closes the clients and stops the replicas still running (before their data directories go). */
async function stopAll(): Promise<void> {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
}
afterEach(stopAll);

/**
 * A cluster on free loopback ports, its replicas started by `start` (which adds them to
 * `replicas`). Should another process take one of the ports before its replica listens, the
 * replicas are stopped, `undo` clears what they left (data directories), and the cluster starts
 * again on other ports.
 */
function startedCluster(
  groups: readonly GroupId[],
  perGroup: number,
  extra: Partial<ClusterConfig>,
  start: (cluster: ClusterConfig) => Promise<void>,
  undo?: () => void,
): Promise<ClusterConfig> {
  return onFreePorts(
    groups.length * perGroup,
    async (ports) => {
      const cluster = configOn(ports, groups, perGroup, extra);
      await start(cluster);
      return cluster;
    },
    async () => {
      await stopAll();
      undo?.();
    },
  );
}

/** Empties a data directory a failed start may have written to. */
function emptied(dir: string): () => void {
  return () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
  };
}

async function startAll(cluster: ClusterConfig, secret: Buffer, app: () => Application<number, number>) {
  for (const [group, addresses] of Object.entries(cluster.groups))
    for (let index = 0; index < addresses.length; index += 1)
      replicas.push(
        await startReplica({ cluster, id: `${group}/${index}`, secret, application: app(), log: () => {} }),
      );
}

/** Every pair of multicasts two groups both delivered is in the same order in both. */
function expectConsistent(results: { dst: readonly GroupId[]; replies: Record<GroupId, number> }[]): void {
  const groups = [...new Set(results.flatMap((result) => result.dst))];
  for (const a of groups)
    for (const b of groups) {
      if (a >= b) continue;
      const both = results.filter((result) => result.dst.includes(a) && result.dst.includes(b));
      const inA = [...both].sort((x, y) => (x.replies[a] as number) - (y.replies[a] as number));
      const inB = [...both].sort((x, y) => (x.replies[b] as number) - (y.replies[b] as number));
      expect(inA).toEqual(inB);
    }
}

async function load(client: ServiceClient<number, number>, groups: readonly GroupId[], count: number) {
  return Promise.all(
    Array.from({ length: count }, (_, index) => {
      const dst = index % 2 === 0 ? [...groups] : [groups[index % groups.length] as GroupId];
      return client.multicast(dst, index).then((replies) => ({ dst, replies }));
    }),
  );
}

describe("startReplica / connectClient over the network runtime", () => {
  it("solo groups: 300 concurrent multicasts, every reply, consistent orders", {
    timeout: 30_000,
  }, async () => {
    const secret = randomBytes(32);
    const cluster = await startedCluster(["g0", "g1", "g2"], 1, { clientHosts: { clients: 2 } }, (cluster) =>
      startAll(cluster, secret, sequencer),
    );
    const client = await connectClient<number, number>({ cluster, secret, log: () => {} });
    clients.push(client);
    // The client host's clock (its trace's): Unix milliseconds.
    expect(Math.abs(client.nowMs() - Date.now())).toBeLessThan(1000);
    const results = await load(client, ["g0", "g1", "g2"], 300);
    for (const { dst, replies } of results) expect(Object.keys(replies).sort()).toEqual([...dst].sort());
    expectConsistent(results);
    // Each group numbered what it delivered 1..n without a gap or a repeat.
    for (const group of ["g0", "g1", "g2"]) {
      const positions = results.flatMap((result) => (group in result.replies ? [result.replies[group]] : []));
      expect([...positions].sort((a, b) => (a as number) - (b as number))).toEqual(
        Array.from({ length: positions.length }, (_, index) => index + 1),
      );
    }
  });

  it("crash mode (f = 1): a replica of each group stops mid-run, the service goes on", {
    timeout: 60_000,
  }, async () => {
    const secret = randomBytes(32);
    const cluster = await startedCluster(
      ["a", "b"],
      3,
      { mode: "crash", f: 1, protocol: "flexcast" },
      (cluster) => startAll(cluster, secret, sequencer),
    );
    const client = await connectClient<number, number>({ cluster, secret, log: () => {} });
    clients.push(client);
    const first = await load(client, ["a", "b"], 60);
    const stopping = replicas.filter((replica) => replica.id === "a/2" || replica.id === "b/0");
    await Promise.all(stopping.map((replica) => replica.stop()));
    const second = await load(client, ["a", "b"], 60);
    expectConsistent([...first, ...second]);
    for (const { dst, replies } of second) expect(Object.keys(replies).sort()).toEqual([...dst].sort());
  });

  it("Byzantine mode (f = 1) with Ed25519 signatures: own keyrings, a replica of each group stops, the service goes on", {
    timeout: 60_000,
  }, async () => {
    const secret = randomBytes(32);
    const replicaIds = ["a", "b"].flatMap((group) => [0, 1, 2, 3].map((index) => `${group}/${index}`));
    const nodes = [...replicaIds, "clients"];
    // Every process holds only its own keyring; the public keys come with the configuration.
    const publicKeys = publicKeysFromSecret(secret, [...replicaIds, "clients.0"]);
    const cluster = await startedCluster(
      ["a", "b"],
      4,
      { mode: "byzantine", f: 1, publicKeys },
      async (cluster) => {
        for (const id of replicaIds)
          replicas.push(
            await startReplica({
              cluster,
              id,
              keys: Keyring.fromSecret(secret, id, nodes, [id]).toJson(),
              application: sequencer(),
              log: () => {},
            }),
          );
      },
    );
    const client = await connectClient<number, number>({
      cluster,
      keys: Keyring.fromSecret(secret, "clients", nodes, ["clients.0"]).toJson(),
      log: () => {},
    });
    clients.push(client);
    const first = await load(client, ["a", "b"], 40);
    const stopping = replicas.filter((replica) => replica.id === "a/0" || replica.id === "b/3");
    await Promise.all(stopping.map((replica) => replica.stop()));
    const second = await load(client, ["a", "b"], 40);
    expectConsistent([...first, ...second]);
    for (const { dst, replies } of [...first, ...second])
      expect(Object.keys(replies).sort()).toEqual([...dst].sort());
  });

  it("a client host that reconnects under the same id gets fresh answers, not cached ones", {
    timeout: 30_000,
  }, async () => {
    const secret = randomBytes(32);
    const cluster = await startedCluster(["g"], 1, {}, (cluster) => startAll(cluster, secret, sequencer));
    const once = await connectClient<number, number>({ cluster, secret, log: () => {} });
    expect(await once.multicast("g", 0)).toEqual({ g: 1 });
    await once.close();
    const again = await connectClient<number, number>({ cluster, secret, log: () => {} });
    clients.push(again);
    expect(await again.multicast("g", 0)).toEqual({ g: 2 });
  });

  it("crash mode: a replica with a data directory, stopped and started again on it, replays its journal and catches up to its group's state", {
    timeout: 60_000,
  }, async () => {
    const secret = randomBytes(32);
    const dir = mkdtempSync(join(tmpdir(), "amcast-smr-restart-"));
    try {
      /** Each replica's application: the payloads it delivered, in order. */
      const delivered = new Map<string, number[]>();
      const start = (cluster: ClusterConfig, id: string): Promise<ReplicaHandle> => {
        const log: number[] = [];
        delivered.set(id, log);
        return startReplica<number, number>({
          cluster,
          id,
          secret,
          application: (message) => {
            log.push(message.payload as number);
            return log.length;
          },
          dataDir: join(dir, id.replace("/", "-")),
          fsync: "interval",
          log: () => {},
        });
      };
      const cluster = await startedCluster(
        ["a"],
        3,
        { mode: "crash", f: 1 },
        async (cluster) => {
          for (const id of ["a/0", "a/1", "a/2"]) replicas.push(await start(cluster, id));
        },
        emptied(dir),
      );
      const client = await connectClient<number, number>({ cluster, secret, log: () => {} });
      clients.push(client);
      const send = (from: number, count: number) =>
        Promise.all(Array.from({ length: count }, (_, index) => client.multicast(["a"], from + index)));
      const waitFor = async (id: string, count: number) => {
        const startedAt = Date.now();
        while ((delivered.get(id) as number[]).length < count && Date.now() - startedAt < 20_000)
          await new Promise((resolve) => setTimeout(resolve, 20));
      };
      await send(0, 40);
      // Only the leader answers, and a follower learns the commit index with the leader's next
      // append or heartbeat: a/1 runs the 40 within a heartbeat period of the last answer.
      await waitFor("a/1", 40);
      const stopped = replicas.splice(1, 1)[0] as ReplicaHandle;
      await stopped.stop();
      await send(40, 40);
      // A fresh application on the same data directory: the journal brings it back, the group
      // the rest.
      replicas.push(await start(cluster, "a/1"));
      expect((delivered.get("a/1") as number[]).length).toBeGreaterThanOrEqual(40);
      await send(80, 20);
      await waitFor("a/1", 100);
      await waitFor("a/0", 100);
      await waitFor("a/2", 100);
      expect(delivered.get("a/1")).toHaveLength(100);
      expect(delivered.get("a/1")).toEqual(delivered.get("a/0"));
      expect(delivered.get("a/2")).toEqual(delivered.get("a/0"));
    } finally {
      await stopAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const restart of ["without its state (no data directory)", "on its data directory"] as const)
    it(`crash mode, a key-value StatefulApplication: a replica started again ${restart} gets its application's state back ${restart.startsWith("on") ? "from its journal (its checkpoint, then the positions decided after it)" : "from its group's checkpoint"}; no message applied twice`, {
      timeout: 60_000,
    }, async () => {
      const secret = randomBytes(32);
      const dir = mkdtempSync(join(tmpdir(), "amcast-smr-state-"));
      /** Each replica's key-value store, in four partitions (key modulo 4). */
      const stores = new Map<string, Map<number, number>[]>();
      const start = (cluster: ClusterConfig, id: string): Promise<ReplicaHandle> => {
        const partitions = Array.from({ length: 4 }, () => new Map<number, number>());
        stores.set(id, partitions);
        return startReplica<number, number>({
          cluster,
          id,
          secret,
          application: {
            apply: (message) => {
              const key = (message.payload as number) % 10;
              const partition = partitions[key % 4] as Map<number, number>;
              partition.set(key, (partition.get(key) ?? 0) + (message.payload as number));
              return partition.get(key) as number;
            },
            partitions: () => ["p0", "p1", "p2", "p3"],
            snapshot: (name) =>
              [...(partitions[Number(name.slice(1))] as Map<number, number>)].sort(([x], [y]) => x - y),
            restore: (name, state) => {
              partitions[Number(name.slice(1))] = new Map(state as [number, number][]);
            },
          },
          ...(restart.startsWith("on")
            ? { dataDir: join(dir, id.replace("/", "-")), fsync: "interval" as const }
            : {}),
          log: () => {},
        });
      };
      try {
        const cluster = await startedCluster(
          ["a"],
          3,
          { mode: "crash", f: 1, checkpointEntries: 4 },
          async (cluster) => {
            for (const id of ["a/0", "a/1", "a/2"]) replicas.push(await start(cluster, id));
          },
          emptied(dir),
        );
        const client = await connectClient<number, number>({ cluster, secret, log: () => {} });
        clients.push(client);
        // One at a time, so the log has a position per multicast and passes several checkpoints.
        const send = async (from: number, count: number) => {
          for (let index = 0; index < count; index += 1) await client.multicast(["a"], from + index);
        };
        await send(0, 22);
        const stopped = replicas.splice(1, 1)[0] as ReplicaHandle;
        await stopped.stop();
        await send(22, 30);
        // Back empty, its group no longer holds the log from the start, only checkpoints; or
        // back on its journal, which holds its last checkpoint and the positions after it.
        replicas.push(await start(cluster, "a/1"));
        await send(52, 10);
        const sums = (id: string) =>
          (stores.get(id) as Map<number, number>[]).map((partition) => [...partition].sort());
        const startedAt = Date.now();
        while (JSON.stringify(sums("a/1")) !== JSON.stringify(sums("a/0")) && Date.now() - startedAt < 20_000)
          await new Promise((resolve) => setTimeout(resolve, 20));
        // Sums per key: a message applied twice, or missed, leaves a different sum.
        expect(sums("a/1")).toEqual(sums("a/0"));
        // Every key 0..9 was written: the state covers messages it never received itself.
        expect(sums("a/1").flat()).toHaveLength(10);
      } finally {
        await stopAll();
        rmSync(dir, { recursive: true, force: true });
      }
    });

  it.each([
    [
      "a journal of decisions (the default; each replica gets its log past its last decided position back, R8)",
      false,
    ],
    ["keepJournal (journals of every input)", true],
  ])(
    "crash mode, %s: a whole group stopped and started together on its data directories answers again",
    {
      timeout: 60_000,
    },
    async (_journal, keepJournal) => {
      const secret = randomBytes(32);
      const dir = mkdtempSync(join(tmpdir(), "amcast-smr-whole-"));
      try {
        const counts = new Map<string, number>();
        const start = (cluster: ClusterConfig, id: string): Promise<ReplicaHandle> =>
          startReplica<number, number>({
            cluster,
            id,
            secret,
            // Stateful, so without keepJournal it would journal decisions.
            application: {
              apply: () => {
                counts.set(id, (counts.get(id) ?? 0) + 1);
                return counts.get(id) as number;
              },
              snapshot: () => counts.get(id) ?? 0,
              restore: (_partition, state) => {
                counts.set(id, state as number);
              },
            },
            dataDir: join(dir, id.replace("/", "-")),
            keepJournal,
            fsync: "interval",
            log: () => {},
          });
        const ids = ["a/0", "a/1", "a/2"];
        const cluster = await startedCluster(
          ["a"],
          3,
          { mode: "crash", f: 1, checkpointEntries: 4 },
          async (cluster) => {
            for (const id of ids) replicas.push(await start(cluster, id));
          },
          emptied(dir),
        );
        const client = await connectClient<number, number>({ cluster, secret, log: () => {} });
        for (let index = 0; index < 12; index += 1) await client.multicast(["a"], index);
        await client.close();
        await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
        counts.clear();
        replicas.push(...(await Promise.all(ids.map((id) => start(cluster, id)))));
        const again = await connectClient<number, number>({ cluster, secret, log: () => {} });
        clients.push(again);
        // Each replica's count was rebuilt by the replay: the thirteenth multicast is its thirteenth.
        // Under R7 no replica would vote, no leader would be elected, and this would never answer.
        const replies = await again.multicast(["a"], 12);
        expect(replies.a).toBe(13);
      } finally {
        await stopAll();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("a replica whose port another process took fails with EADDRINUSE; the test clusters then start again on other ports", {
    timeout: 30_000,
  }, async () => {
    const secret = randomBytes(32);
    const dir = mkdtempSync(join(tmpdir(), "amcast-smr-taken-"));
    const squatter = createServer();
    try {
      await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
      const taken = (squatter.address() as { port: number }).port;
      const failures: string[] = [];
      const cluster = await onFreePorts(
        1,
        async ([port]) => {
          const cluster = configOn([failures.length === 0 ? taken : (port as number)], ["g"], 1, {});
          try {
            replicas.push(
              await startReplica({
                cluster,
                id: "g/0",
                secret,
                application: sequencer(),
                dataDir: dir,
                log: () => {},
              }),
            );
          } catch (error) {
            failures.push((error as NodeJS.ErrnoException).code ?? String(error));
            throw error;
          }
          return cluster;
        },
        async () => {
          await stopAll();
          emptied(dir)();
        },
      );
      expect(failures).toEqual(["EADDRINUSE"]);
      const client = await connectClient<number, number>({ cluster, secret, log: () => {} });
      clients.push(client);
      expect(await client.multicast("g", 0)).toEqual({ g: 1 });
    } finally {
      await stopAll();
      squatter.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses what it cannot run, and strangers", { timeout: 30_000 }, async () => {
    const secret = randomBytes(32);
    // Refusals come before a replica listens: g/0 already running on the port changes none of them.
    const cluster = await startedCluster(["g"], 1, {}, (cluster) => startAll(cluster, secret, sequencer));
    await expect(startReplica({ cluster, id: "h/0", secret, application: sequencer() })).rejects.toThrow(
      /not a replica of the cluster/,
    );
    await expect(
      startReplica({ cluster: { ...cluster, mode: "crash" }, id: "g/0", secret, application: sequencer() }),
    ).rejects.toThrow(/needs 3/);
    // A Byzantine process holding only its own keyring needs everyone's public keys in the configuration.
    const byzantine = await config(["g"], 4, { mode: "byzantine" });
    const keys = Keyring.fromSecret(secret, "g/0", ["g/0", "g/1", "g/2", "g/3", "clients"], ["g/0"]).toJson();
    await expect(
      startReplica({ cluster: byzantine, id: "g/0", keys, application: sequencer() }),
    ).rejects.toThrow(/cluster\.publicKeys: is missing/);
    // A client with another secret never gets through the handshake, and is told so at once.
    const startedAt = Date.now();
    await expect(
      connectClient({ cluster, secret: randomBytes(32), connectTimeoutMs: 20_000, log: () => {} }),
    ).rejects.toThrow(/g\/0 refused the handshake: it could not authenticate clients/);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
  });
});
