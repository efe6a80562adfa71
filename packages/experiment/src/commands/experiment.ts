import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { AssertionError, describeValue, InputError, listNames } from "@amcast/core";
import { displayPath, findProjectRoot, jsonNames } from "@amcast/system";
import {
  faultImpactTable,
  genuinenessTable,
  kindsTable,
  linearizableCostTable,
  progressLine,
  publishedLines,
  reconfigLines,
  replayCommand,
  runNotes,
  runsTable,
  verdictLines,
} from "../report.js";
import { writeResults } from "../results.js";
import { runExperiment, runSummary } from "../run.js";
import type { ScenarioOutcome } from "../scenario.js";
import type { ExperimentSpec } from "../spec.js";
import { loadExperiment } from "../spec.js";
import { TraceFileWriter } from "../trace-file.js";
import { NET_EXPERIMENT_OPTIONS, runNetExperiment } from "./experiment-net.js";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

export const DEFAULT_EXPERIMENT = "quickstart";

/**
 * `amcast experiment [NAME|FILE] [--seed N] [--trace FILE] [--trace-sends] [--out DIR] [--json] [--list]
 * [--runtime sim|net ...]`; `--runtime net` runs on real processes (see experiment-net.ts).
 */
export function runExperimentCommand(args: string[]): number | Promise<number> {
  const { values, positionals } = parseCommandArgs(
    "experiment",
    args,
    {
      seed: { type: "string" },
      trace: { type: "string" },
      "trace-sends": { type: "boolean" },
      out: { type: "string" },
      json: { type: "boolean" },
      list: { type: "boolean" },
      ...NET_EXPERIMENT_OPTIONS,
    },
    1,
  );
  const root = findProjectRoot(process.cwd());
  const experimentsDir = join(root, "experiments");
  if (values.list === true) {
    process.stdout.write(`${jsonNames(experimentsDir).join("\n")}\n`);
    return 0;
  }
  const name = positionals[0] ?? DEFAULT_EXPERIMENT;
  const file = resolveExperimentFile(name, experimentsDir);
  const seed = integerFlag("experiment", "seed", values.seed, 0, Number.MAX_SAFE_INTEGER);
  const traceFile = stringFlag(values.trace);
  // Sends feed the genuineness table; with --trace they are written to the trace file too.
  const recordSends = values["trace-sends"] === true;
  const json = values.json === true;

  const experiment = loadExperiment(file);
  const runtime = stringFlag(values.runtime) ?? "sim";
  if (runtime === "net") {
    const out = stringFlag(values.out);
    return runNetExperiment({ experiment, name, root, seed, traceFile, recordSends, json, out, values });
  }
  if (runtime !== "sim")
    throw new UsageError(`experiment: --runtime is sim or net, got ${JSON.stringify(runtime)}`);
  const main = runSimExperiment(experiment, name, {
    outDir: resolve(stringFlag(values.out) ?? join(root, "results", experiment.name)),
    seed,
    traceFile,
    recordSends,
  });
  // Experiments named in `then` run next, each with its own tables and results.
  const parts: Record<string, unknown>[] = [];
  let code = main.code;
  const seen = new Set([experiment.name]);
  for (const next of experiment.then) {
    if (seen.has(next)) continue;
    seen.add(next);
    const followUp = loadExperiment(resolveExperimentFile(next, experimentsDir));
    process.stdout.write("\n");
    const part = runSimExperiment(followUp, next, {
      outDir: join(root, "results", followUp.name),
      seed,
      traceFile: undefined,
      recordSends: false,
    });
    parts.push(part.summary);
    code = Math.max(code, part.code);
  }
  if (json)
    process.stdout.write(
      `${JSON.stringify(parts.length === 0 ? main.summary : { ...main.summary, parts })}\n`,
    );
  return code;
}

interface SimExperimentOptions {
  readonly outDir: string;
  readonly seed: number | undefined;
  readonly traceFile: string | undefined;
  readonly recordSends: boolean;
}

