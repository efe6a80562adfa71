import type { CheckReport } from "@amcast/check";
import { formatReportByProcess } from "@amcast/check";
import type { ProtocolDefinition, TraceEvent } from "@amcast/core";
import { InputError, Prng, percent, Topology } from "@amcast/core";
import type { ScenarioOutcome, ScenarioSpec, WorkloadSpec } from "@amcast/experiment";
import { failingViolations, runScenario, swarmCase, withOverlay } from "@amcast/experiment";
import type { ReplicationMode } from "@amcast/group";
import { BYZANTINE_STRATEGIES, REPLICATION_MODES, replicaCount } from "@amcast/group";

/**
 * The shared property suite: named situations every protocol must handle in every replication
 * mode, each run on the simulator and judged only by the oracles over its trace. A protocol joins
 * by being registered in @amcast/protocols; nothing here knows any protocol.
 */
export interface PropertyCase {
  /** Short name for the command line and run labels (`--case reorder`). */
  readonly id: string;
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

/**
 * Seeds each property case runs with in `pnpm test` (the linearizable variant: the next). One: a second
 * seed drew the same situation again (a quarter of the property suite's time, most of it Byzantine mode), and
 * the swarm's random configurations (every mode, crashes and recoveries, Byzantine replicas,
 * partitions, reordering, delayed networks: SWARM_SEEDS per protocol) are where more draws go.
 */
export const CASE_SEEDS: readonly number[] = [1];
export const LINEARIZABLE_CASE_SEEDS: readonly number[] = [1];
/** Swarm seeds per protocol in every `pnpm test`; `pnpm run swarm --seeds N` runs more. */
export const SWARM_SEEDS = 200;
/**
 * Swarm seeds of FlexCast with chained notifications (`params.notifications`); the plain swarm
 * runs the default, direct ones.
 */
export const CHAINED_FLEXCAST_SWARM_SEEDS = 40;
/** Swarm seeds per protocol for the linearizable variant (real-time order checked): 3 x 70 >= 200. */
export const LINEARIZABLE_SWARM_SEEDS = 70;
/**
 * Swarm seeds per overlay protocol with random reconfigurations (back-to-back ones and ones during
 * faults included), plain and linearizable.
 */
export const RECONFIG_SWARM_SEEDS = 50;
/**
 * Reconfiguring swarm seeds beyond the first RECONFIG_SWARM_SEEDS that once failed, run with them
 * every time. 127: ByzCast, a request that waited at an auxiliary group for its view was refused
 * on the peer input that installed it (a later view came in the same step).
 */
export const RECONFIG_SWARM_FOUND_SEEDS: readonly number[] = [127];

/** Seeds 0..count-1, then `found` (those not among them). */
export function swarmSeeds(count: number, found: readonly number[] = []): number[] {
  const seeds = Array.from({ length: count }, (_, seed) => seed);
  return [...seeds, ...found.filter((seed) => seed >= count)];
}
/**
 * Swarm seeds per protocol and replicated mode (crash, Byzantine) where groups run on a delayed
 * network (besides the seeds of the plain swarm that draw one): liveness under delay, every run
 * must drain.
 */
export const DELAYED_SWARM_SEEDS = 20;

/**
 * The run's check report with only the violations that fail it (real-time order only where it is
 * owed), or null when the run was not checked.
 */
function failingReport(outcome: ScenarioOutcome): CheckReport | null {
  const check = outcome.check;
  if (check === null) return null;
  const violations = failingViolations(outcome);
  const truncatedProperties = check.truncatedProperties.filter((property) =>
    violations.some((violation) => violation.property === property),
  );
  return { ...check, violations, truncated: truncatedProperties.length > 0, truncatedProperties };
}

/**
 * Outcome of one run as printable lines, empty when everything held: the run's label, its
 * violations grouped by the processes they are about, what liveness missed, and the command that
 * replays it.
 */
export function judge(outcome: ScenarioOutcome, live: boolean, replay: string): string[] {
  const problems: string[] = [];
  const report = failingReport(outcome);
  if (report !== null && report.violations.length > 0) problems.push(formatReportByProcess(report));
  const label = outcome.spec.label;
  if (live && outcome.sim.stoppedBy !== "drained") {
    problems.push(
      `liveness: run ${label} ${outcome.sim.stoppedBy} with ${outcome.metrics.completed}/${outcome.metrics.multicasts} multicasts complete`,
    );
  }
  if (live && outcome.metrics.delivered !== outcome.metrics.multicasts) {
    problems.push(
      `liveness: run ${label}: ${outcome.metrics.multicasts - outcome.metrics.delivered} multicasts were not delivered everywhere`,
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
    label: `suite/${protocol.name}/${mode}/${name}/seed-${seed}`,
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

/** A case: `overrides` changes the base scenario (a WAN of five groups, a mixed workload). */
function propertyCase(
  id: string,
  name: string,
  modes: readonly ReplicationMode[],
  live: (mode: ReplicationMode) => boolean,
  overrides: (mode: ReplicationMode, seed: number) => Partial<ScenarioSpec>,
): PropertyCase {
  return {
    id,
    name,
    modes,
    live,
    scenario: (protocol, mode, seed) => scenario(protocol, mode, seed, id, overrides(mode, seed)),
  };
}

export const PROPERTY_CASES: readonly PropertyCase[] = [
  propertyCase("mixed", "mixed local and global multicasts on a WAN", REPLICATION_MODES, always, () => ({})),
  propertyCase(
    "all-global",
    "only global multicasts to every group (maximal contention)",
    REPLICATION_MODES,
    always,
    () => ({
      workload: workload({ locality: { localPercent: 0, globalSizes: [5], globalChoice: "uniform" } }),
    }),
  ),
  propertyCase("all-local", "only local multicasts", REPLICATION_MODES, always, () => ({
    workload: workload({ locality: { localPercent: 100, globalSizes: [], globalChoice: "uniform" } }),
  })),
  propertyCase("reorder", "heavy jitter and cross-link reordering", REPLICATION_MODES, always, () => ({
    network: { jitterSdFraction: 0.5, reorder: { chance: percent(40), extraDelayMsMax: 300 } },
  })),
  propertyCase("open-loop", "open-loop load that queues at busy groups", REPLICATION_MODES, always, () => ({
    workload: workload({ loop: "open", ratePerSec: 200, multicastsPerClient: 40 }),
    processing: { perMessageUs: 200, perByteNs: 10 },
  })),
  propertyCase(
    "partition",
    "partitions that heal: safety throughout, everything delivered after healing",
    REPLICATION_MODES,
    always,
    (mode) => ({
      faults: {
        crashes: [],
        partitions: [
          { side: replicasOf(["g0", "g1"], mode), atMs: 30, healAtMs: 400 },
          { side: replicasOf(["g4"], mode), atMs: 200, healAtMs: 900 },
        ],
      },
    }),
  ),
  propertyCase(
    "crash",
    "crashes and recoveries: a solo group loses what reaches it while down; replicated groups ride through, leaders included",
    REPLICATION_MODES,
    (mode) => mode !== "solo",
    (mode) => ({
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
  ),
  propertyCase(
    "byzantine",
    "one Byzantine replica in every group, each with another strategy",
    ["byzantine"],
    always,
    (_mode, seed) => {
      const byzantine = GROUPS.map((group, index) => ({
        proc: `${group}/${(index + seed) % 4}`,
        strategy: BYZANTINE_STRATEGIES[(index + seed) % BYZANTINE_STRATEGIES.length] ?? "silent",
      }));
      return {
        byzantine,
        faults: { crashes: [], partitions: [], byzantine: byzantine.map((fault) => fault.proc) },
      };
    },
  ),
  propertyCase("pair", "a tiny system: two groups, one client each", REPLICATION_MODES, always, () => ({
    topology: new Topology(
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
    ),
    workload: workload({ multicastsPerClient: 60, outstanding: 3 }),
  })),
];

/** The command that replays one run of a property case (it rebuilds what changed first). */
export function propertyReplay(
  protocol: ProtocolDefinition<unknown>,
  propertyCase: PropertyCase,
  mode: ReplicationMode,
  seed: number,
  linearizable: boolean,
  params?: unknown,
): string {
  const variant = `${paramsFlag(params)}${linearizable ? " --linearizable" : ""}`;
  return `pnpm run conformance --protocol ${protocol.name} --case ${propertyCase.id} --mode ${mode} --seed ${seed}${variant} --trace property-${seed}.jsonl`;
}

/** The `--params` flag that gives a replay the same protocol parameters ("" for none). */
function paramsFlag(params: unknown): string {
  return params === undefined ? "" : ` --params '${JSON.stringify(params)}'`;
}

/** Runs one property case once and judges it: empty when every property held. */
export function runPropertyCase(
  protocol: ProtocolDefinition<unknown>,
  propertyCase: PropertyCase,
  mode: ReplicationMode,
  seed: number,
  linearizable: boolean,
  onTrace?: (event: TraceEvent) => void,
  params?: unknown,
): { outcome: ScenarioOutcome | null; problems: string[] } {
  const drawn = propertyCase.scenario(protocol, mode, seed);
  const spec = params === undefined ? drawn : { ...drawn, params };
  const label = `${spec.label}${linearizable ? "/lin" : ""}`;
  const replay = propertyReplay(protocol, propertyCase, mode, seed, linearizable, params);
  try {
    const outcome = runScenario({
      ...spec,
      label,
      linearizable,
      ...(onTrace === undefined ? {} : { onTrace, recordSends: true }),
    });
    const problems =
      linearizable && outcome.check?.checked.includes("real-time-order") !== true
        ? [`run ${label}: real-time order was not checked`, `replay: ${replay}`]
        : judge(outcome, propertyCase.live(mode), replay);
    return { outcome, problems };
  } catch (error) {
    // Bad --params: the caller reports it once.
    if (error instanceof InputError) throw error;
    // An assertion inside a protocol or the simulator: a bug, which the seed reproduces.
    return {
      outcome: null,
      problems: [`run ${label} crashed: ${(error as Error).stack ?? String(error)}`, `replay: ${replay}`],
    };
  }
}

/** A swarm seed on a delayed network (every seed draws one), in one replication mode. */
export interface DelayedSwarm {
  readonly mode: ReplicationMode;
}

/**
 * Runs one swarm seed (drawing its mode among all modes; on a delayed network, in
 * `delayed.mode`) and judges it. A linearizable run also owes real-time order. `params`: the
 * protocol's parameters (as an experiment's protocol entry gives them), for every seed.
 */
export function runSwarmSeed(
  protocol: ProtocolDefinition<unknown>,
  seed: number,
  linearizable = false,
  reconfigure = false,
  delayed: DelayedSwarm | null = null,
  params?: unknown,
): { description: string; problems: string[] } {
  const { description, scenario: drawn } = swarmCase(protocol, seed, {
    crashes: true,
    realTime: false,
    modes: delayed === null ? REPLICATION_MODES : [delayed.mode],
    linearizable,
    reconfigure,
    delayedNetwork: delayed !== null,
  });
  const spec = params === undefined ? drawn : { ...drawn, params };
  const delayedFlag = delayed === null ? "" : ` --delayed --mode ${delayed.mode}`;
  const flag = `${paramsFlag(params)}${linearizable ? " --linearizable" : ""}${reconfigure ? " --reconfigure" : ""}${delayedFlag}`;
  const replay = `pnpm run swarm --protocol ${protocol.name}${flag} --seed ${seed} --trace swarm-${seed}.jsonl`;
  let outcome: ScenarioOutcome;
  try {
    outcome = runScenario(spec);
  } catch (error) {
    // Bad --params: the caller reports it once.
    if (error instanceof InputError) throw error;
    // An assertion inside a protocol or the simulator: a bug, which the seed reproduces.
    return {
      description,
      problems: [
        `run ${spec.label} crashed: ${(error as Error).stack ?? String(error)}`,
        `replay: ${replay}`,
      ],
    };
  }
  const live = spec.mode !== "solo" || spec.faults.crashes.length === 0;
  return { description, problems: judge(outcome, live, replay) };
}

/**
 * The swarm seeds that fail (0..seeds-1, or the seeds listed), each with its configuration and the
 * command that replays it.
 */
export function swarmFailures(
  protocol: ProtocolDefinition<unknown>,
  seeds: number | readonly number[],
  linearizable: boolean,
  reconfigure = false,
  delayed: DelayedSwarm | null = null,
  params?: unknown,
): string[] {
  const found: string[] = [];
  for (const seed of typeof seeds === "number" ? swarmSeeds(seeds) : seeds) {
    const { description, problems } = runSwarmSeed(
      protocol,
      seed,
      linearizable,
      reconfigure,
      delayed,
      params,
    );
    if (problems.length > 0) found.push(`seed ${seed} (${description}):\n  ${problems.join("\n  ")}`);
  }
  return found;
}
