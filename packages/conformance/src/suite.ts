import type { ProtocolDefinition } from "@amcast/core";
import { Prng, percent, Topology } from "@amcast/core";
import type { ScenarioOutcome, ScenarioSpec, WorkloadSpec } from "@amcast/experiment";
import { runScenario, swarmCase, swarmOverlay } from "@amcast/experiment";

/**
 * The shared property suite: named situations every protocol must handle, each run on the
 * simulator and judged only by the oracles over its trace. A protocol joins by being registered
 * with the experiment runner; nothing here knows any protocol.
 */
export interface PropertyCase {
  readonly name: string;
  /** Whether every multicast must be delivered (no crash lost anything). */
  readonly live: boolean;
  readonly scenario: (protocol: ProtocolDefinition<unknown>, seed: number) => ScenarioSpec;
}

/** Outcome of one case: the violations as printable lines, empty when everything held. */
export function judge(outcome: ScenarioOutcome, live: boolean, replay: string): string[] {
  const problems: string[] = [];
  for (const violation of outcome.check?.violations ?? []) problems.push(violation.message);
  if (live && outcome.sim.stoppedBy !== "drained")
    problems.push(
      `liveness: the run ${outcome.sim.stoppedBy} with ${outcome.metrics.completed}/${outcome.metrics.multicasts} multicasts complete`,
    );
  if (live && outcome.metrics.delivered !== outcome.metrics.multicasts) {
    problems.push(
      `liveness: ${outcome.metrics.multicasts - outcome.metrics.delivered} multicasts were not delivered everywhere`,
    );
  }
  return problems.length === 0 ? [] : [...problems, `replay: ${replay}`];
}

const GROUPS = ["g0", "g1", "g2", "g3", "g4"];

/** Five groups on a skewed WAN (one far group), clients in every region. */
function wan(seed: number): Topology {
  const prng = new Prng(seed).derive("suite-wan");
  const latencyMs = GROUPS.map((_, from) =>
    GROUPS.map((__, to) => {
      if (from === to) return 1;
      const far = from === 4 || to === 4 ? 120 : 0;
      return 10 + far + Math.round(prng.float() * 40);
    }),
  );
  return new Topology(
    "suite-wan",
    { regions: GROUPS, latencyMs },
    GROUPS.map((id) => ({ id, region: id })),
    GROUPS.map((region) => ({ region, count: 2 })),
  );
}

function workload(overrides: Partial<WorkloadSpec>): WorkloadSpec {
  return {
    name: "suite",
    clientsPerGroup: null,
    loop: "closed",
    multicastsPerClient: 40,
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

function scenario(
  protocol: ProtocolDefinition<unknown>,
  seed: number,
  name: string,
  overrides: Partial<ScenarioSpec>,
): ScenarioSpec {
  const topology = overrides.topology ?? wan(seed);
  return {
    label: `suite/${protocol.name}/${name}`,
    seed,
    topology,
    protocol,
    overlay: swarmOverlay(protocol, topology.groupIds, new Prng(seed).derive("suite-overlay")),
    mode: "solo",
    f: 0,
    workload: workload({}),
    network: { jitterSdFraction: 0.05, reorder: null },
    processing: { perMessageUs: 10, perByteNs: 1 },
    faults: { crashes: [], partitions: [] },
    timeLimitMs: 600_000,
    tickMs: 10,
    realTime: false,
    recordSends: false,
    check: true,
    keepSamples: false,
    ...overrides,
  };
}

export const PROPERTY_CASES: readonly PropertyCase[] = [
  {
    name: "mixed local and global multicasts on a WAN",
    live: true,
    scenario: (protocol, seed) => scenario(protocol, seed, "mixed", {}),
  },
  {
    name: "only global multicasts to every group (maximal contention)",
    live: true,
    scenario: (protocol, seed) =>
      scenario(protocol, seed, "all-global", {
        workload: workload({ locality: { localPercent: 0, globalSizes: [5], globalChoice: "uniform" } }),
      }),
  },
  {
    name: "only local multicasts",
    live: true,
    scenario: (protocol, seed) =>
      scenario(protocol, seed, "all-local", {
        workload: workload({ locality: { localPercent: 100, globalSizes: [], globalChoice: "uniform" } }),
      }),
  },
  {
    name: "heavy jitter and cross-link reordering",
    live: true,
    scenario: (protocol, seed) =>
      scenario(protocol, seed, "reorder", {
        network: { jitterSdFraction: 0.5, reorder: { chance: percent(40), extraDelayMsMax: 300 } },
      }),
  },
  {
    name: "open-loop load that queues at busy groups",
    live: true,
    scenario: (protocol, seed) =>
      scenario(protocol, seed, "open-loop", {
        workload: workload({ loop: "open", ratePerSec: 400, multicastsPerClient: 60 }),
        processing: { perMessageUs: 400, perByteNs: 20 },
      }),
  },
  {
    name: "partitions that heal: safety throughout, everything delivered after healing",
    live: true,
    scenario: (protocol, seed) =>
      scenario(protocol, seed, "partition", {
        faults: {
          crashes: [],
          partitions: [
            { side: ["g0/0", "g1/0"], atMs: 30, healAtMs: 400 },
            { side: ["g4/0"], atMs: 200, healAtMs: 900 },
          ],
        },
      }),
  },
  {
    name: "a group crashes and recovers: safety is kept (solo groups lose what reaches them while down)",
    live: false,
    scenario: (protocol, seed) =>
      scenario(protocol, seed, "crash", {
        faults: { crashes: [{ proc: "g2/0", atMs: 60, recoverAtMs: 300 }], partitions: [] },
      }),
  },
  {
    name: "a tiny system: two groups, one client each",
    live: true,
    scenario: (protocol, seed) => {
      const topology = new Topology(
        "pair",
        {
          regions: ["a", "b"],
          latencyMs: [
            [1, 30],
            [25, 1],
          ],
        },
        [
          { id: "a", region: "a" },
          { id: "b", region: "b" },
        ],
        [
          { region: "a", count: 1 },
          { region: "b", count: 1 },
        ],
      );
      return scenario(protocol, seed, "pair", {
        topology,
        overlay: swarmOverlay(protocol, topology.groupIds, new Prng(seed)),
        workload: workload({ multicastsPerClient: 100, outstanding: 3 }),
      });
    },
  },
];

/** Runs one swarm seed and judges it. */
export function runSwarmSeed(
  protocol: ProtocolDefinition<unknown>,
  seed: number,
): { description: string; problems: string[] } {
  const { description, scenario: spec } = swarmCase(protocol, seed, { crashes: true, realTime: false });
  const outcome = runScenario(spec);
  const live = spec.faults.crashes.length === 0;
  const replay = `pnpm run swarm --protocol ${protocol.name} --seed ${seed} --trace swarm-${seed}.jsonl`;
  return { description, problems: judge(outcome, live, replay) };
}
