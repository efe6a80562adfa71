import type { Estimate, RunGroup } from "./aggregate.js";
import { aggregateGroup, aggregateKind, groupRuns, kindsOf } from "./aggregate.js";
import type { RunRecord } from "./record.js";
import { formatNumber, formatTable } from "./table.js";

/** A table: header and rows, for the console (formatTable) and the HTML report alike. */
export interface TableData {
  readonly header: readonly string[];
  readonly rows: readonly (readonly (string | number)[])[];
}

/**
 * "ok", "3 violations", "did not finish (time-limit)", "ok (time limit, expected)" for a run
 * that ended at the limit its experiment declared, or for a plain run checked in real time "ok,
 * 12 real-time": classic multicast is allowed to break real-time order, and experiments count how
 * often it does.
 */
export function verdictText(record: RunRecord): string {
  const { verdict } = record;
  if (verdict.checked.length === 0) return "not run";
  if (verdict.failing > 0) return `${verdict.failing} violations`;
  if (!verdict.passed) return `did not finish (${verdict.stop})`;
  const ok = verdict.stopExpected ? "ok (time limit, expected)" : "ok";
  const realTime = record.summary.linearizable ? 0 : (verdict.realTimeViolations ?? 0);
  return realTime > 0 ? `${ok}, ${realTime} real-time` : ok;
}

/**
 * The closing lines of an experiment: that every run passed, or the checker's report of each
 * failed run (an owed property broken, or a run that did not finish) with the command that
 * replays it.
 */
export function verdictLines(
  records: readonly RunRecord[],
  replay: (record: RunRecord) => string,
): { failed: number; lines: string[] } {
  const failed = records.filter((record) => !record.verdict.passed);
  if (failed.length === 0)
    return {
      failed: 0,
      lines: [`checks: every run holds all checked properties (${records.length} run(s))`],
    };
  const lines: string[] = [];
  for (const record of failed) {
    if (record.verdict.report !== null) lines.push(record.verdict.report);
    lines.push(`FAILED: ${record.label} seed ${record.seed}; replay: ${replay(record)}`);
  }
  return { failed: failed.length, lines };
}

/** Said under the runs table when a run is in Byzantine mode, by how it signs. */
export const SIGNATURE_NOTES: Readonly<Record<"modelled" | "ed25519", string>> = {
  modelled:
    "byzantine mode: signatures are modelled (SimulatedSignatures: unforgeable by construction, no cryptography); real processes sign with Ed25519 (--runtime net)",
  ed25519:
    "byzantine mode: requests, stream copies and consensus messages carry Ed25519 signatures (node:crypto)",
};

/** Notes that hold for some runs of a table (printed under it, in the JSON summary and the report). */
export function runNotes(records: readonly RunRecord[]): string[] {
  const kinds = new Set(records.map((record) => record.summary.signatures));
  return (["modelled", "ed25519"] as const)
    .filter((kind) => kinds.has(kind))
    .map((kind) => SIGNATURE_NOTES[kind]);
}

/** The row label: the group without its sweep values (they get columns). */
function rowLabel(group: RunGroup): string {
  const sweep = Object.entries(group.first.sweep).map(([name, value]) => `/${name}=${value}`);
  let label = group.group;
  for (const part of sweep) label = label.replace(part, "");
  return label;
}

/** "12.3 ± 0.4" with several seeds, "12.3" with one. */
export function estimateText(value: Estimate): string {
  return value.n > 1 ? `${formatNumber(value.mean)} ± ${formatNumber(value.ci95)}` : formatNumber(value.mean);
}

/**
 * The main table, one row per run; with several seeds one row per protocol, mode, workload,
 * fault plan and sweep point, each number the mean over seeds ± its 95% confidence interval (the
 * per-seed rows stay in runs.csv). Swept parameters get a column each.
 */
