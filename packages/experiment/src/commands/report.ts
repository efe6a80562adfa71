import { basename, dirname, join, resolve } from "node:path";
import { parseTrace } from "@amcast/core";
import { displayPath, findProjectRoot, readText } from "@amcast/system";
import { provenance } from "../provenance.js";
import { kindsTableData, runNotes, runsTableData, tableText } from "../record-tables.js";
import { writeReport } from "../report-html.js";
import { checkWritableFile, ResultsStore } from "../store.js";
import { explainWanted, multicastFromTrace, recordFromTrace, traceRuns } from "../trace-report.js";
import { parseCommandArgs, stringFlag, UsageError } from "./usage.js";

/**
 * `amcast report TRACE [--out DIR] [--explain ID|RUN/ID] [--real-time]`: the HTML report (tables,
 * figures, verdicts, a sequence diagram) of any trace, e.g. a multi-machine run's merged trace.
 */
export function runReportCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs(
    "report",
    args,
    { out: { type: "string" }, explain: { type: "string" }, "real-time": { type: "boolean" } },
    1,
  );
  const file = positionals[0];
  if (file === undefined)
    throw new UsageError("report: needs a trace file (amcast report TRACE [--out DIR])");
  const out = resolve(
    stringFlag(values.out) ?? join(dirname(file), `${basename(file).replace(/\.jsonl?$/, "")}-report`),
  );
  checkWritableFile("--out", join(out, "index.html"));
  const events = parseTrace(readText(resolve(file), "trace file"), displayPath(file));
  if (events.length === 0) throw new UsageError(`report: ${displayPath(file)} holds no events`);
  const runs = traceRuns(events);
  const realTime = values["real-time"] === true;
  const records = [...runs].map(([label, runEvents], index) =>
    recordFromTrace(label, index, runEvents, { realTime }),
  );
  const store = ResultsStore.createOrReplace(out, {
    experiment: basename(file),
    description: `Report of the trace ${displayPath(file)} (${events.length} events, ${runs.size} run${runs.size === 1 ? "" : "s"}).`,
    runtime: "trace",
    seeds: [],
    runsPlanned: records.length,
    sweepParameters: [],
    configuration: { trace: resolve(file) },
    provenance: provenance(findProjectRoot(process.cwd()), ["report", ...args]),
  });
  for (const record of records) store.add(record);
  const explain = stringFlag(values.explain);
  const sequence = multicastFromTrace(runs, explainWanted(explain)) ?? null;
  if (explain !== undefined && sequence === null)
    throw new UsageError(`report: --explain: the trace has no multicast ${JSON.stringify(explain)}`);
  const files = writeReport(out, {
    header: { ...store.reportHeader(`trace ${displayPath(file)}`), configuration: null },
    records,
    sections: [],
    sequence,
  });
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  print(tableText(runsTableData(records)));
  for (const note of runNotes(records)) print(note);
  print("");
  print("latency per kind of message");
  print(tableText(kindsTableData(records)));
  print("");
  print(`report: ${displayPath(join(out, "index.html"))} (${files.join(", ")})`);
  const failed = records.filter((record) => !record.verdict.passed);
  for (const record of failed) if (record.verdict.report !== null) print(record.verdict.report);
  print(
    failed.length === 0
      ? `checks: every run holds all checked properties (${records.length} run(s))`
      : `checks: ${failed.length} of ${records.length} run(s) FAILED`,
  );
  return failed.length === 0 ? 0 : 1;
}
