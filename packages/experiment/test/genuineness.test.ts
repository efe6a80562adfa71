import { byzcast } from "@amcast/byzcast";
import type { ProtocolDefinition, TraceEvent } from "@amcast/core";
import { CdagOverlay, Prng, Topology } from "@amcast/core";
import { flexcast } from "@amcast/flexcast";
import type { ReplicationMode } from "@amcast/group";
import { skeen } from "@amcast/skeen";
import { describe, expect, it } from "vitest";
import type { ScenarioSpec } from "../src/index.js";
import { MetricsCollector, runScenario, withOverlay } from "../src/index.js";

const GROUPS = ["g0", "g1", "g2", "g3", "g4"];
const topology = new Topology(
  "five",
  {
    regions: GROUPS,
    latencyMs: GROUPS.map((_, from) =>
      GROUPS.map((__, to) => (from === to ? 1 : 10 + 7 * ((from + to) % 4))),
    ),
  },
  GROUPS.map((id) => ({ id, region: id })),
  GROUPS.map((region) => ({ region, count: 2 })),
);

function scenario(protocol: ProtocolDefinition<unknown>, recordSends: boolean): ScenarioSpec {
  return {
    label: `genuineness/${protocol.name}`,
    seed: 4,
    topology,
    protocol,
    overlay: protocol.overlayKind === "cdag" ? new CdagOverlay("o", ["g3", "g0", "g4", "g1", "g2"]) : null,
    mode: "solo",
    f: 0,
    workload: {
      name: "mixed",
      clientsPerGroup: null,
      loop: "closed",
      multicastsPerClient: 40,
      outstanding: 1,
      thinkMs: 0,
      ratePerSec: 50,
      outstandingMax: 10,
      payloadBytes: 16,
      groups: null,
      locality: { localPercent: 20, globalSizes: [2, 3], globalChoice: "uniform" },
      startSpreadMs: 10,
    },
    byzantine: [],
    network: { jitterSdFraction: 0.05, reorder: null },
    processing: { perMessageUs: 10, perByteNs: 1 },
    faults: { crashes: [], partitions: [] },
    faultPlan: "",
    timeLimitMs: 600_000,
    tickMs: 10,
    realTime: false,
    recordSends,
    check: false,
    keepSamples: false,
  };
}

/** Genuineness of `events` after one replica per group joined, and one client at g0. */
function genuinenessOf(events: readonly TraceEvent[]) {
  const metrics = new MetricsCollector(
    topology,
    new Map([["c0", "g0"]]),
    skeen as ProtocolDefinition<unknown>,
    { groups: GROUPS, overlay: null, params: undefined },
    false,
  );
  for (const group of GROUPS) metrics.onEvent({ ev: "member", group, proc: `${group}/0`, t: 0 });
  for (const event of events) metrics.onEvent(event);
  return metrics.finish().genuineness;
}

