import type { TraceEvent, TraceId } from "@amcast/core";
import { percent, Topology } from "@amcast/core";
import { skeen } from "@amcast/skeen";
import { describe, expect, it } from "vitest";
import type { ScenarioSpec } from "../src/index.js";
import { DEFAULT_NET_OPTIONS, runScenarioNet } from "../src/index.js";

/**
 * Crash faults on real processes: a replica of a `crash` group (f = 1, three replicas) is killed
 * with SIGKILL in the middle of the workload — no goodbye, no flushed trace, its sockets reset by
 * the kernel. The run must still complete every multicast, and the oracles, judging the merged
 * trace (with the runner's `fault` event for the killed replica, as the simulator writes one),
 * must find nothing lost, duplicated or out of order.
 */

function spec(overrides: Partial<ScenarioSpec>): ScenarioSpec {
  return {
    label: "net/skeen/crash/kill",
    seed: 11,
    topology: new Topology(
      "net-kill",
      {
        regions: ["a", "b"],
        latencyMs: [
          [1, 4],
          [4, 1],
        ],
      },
      [
        { id: "g0", region: "a" },
        { id: "g1", region: "b" },
      ],
      [],
    ),
    protocol: skeen as ScenarioSpec["protocol"],
    overlay: null,
    mode: "crash",
    f: 1,
    workload: {
      name: "kill",
      clientsPerGroup: 2,
      loop: "closed",
      multicastsPerClient: 120,
      outstanding: 2,
      thinkMs: 4,
      ratePerSec: 1,
      outstandingMax: 2,
      payloadBytes: 32,
      groups: null,
      locality: { localPercent: 50, globalSizes: [2], globalChoice: "uniform" },
      startSpreadMs: 10,
    },
    byzantine: [],
    network: { jitterSdFraction: 0.05, reorder: null },
    processing: { perMessageUs: 0, perByteNs: 0 },
    faults: {
      crashes: [
        { leaderOf: "g0", atMs: 300 },
        { proc: "g1/2", atMs: 450 },
      ],
      partitions: [],
    },
    faultPlan: "kill",
    timeLimitMs: 120_000,
    tickMs: 10,
    realTime: false,
    recordSends: false,
    check: true,
    keepSamples: false,
    ...overrides,
  };
}

