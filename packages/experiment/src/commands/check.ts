import { resolve } from "node:path";
import { checkTrace, failingViolations, formatReport } from "@amcast/check";
import { parseTrace } from "@amcast/core";
import { displayPath, readText } from "@amcast/system";
import { parseCommandArgs, UsageError } from "./usage.js";

/**
 * `amcast check FILE [--real-time] [--no-liveness] [--json]`: the oracles over any trace file.
 * Each run is judged by its `stop` event (how it ended, what it owes), as the runtime that wrote
 * it judged it; `--real-time` also asks for real-time order, `--no-liveness` skips validity and
 * agreement. Exit 1 when a run fails.
 */
export function runCheckCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs(
    "check",
    args,
    { "real-time": { type: "boolean" }, "no-liveness": { type: "boolean" }, json: { type: "boolean" } },
    1,
  );
  const file = positionals[0];
  if (file === undefined) throw new UsageError("check: needs a trace file (amcast check FILE)");
  const events = parseTrace(readText(resolve(file), "trace file"), displayPath(file));
  const reports = checkTrace(events, {
    ...(values["real-time"] === true ? { realTime: true } : {}),
    ...(values["no-liveness"] === true ? { liveness: false } : {}),
  });
  for (const report of reports) process.stdout.write(`${formatReport(report)}\n`);
  if (values.json === true) {
    process.stdout.write(
      `${JSON.stringify({
        file,
        runs: reports.map((report) => ({
          run: report.run ?? null,
          passed: report.passed,
          violations: failingViolations(report).length,
          counted: report.violations.length - failingViolations(report).length,
          checked: report.checked,
          owed: report.owed,
          stop: report.stop,
        })),
      })}\n`,
    );
  }
  return reports.every((report) => report.passed) ? 0 : 1;
}