export function runsTableData(records: readonly RunRecord[]): TableData {
  const groups = groupRuns(records);
  const sweep = Object.keys(records[0]?.sweep ?? {});
  const seeds = Math.max(1, ...groups.map((group) => group.runs.length));
  // A trace has no latency matrix: without floors, their columns would only say 0.
  const floors = records.some((record) => record.summary.floorRatio > 0);
  if (seeds === 1) {
    return {
      header: [
        "run",
        ...sweep,
        "multicasts",
        "delivered",
        "mean ms",
        "p50 ms",
        "p99 ms",
        ...(floors ? ["floor x", "model x"] : []),
        "msgs/mcast",
        "mcast/s",
        "checks",
      ],
      rows: groups.map((group) => {
        const { summary } = group.first;
        return [
          rowLabel(group),
          ...sweep.map((name) => group.first.sweep[name] ?? "-"),
          summary.multicasts,
          summary.delivered,
          summary.latencyMs.mean,
          summary.latencyMs.p50,
          summary.latencyMs.p99,
          ...(floors ? [summary.floorRatio, summary.modelRatio ?? "-"] : []),
          summary.messagesPerMulticast,
          summary.multicastsPerSec,
          verdictText(group.first),
        ];
      }),
    };
  }
  return {
    header: [
      "run",
      ...sweep,
      "seeds",
      "multicasts",
      "mean ms",
      "p50 ms",
      "p99 ms",
      ...(floors ? ["floor x"] : []),
      "msgs/mcast",
      "mcast/s",
      "checks",
    ],
    rows: groups.map((group) => {
      const estimates = aggregateGroup(group);
      const failed = group.runs.filter((run) => !run.verdict.passed).length;
      return [
        rowLabel(group),
        ...sweep.map((name) => group.first.sweep[name] ?? "-"),
        group.runs.length,
        group.runs.reduce((sum, run) => sum + run.summary.multicasts, 0),
        estimateText(estimates.mean_ms),
        estimateText(estimates.p50_ms),
        estimateText(estimates.p99_ms),
        ...(floors ? [estimateText(estimates.floor_ratio)] : []),
        estimateText(estimates.messages_per_multicast),
        estimateText(estimates.multicasts_per_sec),
        failed === 0 ? "ok" : `${failed} of ${group.runs.length} FAILED`,
      ];
    }),
  };
}

/** Latency per kind of message, one row per row of the main table and kind. */
export function kindsTableData(records: readonly RunRecord[]): TableData {
  const groups = groupRuns(records);
  const kinds = kindsOf(records);
  const seeds = Math.max(1, ...groups.map((group) => group.runs.length));
  const floors = records.some((record) => record.summary.floorRatio > 0);
  const header = [
    "run",
    "kind",
    "count",
    "mean ms",
    "p50 ms",
    "p99 ms",
    ...(floors ? ["floor ms", "floor x"] : []),
    ...(floors && seeds === 1 ? ["model ms", "model x"] : []),
  ];
  const rows: (string | number)[][] = [];
  for (const group of groups) {
    for (const kind of kinds) {
      if (seeds === 1) {
        const s = group.first.summary.byKind[kind];
        if (s === undefined) continue;
        rows.push([
          group.group,
          kind,
          s.count,
          s.mean,
          s.p50,
          s.p99,
          ...(floors ? [s.floorMs, s.floorRatio, s.modelMs ?? "-", s.modelRatio ?? "-"] : []),
        ]);
        continue;
      }
      const s = aggregateKind(group, kind);
      if (s === undefined) continue;
      rows.push([
        group.group,
        kind,
        s.count,
        estimateText(s.mean),
        estimateText(s.p50),
        estimateText(s.p99),
        ...(floors ? [estimateText(s.floorMs), s.floorMs.mean > 0 ? s.mean.mean / s.floorMs.mean : "-"] : []),
      ]);
    }
  }
  return { header, rows };
}

export function tableText(table: TableData): string {
  return formatTable(table.header, table.rows);
}