describe("partitions on real processes", () => {
  it("cuts the index-0 replicas off, then all of g1: every multicast completes once healed, the oracles find nothing wrong", {
    timeout: 120_000,
  }, async () => {
    const events: TraceEvent[] = [];
    const partitions = [
      // Both groups' first replicas (a leader among them, likely) on one side: elections follow.
      { side: ["g0/0", "g1/0"], atMs: 150, healAtMs: 750 },
      // All of g1 cut from g0 and from the clients.
      { side: ["g1/0", "g1/1", "g1/2"], atMs: 850, healAtMs: 1_300 },
    ];
    const base = spec({});
    const outcome = await runScenarioNet(
      spec({
        label: "net/skeen/crash/partition",
        // Open loop: multicasts keep starting while a partition blocks their predecessors, and
        // the arrivals (75 at 30/s per client) outlast the last heal.
        workload: {
          ...base.workload,
          loop: "open",
          multicastsPerClient: 75,
          ratePerSec: 30,
          outstandingMax: 75,
        },
        faults: { crashes: [], partitions },
        network: { jitterSdFraction: 0.05, reorder: { chance: percent(20), extraDelayMsMax: 3 } },
        onTrace: (event) => events.push(event),
      }),
      // Each heal waits until every node applied its cut and a multicast to the cut side started
      // after that (a loaded machine may run the plan's times late; the cut then lasts longer).
      {
        ...DEFAULT_NET_OPTIONS,
        latencyEmulation: true,
        timeLimitMs: 90_000,
        stallMs: 20_000,
        partitionsHealOnceCrossed: true,
      },
    );
    expect(outcome.sim.stoppedBy).toBe("drained");
    // Nothing lost, nothing out of order: the oracles over the merged trace.
    expect(outcome.check?.violations.map((violation) => violation.message) ?? ["not checked"]).toEqual([]);
    expect(outcome.check?.checked.length).toBeGreaterThan(0);
    expect(outcome.check?.passed).toBe(true);
    expect(outcome.metrics.multicasts).toBe(4 * 75);
    expect(outcome.metrics.delivered).toBe(outcome.metrics.multicasts);
    expect(outcome.metrics.completed).toBe(outcome.metrics.multicasts);
    // The workload outlasted the partitions (else the test would prove little): multicasts
    // started after the last heal, and completed (every multicast did, checked above).
    const lastHeal = outcome.net.partitions[1]?.healT ?? Number.POSITIVE_INFINITY;
    expect(
      events.filter((event) => event.ev === "multicast" && event.t > lastHeal).length,
      "multicasts started after the last heal",
    ).toBeGreaterThan(0);
    expect(outcome.net.partitions.map((applied) => applied.side)).toEqual(
      partitions.map((fault) => fault.side),
    );
    expect(
      outcome.net.partitions.every((applied) => applied.healT !== undefined && applied.healT > applied.t),
    ).toBe(true);
    expect(outcome.net.messagesHeldByPartition).toBeGreaterThan(0);
    expect(outcome.net.framesRejected).toBe(0);
    // The cut was real: a multicast to g1 started while g1 was cut off (once every node had
    // applied the cut) reached g1 only after the heal.
    const cut = outcome.net.partitions[1] as { t: number; appliedT: number; healT: number };
    expect(cut.appliedT).toBeGreaterThanOrEqual(cut.t);
    expect(cut.healT).toBeGreaterThan(cut.appliedT);
    const startedDuring = new Set(
      events
        .filter(
          (event) =>
            event.ev === "multicast" &&
            event.dst.includes("g1") &&
            event.t > cut.appliedT &&
            event.t < cut.healT,
        )
        .map((event) => (event.ev === "multicast" ? event.id : "")),
    );
    // At least one: the heal waited for one (a loaded machine starts fewer in the cut's window).
    expect(startedDuring.size).toBeGreaterThan(0);
    const atG1 = events.filter(
      (event) => event.ev === "deliver" && event.group === "g1" && startedDuring.has(event.id),
    );
    expect(atG1.length).toBe(3 * startedDuring.size);
    expect(atG1.filter((event) => event.t < cut.healT)).toEqual([]);
    // Both sides held messages across the cuts (a follower that only answers may have had
    // nothing to send): the client host, and replicas of each group.
    const held = (prefix: string): number =>
      Object.entries(outcome.net.perNode)
        .filter(([node]) => node.startsWith(prefix))
        .reduce((sum, [, stats]) => sum + stats.transport.messagesHeldByPartition, 0);
    expect(held("clients")).toBeGreaterThan(0);
    expect(held("g0/")).toBeGreaterThan(0);
    expect(held("g1/")).toBeGreaterThan(0);
  });
});

