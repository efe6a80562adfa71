import { byzcast } from "@amcast/byzcast";
import type { DestinationSet, GroupId, Overlay, ProtocolDefinition, TraceEvent } from "@amcast/core";
import { CdagOverlay, overlayToJson, Prng, protocolContext, ratio, runGroups, Topology } from "@amcast/core";
import { flexcast } from "@amcast/flexcast";
import { simulate } from "@amcast/sim";
import { skeen } from "@amcast/skeen";
import { randomTree } from "@amcast/system";
import { describe, expect, it } from "vitest";
import type { WorkloadSpec } from "../src/index.js";
import { buildSystem } from "../src/index.js";

/**
 * Each protocol's latency model (`modelLatencyMs`, which the overlay optimiser minimises) against
 * the simulator: random matrices (no triangle inequality), random overlays and destination sets,
 * each set multicast alone by a client next to one of its groups, with no jitter and no
 * processing cost, so the measured latency (multicast to the last destination's delivery) must be
 * the model's to the microsecond. Before it, the client multicasts once to every group, as the
 * reconfiguration controller does (FlexCast notifies a group only when it knows a message for it
 * that precedes the multicast: the warm-up is one for every group).
 */

const TRIALS = 40;
const SETS_PER_TRIAL = 4;
/** Between the warm-up multicast and the measured one: everything in flight has landed. */
const THINK_MS = 20_000;

interface Trial {
  readonly topology: Topology;
  readonly overlays: ReadonlyMap<string, Overlay | null>;
  readonly sets: readonly { readonly home: GroupId; readonly dst: DestinationSet }[];
}

function drawTrial(prng: Prng): Trial {
  const targets = 2 + prng.int(8);
  const auxiliary = prng.int(3);
  const regions = Array.from({ length: targets }, (_, i) => `r${i}`);
  const latencyMs = regions.map((_, from) =>
    regions.map((__, to) => (from === to ? prng.int(6) : 1 + prng.int(200))),
  );
  const groups = [
    ...regions.map((region, i) => ({ id: `g${i}`, region })),
    ...Array.from({ length: auxiliary }, (_, i) => ({
      id: `aux${i}`,
      region: prng.pick(regions),
      role: "auxiliary" as const,
    })),
  ];
  const topology = new Topology("random", { regions, latencyMs }, groups, []);
  const targetIds = regions.map((_, i) => `g${i}`);
  const auxiliaryIds = groups.slice(targets).map((group) => group.id);
  const sets = Array.from({ length: SETS_PER_TRIAL }, () => {
    const home = prng.pick(targetIds);
    // Mostly small sets over many groups: long spans with several notified groups (FlexCast).
    const size = prng.chance(ratio(1, 4)) ? 1 + prng.int(targets) : Math.min(2, targets);
    const others = prng.sample(
      targetIds.filter((group) => group !== home),
      size - 1,
    );
    return { home, dst: [home, ...others].sort() };
  });
  return {
    topology,
    overlays: new Map<string, Overlay | null>([
      ["skeen", null],
      ["flexcast", new CdagOverlay("random", prng.shuffle([...targetIds]))],
      ["byzcast", randomTree("random", targetIds, auxiliaryIds, prng)],
    ]),
    sets,
  };
}

const WORKLOAD: WorkloadSpec = {
  name: "alone",
  clientsPerGroup: 1,
  loop: "closed",
  multicastsPerClient: 2,
  outstanding: 1,
  thinkMs: THINK_MS,
  ratePerSec: 1,
  outstandingMax: 1,
  payloadBytes: 0,
  groups: null,
  locality: { localPercent: 100, globalSizes: [2], globalChoice: "uniform" },
  startSpreadMs: 0,
};

