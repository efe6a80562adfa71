import { resolve } from "node:path";
import { checkTrace, formatReport } from "@amcast/check";
import { parseTrace } from "@amcast/core";
import { displayPath, readText } from "../files.js";
import { parseCommandArgs, UsageError } from "./usage.js";

/** `amcast check FILE [--real-time] [--no-liveness] [--json]`: the oracles over any trace file. */
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
    realTime: values["real-time"] === true,
    liveness: values["no-liveness"] !== true,
  });
  for (const report of reports) process.stdout.write(`${formatReport(report)}\n`);
  const violations = reports.reduce((sum, report) => sum + report.violations.length, 0);
  if (values.json === true) {
    process.stdout.write(
      `${JSON.stringify({
        file,
        runs: reports.map((report) => ({
          run: report.run ?? null,
          violations: report.violations.length,
          checked: report.checked,
        })),
      })}\n`,
    );
  }
  return violations === 0 ? 0 : 1;
}