describe("crash faults on real processes", () => {
  it("SIGKILL of g0's leader and of a g1 replica mid-run: every multicast completes, the oracles find nothing wrong", {
    timeout: 120_000,
  }, async () => {
    const events: TraceEvent[] = [];
    const outcome = await runScenarioNet(spec({ onTrace: (event) => events.push(event) }), {
      ...DEFAULT_NET_OPTIONS,
      latencyEmulation: true,
      timeLimitMs: 90_000,
      stallMs: 20_000,
    });
    const killed = outcome.net.killed.map((entry) => entry.proc);
    expect(killed).toHaveLength(2);
    // In either order: finding g0's leader may take longer than the g1 crash's head start.
    expect(killed.filter((proc) => /^g0\/[012]$/.test(proc))).toHaveLength(1);
    expect(killed).toContain("g1/2");
    // The merged trace marks both as crashed, as the simulator does, so they owe nothing.
    const faults = events.filter((event) => event.ev === "fault");
    expect(faults.map((event) => (event.ev === "fault" ? [event.proc, event.kind] : []))).toEqual(
      killed.map((proc) => [proc, "crash"]),
    );
    expect(outcome.sim.stoppedBy).toBe("drained");
    expect(outcome.check?.violations.map((violation) => violation.message) ?? ["not checked"]).toEqual([]);
    expect(outcome.check?.counts.faultyProcesses).toBe(2);
    expect(outcome.metrics.multicasts).toBe(4 * 120);
    expect(outcome.metrics.delivered).toBe(outcome.metrics.multicasts);
    expect(outcome.metrics.completed).toBe(outcome.metrics.multicasts);
    // The kill really was mid-run: the surviving replicas of g0 delivered after it.
    const leader = outcome.net.killed.find((entry) => entry.proc.startsWith("g0/"));
    const killedAt = leader?.t ?? Number.POSITIVE_INFINITY;
    const survivorsAfter = events.filter(
      (event) =>
        event.ev === "deliver" && event.group === "g0" && event.proc !== leader?.proc && event.t > killedAt,
    );
    expect(survivorsAfter.length).toBeGreaterThan(0);
    const killedDeliveries = events.filter((event) => event.ev === "deliver" && event.proc === leader?.proc);
    const survivorDeliveries = events.filter(
      (event) => event.ev === "deliver" && event.group === "g0" && event.proc !== leader?.proc,
    );
    expect(killedDeliveries.length).toBeLessThan(survivorDeliveries.length / 2);
    // Every survivor reported; the killed replicas did not.
    expect(Object.keys(outcome.net.perNode).sort()).not.toContain(leader?.proc);
    expect(Object.keys(outcome.net.perNode)).toHaveLength(outcome.net.nodes - 2);
    expect(outcome.net.framesRejected).toBe(0);
    expect(outcome.net.logicErrors).toBe(0);
  });
});

/**
 * Every replica of each group, restarted ones included, delivered the same sequence: the state
 * of a replica whose application is the delivery sequence. Each message once (the oracles'
 * integrity), none missing (every multicast to the group).
 */
function expectEqualReplicas(
  events: readonly TraceEvent[],
  groups: readonly string[],
  replicas: number,
): void {
  for (const group of groups) {
    const sequences = new Map<TraceId, TraceId[]>();
    for (const event of events)
      if (event.ev === "deliver" && event.group === group) {
        const sequence = sequences.get(event.proc) ?? [];
        sequence.push(event.id);
        sequences.set(event.proc, sequence);
      }
    expect([...sequences.keys()].sort()).toEqual(
      Array.from({ length: replicas }, (_, index) => `${group}/${index}`),
    );
    const wanted = events.filter((event) => event.ev === "multicast" && event.dst.includes(group)).length;
    for (const [proc, sequence] of sequences) {
      expect(sequence, `${proc}'s deliveries`).toHaveLength(wanted);
      expect(sequence, `${proc}'s delivery order`).toEqual(sequences.get(`${group}/0`));
    }
  }
}

