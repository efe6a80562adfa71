import type { GroupId } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type {
  Application,
  Message,
  ProtocolName,
  SimCluster,
  SimRequest,
  SimWorkloadClient,
} from "../src/index.js";
import { createSimCluster } from "../src/index.js";

/** A replica that answers each message with its position in the group's delivery order. */
function sequencer(): Application<number, number> {
  let delivered = 0;
  return () => {
    delivered += 1;
    return delivered;
  };
}

/** For every pair of multicasts both groups delivered, both groups put them in the same order. */
function expectConsistentOrders(
  results: { dst: readonly GroupId[]; replies: Record<GroupId, number> }[],
): void {
  const byGroup = new Map<GroupId, Map<number, number>>();
  results.forEach((result, index) => {
    for (const group of result.dst) {
      let positions = byGroup.get(group);
      if (positions === undefined) {
        positions = new Map();
        byGroup.set(group, positions);
      }
      positions.set(index, result.replies[group] as number);
    }
  });
  const groups = [...byGroup.keys()];
  for (const a of groups)
    for (const b of groups) {
      if (a >= b) continue;
      const pa = byGroup.get(a) as Map<number, number>;
      const pb = byGroup.get(b) as Map<number, number>;
      const shared = [...pa.keys()].filter((index) => pb.has(index));
      const inA = [...shared].sort((x, y) => (pa.get(x) as number) - (pa.get(y) as number));
      const inB = [...shared].sort((x, y) => (pb.get(x) as number) - (pb.get(y) as number));
      expect(inA).toEqual(inB);
    }
}

async function mixedLoad(cluster: SimCluster<number, number>, groups: readonly GroupId[], count: number) {
  const clients = groups.map((home) => cluster.client({ home }));
  const calls = Array.from({ length: count }, (_, index) => {
    const client = clients[index % clients.length];
    const dst =
      index % 3 === 0
        ? groups
        : index % 3 === 1
          ? [groups[index % groups.length] as GroupId]
          : groups.slice(0, 2);
    return (
      client?.multicast(dst, index).then((replies) => ({ dst: [...dst].sort(), replies })) ?? Promise.reject()
    );
  });
  return Promise.all(calls);
}

