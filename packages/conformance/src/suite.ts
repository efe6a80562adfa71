import type { ProtocolDefinition } from "@amcast/core";
import { Prng, percent, Topology } from "@amcast/core";
import type { ScenarioOutcome, ScenarioSpec, WorkloadSpec } from "@amcast/experiment";
import { failingViolations, runScenario, swarmCase, withOverlay } from "@amcast/experiment";
import type { ReplicationMode } from "@amcast/group";
import { BYZANTINE_STRATEGIES, REPLICATION_MODES, replicaCount } from "@amcast/group";

/**
 * The shared property suite: named situations every protocol must handle in every replication
 * mode, each run on the simulator and judged only by the oracles over its trace. A protocol joins
 * by being registered with the experiment runner; nothing here knows any protocol.
 */
export interface PropertyCase {
  readonly name: string;
  /** Modes the case applies to. */
  readonly modes: readonly ReplicationMode[];
  /** Whether every multicast must be delivered in `mode` (false where a fault may lose messages). */
  readonly live: (mode: ReplicationMode) => boolean;
  readonly scenario: (
    protocol: ProtocolDefinition<unknown>,
    mode: ReplicationMode,
    seed: number,
  ) => ScenarioSpec;
}

/** Faults tolerated per group in the replicated modes of the suite. */
const SUITE_F = 1;

