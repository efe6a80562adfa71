import type { CheckReport, Property } from "./types.js";
import { PROPERTIES } from "./types.js";

/** Violations printed per property; the report keeps (and counts) more. */
const SHOWN_PER_PROPERTY = 10;

/**
 * A report as text: one summary line, notes (how the run stopped, what was not owed), then the
 * violations, at most ten per property. Holding runs read "run X: all 6 properties hold (N
 * multicasts, M deliveries)"; a failed one starts "run X: FAILED: ...".
 */
export function formatReport(report: CheckReport): string {
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
  const failing = report.violations.filter((violation) => report.owed.includes(violation.property)).length;
  const countedText = counted
    .map((property) => {
      const found = byProperty.get(property) ?? 0;
      const cut = report.truncatedProperties.includes(property) ? "+" : "";
      return `; ${property} (counted, not owed) broken ${found}${cut}x`;
    })
    .join("");
  let headline: string;
  if (failing > 0) {
    const broken = new Set(
      report.violations
        .filter((violation) => report.owed.includes(violation.property))
        .map((violation) => violation.property),
    );
    headline =
      `${name}: FAILED: ${failing} violation${failing === 1 ? "" : "s"} of ${broken.size} of ` +
      `${owedCount} properties ${counts}${countedText}`;
  } else if (!report.passed) {
    headline = `${name}: FAILED: did not finish; the ${owedCount} properties checked hold ${counts}${countedText}`;
  } else {
    headline = `${name}: all ${owedCount} properties hold ${counts}${countedText}`;
  }

  const lines = [headline, ...notes];
  for (const property of PROPERTIES) {
    const found = report.violations.filter((violation) => violation.property === property);
    for (const violation of found.slice(0, SHOWN_PER_PROPERTY)) {
      lines.push(
        violation.message
          .split("\n")
          .map((line) => `  ${line}`)
          .join("\n"),
      );
    }
    if (found.length > SHOWN_PER_PROPERTY)
      lines.push(`  ... ${found.length - SHOWN_PER_PROPERTY} more violations of ${property}`);
  }
  if (report.truncated) {
    lines.push(`  (more violations of ${report.truncatedProperties.join(", ")} were found but not kept)`);
  }
  return lines.join("\n");
}
