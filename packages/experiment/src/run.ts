import type { TraceEvent } from "@amcast/core";
import type { Deployment, RunSelector } from "@amcast/runtime";
import { loadDeployment } from "@amcast/runtime";
import type { RuntimeKind, SignatureKind } from "@amcast/system";
import { signatureKind } from "@amcast/system";
import type { Genuineness, LatencySummary } from "./metrics.js";
import type { NetSummary } from "./net-run.js";
import type { ViewGain } from "./report.js";
import { viewGains } from "./report.js";
import type { ScenarioOutcome, ScenarioSpec } from "./scenario.js";
import { failingViolations, messagesPerMulticast, realTimeViolations, runScenario } from "./scenario.js";
import type { ExperimentSpec } from "./spec.js";
import { loadExperiment } from "./spec.js";
import { sweepLabelParts } from "./sweep.js";

export interface ExperimentOptions {
  /** Run only this seed instead of the experiment's list. */
  readonly seed?: number;
  readonly recordSends: boolean;
  readonly keepSamples: boolean;
  readonly onTrace?: (event: TraceEvent) => void;
  /** Sees every event of every run as it happens, without a run label (progress output). */
  readonly watch?: (event: TraceEvent) => void;
  /** Called after each run (progress output). */
  readonly onRun?: (outcome: ScenarioOutcome, index: number, total: number) => void;
}

/** One run of an experiment, with what reports label, group and draw it by. */
export interface PlannedRun {
  readonly spec: ScenarioSpec;
  /** Position in the experiment's list of runs. */
  readonly index: number;
  /** The protocol as the experiment names it (`+lin` when linearizable): one style in every plot. */
  readonly series: string;
  /** This run's swept parameter values ({} without a sweep). */
  readonly sweep: Readonly<Record<string, number>>;
  /** The label without the seed: runs that differ only in their seed aggregate into one row. */
  readonly group: string;
}

/** The runs of an experiment: every protocol under every workload, for every seed. */
export function experimentScenarios(experiment: ExperimentSpec, options: ExperimentOptions): ScenarioSpec[] {
  return planRuns(experiment, options).map((run) => run.spec);
}

/**
 * The runs of an experiment, labelled `protocol/mode/workload[/plan][/param=value...][/seed-N]`:
 * every protocol (plain and linearizable as asked) in every mode under every workload, fault
 * plan, sweep point and seed.
 */
export function planRuns(experiment: ExperimentSpec, options: ExperimentOptions): PlannedRun[] {
  const seeds = options.seed === undefined ? experiment.seeds : [options.seed];
  const points = experiment.sweep?.points ?? [
    {
      values: {},
      workloads: experiment.workloads,
      processing: experiment.processing,
      network: experiment.network,
    },
  ];
  const runs: PlannedRun[] = [];
  for (const seed of seeds) {
    for (const [workloadIndex, baseWorkload] of experiment.workloads.entries()) {
      for (const plan of experiment.faultPlans) {
        for (const mode of plan.modes ?? experiment.modes) {
          for (const point of points) {
            const workload = point.workloads[workloadIndex] ?? baseWorkload;
            for (const run of experiment.protocols) {
              for (const lin of experiment.linearizable) {
                const series = lin ? `${run.label}+lin` : run.label;
                const parts = [series, mode, workload.name];
                const reconfig = run.reconfigure ? experiment.reconfig : null;
                if (plan.name !== "") parts.push(plan.name);
                parts.push(...sweepLabelParts(point.values));
                const group = parts.join("/");
                if (seeds.length > 1) parts.push(`seed-${seed}`);
                const label = parts.join("/");
                const onTrace = options.onTrace;
                const watch = options.watch;
                const spec: ScenarioSpec = {
                  label,
                  seed,
                  topology: experiment.topology,
                  protocol: run.protocol,
                  overlay: run.overlay,
                  ...(run.params === undefined ? {} : { params: run.params }),
                  mode,
                  f: mode === "solo" ? 0 : experiment.f,
                  workload,
                  byzantine: plan.byzantine,
                  linearizable: lin,
                  ...(reconfig === null ? {} : { reconfig }),
                  network: point.network,
                  processing: point.processing,
                  faults: plan.faults,
                  faultPlan: plan.name,
                  timeLimitMs: experiment.timeLimitMs,
                  ...(experiment.endsAtTimeLimit ? { endsAtTimeLimit: true } : {}),
                  tickMs: experiment.tickMs,
                  realTime: experiment.realTime,
                  recordSends: options.recordSends,
                  check: true,
                  keepSamples: options.keepSamples,
                  ...(onTrace === undefined && watch === undefined
                    ? {}
                    : {
                        onTrace: (event: TraceEvent) => {
                          watch?.(event);
                          onTrace?.({ ...event, run: label });
                        },
                      }),
                };
                runs.push({ spec, index: runs.length, series, sweep: point.values, group });
              }
            }
          }
        }
      }
    }
  }
  return runs;
}

