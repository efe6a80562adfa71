import type { CheckReport } from "./types.js";

/**
 * A report as text: one summary line, then each violation as an indented block. Holding runs read
 * "run X: all 6 properties hold (N multicasts, M deliveries)".
 */
export function formatReport(report: CheckReport): string {
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
  if (report.violations.length === 0) {
    return [`${name}: all ${checkedCount} properties hold ${counts}`, ...notes].join("\n");
  }
  const broken = new Set(report.violations.map((violation) => violation.property));
  const lines = [
    `${name}: ${report.violations.length} violation${report.violations.length === 1 ? "" : "s"} of ` +
      `${broken.size} of ${checkedCount} properties ${counts}`,
    ...notes,
  ];
  for (const violation of report.violations) {
    lines.push(
      violation.message
        .split("\n")
        .map((line) => `  ${line}`)
        .join("\n"),
    );
  }
  if (report.truncated) {
    lines.push(`  (more violations of ${report.truncatedProperties.join(", ")} were found but not kept)`);
  }
  return lines.join("\n");
}