describe("crashed replicas restarted from their data directories", () => {
  it("SIGKILL of g0's leader (restarted while a partition cuts g1/0 off) and, twice, of g1/1 under load, each restarted: it replays its journal, catches up, and ends with its group's state; the oracles find nothing lost or duplicated", {
    timeout: 180_000,
  }, async () => {
    const events: TraceEvent[] = [];
    const base = spec({});
    const crashes = [
      // Restarted while a partition cuts g1/0 off (below): it waits only for what it can reach.
      { leaderOf: "g0", atMs: 250, recoverAtMs: 600 },
      // g1/1 is killed twice (the first time while g1/0 is cut off too: g1 waits for its restart,
      // which waits only for what it can reach): if the first kill hits g1's leader, another is
      // elected while it is down and it comes back a follower, so one of the two kills hits a
      // follower either way. (A restart slower than the plan's gap delays the second kill until
      // the replica is back.)
      { proc: "g1/1", atMs: 1_000, recoverAtMs: 1_300 },
      { proc: "g1/1", atMs: 1_700, recoverAtMs: 2_000 },
    ];
    const outcome = await runScenarioNet(
      spec({
        label: "net/skeen/crash/restart",
        // Open loop: multicasts keep arriving while a replica is down and after it is back. The
        // count is a cap: the runner ends the workload 40 multicasts after the last restart is
        // back, however late a loaded machine runs the plan.
        workload: {
          ...base.workload,
          loop: "open",
          multicastsPerClient: 1000,
          ratePerSec: 40,
          outstandingMax: 160,
        },
        faults: { crashes, partitions: [{ side: ["g1/0"], atMs: 150, healAtMs: 1_800 }] },
        onTrace: (event) => events.push(event),
      }),
      {
        ...DEFAULT_NET_OPTIONS,
        latencyEmulation: true,
        timeLimitMs: 120_000,
        stallMs: 30_000,
        workloadEndsAfterCrashes: 40,
      },
    );
    expect(outcome.sim.stoppedBy).toBe("drained");
    expect(outcome.check?.violations.map((violation) => violation.message) ?? ["not checked"]).toEqual([]);
    expect(outcome.check?.passed).toBe(true);
    expect(outcome.metrics.multicasts, "ended by the runner, not at the cap").toBeLessThan(4 * 1000);
    expect(outcome.metrics.delivered).toBe(outcome.metrics.multicasts);
    expect(outcome.metrics.completed).toBe(outcome.metrics.multicasts);
    const killed = outcome.net.killed.map((entry) => entry.proc);
    expect(killed).toHaveLength(3);
    expect(killed.filter((proc) => /^g0\/[012]$/.test(proc))).toHaveLength(1);
    expect(killed.filter((proc) => proc === "g1/1")).toHaveLength(2);
    expect(outcome.net.recovered.map((entry) => entry.proc).sort()).toEqual([...killed].sort());
    // The merged trace has a crash and then a recover event per kill, in order per process.
    const faults = events.flatMap((event) => (event.ev === "fault" ? [`${event.proc} ${event.kind}`] : []));
    for (const proc of new Set(killed))
      expect(faults.filter((fault) => fault.startsWith(`${proc} `))).toEqual(
        killed.filter((other) => other === proc).flatMap(() => [`${proc} crash`, `${proc} recover`]),
      );
    // Each kill was followed by its restart, under load: multicasts kept arriving while the
    // replica was down (the workload outlasts the last restart).
    const arrivals = events.filter((event) => event.ev === "multicast").map((event) => event.t);
    for (const [index, kill] of outcome.net.killed.entries()) {
      const back = outcome.net.recovered.find((entry) => entry.proc === kill.proc && entry.t > kill.t);
      expect(back, `restart of ${kill.proc} (kill ${index + 1})`).toBeDefined();
      expect(
        arrivals.some((t) => t > kill.t && t < (back?.t ?? 0)),
        `load while ${kill.proc} was down (kill ${index + 1})`,
      ).toBe(true);
    }
    expectEqualReplicas(events, ["g0", "g1"], 3);
    expect(outcome.net.framesRejected).toBe(0);
    expect(outcome.net.logicErrors).toBe(0);
  });

  it("Byzantine mode: SIGKILL of g0's primary (view 0) and of a backup of g1 under load, both restarted: same state as their groups, oracles clean", {
    timeout: 180_000,
  }, async () => {
    const events: TraceEvent[] = [];
    const base = spec({});
    const outcome = await runScenarioNet(
      spec({
        label: "net/skeen/byzantine/restart",
        mode: "byzantine",
        workload: {
          ...base.workload,
          clientsPerGroup: 1,
          loop: "open",
          // A cap: the runner ends the workload 20 multicasts after both restarts are back.
          multicastsPerClient: 1000,
          ratePerSec: 40,
          outstandingMax: 100,
        },
        faults: {
          crashes: [
            { proc: "g0/0", atMs: 250, recoverAtMs: 600 },
            { proc: "g1/2", atMs: 300, recoverAtMs: 650 },
          ],
          partitions: [],
        },
        onTrace: (event) => events.push(event),
      }),
      {
        ...DEFAULT_NET_OPTIONS,
        latencyEmulation: true,
        timeLimitMs: 120_000,
        stallMs: 30_000,
        workloadEndsAfterCrashes: 20,
      },
    );
    expect(outcome.sim.stoppedBy).toBe("drained");
    expect(outcome.check?.violations.map((violation) => violation.message) ?? ["not checked"]).toEqual([]);
    expect(outcome.metrics.multicasts, "ended by the runner, not at the cap").toBeLessThan(2 * 1000);
    expect(outcome.metrics.delivered).toBe(outcome.metrics.multicasts);
    expect(outcome.metrics.completed).toBe(outcome.metrics.multicasts);
    expect(outcome.net.recovered.map((entry) => entry.proc).sort()).toEqual(["g0/0", "g1/2"]);
    expectEqualReplicas(events, ["g0", "g1"], 4);
    expect(outcome.net.logicErrors).toBe(0);
  });
});

