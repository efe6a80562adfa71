import type { GroupId, ObservedDelay, ProtocolDefinition } from "@amcast/core";
import { CdagOverlay, Prng, Topology } from "@amcast/core";
import { flexcast } from "@amcast/flexcast";
import { simulate } from "@amcast/sim";
import type { ReconfigSpec } from "@amcast/system";
import { DEFAULT_RECONFIG, ReconfigController } from "@amcast/system";
import { describe, expect, it } from "vitest";
import type { WorkloadSpec } from "../src/index.js";
import { buildSystem } from "../src/index.js";

const spec = (measuredDelays: boolean): ReconfigSpec => ({
  ...DEFAULT_RECONFIG,
  solver: "exhaustive",
  windowCollections: 1,
  measuredDelays,
});

/** The matrix the controller believes: a-b 10 ms, a-c 100 ms, b-c 50 ms. */
const believed = (from: GroupId, to: GroupId): number => {
  if (from === to) return 1;
  const pair = [from, to].sort().join("");
  return pair === "ab" ? 10 : pair === "ac" ? 100 : 50;
};

/** One STATS round: clients next to a multicast to {b, c}; the replicas report `delays`. */
function planAfterStats(controller: ReconfigController, delays: readonly ObservedDelay[]): string {
  expect(controller.payload()).toEqual({ control: "stats" });
  controller.onComplete({ a: [], b: [{ dst: ["b", "c"], count: 100, client: "ca" }], c: [] }, 1000, delays);
  const next = controller.payload();
  return next.control === "view" ? (next.overlay as { order: string[] }).order.join(">") : "no change";
}

describe("measured delays in the controller", () => {
  const controllerWith = (measured: boolean) =>
    new ReconfigController(
      spec(measured),
      new CdagOverlay("b-first", ["b", "c", "a"]),
      ["a", "b", "c"],
      believed,
      () => "a",
      new Prng(1),
      () => 0,
    );
  // What the network really does: a-b is slow, a-c fast. Observed one way only (a sends to
  // nobody on this order), so the other direction stands in.
  const measuredDelays: ObservedDelay[] = [
    { from: "b", to: "a", meanMs: 100, samples: 40 },
    { from: "c", to: "a", meanMs: 10, samples: 40 },
  ];

  it("reorders when the measured delays say the believed matrix is wrong", () => {
    // Believed: b first costs 10 + 50 = 60 ms, c first 100 + 50. Measured: 100 + 50 against 10 + 50.
    expect(planAfterStats(controllerWith(true), measuredDelays)).toBe("c>b>a");
    expect(planAfterStats(controllerWith(true), [])).toBe("no change");
    expect(planAfterStats(controllerWith(false), measuredDelays)).toBe("no change");
  });

  it("takes per pair the median over the replicas that reported it", () => {
    const controller = controllerWith(true);
    planAfterStats(controller, [
      { from: "b", to: "a", meanMs: 100, samples: 40 },
      { from: "b", to: "a", meanMs: 104, samples: 40 },
      { from: "b", to: "a", meanMs: 1, samples: 40 }, // one lying replica
    ]);
    expect([...controller.measuredDelays().values()]).toEqual([
      { from: "b", to: "a", meanMs: 100, samples: 40 },
    ]);
  });
});

describe("measured delays end to end in the simulator", () => {
  it("reach the controller from every replica that received protocol messages, as the network drew them", () => {
    const groups = ["a", "b", "c"];
    const topology = new Topology(
      "three",
      {
        regions: groups,
        latencyMs: [
          [1, 30, 70],
          [25, 1, 40],
          [65, 45, 1],
        ],
      },
      groups.map((id) => ({ id, region: id })),
      [],
    );
    const workload: WorkloadSpec = {
      name: "pairs",
      clientsPerGroup: 1,
      loop: "closed",
      multicastsPerClient: 40,
      outstanding: 1,
      thinkMs: 20,
      ratePerSec: 1,
      outstandingMax: 1,
      payloadBytes: 0,
      groups: null,
      locality: { localPercent: 0, globalSizes: [2, 3], globalChoice: "uniform" },
      startSpreadMs: 10,
    };
    const system = buildSystem({
      label: "measured-delays",
      seed: 3,
      topology,
      protocol: flexcast as ProtocolDefinition<unknown>,
      overlay: new CdagOverlay("abc", ["a", "b", "c"]),
      mode: "solo",
      f: 0,
      workload,
      byzantine: [],
      // Statistics only (no view change): the traffic keeps flowing down a > b > c.
      reconfig: { ...DEFAULT_RECONFIG, statsEveryMs: 500, windowCollections: 1000, viewsMax: 0 },
      faultPlan: "none",
      network: { jitterSdFraction: 0, reorder: null },
      processing: { perMessageUs: 0, perByteNs: 0 },
      faults: { crashes: [], partitions: [] },
      timeLimitMs: 600_000,
      tickMs: 10,
      realTime: false,
    });
    const sim = simulate({
      seed: 3,
      topology,
      processes: system.processes,
      clients: system.clients,
      network: { jitterSdFraction: 0, reorder: null },
      processing: { perMessageUs: 0, perByteNs: 0 },
      faults: { crashes: [], partitions: [] },
      tickMs: 10,
      timeLimitMs: 600_000,
      recordSends: false,
      onEvent: () => {},
    });
    expect(sim.stoppedBy).toBe("drained");
    const measured = [...(system.controller?.measuredDelays().values() ?? [])];
    // Down the order a > b > c: b hears from a, c from a and b; a from nobody. No jitter: exact.
    expect(measured.map(({ from, to }) => `${from}->${to}`).sort()).toEqual(["a->b", "a->c", "b->c"]);
    for (const { from, to, meanMs, samples } of measured) {
      expect(meanMs, `${from}->${to}`).toBeCloseTo(topology.groupToGroupMs(from, to), 9);
      expect(samples).toBeGreaterThan(0);
    }
  });
});