/** Runs one experiment on the simulator: progress, tables, results, checks. */
function runSimExperiment(
  experiment: ExperimentSpec,
  name: string,
  { outDir, seed, traceFile, recordSends }: SimExperimentOptions,
): { code: number; summary: Record<string, unknown> } {
  const replay = replayCommand(name, seed, traceFile);
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };

  print(
    `amcast experiment ${experiment.name}: ${experiment.protocols.length} protocol(s) x ${experiment.workloads.length} workload(s) x ` +
      `${seed === undefined ? experiment.seeds.length : 1} seed(s) on ${experiment.topology.name} ` +
      `(${experiment.topology.groupIds.length} groups, ${experiment.modes.join("/")} mode${experiment.modes.length > 1 ? "s" : ""})`,
  );
  const writer = traceFile === undefined ? undefined : new TraceFileWriter(resolve(traceFile));
  let outcomes: ScenarioOutcome[];
  let currentRun = "";
  try {
    outcomes = runExperiment(experiment, {
      ...(seed === undefined ? {} : { seed }),
      recordSends,
      keepSamples: true,
      ...(writer === undefined ? {} : { onTrace: (event) => writer.write(event) }),
      onRun: (outcome, index, total) => {
        currentRun = outcome.spec.label;
        print(progressLine(outcome, index, total));
      },
    });
  } catch (error) {
    if (error instanceof AssertionError) {
      // A protocol or simulator invariant broke: a bug, reproducible from the seed.
      process.stderr.write(
        `amcast: assertion failed after run ${describeValue(currentRun)}: ${error.message}\nreplay: ${replay}\n`,
      );
    }
    throw error;
  } finally {
    writer?.close();
  }

  print("");
  print(runsTable(outcomes));
  const notes = runNotes(outcomes, "sim");
  for (const note of notes) print(note);
  print("");
  print(
    "latency per kind of message (floor: max over destinations of the client's one-way delay; model: the protocol's message pattern)",
  );
  print(kindsTable(outcomes));
  const genuineness = genuinenessTable(outcomes);
  if (genuineness !== undefined) {
    print("");
    print(
      "genuineness (recorded sends): messages about a multicast (protocol messages and client requests) received by groups outside its destinations",
    );
    print(genuineness);
  }
  const linearizableCost = linearizableCostTable(outcomes);
  if (linearizableCost !== undefined) {
    print("");
    print(
      "what linearizability costs (extra delays: measured extra over one predicted ACK hop between destinations)",
    );
    print(linearizableCost);
  }
  const impact = faultImpactTable(outcomes);
  if (impact !== undefined) {
    print("");
    print(`latency around crashes (multicasts started ${2} s before and after)`);
    print(impact);
  }
  const reconfig = reconfigLines(outcomes, experiment.reconfig?.firstGainPercentMin ?? null, "sim");
  for (const line of reconfig.lines) print(line);
  const published = experiment.published === null ? [] : publishedLines(outcomes, experiment.published);
  if (published.length > 0) print("");
  for (const line of published) print(line);

  const runs = outcomes.map((outcome) => runSummary(outcome, "sim"));
  const summary = {
    experiment: experiment.name,
    seed: seed ?? experiment.seeds[0] ?? 1,
    seeds: seed === undefined ? experiment.seeds : [seed],
    notes,
    runs,
  };
  const written = writeResults(outDir, summary, outcomes);
  print("");
  print(`results: ${displayPath(outDir)}/ (${written.join(", ")})`);
  if (writer !== undefined) print(`trace: ${displayPath(writer.file)} (${writer.lines} events)`);

  for (const line of reconfig.verdict) print(line);
  const verdict = verdictLines(outcomes, (outcome) =>
    replayCommand(name, outcome.spec.seed, traceFile ?? "trace.jsonl"),
  );
  for (const line of verdict.lines) print(line);
  return { code: verdict.failed === 0 && reconfig.failed === 0 ? 0 : 1, summary };
}

/** `experiments/NAME.json`, or NAME itself when it is a path to a file. */
export function resolveExperimentFile(name: string, experimentsDir: string): string {
  if (name.endsWith(".json") || name.includes("/")) {
    if (!existsSync(name)) throw new InputError(name, "", "experiment file not found");
    return resolve(name);
  }
  const file = join(experimentsDir, `${name}.json`);
  if (!existsSync(file)) {
    throw new InputError(
      "experiment",
      "NAME",
      `unknown experiment ${describeValue(name)} (known: ${listNames(jsonNames(experimentsDir))})`,
    );
  }
  return file;
}