describe("Byzantine replicas on real processes, with Ed25519 signatures", () => {
  it("a forging, a replaying and a swapping replica (one per group): every multicast completes, the oracles find nothing wrong", {
    timeout: 120_000,
  }, async () => {
    const base = spec({});
    const topology = new Topology(
      "net-byzantine",
      {
        regions: ["a", "b", "c"],
        latencyMs: [
          [1, 4, 4],
          [4, 1, 4],
          [4, 4, 1],
        ],
      },
      [
        { id: "g0", region: "a" },
        { id: "g1", region: "b" },
        { id: "g2", region: "c" },
      ],
      [],
    );
    const outcome = await runScenarioNet(
      spec({
        label: "net/skeen/byzantine/strategies",
        topology,
        mode: "byzantine",
        // Global multicasts: every group copies stream items to the others, the faulty replicas' among them.
        workload: {
          ...base.workload,
          clientsPerGroup: 1,
          multicastsPerClient: 12,
          // Several in flight and no think time: answers that come together start multicasts
          // together, whose requests the client signs together.
          outstanding: 6,
          outstandingMax: 6,
          thinkMs: 0,
          locality: { localPercent: 25, globalSizes: [2, 3], globalChoice: "uniform" },
        },
        byzantine: [
          { proc: "g0/1", strategy: "forge" },
          { proc: "g1/2", strategy: "replay" },
          { proc: "g2/3", strategy: "swap" },
        ],
        faults: { crashes: [], partitions: [], byzantine: ["g0/1", "g1/2", "g2/3"] },
        faultPlan: "byzantine",
      }),
      { ...DEFAULT_NET_OPTIONS, timeLimitMs: 90_000, stallMs: 20_000 },
    );
    expect(outcome.sim.stoppedBy).toBe("drained");
    expect(outcome.check?.violations.map((violation) => violation.message) ?? ["not checked"]).toEqual([]);
    expect(outcome.check?.passed).toBe(true);
    expect(outcome.metrics.multicasts).toBe(3 * 12);
    expect(outcome.metrics.completed).toBe(outcome.metrics.multicasts);
    expect(outcome.net.logicErrors).toBe(0);
    // The client host signs the requests of one turn together: fewer signatures than requests
    // (each multicast's request, retries sharing its signature).
    const clientSigned = Object.entries(outcome.net.perNode)
      .filter(([node]) => !node.includes("/"))
      .reduce((sum, [, stats]) => sum + (stats.signatures?.signed ?? 0), 0);
    expect(clientSigned).toBeGreaterThan(0);
    expect(clientSigned).toBeLessThan(outcome.metrics.multicasts);
  });
});