/** Measured latency of `dst` multicast alone by the client next to `home`, after the warm-up. */
function measure(
  protocol: ProtocolDefinition<unknown>,
  overlay: Overlay | null,
  topology: Topology,
  home: GroupId,
  dst: DestinationSet,
  params: unknown,
): number {
  const system = buildSystem({
    label: "alone",
    seed: 1,
    topology,
    protocol,
    ...(params === undefined ? {} : { params }),
    overlay,
    mode: "solo",
    f: 0,
    workload: WORKLOAD,
    byzantine: [],
    faultPlan: "none",
    network: { jitterSdFraction: 0, reorder: null },
    processing: { perMessageUs: 0, perByteNs: 0 },
    faults: { crashes: [], partitions: [] },
    timeLimitMs: 0,
    tickMs: 10,
    realTime: false,
  });
  const everyGroup = [...topology.targetGroupIds];
  const region = topology.groupRegion(home);
  const client = system.clients.find((candidate) => candidate.region === region);
  if (client === undefined) throw new Error(`no client next to ${home}`);
  let sent = 0;
  const events: TraceEvent[] = [];
  const sim = simulate({
    seed: 1,
    topology,
    processes: system.processes,
    clients: [{ ...client, startMs: 0, destinations: () => (sent++ === 0 ? everyGroup : dst) }],
    network: { jitterSdFraction: 0, reorder: null },
    processing: { perMessageUs: 0, perByteNs: 0 },
    faults: { crashes: [], partitions: [] },
    tickMs: 10,
    timeLimitMs: 10 * THINK_MS,
    recordSends: false,
    onEvent: (event) => events.push(event),
  });
  expect(sim.stoppedBy).toBe("drained");
  const multicasts = events.filter((event) => event.ev === "multicast");
  const measured = multicasts[1];
  if (measured === undefined) throw new Error("the measured multicast did not run");
  let lastMs = Number.NEGATIVE_INFINITY;
  for (const event of events)
    if (event.ev === "deliver" && event.id === measured.id) lastMs = Math.max(lastMs, event.t);
  return lastMs - measured.t;
}

/** Each protocol, and FlexCast with chained notifications too (its `params`). */
const MODELLED: readonly { protocol: ProtocolDefinition<unknown>; params?: unknown; name: string }[] = [
  { protocol: skeen as ProtocolDefinition<unknown>, name: "skeen" },
  { protocol: flexcast as ProtocolDefinition<unknown>, name: "flexcast" },
  {
    protocol: flexcast as ProtocolDefinition<unknown>,
    params: { notifications: "chain" },
    name: "flexcast, chained notifications",
  },
  { protocol: byzcast as ProtocolDefinition<unknown>, name: "byzcast" },
];

describe("each protocol's latency model against the simulator, one multicast at a time", () => {
  for (const { protocol, params, name } of MODELLED) {
    it(`${name}: the model predicts every contention-free latency`, () => {
      const prng = new Prng(16, `latency-model/${protocol.name}`);
      let compared = 0;
      for (let trial = 0; trial < TRIALS; trial++) {
        const { topology, overlays, sets } = drawTrial(prng);
        const overlay = overlays.get(protocol.name) ?? null;
        for (const { home, dst } of sets) {
          const region = topology.groupRegion(home);
          const groups = runGroups(overlay, topology);
          const context = protocolContext(protocol, params, { groups, overlay }, "test", "params");
          const predicted = protocol.modelLatencyMs?.(dst, context, {
            clientToGroupMs: (group) => topology.regionToGroupMs(region, group),
            groupToGroupMs: (from, to) => topology.groupToGroupMs(from, to),
          });
          const measured = measure(protocol, overlay, topology, home, dst, params);
          expect(
            { trial, home, dst, measured },
            `overlay ${overlay === null ? "none" : JSON.stringify(overlayToJson(overlay))}`,
          ).toEqual({ trial, home, dst, measured: expect.closeTo(predicted ?? Number.NaN, 6) });
          compared++;
        }
      }
      expect(compared).toBe(TRIALS * SETS_PER_TRIAL);
    });
  }
});
