import { availableParallelism } from "node:os";
import type { Overlay, ProtocolDefinition, TraceEvent } from "@amcast/core";
import { CdagOverlay, Topology, TreeOverlay } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { DEFAULT_ORDERING, REPLICATION_MODES } from "@amcast/group";
import { PROTOCOLS, protocolByName } from "@amcast/protocols";
import type { NetRunOptions } from "@amcast/runtime";
import { percentile } from "./metrics.js";
import type { NetOutcome } from "./net-run.js";
import { runScenarioNet } from "./net-run.js";
import type { ScenarioOutcome, ScenarioSpec } from "./scenario.js";
import { runScenario } from "./scenario.js";
import { formatTable } from "./table.js";

/**
 * Parity: the same run on the simulator and on real processes must be the same run — the same
 * properties owed and holding, the same multicasts delivered, and latencies that agree up to what
 * jitter and real processing explain. A run is a protocol in a replication mode, plain or
 * linearizable, on a small WAN (three AWS regions, their one-way delays halved so that a run takes
 * about a second) whose delays the network runtime injects in its transport.
 */
export interface ParityCase {
  readonly protocol: ProtocolDefinition<unknown>;
  readonly mode: ReplicationMode;
  readonly linearizable: boolean;
}

/** The quantiles compared (p10 ... p90) and the one only reported (p99: a handful of samples). */
export const COMPARED_QUANTILES = [0.1, 0.25, 0.5, 0.75, 0.9] as const;
export const REPORTED_QUANTILES = [...COMPARED_QUANTILES, 0.99] as const;

/**
 * How far a quantile of the network runtime's latencies may sit from the simulator's: `absoluteMs`
 * plus `relative` of the simulator's value, either way (see docs/runtime.md, "Parity", for the
 * measurements behind these numbers). Real processes add their own time to what the simulator
 * models, and on a machine that makes them wait for a core they add a lot, which also changes
 * how messages queue behind each other. The quantiles are compared only when the run had the
 * machine's cores: the runner saw the machine schedule it, and the nodes saw it schedule them (the
 * mean over nodes), no later than `overloadedSchedulingMs` on average (other jobs did not crowd
 * them; an idle runner is woken first, so it alone under-reports), and the run's own processes used at most
 * `busyCpuShare` of the cores (on 2 cores, 9-13 replica processes that tick every 10 ms do not
 * leave enough idle CPU for a message to find a core at once). Otherwise the result says so, and
 * only `modelRatioMin` holds the latencies.
 */
export interface ParityTolerance {
  readonly absoluteMs: number;
  readonly relative: number;
  /** How far in rank (a fraction) the network's matching value may sit from the compared quantile. */
  readonly rank: number;
  readonly overloadedSchedulingMs: number;
  /** The most of the machine's CPU (0..1) the run's processes may use for its latencies to be compared. */
  readonly busyCpuShare: number;
  /**
   * However loaded the machine, no kind of message may be faster on average than its protocol's
   * message pattern on the topology allows (latency over model at least this): real processes
   * only add time, and jitter averages out over a kind's multicasts.
   */
  readonly modelRatioMin: number;
}

export const PARITY_TOLERANCE: ParityTolerance = {
  absoluteMs: 8,
  relative: 0.2,
  rank: 0.1,
  overloadedSchedulingMs: 1,
  busyCpuShare: 0.25,
  modelRatioMin: 0.9,
};

/** Three AWS regions (Canada, Virginia, Sao Paulo), one-way delays halved. */
export function parityTopology(): Topology {
  const regions = ["Canada", "Virginia", "SaoPaulo"];
  const latencyMs = [
    [5, 16, 128],
    [17, 7, 114],
    [126, 116, 3],
  ].map((row) => row.map((ms) => ms / 2));
  return new Topology(
    "parity-3-regions",
    { regions, latencyMs },
    regions.map((region) => ({ id: region, region })),
    [],
  );
}

/** The overlay a protocol needs on the three groups: Canada > Virginia > Sao Paulo, or a tree rooted at Virginia. */
function parityOverlay(protocol: ProtocolDefinition<unknown>): Overlay | null {
  switch (protocol.overlayKind) {
    case "cdag":
      return new CdagOverlay("parity-order", ["Canada", "Virginia", "SaoPaulo"]);
    case "tree":
      return new TreeOverlay(
        "parity-tree",
        new Map([
          ["Virginia", "target" as const],
          ["Canada", "target" as const],
          ["SaoPaulo", "target" as const],
        ]),
        [
          ["Virginia", "Canada"],
          ["Virginia", "SaoPaulo"],
        ],
      );
    default:
      return null;
  }
}

export interface ParityOptions {
  readonly seed: number;
  readonly multicastsPerClient: number;
}

