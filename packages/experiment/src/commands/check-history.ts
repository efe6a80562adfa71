import { resolve } from "node:path";
import type { LinearizabilityReport } from "@amcast/check";
import {
  checkLinearizability,
  formatLinearizabilityReport,
  kvModel,
  parseHistory,
  splitRuns,
} from "@amcast/check";
import { displayPath, readText } from "@amcast/system";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

/** Models `--model` may name: the vocabularies of histories the checker knows. */
const MODELS = { kv: kvModel } as const;

/**
 * `amcast check-history FILE [--model kv] [--time-limit-s S] [--states-max N] [--json]`: checks
 * every run of a client history (docs/history.md) for linearizability. Exit 0: every run is
 * linearizable; 1: some run is not (its witness printed); 4: none is violated but the budget ran
 * out on some (unknown).
 */
export function runCheckHistoryCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs(
    "check-history",
    args,
    {
      model: { type: "string" },
      "time-limit-s": { type: "string" },
      "states-max": { type: "string" },
      json: { type: "boolean" },
    },
    1,
  );
  const file = positionals[0];
  if (file === undefined)
    throw new UsageError("check-history: needs a history file (amcast check-history FILE)");
  const modelName = stringFlag(values.model) ?? "kv";
  const model = MODELS[modelName as keyof typeof MODELS];
  if (model === undefined)
    throw new UsageError(
      `check-history: --model is one of ${Object.keys(MODELS).join(", ")}, got ${JSON.stringify(modelName)}`,
    );
  const timeLimitS = integerFlag("check-history", "time-limit-s", values["time-limit-s"], 1, 86_400) ?? 300;
  const statesMax = integerFlag("check-history", "states-max", values["states-max"], 1, 1_000_000_000);
  const source = displayPath(file);
  const events = parseHistory(readText(resolve(file), "history file"), source);
  if (events.length === 0) process.stdout.write(`${source}: no events, nothing to check\n`);
  const reports: (LinearizabilityReport & { checkMs: number })[] = [];
  // One time budget for the whole file: each run gets what the runs before it left.
  const deadline = performance.now() + timeLimitS * 1000;
  for (const run of splitRuns(events)) {
    const started = performance.now();
    const report = checkLinearizability(run.events, model, {
      source: run.run === undefined ? source : `${source} run ${run.run}`,
      timeMs: Math.max(0, deadline - started),
      now: () => performance.now(),
      ...(statesMax === undefined ? {} : { statesMax }),
    });
    const checkMs = performance.now() - started;
    reports.push({ ...report, checkMs });
    process.stdout.write(`${formatLinearizabilityReport(report)} [${checkMs.toFixed(0)} ms]\n`);
  }
  if (values.json === true)
    process.stdout.write(
      `${JSON.stringify({
        file,
        model: modelName,
        runs: reports.map((report) => ({
          run: report.run ?? null,
          verdict: report.verdict,
          operations: report.operations,
          parts: report.parts,
          states: report.states,
          checkMs: Math.round(report.checkMs * 10) / 10,
          witness: report.witness,
        })),
      })}\n`,
    );
  if (reports.some((report) => report.verdict === "violation")) return 1;
  return reports.some((report) => report.verdict === "unknown") ? 4 : 0;
}
