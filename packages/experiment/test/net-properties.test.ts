import type { ProtocolDefinition } from "@amcast/core";
import { Prng, percent, Topology } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { describe, expect, it } from "vitest";
import type { NetRunOptions, ScenarioSpec, WorkloadSpec } from "../src/index.js";
import { DEFAULT_NET_OPTIONS, PROTOCOLS, runScenarioNet, withOverlay } from "../src/index.js";

/**
 * The shared property situations on the network runtime: every registered protocol, real OS
 * processes on loopback, the merged trace judged by the oracles. (The named cases of
 * @amcast/conformance cannot be imported here — that package depends on this one — so the
 * fault-free ones are restated: a WAN mix with jitter and reordering, all-global contention, an
 * open-loop pair, and a replicated mode whose replicas tick.)
 */

function workload(overrides: Partial<WorkloadSpec>): WorkloadSpec {
  return {
    name: "net",
    clientsPerGroup: 1,
    loop: "closed",
    multicastsPerClient: 25,
    outstanding: 2,
    thinkMs: 0,
    ratePerSec: 50,
    outstandingMax: 1000,
    payloadBytes: 32,
    groups: null,
    locality: { localPercent: 50, globalSizes: [2, 3, 4], globalChoice: "uniform" },
    startSpreadMs: 20,
    ...overrides,
  };
}

/** `groups` groups, one per region, with seeded one-way delays of 5-60 ms (1 ms inside a region). */
function topology(groups: number, seed: number): Topology {
  const prng = new Prng(seed).derive("net-topology");
  const ids = Array.from({ length: groups }, (_, index) => `g${index}`);
  const latencyMs = ids.map((_, from) =>
    ids.map((__, to) => (from === to ? 1 : 5 + Math.round(prng.float() * 55))),
  );
  return new Topology(
    `net-${groups}`,
    { regions: ids, latencyMs },
    ids.map((id) => ({ id, region: id })),
    [],
  );
}

function scenario(
  protocol: ProtocolDefinition<unknown>,
  name: string,
  mode: ReplicationMode,
  groups: number,
  overrides: Partial<ScenarioSpec>,
): ScenarioSpec {
  const seed = 7;
  const withGroups = withOverlay(protocol, topology(groups, seed), new Prng(seed).derive("net-overlay"));
  return {
    label: `net/${protocol.name}/${mode}/${name}`,
    seed,
    topology: withGroups.topology,
    protocol,
    overlay: withGroups.overlay,
    mode,
    f: mode === "solo" ? 0 : 1,
    workload: workload({}),
    byzantine: [],
    network: { jitterSdFraction: 0.05, reorder: null },
    processing: { perMessageUs: 0, perByteNs: 0 },
    faults: { crashes: [], partitions: [] },
    faultPlan: name,
    timeLimitMs: 120_000,
    tickMs: 10,
    realTime: false,
    recordSends: false,
    check: true,
    keepSamples: false,
    ...overrides,
  };
}

interface NetCase {
  readonly name: string;
  readonly latencyEmulation: boolean;
  readonly spec: (protocol: ProtocolDefinition<unknown>) => ScenarioSpec;
}

const CASES: readonly NetCase[] = [
  {
    name: "mixed local and global multicasts on an emulated WAN with heavy jitter and reordering",
    latencyEmulation: true,
    spec: (protocol) =>
      scenario(protocol, "wan-reorder", "solo", 4, {
        network: { jitterSdFraction: 0.3, reorder: { chance: percent(30), extraDelayMsMax: 40 } },
      }),
  },
  {
    name: "only global multicasts to every group, many in flight, loopback speed",
    latencyEmulation: false,
    spec: (protocol) =>
      scenario(protocol, "all-global", "solo", 3, {
        workload: workload({
          clientsPerGroup: 2,
          outstanding: 8,
          multicastsPerClient: 300,
          locality: { localPercent: 0, globalSizes: [3], globalChoice: "uniform" },
        }),
      }),
  },
  {
    name: "open-loop clients on a pair of groups",
    latencyEmulation: true,
    spec: (protocol) =>
      scenario(protocol, "open-pair", "solo", 2, {
        workload: workload({ loop: "open", ratePerSec: 200, multicastsPerClient: 60, outstandingMax: 8 }),
      }),
  },
  {
    name: "crash mode: three replicas per group that tick and order every input, no fault",
    latencyEmulation: false,
    spec: (protocol) =>
      scenario(protocol, "crash-mode", "crash", 2, { workload: workload({ multicastsPerClient: 40 }) }),
  },
];

const OPTIONS: NetRunOptions = { ...DEFAULT_NET_OPTIONS, timeLimitMs: 120_000, stallMs: 30_000 };

for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: shared property situations on real processes`, () => {
    for (const netCase of CASES) {
      it(netCase.name, { timeout: 180_000 }, async () => {
        const spec = netCase.spec(protocol);
        const outcome = await runScenarioNet(spec, {
          ...OPTIONS,
          latencyEmulation: netCase.latencyEmulation,
        });
        expect(outcome.metrics.multicasts).toBeGreaterThan(0);
        expect(outcome.check?.violations.map((violation) => violation.message) ?? ["not checked"]).toEqual(
          [],
        );
        expect(outcome.sim.stoppedBy).toBe("drained");
        expect(outcome.metrics.delivered).toBe(outcome.metrics.multicasts);
        expect(outcome.metrics.completed).toBe(outcome.metrics.multicasts);
        expect(outcome.net.framesRejected).toBe(0);
        expect(outcome.net.logicErrors).toBe(0);
        // Every replica process ran and reported.
        expect(Object.keys(outcome.net.perNode)).toHaveLength(outcome.net.nodes);
        // A node's CPU in its workload window is part of its whole run's, and none without workload.
        for (const stats of Object.values(outcome.net.perNode)) {
          expect(stats.workloadCpuUserMs).toBeGreaterThanOrEqual(0);
          expect(stats.workloadCpuUserMs).toBeLessThanOrEqual(stats.cpuUserMs);
          expect(stats.workloadCpuSystemMs).toBeGreaterThanOrEqual(0);
          expect(stats.workloadCpuSystemMs).toBeLessThanOrEqual(stats.cpuSystemMs);
          if (stats.multicasts + stats.completed + stats.deliveries === 0)
            expect(stats.workloadCpuUserMs + stats.workloadCpuSystemMs).toBe(0);
        }
        expect(outcome.net.workloadCpuMsClients).toBeGreaterThan(0);
        expect(outcome.net.workloadCpuMsClients).toBeLessThanOrEqual(outcome.net.cpuMsClients);
        expect(outcome.net.workloadCpuMsReplicas).toBeLessThanOrEqual(outcome.net.cpuMsReplicas);
      });
    }
  });
}