export const DEFAULT_PARITY_OPTIONS: ParityOptions = { seed: 1, multicastsPerClient: 16 };

/**
 * Multicasts started this long after the first are compared; earlier ones are the warm-up. In
 * crash mode the replicas elect their first leaders as the run starts: on the simulator the first
 * multicasts wait for the election (up to two election timeouts), on real processes it is over
 * before the workload starts (the runner waits for every link first). Solo groups need no leader
 * and Byzantine ones start with a known primary.
 */
export function parityWarmupMs(spec: Pick<ScenarioSpec, "mode" | "tickMs">): number {
  return spec.mode === "crash" ? 2 * DEFAULT_ORDERING.electionTimeoutTicks * spec.tickMs : 0;
}

/** The scenario of a parity case: two closed-loop clients per group, a third of the multicasts local. */
export function parityScenario(
  parity: ParityCase,
  options: ParityOptions = DEFAULT_PARITY_OPTIONS,
): ScenarioSpec {
  const { protocol, mode, linearizable } = parity;
  return {
    label: `${protocol.name}${linearizable ? "+lin" : ""}/${mode}/parity`,
    seed: options.seed,
    topology: parityTopology(),
    protocol,
    overlay: parityOverlay(protocol),
    mode,
    f: mode === "solo" ? 0 : 1,
    workload: {
      name: "parity",
      clientsPerGroup: 2,
      loop: "closed",
      multicastsPerClient: options.multicastsPerClient,
      outstanding: 2,
      thinkMs: 0,
      ratePerSec: 1,
      outstandingMax: 2,
      payloadBytes: 64,
      groups: null,
      locality: { localPercent: 34, globalSizes: [2, 3], globalChoice: "uniform" },
      startSpreadMs: 20,
    },
    byzantine: [],
    linearizable,
    faultPlan: "",
    network: { jitterSdFraction: 0.05, reorder: null },
    processing: { perMessageUs: 0, perByteNs: 0 },
    faults: { crashes: [], partitions: [] },
    timeLimitMs: 120_000,
    tickMs: 10,
    realTime: false,
    recordSends: false,
    check: true,
    keepSamples: true,
  };
}

/**
 * What `pnpm test` runs: every registered protocol (a test holds the list to the registry), every
 * mode and both variants; every pair of (protocol, variant) for Skeen, FlexCast and ByzCast, and
 * of the pairs of (mode, variant) all but a linearizable Byzantine run, the costliest to start
 * (twelve replica processes, twice the messages), which `amcast parity --full` runs with the rest.
 */
export const PARITY_TEST_CASES: readonly ParityCase[] = [
  { protocol: protocolByName("skeen", "parity", "protocol"), mode: "solo", linearizable: false },
  { protocol: protocolByName("skeen", "parity", "protocol"), mode: "crash", linearizable: true },
  { protocol: protocolByName("flexcast", "parity", "protocol"), mode: "solo", linearizable: true },
  { protocol: protocolByName("flexcast", "parity", "protocol"), mode: "byzantine", linearizable: false },
  { protocol: protocolByName("byzcast", "parity", "protocol"), mode: "crash", linearizable: false },
  { protocol: protocolByName("byzcast", "parity", "protocol"), mode: "solo", linearizable: true },
  { protocol: protocolByName("sequencer", "parity", "protocol"), mode: "solo", linearizable: false },
];

/** Every protocol in every mode, plain and linearizable. */
export function fullParityMatrix(): ParityCase[] {
  return PROTOCOLS.flatMap((protocol) =>
    REPLICATION_MODES.flatMap((mode) =>
      [false, true].map((linearizable) => ({ protocol, mode, linearizable })),
    ),
  );
}

/** One runtime's side of a parity run. */
export interface ParitySide {
  readonly outcome: ScenarioOutcome;
  /** Every multicast, with its destinations, as `id>g1,g2`. */
  readonly multicasts: ReadonlySet<string>;
  /** Multicasts delivered by every destination group. */
  readonly delivered: ReadonlySet<string>;
  /** Latencies in ms of the multicasts after the warm-up, sorted. */
  readonly latenciesMs: Float64Array;
}

export interface ParityResult {
  readonly label: string;
  readonly sim: ParitySide;
  readonly net: ParitySide & { readonly outcome: NetOutcome };
  /** What differs beyond the tolerance; empty when the runtimes agree. */
  readonly problems: readonly string[];
  /** The quantiles were compared (the machine was not overloaded). */
  readonly quantilesCompared: boolean;
}

/** Multicasts and deliveries of a run's trace (the metrics keep counts, parity needs the ids). */
class DeliveryLedger {
  readonly multicasts = new Set<string>();
  readonly delivered = new Set<string>();
  private readonly waiting = new Map<string, Set<string>>();

