import { formatReport } from "@amcast/check";
import type { MessageSample, RunMark } from "./metrics.js";
import type { PlannedRun, RunSummary } from "./run.js";
import { runSummary } from "./run.js";
import type { ScenarioOutcome } from "./scenario.js";
import { failingViolations, realTimeViolations, runFailed } from "./scenario.js";

/** Per-multicast latencies, column-wise (compact on disk); `kind[i]` indexes `kinds`. */
export interface SampleColumns {
  readonly kinds: readonly string[];
  readonly multicastMs: readonly number[];
  readonly latencyMs: readonly number[];
  readonly kind: readonly number[];
  /** The client that multicast it, and its destination groups (space-separated). */
  readonly client: readonly string[];
  readonly dst: readonly string[];
  /** The protocol's latency model for it; null: none. */
  readonly modelMs: readonly (number | null)[];
}

/** What the oracles said about a run. */
export interface Verdict {
  /** The run passed: no owed property broken and, when delivery is owed, it drained (`CheckReport.passed`). */
  readonly passed: boolean;
  /** Properties checked (empty when the run was not checked). */
  readonly checked: readonly string[];
  /** Violations that fail the run. */
  readonly failing: number;
  /** Real-time order broken this often in a plain run (allowed: it does not promise it); null when not checked. */
  readonly realTimeViolations: number | null;
  /** How the run ended (the trace's `stop` reason: drained, time-limit, stalled, interrupted). */
  readonly stop: string;
  /** It ended at the time limit its experiment declared as its end (`endsAtTimeLimit`). */
  readonly stopExpected: boolean;
  /** The checker's report when the run failed (the witnesses, or what it owed and did not do); null otherwise. */
  readonly report: string | null;
}

/**
 * Everything reports need about one finished run, as written to disk the moment it finishes
 * (`runs/NNN.json`): tables, plots and the HTML report are made from records, so an interrupted
 * experiment keeps its finished runs and `--resume` rebuilds every report from them.
 */
export interface RunRecord {
  readonly index: number;
  readonly label: string;
  /** The label without the seed (rows of several seeds aggregate by it). */
  readonly group: string;
  /** The protocol as the experiment names it, `+lin` when linearizable (style key in plots). */
  readonly series: string;
  readonly seed: number;
  readonly mode: string;
  readonly workload: string;
  readonly faultPlan: string;
  readonly sweep: Readonly<Record<string, number>>;
  /** The run's machine-readable summary (the `--json` run object). */
  readonly summary: RunSummary;
  readonly samples: SampleColumns;
  /** Faults and view changes with their times (ms). */
  readonly marks: readonly RunMark[];
  readonly verdict: Verdict;
}

/**
 * The record of a finished run, judged as its runtime judged it (`CheckReport.passed`, from the
 * run's stop event); the network runtime extends `summary` with its transport figures.
 */
export function recordOf(
  run: PlannedRun,
  outcome: ScenarioOutcome,
  summary: RunSummary = runSummary(outcome, "sim"),
): RunRecord {
  const failing = failingViolations(outcome);
  const check = outcome.check;
  const failed = runFailed(outcome);
  return {
    index: run.index,
    label: run.spec.label,
    group: run.group,
    series: run.series,
    seed: run.spec.seed,
    mode: run.spec.mode,
    workload: run.spec.workload.name,
    faultPlan: run.spec.faultPlan,
    sweep: run.sweep,
    summary,
    samples: sampleColumns(outcome.metrics.samples),
    marks: outcome.metrics.marks,
    verdict: {
      passed: !failed,
      checked: check?.checked ?? [],
      failing: failing.length,
      realTimeViolations: check === null ? null : realTimeViolations(outcome),
      stop: check?.stop?.reason ?? outcome.sim.stoppedBy,
      stopExpected: check?.stop?.expected === true,
      report: check !== null && failed ? formatReport(check) : null,
    },
  };
}

export function sampleColumns(samples: readonly MessageSample[]): SampleColumns {
  const kinds: string[] = [];
  const kindIndex = new Map<string, number>();
  const multicastMs: number[] = new Array(samples.length);
  const latencyMs: number[] = new Array(samples.length);
  const kind: number[] = new Array(samples.length);
  const client: string[] = new Array(samples.length);
  const dst: string[] = new Array(samples.length);
  const modelMs: (number | null)[] = new Array(samples.length);
  samples.forEach((sample, index) => {
    let at = kindIndex.get(sample.kind);
    if (at === undefined) {
      at = kinds.length;
      kinds.push(sample.kind);
      kindIndex.set(sample.kind, at);
    }
    multicastMs[index] = roundMs(sample.multicastMs);
    latencyMs[index] = roundMs(sample.latencyMs);
    kind[index] = at;
    client[index] = sample.client;
    dst[index] = sample.dst.join(" ");
    modelMs[index] = sample.modelMs === null ? null : roundMs(sample.modelMs);
  });
  return { kinds, multicastMs, latencyMs, kind, client, dst, modelMs };
}

/** Latencies of a record's multicasts of one kind (all kinds when `kind` is undefined). */
export function latenciesOf(record: RunRecord, kind?: string): number[] {
  const { samples } = record;
  if (kind === undefined) return [...samples.latencyMs];
  const wanted = samples.kinds.indexOf(kind);
  const values: number[] = [];
  for (let index = 0; index < samples.kind.length; index += 1)
    if (samples.kind[index] === wanted) values.push(samples.latencyMs[index] as number);
  return values;
}

/** Microsecond precision is plenty for plots and CSVs, and keeps records small. */
function roundMs(value: number): number {
  return Math.round(value * 1000) / 1000;
}
