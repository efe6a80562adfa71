import type { ScenarioOutcome } from "./scenario.js";
import { messagesPerMulticast } from "./scenario.js";
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
    outcome.check === null
      ? "not run"
      : outcome.check.violations.length === 0
        ? "ok"
        : `${outcome.check.violations.length} violations`,
  ]);
  return formatTable(header, rows);
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
  const checks =
    check === null
      ? "not checked"
      : check.violations.length === 0
        ? `checks: ${check.checked.length} properties hold`
        : `checks: ${check.violations.length} VIOLATIONS`;
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
