import type { TraceId } from "@amcast/core";
import type { CheckReport, Violation } from "./types.js";

/**
 * A report as text: one summary line, then each violation as an indented block. Holding runs read
 * "run X: all 6 properties hold (N multicasts, M deliveries)".
 */
export function formatReport(report: CheckReport): string {
  const lines = summaryLines(report);
  for (const violation of report.violations) lines.push(indent(violation.message, "  "));
  return [...lines, ...truncationLines(report)].join("\n");
}

/**
 * A report with its violations grouped by the processes they are about (see
 * `violationProcesses`), the groups with most violations first and at most `shownPerGroup`
 * violations shown in each: a broken protocol often breaks the same way at a few processes.
 */
export function formatReportByProcess(report: CheckReport, shownPerGroup = 3): string {
  const lines = summaryLines(report);
  const groups = new Map<string, Violation[]>();
  for (const violation of report.violations) {
    const processes = violationProcesses(violation).map(String).sort();
    const key = processes.length === 0 ? "no process" : processes.join(" & ");
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [violation]);
    else list.push(violation);
  }
  const sorted = [...groups].sort(([, a], [, b]) => b.length - a.length);
  for (const [key, violations] of sorted) {
    lines.push(`  at ${key} (${violations.length}):`);
    for (const violation of violations.slice(0, shownPerGroup)) lines.push(indent(violation.message, "    "));
    if (violations.length > shownPerGroup) lines.push(`    ... ${violations.length - shownPerGroup} more`);
  }
  return [...lines, ...truncationLines(report)].join("\n");
}

/**
 * The processes a violation is about, read off its witness: the process that delivered wrongly
 * or missed a message, the two processes whose sequences differ, the processes along a cycle (in
 * order of appearance). Empty when it names none (a message multicast twice differently).
 */
export function violationProcesses(violation: Violation): TraceId[] {
  const witness = violation.witness as {
    proc?: TraceId | null;
    procs?: readonly TraceId[];
    cycle?: readonly { proc?: TraceId; deliveredBy?: TraceId }[];
  };
  if (witness.procs !== undefined) return [...witness.procs];
  if (witness.cycle !== undefined) {
    const seen = new Set<TraceId>();
    for (const step of witness.cycle) {
      const proc = step.proc ?? step.deliveredBy;
      if (proc !== undefined) seen.add(proc);
    }
    return [...seen];
  }
  return witness.proc === undefined || witness.proc === null ? [] : [witness.proc];
}

function summaryLines(report: CheckReport): string[] {
  const name = report.run === undefined ? "run (unlabelled)" : `run ${report.run}`;
  const { multicasts, deliveries, processes, faultyProcesses } = report.counts;
  const faulty = faultyProcesses > 0 ? `, ${faultyProcesses} of ${processes} processes faulty` : "";
  const counts = `(${multicasts} multicasts, ${deliveries} deliveries${faulty})`;
  const notes: string[] = [];
  if (report.membershipInferred) notes.push("  note: no member events; membership inferred from deliveries");
  const skipped = ["validity", "agreement"].filter(
    (property) => !report.checked.some((checked) => checked === property),
  );
  if (skipped.length > 0) notes.push(`  note: ${skipped.join(" and ")} not checked (liveness off)`);

  const checkedCount = report.checked.length;
  if (report.violations.length === 0)
    return [`${name}: all ${checkedCount} properties hold ${counts}`, ...notes];
  const broken = new Set(report.violations.map((violation) => violation.property));
  return [
    `${name}: ${report.violations.length} violation${report.violations.length === 1 ? "" : "s"} of ` +
      `${broken.size} of ${checkedCount} properties ${counts}`,
    ...notes,
  ];
}

function truncationLines(report: CheckReport): string[] {
  return report.truncated
    ? [`  (more violations of ${report.truncatedProperties.join(", ")} were found but not kept)`]
    : [];
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => `${prefix}${line}`)
    .join("\n");
}