  readonly onEvent = (event: TraceEvent): void => {
    if (event.ev === "multicast") {
      const id = String(event.id);
      this.multicasts.add(`${id}>${event.dst.map(String).join(",")}`);
      this.waiting.set(id, new Set(event.dst.map(String)));
    } else if (event.ev === "deliver") {
      const groups = this.waiting.get(String(event.id));
      if (groups === undefined) return;
      groups.delete(String(event.group));
      if (groups.size === 0) {
        this.waiting.delete(String(event.id));
        this.delivered.add(String(event.id));
      }
    }
  };
}

function side<O extends ScenarioOutcome>(outcome: O, ledger: DeliveryLedger): ParitySide & { outcome: O } {
  const { samples } = outcome.metrics;
  const firstMs = samples.reduce(
    (first, sample) => Math.min(first, sample.multicastMs),
    Number.POSITIVE_INFINITY,
  );
  const warmupEndMs = firstMs + parityWarmupMs(outcome.spec);
  const latenciesMs = Float64Array.from(
    samples.filter((sample) => sample.multicastMs >= warmupEndMs).map((sample) => sample.latencyMs),
  ).sort();
  return { outcome, multicasts: ledger.multicasts, delivered: ledger.delivered, latenciesMs };
}

/** A latency quantile of one side, in ms (0 without samples); `fraction` is clamped to [0, 1]. */
export function quantileMs(side: ParitySide, fraction: number): number {
  return side.latenciesMs.length === 0 ? 0 : percentile(side.latenciesMs, Math.min(1, Math.max(0, fraction)));
}

/** The share of the machine's cores (0..1) a network run's processes used during its workload. */
export function cpuShare(outcome: NetOutcome): number {
  const { net } = outcome;
  return net.workloadMs <= 0
    ? 0
    : (net.cpuMsReplicas + net.cpuMsClients) / (net.workloadMs * availableParallelism());
}

/** Why a network run's latencies were not compared, or null when they were. */
export function notComparedBecause(
  result: ParityResult,
  tolerance: ParityTolerance = PARITY_TOLERANCE,
): string | null {
  if (result.quantilesCompared) return null;
  const delay = result.net.outcome.net.schedulingDelayMs.mean;
  const nodeDelay = result.net.outcome.net.nodeSchedulingDelayMs.mean;
  const share = cpuShare(result.net.outcome);
  return delay > tolerance.overloadedSchedulingMs || nodeDelay > tolerance.overloadedSchedulingMs
    ? `the machine was crowded by other jobs (scheduling delay ${delay.toFixed(1)} ms on average at the runner, ${nodeDelay.toFixed(1)} ms at the nodes, over ${tolerance.overloadedSchedulingMs} ms)`
    : `the run's processes kept the cores busy (${(100 * share).toFixed(0)}% of them, over ${100 * tolerance.busyCpuShare}%)`;
}

/** A scenario's side on the simulator. */
export function simulatedSide(spec: ScenarioSpec): ParitySide {
  const ledger = new DeliveryLedger();
  return side(runScenario({ ...spec, onTrace: ledger.onEvent }), ledger);
}

/** Runs one case on both runtimes and compares them. */
export async function runParity(
  parity: ParityCase,
  netOptions: NetRunOptions,
  options: ParityOptions = DEFAULT_PARITY_OPTIONS,
  tolerance: ParityTolerance = PARITY_TOLERANCE,
): Promise<ParityResult> {
  const spec = parityScenario(parity, options);
  const sim = simulatedSide(spec);
  const netLedger = new DeliveryLedger();
  const net = side(
    await runScenarioNet({ ...spec, onTrace: netLedger.onEvent }, { ...netOptions, latencyEmulation: true }),
    netLedger,
  );
  const quantilesCompared =
    net.outcome.net.schedulingDelayMs.mean <= tolerance.overloadedSchedulingMs &&
    net.outcome.net.nodeSchedulingDelayMs.mean <= tolerance.overloadedSchedulingMs &&
    cpuShare(net.outcome) <= tolerance.busyCpuShare;
  return {
    label: spec.label,
    sim,
    net,
    problems: compareSides(sim, net, tolerance, quantilesCompared),
    quantilesCompared,
  };
}

const pct = (fraction: number): string => `p${Math.round(fraction * 100)}`;

