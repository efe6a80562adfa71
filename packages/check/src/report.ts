import type { TraceId } from "@amcast/core";
import type { CheckReport, Property, Violation } from "./types.js";
import { PROPERTIES } from "./types.js";

/** Violations printed per property; the report keeps (and counts) more. */
const SHOWN_PER_PROPERTY = 10;

/**
 * A report as text: one summary line, notes (how the run stopped, what was not owed), then the
 * violations, at most ten per property. Holding runs read "run X: all 6 properties hold (N
 * multicasts, M deliveries)"; a failed one starts "run X: FAILED: ...".
 */
export function formatReport(report: CheckReport): string {
  const lines = summaryLines(report);
  for (const property of PROPERTIES) {
    const found = report.violations.filter((violation) => violation.property === property);
    for (const violation of found.slice(0, SHOWN_PER_PROPERTY)) lines.push(indent(violation.message, "  "));
    if (found.length > SHOWN_PER_PROPERTY)
      lines.push(`  ... ${found.length - SHOWN_PER_PROPERTY} more violations of ${property}`);
  }
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

/** The headline (held, FAILED, or did not finish) and the notes under it. */
function summaryLines(report: CheckReport): string[] {
  const name = report.run === undefined ? "run (unlabelled)" : `run ${report.run}`;
  const { multicasts, deliveries, processes, faultyProcesses } = report.counts;
  const faulty = faultyProcesses > 0 ? `, ${faultyProcesses} of ${processes} processes faulty` : "";
  const counts = `(${multicasts} multicasts, ${deliveries} deliveries${faulty})`;
  const notes: string[] = [];
  if (report.membershipInferred) notes.push("  note: no member events; membership inferred from deliveries");
  const { stop } = report;
  if (stop !== null && stop.reason !== "drained") {
    const finishedAnyway = !report.owed.includes("validity");
    notes.push(
      `  stopped: ${stop.reason} at t=${Math.round(stop.t * 1000) / 1000}` +
        (stop.expected
          ? " (the experiment's declared end)"
          : finishedAnyway
            ? ""
            : ": the run did not finish, so it does not pass"),
    );
  }
  const skipped = (["validity", "agreement"] as const).filter(
    (property) => !report.checked.includes(property),
  );
  if (skipped.length > 0) notes.push(`  note: ${skipped.join(" and ")} not owed, not checked`);
  const counted = report.checked.filter((property) => !report.owed.includes(property));

  const owedCount = report.owed.length;
  const byProperty = new Map<Property, number>();
  for (const violation of report.violations)
    byProperty.set(violation.property, (byProperty.get(violation.property) ?? 0) + 1);
  const failing = report.violations.filter((violation) => report.owed.includes(violation.property));
  const countedText = counted
    .map((property) => {
      const found = byProperty.get(property) ?? 0;
      const cut = report.truncatedProperties.includes(property) ? "+" : "";
      return `; ${property} (counted, not owed) broken ${found}${cut}x`;
    })
    .join("");
  let headline: string;
  if (failing.length > 0) {
    const broken = new Set(failing.map((violation) => violation.property));
    headline =
      `${name}: FAILED: ${failing.length} violation${failing.length === 1 ? "" : "s"} of ${broken.size} of ` +
      `${owedCount} properties ${counts}${countedText}`;
  } else if (!report.passed) {
    headline = `${name}: FAILED: did not finish; the ${owedCount} properties checked hold ${counts}${countedText}`;
  } else {
    headline = `${name}: all ${owedCount} properties hold ${counts}${countedText}`;
  }
  return [headline, ...notes];
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
