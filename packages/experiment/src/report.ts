import type { Reconfiguration } from "./reconfig.js";
import type { ScenarioOutcome } from "./scenario.js";
import {
  failingViolations,
  messagesPerMulticast,
  realTimeViolations,
  realTimeViolationsText,
} from "./scenario.js";
import { formatTable } from "./table.js";

/** The main table: one row per run. */
export function runsTable(outcomes: readonly ScenarioOutcome[]): string {
  const header = [
    "run",
    "multicasts",
    "delivered",
    "mean ms",
    "p50 ms",
    "p99 ms",
    "floor x",
    "model x",
    "msgs/mcast",
    "mcast/s",
    "checks",
  ];
  const rows = outcomes.map((outcome) => [
    outcome.spec.label,
    outcome.metrics.multicasts,
    outcome.metrics.delivered,
    outcome.metrics.latency.mean,
    outcome.metrics.latency.p50,
    outcome.metrics.latency.p99,
    outcome.metrics.latency.floorRatio,
    outcome.metrics.latency.modelRatio ?? "-",
    messagesPerMulticast(outcome),
    outcome.metrics.multicastsPerSec,
    checkSummary(outcome),
  ]);
  return formatTable(header, rows);
}

/**
 * "ok", "3 violations", or for a plain run checked in real time "ok, 12 real-time": classic
 * multicast is allowed to break real-time order, and experiments count how often it does.
 */
function checkSummary(outcome: ScenarioOutcome): string {
  if (outcome.check === null) return "not run";
  const failing = failingViolations(outcome).length;
  if (failing > 0) return `${failing} violations`;
  const realTime = outcome.spec.linearizable === true ? 0 : realTimeViolations(outcome);
  return realTime > 0 ? `ok, ${realTime} real-time` : "ok";
}

/** Latency per kind of message (local, global-2, global-3, ...) for every run. */
export function kindsTable(outcomes: readonly ScenarioOutcome[]): string {
  const header = [
    "run",
    "kind",
    "count",
    "mean ms",
    "p50 ms",
    "p99 ms",
    "floor ms",
    "floor x",
    "model ms",
    "model x",
  ];
  const rows = outcomes.flatMap(({ spec, metrics }) =>
    [...metrics.byKind].map(([kind, summary]) => [
      spec.label,
      kind,
      summary.count,
      summary.mean,
      summary.p50,
      summary.p99,
      summary.meanFloorMs,
      summary.floorRatio,
      summary.meanModelMs ?? "-",
      summary.modelRatio ?? "-",
    ]),
  );
  return formatTable(header, rows);
}

/** One progress line per finished run. */
export function progressLine(outcome: ScenarioOutcome, index: number, total: number): string {
  const { spec, sim, metrics, check, wallMs } = outcome;
  const failing = failingViolations(outcome).length;
  const realTime = spec.linearizable === true ? 0 : realTimeViolations(outcome);
  const checks =
    check === null
      ? "not checked"
      : failing > 0
        ? `checks: ${failing} VIOLATIONS`
        : `checks: ${check.checked.length - (realTime > 0 ? 1 : 0)} properties hold` +
          (realTime > 0 ? ` (real-time order broken ${realTime}x: plain multicast does not promise it)` : "");
  const stop = sim.stoppedBy === "drained" ? "" : ` [stopped: ${sim.stoppedBy}]`;
  const rate = wallMs > 0 ? Math.round((sim.messageEvents * 1000) / wallMs) : 0;
  return (
    `[${index + 1}/${total}] ${spec.label} seed ${spec.seed}: ${metrics.multicasts} multicasts, ` +
    `${(sim.endMs / 1000).toFixed(1)} s simulated in ${(wallMs / 1000).toFixed(1)} s (${rate} message events/s); ${checks}${stop}`
  );
}

/** Seconds before and after a fault over which its impact is averaged. */
const FAULT_WINDOW_MS = 2000;

/**
 * For runs with crashes: mean and max latency of the multicasts started in the two seconds before
 * and after each crash (the first three per run), so a failover's cost is visible in numbers.
 */