/** Where the two runtimes disagree. */
export function compareSides(
  sim: ParitySide,
  net: ParitySide,
  tolerance: ParityTolerance,
  compareQuantiles: boolean,
): string[] {
  const problems: string[] = [];
  const simCheck = sim.outcome.check;
  const netCheck = net.outcome.check;
  if (simCheck === null || netCheck === null) return ["a side was not checked"];
  if (simCheck.owed.join(",") !== netCheck.owed.join(","))
    problems.push(
      `properties owed: simulator ${simCheck.owed.join(",")}, network ${netCheck.owed.join(",")}`,
    );
  if (simCheck.checked.join(",") !== netCheck.checked.join(","))
    problems.push(
      `properties checked: simulator ${simCheck.checked.join(",")}, network ${netCheck.checked.join(",")}`,
    );
  if (!simCheck.passed)
    problems.push(`the simulator's run failed its checks (${simCheck.violations.length} violations)`);
  if (!netCheck.passed)
    problems.push(`the network's run failed its checks (${netCheck.violations.length} violations)`);
  if (!sameSet(sim.multicasts, net.multicasts)) problems.push("the runtimes multicast different messages");
  if (!sameSet(sim.delivered, net.delivered))
    problems.push(
      `delivered: simulator ${sim.delivered.size}, network ${net.delivered.size}, not the same multicasts`,
    );
  if (sim.delivered.size !== sim.multicasts.size)
    problems.push("the simulator did not deliver every multicast");
  for (const fraction of COMPARED_QUANTILES) {
    if (!compareQuantiles) break;
    const simMs = quantileMs(sim, fraction);
    const netMs = quantileMs(net, fraction);
    // The network's value may match the simulator's at a nearby rank: where the distribution has a
    // cliff (local multicasts delivered at once or behind a global one), a point or two of rank
    // moves a quantile across it.
    const allowedMs = tolerance.absoluteMs + tolerance.relative * simMs;
    const lowMs = quantileMs(net, fraction - tolerance.rank) - allowedMs;
    const highMs = quantileMs(net, fraction + tolerance.rank) + allowedMs;
    if (simMs < lowMs || simMs > highMs)
      problems.push(
        `${pct(fraction)}: simulator ${simMs.toFixed(1)} ms, network ${netMs.toFixed(1)} ms ` +
          `(${lowMs.toFixed(1)}-${highMs.toFixed(1)} ms allowed)`,
      );
  }
  for (const [name, outcome] of [
    ["simulator", sim.outcome],
    ["network", net.outcome],
  ] as const)
    for (const [kind, summary] of outcome.metrics.byKind)
      if (summary.modelRatio !== null && summary.modelRatio < tolerance.modelRatioMin)
        problems.push(
          `${kind} on the ${name}: ${summary.mean.toFixed(1)} ms on average, faster than the message pattern allows (model x ${summary.modelRatio.toFixed(2)})`,
        );
  return problems;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) if (!b.has(item)) return false;
  return true;
}

/** The parity table: per case, properties, deliveries, p50/p90/p99 on both runtimes and the differences. */
export function parityTable(results: readonly ParityResult[]): string {
  const header = [
    "run",
    "owed (sim = net)",
    "passed sim/net",
    "delivered sim/net",
    "same ids",
    "p50 sim",
    "p50 net",
    "p50 diff",
    "p90 sim",
    "p90 net",
    "p90 diff",
    "p99 sim",
    "p99 net",
    "p99 diff",
    "max same-rank p10-p90 diff %",
    "sched ms",
    "agree",
  ];
  const rows = results.map(({ label, sim, net, problems, quantilesCompared }) => {
    const q = quantileMs;
    const diff = (fraction: number): number => q(net, fraction) - q(sim, fraction);
    const worst = Math.max(
      ...COMPARED_QUANTILES.map((fraction) =>
        q(sim, fraction) === 0 ? 0 : (100 * Math.abs(diff(fraction))) / q(sim, fraction),
      ),
    );
    const owed = (outcome: ScenarioOutcome): string => outcome.check?.owed.length.toString() ?? "-";
    return [
      label,
      `${owed(sim.outcome)} = ${owed(net.outcome)}${sim.outcome.check?.owed.includes("real-time-order") === true ? " (rt)" : ""}`,
      `${sim.outcome.check?.passed === true ? "yes" : "NO"}/${net.outcome.check?.passed === true ? "yes" : "NO"}`,
      `${sim.delivered.size}/${net.delivered.size}`,
      sameSet(sim.delivered, net.delivered) ? "yes" : "NO",
      q(sim, 0.5),
      q(net, 0.5),
      diff(0.5),
      q(sim, 0.9),
      q(net, 0.9),
      diff(0.9),
      q(sim, 0.99),
      q(net, 0.99),
      diff(0.99),
      worst,
      net.outcome.net.schedulingDelayMs.mean,
      problems.length > 0 ? "NO" : quantilesCompared ? "yes" : "yes (quantiles not compared: busy)",
    ];
  });
  return formatTable(header, rows);
}
