import { formatReport } from "@amcast/check";
import { signatureKind } from "@amcast/system";
import type { ScenarioOutcome } from "./scenario.js";
import {
  failingViolations,
  messagesPerMulticast,
  realTimeViolations,
  realTimeViolationsText,
  runFailed,
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
 * "ok", "3 violations", "did not finish (time-limit)", "ok (time limit, expected)" for a run
 * that ended at the limit its experiment declared, or for a plain run checked in real time "ok,
 * 12 real-time": classic multicast is allowed to break real-time order, and experiments count how
 * often it does.
 */
export function checkSummary(outcome: ScenarioOutcome): string {
  const { check } = outcome;
  if (check === null) return "not run";
  const failing = failingViolations(outcome).length;
  if (failing > 0) return `${failing} violations`;
  if (!check.passed) return `did not finish (${check.stop?.reason ?? outcome.sim.stoppedBy})`;
  const ok = check.stop?.expected === true ? "ok (time limit, expected)" : "ok";
  const realTime = outcome.spec.linearizable === true ? 0 : realTimeViolations(outcome);
  return realTime > 0 ? `${ok}, ${realTime} real-time` : ok;
}

/**
 * The closing lines of an experiment: that every run passed, or the report of each failed run
 * (an owed property broken, or a run that did not finish) with the command that replays it.
 */
export function verdictLines(
  outcomes: readonly ScenarioOutcome[],
  replay: (outcome: ScenarioOutcome) => string,
): { failed: number; lines: string[] } {
  const failed = outcomes.filter(runFailed);
  if (failed.length === 0)
    return {
      failed: 0,
      lines: [`checks: every run holds all checked properties (${outcomes.length} run(s))`],
    };
  const lines: string[] = [];
  for (const outcome of failed) {
    if (outcome.check !== null) lines.push(formatReport(outcome.check));
    lines.push(`FAILED: ${outcome.spec.label} seed ${outcome.spec.seed}; replay: ${replay(outcome)}`);
  }
  return { failed: failed.length, lines };
}

/** Said under the runs table when a run is in Byzantine mode. */
export const MODELLED_SIGNATURES_NOTE =
  "byzantine mode: signatures are modelled (SimulatedSignatures: unforgeable by construction, no cryptography); real signatures are not implemented yet";

/** Notes that hold for some runs of a table (printed under it, and in the JSON summary). */
export function runNotes(outcomes: readonly ScenarioOutcome[]): string[] {
  return outcomes.some((outcome) => signatureKind(outcome.spec) === "modelled")
    ? [MODELLED_SIGNATURES_NOTE]
    : [];
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

/** What the oracles said of a run, for its progress line. */
export function checksText(outcome: ScenarioOutcome): string {
  const { spec, check } = outcome;
  if (check === null) return "not checked";
  const failing = failingViolations(outcome).length;
  if (failing > 0) return `checks: ${failing} VIOLATIONS`;
  const realTime = spec.linearizable === true ? 0 : realTimeViolations(outcome);
  const hold = `checks: ${check.owed.length} properties hold`;
  if (!check.passed) return `${hold}, but the run DID NOT FINISH`;
  const expected = check.stop?.expected === true ? " (stopped at its declared time limit)" : "";
  return (
    hold +
    expected +
    (realTime > 0 ? ` (real-time order broken ${realTime}x: plain multicast does not promise it)` : "")
  );
}

/** One progress line per finished run. */
export function progressLine(outcome: ScenarioOutcome, index: number, total: number): string {
  const { spec, sim, metrics, wallMs } = outcome;
  const checks = checksText(outcome);
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
 * the window's workload on the old and the new overlay, by its cost model) and what the run
 * measured: mean latency of the multicasts started between the previous change (or the workload
 * shift) and the decision, and between the installation and the next decision (or the end).
 */
export function reconfigTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const { spec, metrics, reconfig } of outcomes) {
    if (reconfig === null) continue;
    const installed = reconfig.reconfigurations;
    installed.forEach((change, index) => {
      const previous = installed[index - 1];
      const shiftAtMs = spec.workload.shift?.atMs;
      let fromMs = previous?.installedMs ?? 0;
      if (shiftAtMs !== undefined && shiftAtMs < change.decidedMs) fromMs = Math.max(fromMs, shiftAtMs);
      const untilMs = installed[index + 1]?.decidedMs ?? Number.POSITIVE_INFINITY;
      const before = meanLatency(metrics.samples, fromMs, change.decidedMs);
      const after =
        change.installedMs === null ? null : meanLatency(metrics.samples, change.installedMs, untilMs);
      const predictedGain =
        change.predictedCurrentMs !== null && change.predictedBestMs !== null && change.predictedCurrentMs > 0
          ? (100 * (change.predictedCurrentMs - change.predictedBestMs)) / change.predictedCurrentMs
          : null;
      const measuredGain =
        before !== null && after !== null && before > 0 ? (100 * (before - after)) / before : null;
      rows.push([
        spec.label,
        change.view,
        change.decidedMs / 1000,
        change.installedMs === null ? "-" : change.installedMs / 1000,
        change.predictedCurrentMs ?? "-",
        change.predictedBestMs ?? "-",
        predictedGain ?? "-",
        before ?? "-",
        after ?? "-",
        measuredGain ?? "-",
        change.method,
        change.solveMs,
      ]);
    });
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
      "solver",
      "solve ms",
    ],
    rows,
  );
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

function meanLatency(
  samples: readonly { multicastMs: number; latencyMs: number }[],
  fromMs: number,
  untilMs: number,
): number | null {
  let sum = 0;
  let count = 0;
  for (const sample of samples) {
    if (sample.multicastMs < fromMs || sample.multicastMs >= untilMs) continue;
    sum += sample.latencyMs;
    count += 1;
  }
  return count === 0 ? null : sum / count;
}

/** The command that runs `name` again with `seed` and writes its trace. */
export function replayCommand(name: string, seed: number | undefined, traceFile: string | undefined): string {
  const parts = ["pnpm run experiment", name];
  if (seed !== undefined) parts.push("--seed", String(seed));
  if (traceFile !== undefined) parts.push("--trace", traceFile);
  return parts.join(" ");
}