/** Outcome of one case: the violations as printable lines, empty when everything held. */
export function judge(outcome: ScenarioOutcome, live: boolean, replay: string): string[] {
  const problems: string[] = [];
  for (const violation of failingViolations(outcome)) problems.push(violation.message);
  if (live && outcome.sim.stoppedBy !== "drained") {
    problems.push(
      `liveness: the run ${outcome.sim.stoppedBy} with ${outcome.metrics.completed}/${outcome.metrics.multicasts} multicasts complete`,
    );
  }
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
    multicastsPerClient: 30,
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

/** Every replica of `groups` in `mode`. */
function replicasOf(groups: readonly string[], mode: ReplicationMode): string[] {
  const count = replicaCount(mode, mode === "solo" ? 0 : SUITE_F);
  return groups.flatMap((group) => Array.from({ length: count }, (_, index) => `${group}/${index}`));
}

function scenario(
  protocol: ProtocolDefinition<unknown>,
  mode: ReplicationMode,
  seed: number,
  name: string,
  overrides: Partial<ScenarioSpec>,
): ScenarioSpec {
  const { topology, overlay } = withOverlay(
    protocol,
    overrides.topology ?? wan(seed),
    new Prng(seed).derive("suite-overlay"),
  );
  const spec: ScenarioSpec = {
    label: `suite/${protocol.name}/${mode}/${name}`,
    seed,
    protocol,
    mode,
    f: mode === "solo" ? 0 : SUITE_F,
    workload: workload({}),
    byzantine: [],
    network: { jitterSdFraction: 0.05, reorder: null },
    processing: { perMessageUs: 10, perByteNs: 1 },
    faults: { crashes: [], partitions: [] },
    faultPlan: name,
    timeLimitMs: 600_000,
    tickMs: 10,
    realTime: false,
    recordSends: false,
    check: true,
    keepSamples: false,
    ...overrides,
    // The overlay may add auxiliary groups to the topology: both come from withOverlay.
    topology,
    overlay,
  };
  if (mode !== "byzantine") return spec;
  // Byzantine mode (3f+1 replicas, signatures) costs the most to simulate: half the multicasts.
  return {
    ...spec,
    workload: { ...spec.workload, multicastsPerClient: Math.ceil(spec.workload.multicastsPerClient / 2) },
  };
}

const always = (): boolean => true;

export const PROPERTY_CASES: readonly PropertyCase[] = [
  {
    name: "mixed local and global multicasts on a WAN",
    modes: REPLICATION_MODES,
    live: always,
    scenario: (protocol, mode, seed) => scenario(protocol, mode, seed, "mixed", {}),
  },
  {
    name: "only global multicasts to every group (maximal contention)",
    modes: REPLICATION_MODES,
    live: always,
    scenario: (protocol, mode, seed) =>
      scenario(protocol, mode, seed, "all-global", {
        workload: workload({ locality: { localPercent: 0, globalSizes: [5], globalChoice: "uniform" } }),
      }),
  },
  {
    name: "only local multicasts",
    modes: REPLICATION_MODES,
    live: always,
    scenario: (protocol, mode, seed) =>
      scenario(protocol, mode, seed, "all-local", {
        workload: workload({ locality: { localPercent: 100, globalSizes: [], globalChoice: "uniform" } }),
      }),
  },
  {
    name: "heavy jitter and cross-link reordering",
    modes: REPLICATION_MODES,
    live: always,
    scenario: (protocol, mode, seed) =>
      scenario(protocol, mode, seed, "reorder", {
        network: { jitterSdFraction: 0.5, reorder: { chance: percent(40), extraDelayMsMax: 300 } },
      }),
  },
  {
    name: "open-loop load that queues at busy groups",
    modes: REPLICATION_MODES,
    live: always,
    scenario: (protocol, mode, seed) =>
      scenario(protocol, mode, seed, "open-loop", {
        workload: workload({ loop: "open", ratePerSec: 200, multicastsPerClient: 40 }),
        processing: { perMessageUs: 200, perByteNs: 10 },
      }),
  },
  {
    name: "partitions that heal: safety throughout, everything delivered after healing",
    modes: REPLICATION_MODES,
    live: always,
    scenario: (protocol, mode, seed) =>
      scenario(protocol, mode, seed, "partition", {
        faults: {
          crashes: [],
          partitions: [
            { side: replicasOf(["g0", "g1"], mode), atMs: 30, healAtMs: 400 },
            { side: replicasOf(["g4"], mode), atMs: 200, healAtMs: 900 },
          ],
        },
      }),
  },
  {
    name: "crashes and recoveries: a solo group loses what reaches it while down; replicated groups ride through, leaders included",
    modes: REPLICATION_MODES,
    live: (mode) => mode !== "solo",
    scenario: (protocol, mode, seed) =>
      scenario(protocol, mode, seed, "crash", {
        faults: {
          crashes:
            mode === "solo"
              ? [{ proc: "g2/0", atMs: 60, recoverAtMs: 300 }]
              : [
                  { leaderOf: "g2", atMs: 60, recoverAtMs: 700 },
                  { leaderOf: "g0", atMs: 150 },
                  { proc: "g3/1", atMs: 40, recoverAtMs: 400 },
                ],
          partitions: [],
        },
      }),
  },
  {
    name: "one Byzantine replica in every group, each with another strategy",
    modes: ["byzantine"],
    live: always,
    scenario: (protocol, mode, seed) => {
      const byzantine = GROUPS.map((group, index) => ({
        proc: `${group}/${(index + seed) % 4}`,
        strategy: BYZANTINE_STRATEGIES[(index + seed) % BYZANTINE_STRATEGIES.length] ?? "silent",
      }));
      return scenario(protocol, mode, seed, "byzantine", {
        byzantine,
        faults: { crashes: [], partitions: [], byzantine: byzantine.map((fault) => fault.proc) },
      });
    },
  },
  {
    name: "a tiny system: two groups, one client each",
    modes: REPLICATION_MODES,
    live: always,
    scenario: (protocol, mode, seed) => {
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
      return scenario(protocol, mode, seed, "pair", {
        topology,
        workload: workload({ multicastsPerClient: 60, outstanding: 3 }),
      });
    },
  },
];

/** A swarm seed on a delayed network (every seed draws one), in one replication mode. */
export interface DelayedSwarm {
  readonly mode: ReplicationMode;
}

/**
 * Runs one swarm seed (drawing its mode among all modes; on a delayed network, in
 * `delayed.mode`) and judges it. A linearizable run also owes real-time order.
 */
export function runSwarmSeed(
  protocol: ProtocolDefinition<unknown>,
  seed: number,
  linearizable = false,
  reconfigure = false,
  delayed: DelayedSwarm | null = null,
): { description: string; problems: string[] } {
  const { description, scenario: spec } = swarmCase(protocol, seed, {
    crashes: true,
    realTime: false,
    modes: delayed === null ? REPLICATION_MODES : [delayed.mode],
    linearizable,
    reconfigure,
    delayedNetwork: delayed !== null,
  });
  const flag = `${linearizable ? " --linearizable" : ""}${reconfigure ? " --reconfigure" : ""}${delayed === null ? "" : ` --delayed --mode ${delayed.mode}`}`;
  const replay = `pnpm run swarm --protocol ${protocol.name}${flag} --seed ${seed} --trace swarm-${seed}.jsonl`;
  let outcome: ScenarioOutcome;
  try {
    outcome = runScenario(spec);
  } catch (error) {
    // An assertion inside a protocol or the simulator: a bug, which the seed reproduces.
    return {
      description,
      problems: [`crashed: ${(error as Error).stack ?? String(error)}`, `replay: ${replay}`],
    };
  }
  const live = spec.mode !== "solo" || spec.faults.crashes.length === 0;
  return { description, problems: judge(outcome, live, replay) };
}