describe("genuineness: protocol messages received by groups outside a multicast's destinations", () => {
  it("counts sends with a multicast id between replicas whose receiver's group is no destination", () => {
    const events: TraceEvent[] = [
      { ev: "multicast", id: "c0:0", client: "c0", dst: ["g0", "g2"], t: 0 },
      { ev: "multicast", id: "c0:1", client: "c0", dst: ["g1"], t: 0 },
      { ev: "send", from: "c0", to: "g0/0", kind: "request", id: "c0:0", t: 0 }, // a client's: not counted
      { ev: "send", from: "g0/0", to: "g2/0", kind: "msg", id: "c0:0", t: 1 }, // to a destination
      { ev: "send", from: "g0/0", to: "g1/0", kind: "notif", id: "c0:0", t: 1 }, // outside: g1
      { ev: "send", from: "g1/0", to: "g3/0", kind: "notif", id: "c0:0", t: 2 }, // outside: g3
      { ev: "send", from: "g0/0", to: "g1/0", kind: "notif", id: "c0:0", t: 2 }, // outside again: g1
      { ev: "send", from: "g0/0", to: "g4/0", kind: "flush", id: "#flush/g0/1", t: 2 }, // no multicast
      { ev: "send", from: "g2/0", to: "c0", kind: "reply", id: "c0:0", t: 3 },
    ];
    const genuineness = genuinenessOf(events);
    expect(genuineness?.outsideMessagesPerMulticast).toBe(1.5); // 3 outside messages, 2 multicasts
    expect(genuineness?.outsideGroupsPerMulticast).toBe(1); // {g1, g3} for c0:0, none for c0:1
    expect(genuineness?.multicastsWithOutside).toBe(0.5);
    expect(genuineness?.outsideGroupsMax).toBe(2);
    expect([...(genuineness?.byKind ?? [])]).toEqual([
      ["local", 0],
      ["global-2", 3],
    ]);
  });

  it("counts every message a batch send carries, by the multicast each is about", () => {
    const events: TraceEvent[] = [
      { ev: "multicast", id: "c0:0", client: "c0", dst: ["g0", "g2"], t: 0 },
      { ev: "multicast", id: "c0:1", client: "c0", dst: ["g0", "g1"], t: 0 },
      // A stream item to g1 carrying two messages about c0:0 (outside) and one about c0:1 (inside).
      { ev: "send", from: "g0/0", to: "g1/0", kind: "stream-batch", ids: ["c0:0", "c0:1", "c0:0"], t: 1 },
      // One about c0:0 only, to g3: its shared id and its list agree; the list is what counts.
      { ev: "send", from: "g0/0", to: "g3/0", kind: "stream-batch", id: "c0:0", ids: ["c0:0", "c0:0"], t: 1 },
    ];
    const genuineness = genuinenessOf(events);
    expect(genuineness?.outsideMessagesPerMulticast).toBe(2); // 4 outside messages, 2 multicasts
    expect(genuineness?.outsideGroupsMax).toBe(2); // c0:0 reached g1 and g3
    expect(genuineness?.multicastsWithOutside).toBe(0.5);
  });

  it("is absent without recorded sends, zero for Skeen, and positive for FlexCast's notifications", () => {
    expect(runScenario(scenario(skeen as ProtocolDefinition<unknown>, false)).metrics.genuineness).toBeNull();
    const skeenRun = runScenario(scenario(skeen as ProtocolDefinition<unknown>, true));
    expect(skeenRun.metrics.genuineness?.outsideMessagesPerMulticast).toBe(0);
    const flexRun = runScenario(scenario(flexcast as ProtocolDefinition<unknown>, true));
    expect(flexRun.metrics.delivered).toBe(flexRun.metrics.multicasts);
    expect(flexRun.metrics.genuineness?.outsideMessagesPerMulticast).toBeGreaterThan(0);
    expect(flexRun.metrics.genuineness?.byKind.get("local")).toBe(0);
    // Only groups strictly between a message's destinations in the order can be notified.
    expect(flexRun.metrics.genuineness?.outsideGroupsMax).toBeLessThanOrEqual(GROUPS.length - 2);
  });

  it("counts what replicated groups batch, message by message: ByzCast's outside groups are those of solo in every mode", () => {
    // A random tree with auxiliary groups (inner nodes, outside every destination set).
    const protocol = byzcast as ProtocolDefinition<unknown>;
    const { topology: withAuxiliary, overlay } = withOverlay(protocol, topology, new Prng(3));
    expect(withAuxiliary.groups.length).toBeGreaterThan(GROUPS.length);
    const metricsIn = (mode: ReplicationMode) => {
      const base = scenario(protocol, true);
      // Several in flight: decided batches carry several multicasts' forwards in one stream item.
      return runScenario({
        ...base,
        topology: withAuxiliary,
        overlay,
        mode,
        f: mode === "solo" ? 0 : 1,
        workload: { ...base.workload, outstanding: 8, outstandingMax: 8, thinkMs: 0 },
      }).metrics;
    };
    const solo = metricsIn("solo").genuineness;
    expect(solo?.outsideGroupsPerMulticast).toBeGreaterThan(0);
    for (const mode of ["crash", "byzantine"] as const) {
      const metrics = metricsIn(mode);
      expect(metrics.delivered).toBe(metrics.multicasts);
      const replicated = metrics.genuineness;
      expect([mode, replicated?.outsideGroupsPerMulticast, replicated?.multicastsWithOutside]).toEqual([
        mode,
        solo?.outsideGroupsPerMulticast,
        solo?.multicastsWithOutside,
      ]);
      // Every replica copies every forward to every replica of the outside group.
      expect(replicated?.outsideMessagesPerMulticast).toBeGreaterThan(solo?.outsideMessagesPerMulticast ?? 0);
    }
  });
});