export function faultImpactTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const { spec, metrics } of outcomes) {
    for (const mark of metrics.marks.filter((candidate) => candidate.label.startsWith("crash")).slice(0, 3)) {
      const window = (fromMs: number, toMs: number) =>
        metrics.samples.filter((sample) => sample.multicastMs >= fromMs && sample.multicastMs < toMs);
      const before = window(mark.t - FAULT_WINDOW_MS, mark.t);
      const after = window(mark.t, mark.t + FAULT_WINDOW_MS);
      const mean = (samples: readonly { latencyMs: number }[]) =>
        samples.length === 0
          ? 0
          : samples.reduce((sum, sample) => sum + sample.latencyMs, 0) / samples.length;
      const max = (samples: readonly { latencyMs: number }[]) =>
        samples.reduce((top, sample) => Math.max(top, sample.latencyMs), 0);
      rows.push([
        spec.label,
        mark.label,
        mark.t / 1000,
        before.length,
        mean(before),
        max(before),
        after.length,
        mean(after),
        max(after),
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return formatTable(
    [
      "run",
      "fault",
      "at s",
      "before n",
      "before mean ms",
      "before max ms",
      "after n",
      "after mean ms",
      "after max ms",
    ],
    rows,
  );
}

/**
 * Genuineness, for runs that recorded sends: protocol messages about a multicast that reached
 * groups outside its destinations, per multicast, overall and by kind; undefined when no run
 * recorded sends.
 */
export function genuinenessTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const measured = outcomes.filter((outcome) => outcome.metrics.genuineness !== null);
  if (measured.length === 0) return undefined;
  const kinds = [
    ...new Set(measured.flatMap((outcome) => [...(outcome.metrics.genuineness?.byKind.keys() ?? [])])),
  ];
  const rows = measured.map(({ spec, metrics }) => {
    const genuineness = metrics.genuineness;
    if (genuineness === null) return [spec.label];
    return [
      spec.label,
      genuineness.outsideMessagesPerMulticast,
      genuineness.outsideGroupsPerMulticast,
      genuineness.multicastsWithOutside * 100,
      genuineness.outsideGroupsMax,
      ...kinds.map((kind) => genuineness.byKind.get(kind) ?? "-"),
    ];
  });
  return formatTable(
    [
      "run",
      "outside msgs/mcast",
      "outside groups/mcast",
      "% mcasts touching outside",
      "max outside groups",
      ...kinds.map((kind) => `${kind} outside msgs`),
    ],
    rows,
  );
}

/**
 * For experiments that run protocols plain and linearizable: per run pair and kind of message,
 * the latency each way, the measured extra cost, the extra the message pattern predicts (the
 * models' difference: one ACK hop between destinations), and the measured extra in units of
 * that predicted delay. Also the real-time violations each variant showed.
 */
export function linearizableCostTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const lin of outcomes) {
    if (lin.spec.linearizable !== true) continue;
    const plainLabel = lin.spec.label.replace("+lin/", "/");
    const plain = outcomes.find(
      (outcome) => outcome.spec.label === plainLabel && outcome.spec.linearizable !== true,
    );
    if (plain === undefined) continue;
    for (const [kind, linSummary] of lin.metrics.byKind) {
      const plainSummary = plain.metrics.byKind.get(kind);
      if (plainSummary === undefined) continue;
      const extraMs = linSummary.mean - plainSummary.mean;
      // Local messages have no ACK hop to predict: whatever they pay is queueing.
      const expectedMs =
        kind !== "local" && linSummary.meanModelMs !== null && plainSummary.meanModelMs !== null
          ? linSummary.meanModelMs - plainSummary.meanModelMs
          : null;
      rows.push([
        plainLabel,
        kind,
        plainSummary.mean,
        linSummary.mean,
        extraMs,
        expectedMs ?? "-",
        expectedMs !== null && expectedMs > 0 ? extraMs / expectedMs : "-",
        realTimeViolationsText(plain),
        realTimeViolationsText(lin),
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return formatTable(
    [
      "run",
      "kind",
      "plain ms",
      "lin ms",
      "extra ms",
      "1 delay ms",
      "extra delays",
      "rt viol plain",
      "rt viol lin",
    ],
    rows,
  );
}

/**
 * For runs that reconfigure: each installed view with the optimiser's prediction (mean latency of
 * the window's workload on the old and the new overlay, by the protocol's own latency model) and
 * what the run measured: mean latency of the multicasts started between the previous change (or
 * the workload shift) and the decision, and between the installation and the next decision (or
 * the end). A view whose measured gain is negative beyond noise (two standard errors of the
 * difference of the two means) is flagged "WORSE".
 */
/** One installed view of a run: the predicted and the measured gain (see `reconfigTable`). */
export interface ViewGain {
  readonly change: Reconfiguration;
  readonly before: number | null;
  readonly after: number | null;
  readonly predictedGain: number | null;
  readonly measuredGain: number | null;
  /** Two standard errors of the measured gain (%): a negative gain beyond it is no noise. */
  readonly noiseGain: number | null;
}

export function viewGains(outcome: ScenarioOutcome): ViewGain[] {
  const { spec, metrics, reconfig } = outcome;
  if (reconfig === null) return [];
  const installed = reconfig.reconfigurations;
  return installed.map((change, index) => {
    const previous = installed[index - 1];
    const shiftAtMs = spec.workload.shift?.atMs;
    let fromMs = previous?.installedMs ?? 0;
    if (shiftAtMs !== undefined && shiftAtMs < change.decidedMs) fromMs = Math.max(fromMs, shiftAtMs);
    const untilMs = installed[index + 1]?.decidedMs ?? Number.POSITIVE_INFINITY;
    const beforeStats = latencyStats(metrics.samples, fromMs, change.decidedMs);
    const afterStats =
      change.installedMs === null ? null : latencyStats(metrics.samples, change.installedMs, untilMs);
    const before = beforeStats?.mean ?? null;
    const after = afterStats?.mean ?? null;
    const predictedGain =
      change.predictedCurrentMs !== null && change.predictedBestMs !== null && change.predictedCurrentMs > 0
        ? (100 * (change.predictedCurrentMs - change.predictedBestMs)) / change.predictedCurrentMs
        : null;
    const measuredGain =
      before !== null && after !== null && before > 0 ? (100 * (before - after)) / before : null;
    const noiseGain =
      beforeStats !== null && afterStats !== null && before !== null && before > 0
        ? (100 * 2 * Math.sqrt(beforeStats.varianceOfMean + afterStats.varianceOfMean)) / before
        : null;
    return { change, before, after, predictedGain, measuredGain, noiseGain };
  });
}

export function reconfigTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const outcome of outcomes) {
    for (const { change, before, after, predictedGain, measuredGain, noiseGain } of viewGains(outcome)) {
      const verdict =
        measuredGain === null || noiseGain === null ? "-" : measuredGain < -noiseGain ? "WORSE" : "ok";
      rows.push([
        outcome.spec.label,
        change.view,
        change.decidedMs / 1000,
        change.installedMs === null ? "-" : change.installedMs / 1000,
        change.predictedCurrentMs ?? "-",
        change.predictedBestMs ?? "-",
        predictedGain ?? "-",
        before ?? "-",
        after ?? "-",
        measuredGain ?? "-",
        noiseGain ?? "-",
        verdict,
        change.method,
        change.solveMs,
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return formatTable(
    [
      "run",
      "view",
      "decided s",
      "installed s",
      "model old ms",
      "model new ms",
      "predicted gain %",
      "mean before ms",
      "mean after ms",
      "measured gain %",
      "noise +-%",
      "check",
      "solver",
      "solve ms",
    ],
    rows,
  );
}

/**
 * The experiment's expectation on reconfiguring runs (`reconfig.firstGainPercentMin`): each must
 * install a view, and measure at least that gain after its first one. One line per run that
 * does not.
 */
export function reconfigExpectationFailures(
  outcomes: readonly ScenarioOutcome[],
  minGainPercent: number,
): string[] {
  const failures: string[] = [];
  for (const outcome of outcomes) {
    if (outcome.reconfig === null) continue;
    const first = viewGains(outcome)[0];
    if (first === undefined) failures.push(`${outcome.spec.label}: installed no view`);
    else if (first.measuredGain === null || first.measuredGain < minGainPercent)
      failures.push(
        `${outcome.spec.label}: measured gain after the first view ${first.measuredGain === null ? "unknown" : `${first.measuredGain.toFixed(1)}%`} < ${minGainPercent}%`,
      );
  }
  return failures;
}

/** Optimiser runs per reconfiguring run: how many, how long (wall clock), how many changed the overlay. */
export function solverTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const { spec, reconfig } of outcomes) {
    if (reconfig === null || reconfig.plans.length === 0) continue;
    const times = reconfig.plans.map((plan) => plan.solveMs);
    rows.push([
      spec.label,
      reconfig.plans.length,
      reconfig.plans.filter((plan) => plan.changed).length,
      times.reduce((sum, time) => sum + time, 0) / times.length,
      Math.max(...times),
    ]);
  }
  if (rows.length === 0) return undefined;
  return formatTable(["run", "optimiser runs", "changes proposed", "mean solve ms", "max solve ms"], rows);
}

/** Mean latency of the samples started in [fromMs, untilMs), and the variance of that mean. */
export function latencyStats(
  samples: readonly { multicastMs: number; latencyMs: number }[],
  fromMs: number,
  untilMs: number,
): { mean: number; varianceOfMean: number; count: number } | null {
  let sum = 0;
  let squares = 0;
  let count = 0;
  for (const sample of samples) {
    if (sample.multicastMs < fromMs || sample.multicastMs >= untilMs) continue;
    sum += sample.latencyMs;
    squares += sample.latencyMs * sample.latencyMs;
    count += 1;
  }
  if (count === 0) return null;
  const mean = sum / count;
  const variance = count > 1 ? Math.max(0, (squares - count * mean * mean) / (count - 1)) : 0;
  return { mean, varianceOfMean: variance / count, count };
}