describe("createSimCluster", () => {
  const groups = ["g0", "g1", "g2"];
  for (const protocol of ["skeen", "flexcast", "byzcast"] as const satisfies readonly ProtocolName[]) {
    it(`${protocol}: concurrent multicasts get every destination's reply, in consistent orders`, async () => {
      const cluster = createSimCluster<number, number>({
        groups,
        protocol,
        application: () => sequencer(),
        latencyMs: [
          [1, 20, 35],
          [20, 1, 25],
          [35, 25, 1],
        ],
      });
      const results = await mixedLoad(cluster, groups, 90);
      for (const { dst, replies } of results) expect(Object.keys(replies).sort()).toEqual(dst);
      expectConsistentOrders(results);
      expect(cluster.check().violations).toEqual([]);
      expect(cluster.nowMs).toBeGreaterThan(20);
    });
  }

  it("takes the protocol's parameters: a fixed sequencer elsewhere costs a local multicast a second hop", async () => {
    const localMs = async (params: unknown): Promise<number> => {
      const cluster = createSimCluster<number, number>({
        groups,
        protocol: "sequencer",
        params,
        application: () => sequencer(),
        latencyMs: 10,
        jitterSdFraction: 0,
      });
      expectConsistentOrders(await mixedLoad(cluster, groups, 30));
      expect(cluster.check().violations).toEqual([]);
      const started = cluster.nowMs;
      await cluster.client({ home: "g0" }).multicast("g0", 1);
      return cluster.nowMs - started;
    };
    // 10 ms per hop. By default the first group orders: request to g0 and reply, 20 ms; with the
    // sequencer in g2 the request goes through g2 first, 30 ms.
    expect(await localMs(undefined)).toBe(20);
    expect(await localMs({ sequencer: "g2" })).toBe(30);
    await expect(localMs({ sequencer: "g9" })).rejects.toThrow(
      /^createSimCluster: params\.sequencer: expected a group of the system \(g0, g1 or g2\), got "g9"$/,
    );
  });

  for (const mode of ["crash", "byzantine"] as const) {
    it(`${mode} mode: replicated groups answer like a single one`, async () => {
      const cluster = createSimCluster<number, number>({
        groups: ["a", "b"],
        mode,
        f: 1,
        application: () => sequencer(),
        latencyMs: 2,
      });
      const results = await mixedLoad(cluster, ["a", "b"], 40);
      expectConsistentOrders(results);
      expect(cluster.check().violations).toEqual([]);
      // Every replica of a group delivered everything its group did.
      const members = cluster.trace.filter((event) => event.ev === "member");
      expect(members).toHaveLength(mode === "crash" ? 6 : 8);
    });
  }

  it("sequential calls continue where the last left off, and each replica has its own state", async () => {
    const made: string[] = [];
    const cluster = createSimCluster<string, string>({
      groups: ["x", "y"],
      mode: "crash",
      application: (group, replica) => {
        made.push(replica);
        const log: string[] = [];
        return (message: Message<string>) => {
          log.push(message.payload);
          return `${group}:${log.join(",")}`;
        };
      },
    });
    expect(made).toEqual(["x/0", "x/1", "x/2", "y/0", "y/1", "y/2"]);
    const client = cluster.client();
    expect(await client.multicast("x", "a")).toEqual({ x: "x:a" });
    expect(await client.multicast(["y", "x"], "b")).toEqual({ x: "x:a,b", y: "y:b" });
    const before = cluster.nowMs;
    expect(await client.multicast(["x"], "c")).toEqual({ x: "x:a,b,c" });
    expect(cluster.nowMs).toBeGreaterThan(before);
    // A client tells the time of its trace: the cluster's virtual clock.
    expect(client.nowMs()).toBe(cluster.nowMs);
  });

  it("is deterministic: the same seed and calls give the same trace", async () => {
    const run = async () => {
      const cluster = createSimCluster<number, number>({ groups, application: () => sequencer(), seed: 5 });
      await mixedLoad(cluster, groups, 30);
      return JSON.stringify(cluster.trace);
    };
    expect(await run()).toBe(await run());
  });

  it("rejects bad destinations and configurations with a clear message", async () => {
    const cluster = createSimCluster({ groups: ["a"], application: () => () => null });
    await expect(cluster.client().multicast("nope", 1)).rejects.toThrow(/not a group of the service/);
    await expect(cluster.client().multicast([], 1)).rejects.toThrow(/at least one group/);
    expect(() => createSimCluster({ groups: ["a/b"], application: () => () => null })).toThrow(
      /without "\/"/,
    );
    expect(() =>
      createSimCluster({ groups: ["a"], protocol: "paxos" as ProtocolName, application: () => () => null }),
    ).toThrow(/unknown protocol "paxos"/);
    expect(() =>
      createSimCluster({ groups: ["a"], protocol: "skeen", params: { x: 1 }, application: () => () => null }),
    ).toThrow(/^createSimCluster: params\.x: is not a known field here/);
  });

  it("run(): workload clients on one virtual timeline, each next multicast after the last reply", async () => {
    const cluster = createSimCluster<number, number>({
      groups: ["near", "far"],
      application: () => sequencer(),
      latencyMs: [
        [1, 50],
        [50, 1],
      ],
    });
    // An async round first: run() continues the same clock and the same replicas.
    expect(await cluster.client().multicast("near", 0)).toEqual({ near: 1 });
    const startMs = cluster.nowMs;
    const seen: { client: string; startedMs: number; endedMs: number; replies: Record<string, number> }[] =
      [];
    type Request = SimRequest<number> & { readonly startedMs: number; readonly home: string };
    const workload = ["near", "far"].map((home): SimWorkloadClient<number, number, Request> => {
      let sent = 0;
      return {
        home,
        multicasts: 5,
        next: (nowMs: number) => {
          sent += 1;
          // Alternate local and global multicasts; the request object comes back with the replies.
          return {
            destinations: sent % 2 === 1 ? [home] : ["near", "far"],
            payload: sent,
            startedMs: nowMs,
            home,
          };
        },
        onReplies: (
          replies: Record<string, number>,
          nowMs: number,
          request: { startedMs: number; home: string },
        ) => {
          seen.push({ client: request.home, startedMs: request.startedMs, endedMs: nowMs, replies });
        },
      };
    });
    const result = cluster.run(workload);
    expect(result.multicasts).toBe(10);
    expect(result.completed).toBe(10);
    expect(seen).toHaveLength(10);
    for (const home of ["near", "far"]) {
      const own = seen.filter((entry) => entry.client === home);
      expect(own[0]?.startedMs).toBe(startMs);
      for (let index = 1; index < own.length; index += 1) {
        // Closed loop, no think time: each multicast starts when the previous one completed.
        expect(own[index]?.startedMs).toBe(own[index - 1]?.endedMs);
        expect((own[index]?.endedMs ?? 0) > (own[index]?.startedMs ?? 0)).toBe(true);
      }
    }
    // A global multicast needs a round trip across the 50 ms link; a local one does not.
    const global = seen.filter((entry) => Object.keys(entry.replies).length === 2);
    expect(global.every((entry) => entry.endedMs - entry.startedMs >= 50)).toBe(true);
    expect(cluster.nowMs).toBe(result.endMs);
    expect(cluster.check().violations).toEqual([]);
    // And async calls go on afterwards, on the same replicas: near delivered the first call, its
    // own five multicasts and far's two global ones.
    expect((await cluster.client().multicast("near", 99)).near).toBe(1 + 5 + 2 + 1);
    expect(() =>
      cluster.run([{ home: "nowhere", multicasts: 1, next: () => ({ destinations: "near", payload: 1 }) }]),
    ).toThrow(/nowhere is not a group/);
  });
});