/**
 * The runs of an experiment file a selector matches: a protocol by name or by its label, the
 * mode, workload, seed, variant and fault plan, each when given.
 */
export function selectRuns(experimentFile: string, want: RunSelector): ScenarioSpec[] {
  const experiment = loadExperiment(experimentFile);
  return experimentScenarios(experiment, {
    ...(want.seed === undefined ? {} : { seed: want.seed }),
    recordSends: false,
    keepSamples: false,
  }).filter(
    (scenario) =>
      (want.protocol === undefined ||
        scenario.label.startsWith(`${want.protocol}/`) ||
        scenario.protocol.name === want.protocol) &&
      (want.mode === undefined || scenario.mode === want.mode) &&
      (want.workload === undefined || scenario.workload.name === want.workload) &&
      (want.linearizable === undefined || (scenario.linearizable === true) === want.linearizable) &&
      (want.faultPlan === undefined || scenario.faultPlan === want.faultPlan),
  );
}

/** A deployment file, whose `experiment` and `run` name a run of an experiment file (or which carries its `system`). */
export function loadDeploymentFile(file: string): Deployment {
  return loadDeployment(file, selectRuns);
}

/**
 * A fault-free run of one protocol under one workload of `experiment` (for benchmarks): solo
 * groups unless `mode` (and `f`) say otherwise.
 */
export function faultFreeScenario(
  experiment: ExperimentSpec,
  run: Pick<ScenarioSpec, "label" | "seed" | "protocol" | "overlay" | "workload" | "check"> &
    Partial<Pick<ScenarioSpec, "mode" | "f">>,
): ScenarioSpec {
  return {
    mode: "solo",
    f: 0,
    ...run,
    topology: experiment.topology,
    byzantine: [],
    faultPlan: "",
    network: experiment.network,
    processing: experiment.processing,
    faults: { crashes: [], partitions: [] },
    timeLimitMs: experiment.timeLimitMs,
    tickMs: experiment.tickMs,
    realTime: false,
    recordSends: false,
    keepSamples: false,
  };
}

export function runExperiment(experiment: ExperimentSpec, options: ExperimentOptions): ScenarioOutcome[] {
  const scenarios = experimentScenarios(experiment, options);
  return scenarios.map((scenario, index) => {
    const outcome = runScenario(scenario);
    options.onRun?.(outcome, index, scenarios.length);
    return outcome;
  });
}

