import type { CheckReport, Violation } from "@amcast/check";
import { failingViolations as failingOf } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import type { SimOptions, SimResult } from "@amcast/sim";
import { simulate } from "@amcast/sim";
import type { BuildOptions, BuiltSystem, ControllerReport, SystemSpec } from "@amcast/system";
import { buildSystem, stopEvent } from "@amcast/system";
import type { RunMetrics } from "./metrics.js";
import { RunObserver } from "./observe.js";

/** One run for a driver: the system spec, plus what to observe of it. */
export interface ScenarioSpec extends SystemSpec {
  readonly recordSends: boolean;
  /** Run the oracles (needs the trace in memory). */
  readonly check: boolean;
  /** Keep per-message latency samples (for CSVs and plots). */
  readonly keepSamples: boolean;
  /** Sees every trace event (e.g. a trace file writer). */
  readonly onTrace?: (event: TraceEvent) => void;
  /**
   * Log positions between a replicated group's checkpoints (the group layer's default where
   * absent): short intervals make lagging and restarted replicas fetch state.
   */
  readonly checkpointEntries?: number;
}

export interface ScenarioOutcome {
  readonly spec: ScenarioSpec;
  readonly sim: SimResult;
  readonly metrics: RunMetrics;
  readonly check: CheckReport | null;
  readonly wallMs: number;
  /** What the reconfiguration controller did; null: the run does not reconfigure. */
  readonly reconfig: Pick<
    ControllerReport,
    "reconfigurations" | "plans" | "measuredDelays" | "solverErrors"
  > | null;
}

/**
 * The violations that fail a run: those of the properties it owes (see `runChecks`); real-time
 * order in a plain run is only counted, classic atomic multicast does not promise it.
 */
export function failingViolations(outcome: ScenarioOutcome): readonly Violation[] {
  return outcome.check === null ? [] : failingOf(outcome.check);
}

/**
 * Whether a checked run failed: an owed property broke, or it owed delivery and did not drain
 * (stopped at a time limit it did not declare, stalled, or was interrupted).
 */
export function runFailed(outcome: ScenarioOutcome): boolean {
  return outcome.check !== null && !outcome.check.passed;
}

/** Real-time violations found in a run (informative in plain runs; failures in linearizable ones). */
export function realTimeViolations(outcome: ScenarioOutcome): number {
  return (outcome.check?.violations ?? []).filter((violation) => violation.property === "real-time-order")
    .length;
}

/** The count of real-time violations as text: "12", or "1000+" when witnesses were cut. */
export function realTimeViolationsText(outcome: ScenarioOutcome): string {
  const cut = outcome.check?.truncatedProperties.includes("real-time-order") === true;
  return `${realTimeViolations(outcome)}${cut ? "+" : ""}`;
}

/** Protocol messages (between group processes) per multicast. */
export function messagesPerMulticast(outcome: ScenarioOutcome): number {
  return outcome.metrics.multicasts === 0 ? 0 : outcome.sim.protocolMessages / outcome.metrics.multicasts;
}

/** The simulator's options for a built system: its processes and clients, and the spec's network, faults and time. */
export function simulatorOptions(spec: SystemSpec, built: BuiltSystem, recordSends: boolean): SimOptions {
  return {
    seed: spec.seed,
    topology: spec.topology,
    processes: built.processes,
    clients: built.clients,
    network: spec.network,
    processing: spec.processing,
    faults: spec.faults,
    tickMs: spec.tickMs,
    timeLimitMs: spec.timeLimitMs,
    recordSends,
    leaderOf: built.leaderOf,
  };
}

/** Builds the system of a scenario, runs the simulator, checks the trace. */
export function runScenario(spec: ScenarioSpec, build: BuildOptions = {}): ScenarioOutcome {
  const built = buildSystem(
    spec,
    spec.checkpointEntries === undefined
      ? build
      : { ...build, ordering: { checkpointEntries: spec.checkpointEntries, ...build.ordering } },
  );
  const { controller } = built;
  // With views, the latency model of a multicast follows the view installed everywhere when it
  // started (the controller knows each view's overlay).
  const observer = new RunObserver(
    spec,
    built,
    controller === null ? undefined : (view) => controller.overlayOf(view),
  );
  const started = performance.now();
  const sim = simulate({ ...simulatorOptions(spec, built, spec.recordSends), ...observer.simulatorSinks() });
  const wallMs = performance.now() - started;
  observer.onEvent(stopEvent(spec, sim.stoppedBy, sim.endMs, "sim"));
  const { metrics, check } = observer.finish();
  const reconfig = controller?.report() ?? null;
  return { spec, sim, metrics, check, wallMs, reconfig };
}