/** Latency quantiles of a run, ms. */
export interface LatencyJson {
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** Latency of one kind of message (local, global-2, ...), ms. */
export interface KindJson {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly floorMs: number;
  readonly floorRatio: number;
  readonly modelMs: number | null;
  readonly modelRatio: number | null;
}

/** The machine-readable summary of one run (DESIGN.md, "Machine-readable results"). */
export interface RunSummary {
  readonly label: string;
  readonly protocol: string;
  readonly params?: unknown;
  readonly overlay: string | null;
  readonly mode: string;
  readonly f: number;
  /** How Byzantine-mode messages are signed: "modelled" (SimulatedSignatures) or "none". */
  readonly signatures: SignatureKind;
  readonly faultPlan: string;
  readonly linearizable: boolean;
  readonly workload: string;
  readonly seed: number;
  readonly multicasts: number;
  readonly delivered: number;
  readonly completed: number;
  readonly violations: number | null;
  /** The run passed its checks and ended as it must (null when not checked). */
  readonly passed: boolean | null;
  readonly realTimeViolations: number | null;
  readonly latencyMs: LatencyJson;
  readonly completeLatencyMs: LatencyJson;
  readonly floorRatio: number;
  readonly modelRatio: number | null;
  readonly messagesPerMulticast: number;
  readonly genuineness: Record<string, unknown> | null;
  readonly multicastsPerSec: number;
  readonly byKind: Readonly<Record<string, KindJson>>;
  readonly stoppedBy: string;
  /** It stopped at the time limit its experiment declared as its end. */
  readonly stopExpected: boolean;
  readonly simulatedMs: number;
  readonly wallMs: number;
  readonly messageEvents: number;
  readonly messageEventsPerSec: number;
  /** Messages sent, by kind (the protocol's kinds, and `request`/`reply` for client traffic). */
  readonly sendsByKind: Readonly<Record<string, number>>;
  readonly reconfigurations: readonly unknown[] | null;
  /** Set by the network runtime: "net". */
  readonly runtime?: "net";
  /** The network runtime's transport figures. */
  readonly net?: NetSummary;
}

/** The machine-readable summary of one run (DESIGN.md, "Machine-readable results"). */
export function runSummary(outcome: ScenarioOutcome, runtime: RuntimeKind): RunSummary {
  const { spec, sim, metrics, check } = outcome;
  const latency = metrics.latency;
  return {
    label: spec.label,
    protocol: spec.protocol.name,
    ...(spec.params === undefined ? {} : { params: spec.params }),
    overlay: spec.overlay?.name ?? null,
    mode: spec.mode,
    f: spec.f,
    // Byzantine mode signs with a model of signatures on the simulator, with Ed25519 on real processes.
    signatures: signatureKind(spec, runtime),
    faultPlan: spec.faultPlan,
    linearizable: spec.linearizable === true,
    workload: spec.workload.name,
    seed: spec.seed,
    multicasts: metrics.multicasts,
    delivered: metrics.delivered,
    completed: metrics.completed,
    violations: check === null ? null : failingViolations(outcome).length,
    passed: check === null ? null : check.passed,
    realTimeViolations:
      check?.checked.includes("real-time-order") === true ? realTimeViolations(outcome) : null,
    latencyMs: latencyJson(latency),
    completeLatencyMs: latencyJson(metrics.completeLatency),
    floorRatio: round(latency.floorRatio),
    modelRatio: latency.modelRatio === null ? null : round(latency.modelRatio),
    messagesPerMulticast: round(messagesPerMulticast(outcome)),
    genuineness: genuinenessJson(metrics.genuineness),
    multicastsPerSec: round(metrics.multicastsPerSec),
    byKind: Object.fromEntries([...metrics.byKind].map(([kind, summary]) => [kind, kindJson(summary)])),
    stoppedBy: sim.stoppedBy,
    stopExpected: check?.stop?.expected === true,
    simulatedMs: round(sim.endMs),
    wallMs: round(outcome.wallMs),
    messageEvents: sim.messageEvents,
    messageEventsPerSec: outcome.wallMs > 0 ? Math.round((sim.messageEvents * 1000) / outcome.wallMs) : 0,
    sendsByKind: Object.fromEntries([...sim.sendsByLabel].sort(([a], [b]) => (a < b ? -1 : 1))),
    reconfigurations: outcome.reconfig === null ? null : viewGains(outcome).map(reconfigurationJson),
  };
}

/** One installed view: what the controller decided and predicted, and what the run measured. */
function reconfigurationJson({ change, predictedGain, measured }: ViewGain): Record<string, unknown> {
  return {
    ...change,
    predictedGainPercent: predictedGain === null ? null : round(predictedGain),
    measuredGainPercent: measured === null ? null : round(measured.gainPercent),
    measuredNoisePercent: measured === null ? null : round(measured.noisePercent),
    measuredBeforeMs: measured === null ? null : round(measured.beforeMs),
    measuredAfterMs: measured === null ? null : round(measured.afterMs),
    comparedFraction: measured === null ? null : round(measured.comparedFraction),
  };
}

/** Outside-destination traffic per multicast (null when the run did not record sends). */
function genuinenessJson(genuineness: Genuineness | null): Record<string, unknown> | null {
  if (genuineness === null) return null;
  return {
    outsideMessagesPerMulticast: round(genuineness.outsideMessagesPerMulticast),
    outsideGroupsPerMulticast: round(genuineness.outsideGroupsPerMulticast),
    multicastsWithOutside: round(genuineness.multicastsWithOutside),
    outsideGroupsMax: genuineness.outsideGroupsMax,
    outsideMessagesPerMulticastByKind: Object.fromEntries(
      [...genuineness.byKind].map(([kind, perMulticast]) => [kind, round(perMulticast)]),
    ),
  };
}

export function latencyJson(summary: LatencySummary): LatencyJson {
  return {
    mean: round(summary.mean),
    p50: round(summary.p50),
    p99: round(summary.p99),
    max: round(summary.max),
  };
}

export function kindJson(summary: LatencySummary): KindJson {
  return {
    count: summary.count,
    mean: round(summary.mean),
    p50: round(summary.p50),
    p99: round(summary.p99),
    floorMs: round(summary.meanFloorMs),
    floorRatio: round(summary.floorRatio),
    modelMs: summary.meanModelMs === null ? null : round(summary.meanModelMs),
    modelRatio: summary.modelRatio === null ? null : round(summary.modelRatio),
  };
}

export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
