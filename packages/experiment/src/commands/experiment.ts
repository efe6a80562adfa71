import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AssertionError, describeValue, didYouMean, InputError, listNames } from "@amcast/core";
import { displayPath, findProjectRoot, jsonNames } from "@amcast/system";
import { explainTarget, replayMulticast } from "../explain.js";
import { expectedMulticasts, Progress } from "../progress.js";
import { provenance, resolvedConfiguration } from "../provenance.js";
import { recordOf } from "../record.js";
import { kindsTableData, runNotes, runsTableData, tableText, verdictLines } from "../record-tables.js";
import { isRecoveryExperiment, readRecoveryPlan } from "../recovery.js";
import {
  faultImpactTable,
  genuinenessTable,
  linearizableCostTable,
  progressLine,
  publishedLines,
  reconfigLines,
  replayCommand,
} from "../report.js";
import type { ReportSection } from "../report-html.js";
import { linesSections, writeReport } from "../report-html.js";
import { planRuns } from "../run.js";
import type { ScenarioOutcome } from "../scenario.js";
import { runScenario } from "../scenario.js";
import { serviceRuns } from "../service/runs.js";
import type { ExperimentSpec } from "../spec.js";
import { loadExperiment, selectWorkloads } from "../spec.js";
import type { ResultsHeader } from "../store.js";
import {
  checkWritableFile,
  latestResultsDir,
  linkLatest,
  makeDirectory,
  newResultsDir,
  ResultsStore,
} from "../store.js";
import { formatTable } from "../table.js";
import { TraceFileWriter } from "../trace-file.js";
import { NET_EXPERIMENT_OPTIONS, runNetExperiment } from "./experiment-net.js";
import { runRecoveryExperiment } from "./recovery-experiment.js";
import { runServiceExperiment } from "./service-experiment.js";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

export const DEFAULT_EXPERIMENT = "quickstart";

/**
 * `amcast experiment [NAME|FILE] [--seed N] [--trace FILE] [--trace-sends] [--out DIR] [--resume]
 * [--explain ID] [--json] [--list] [--runtime sim|net ...]`; `--runtime net` runs on real
 * processes (see experiment-net.ts).
 */
export function runExperimentCommand(args: string[]): number | Promise<number> {
  const { values, positionals } = parseCommandArgs("experiment", args, EXPERIMENT_OPTIONS, 1);
  const root = findProjectRoot(process.cwd());
  const experimentsDir = join(root, "experiments");
  if (values.list === true) {
    process.stdout.write(`${experimentList(experimentsDir)}\n`);
    return 0;
  }
  const name = positionals[0] ?? DEFAULT_EXPERIMENT;
  const file = resolveExperimentFile(name, experimentsDir);
  const seed = integerFlag("experiment", "seed", values.seed, 0, Number.MAX_SAFE_INTEGER);
  const traceFile = stringFlag(values.trace);
  // Sends feed the genuineness table; with --trace they are written to the trace file too.
  const recordSends = values["trace-sends"] === true;
  const json = values.json === true;
  const out = stringFlag(values.out);
  const resume = values.resume === true;
  const explain = stringFlag(values.explain);
  const full = values.full === true;

  const text = readFileSync(file, "utf8");
  if (isRecoveryExperiment(text)) {
    const runtime = stringFlag(values.runtime) ?? "sim";
    if (runtime !== "sim" && runtime !== "net")
      throw new UsageError(`experiment: --runtime is sim or net, got ${JSON.stringify(runtime)}`);
    const timeLimitS = integerFlag("experiment", "time-limit-s", values["time-limit-s"], 1, 86_400);
    return runRecoveryExperiment(
      text,
      file,
      values.json === true,
      runtime === "sim"
        ? undefined
        : {
            latencyEmulation: values["no-latency"] !== true,
            workDir: stringFlag(values["work-dir"]),
            timeLimitMs: timeLimitS === undefined ? undefined : timeLimitS * 1000,
            keepJournal: values["keep-journal"] === true,
          },
    );
  }
  const experiment = selectWorkloads(loadExperiment(file), full);
  // Output paths are checked before anything runs.
  if (traceFile !== undefined) checkWritableFile("--trace", traceFile);
  const runtime = stringFlag(values.runtime) ?? "sim";
  const historyFile = stringFlag(values.history);
  if (experiment.service !== null) {
    if (runtime !== "sim")
      throw new UsageError(`experiment: ${name} is a service experiment; it runs on the simulator`);
    if (recordSends) throw new UsageError("experiment: --trace-sends is not recorded by service experiments");
    return runServiceExperiment({ experiment, name, root, seed, out, json, historyFile, traceFile });
  }
  if (historyFile !== undefined)
    throw new UsageError(`experiment: --history is for service experiments (${name} has no service block)`);
  if (runtime !== "sim" && runtime !== "net")
    throw new UsageError(`experiment: --runtime is sim or net, got ${JSON.stringify(runtime)}`);
  const command = ["experiment", ...args];
  if (runtime === "net") {
    // Real processes do not replay a run: the diagram is drawn from the trace this invocation writes.
    if (explain !== undefined && traceFile === undefined)
      throw new UsageError(
        "experiment: --explain with --runtime net needs --trace FILE (the diagram is drawn from the run's trace; add --trace-sends for its messages)",
      );
    const store = openStore(experiment, {
      root,
      out,
      resume,
      seeds: seed === undefined ? experiment.seeds : [seed],
      command,
      runtime,
    });
    return runNetExperiment({ experiment, name, store, seed, traceFile, recordSends, explain, json, values });
  }
  // Experiments named in `then` run next, each with its own tables and results.
  const chain = [experiment];
  for (const next of experiment.then) {
    if (chain.some((entry) => entry.name === next)) continue;
    chain.push(selectWorkloads(loadExperiment(resolveExperimentFile(next, experimentsDir)), full));
  }
  const stores = chain.map((entry, index) =>
    openStore(entry, {
      root,
      out: out === undefined ? undefined : index === 0 ? out : join(out, entry.name),
      resume,
      seeds: seed === undefined ? entry.seeds : [seed],
      command,
      runtime: "sim",
    }),
  );
  const parts: Record<string, unknown>[] = [];
  let code = 0;
  chain.forEach((entry, index) => {
    if (index > 0) process.stdout.write("\n");
    const part = runSimExperiment(entry, index === 0 ? name : entry.name, stores[index] as ResultsStore, {
      seed,
      traceFile: index === 0 ? traceFile : undefined,
      recordSends: index === 0 ? recordSends : false,
      explain: index === 0 ? explain : undefined,
    });
    parts.push(part.summary);
    code = Math.max(code, part.code);
  });
  if (json) {
    const [main, ...rest] = parts;
    process.stdout.write(`${JSON.stringify(rest.length === 0 ? main : { ...main, parts: rest })}\n`);
  }
  return code;
}

const EXPERIMENT_OPTIONS = {
  seed: { type: "string" },
  trace: { type: "string" },
  "trace-sends": { type: "boolean" },
  out: { type: "string" },
  resume: { type: "boolean" },
  explain: { type: "string" },
  history: { type: "string" },
  json: { type: "boolean" },
  list: { type: "boolean" },
  full: { type: "boolean" },
  ...NET_EXPERIMENT_OPTIONS,
} as const;

interface StoreOptions {
  readonly root: string;
  readonly out: string | undefined;
  readonly resume: boolean;
  readonly seeds: readonly number[];
  readonly command: readonly string[];
  readonly runtime: "sim" | "net";
}

/**
 * The result directory of an invocation, made (or, with `--resume`, opened) before anything runs:
 * `--out DIR` as given, otherwise a new `results/<experiment>/<time>-seed-N/` that `latest`
 * points at.
 */
export function openStore(experiment: ExperimentSpec, options: StoreOptions): ResultsStore {
  const base = join(
    options.root,
    "results",
    options.runtime === "net" ? `${experiment.name}-net` : experiment.name,
  );
  const header: ResultsHeader = {
    experiment: experiment.name,
    description: experiment.description,
    runtime: options.runtime,
    seeds: options.seeds,
    runsPlanned: planRuns(experiment, {
      ...(options.seeds.length === 1 ? { seed: options.seeds[0] as number } : {}),
      recordSends: false,
      keepSamples: false,
    }).length,
    sweepParameters: experiment.sweep?.parameters ?? [],
    configuration: resolvedConfiguration(experiment),
    provenance: provenance(options.root, options.command),
  };
  if (options.resume) {
    const dir = options.out === undefined ? latestResultsDir(base) : resolve(options.out);
    return ResultsStore.resume(dir, header);
  }
  if (options.out !== undefined) return ResultsStore.create(resolve(options.out), header);
  makeDirectory(base);
  const dir = newResultsDir(base, options.seeds);
  const store = ResultsStore.create(dir, header);
  linkLatest(base, dir);
  return store;
}

interface SimExperimentOptions {
  readonly seed: number | undefined;
  readonly traceFile: string | undefined;
  readonly recordSends: boolean;
  readonly explain: string | undefined;
}

/** Runs one experiment on the simulator: progress, tables, results as each run ends, checks, the report. */
function runSimExperiment(
  experiment: ExperimentSpec,
  name: string,
  store: ResultsStore,
  { seed, traceFile, recordSends, explain }: SimExperimentOptions,
): { code: number; summary: Record<string, unknown> } {
  const replay = replayCommand(name, seed, traceFile);
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const writer = traceFile === undefined ? undefined : new TraceFileWriter(resolve(traceFile));
  let progress: Progress | undefined;
  const plan = planRuns(experiment, {
    ...(seed === undefined ? {} : { seed }),
    recordSends,
    keepSamples: true,
    ...(writer === undefined ? {} : { onTrace: (event) => writer.write(event) }),
    watch: (event) => progress?.onEvent(event),
  });
  const todo = plan.filter((run) => !store.has(run.index, run.spec.label));
  const seedCount = seed === undefined ? experiment.seeds.length : 1;
  print(
    `amcast experiment ${experiment.name}: ${plan.length} run(s) (${experiment.protocols.length} protocol(s) x ${experiment.workloads.length} workload(s)` +
      `${experiment.sweep === null ? "" : ` x ${experiment.sweep.points.length} sweep point(s)`} x ${seedCount} seed(s)) on ${experiment.topology.name} ` +
      `(${experiment.topology.groupIds.length} groups, ${experiment.modes.join("/")} mode${experiment.modes.length > 1 ? "s" : ""})`,
  );
  if (todo.length < plan.length)
    print(
      `resuming ${displayPath(store.dir)}: ${plan.length - todo.length} run(s) already done, ${todo.length} to run`,
    );
  progress = new Progress(
    process.stdout,
    plan.length,
    todo.map((run) => expectedMulticasts(run.spec)),
  );
  const outcomes: ScenarioOutcome[] = [];
  let currentRun = "";
  try {
    for (const run of todo) {
      currentRun = run.spec.label;
      progress.startRun(run.index + 1, run.spec.label, expectedMulticasts(run.spec));
      const outcome = runScenario(run.spec);
      outcomes.push(outcome);
      // Written now: an interrupted experiment keeps every run it finished.
      store.add(recordOf(run, outcome));
      progress.finishRun(progressLine(outcome, run.index, plan.length));
    }
  } catch (error) {
    progress.clear();
    if (error instanceof AssertionError) {
      // A protocol or simulator invariant broke: a bug, reproducible from the seed.
      process.stderr.write(
        `amcast: assertion failed in run ${describeValue(currentRun)}: ${error.message}\nreplay: ${replay}\n`,
      );
    }
    throw error;
  } finally {
    writer?.close();
  }
  const records = store.records;

  print("");
  print(tableText(runsTableData(records)));
  const notes = runNotes(records);
  for (const note of notes) print(note);
  print("");
  print(
    "latency per kind of message (floor: max over destinations of the client's one-way delay; model: the protocol's message pattern)",
  );
  print(tableText(kindsTableData(records)));
  const sections = detailSections(outcomes);
  for (const section of sections) {
    print("");
    print(section.title);
    print(section.text);
  }
  const reconfig = reconfigLines(outcomes, experiment.reconfig?.firstGainPercentMin ?? null, "sim");
  for (const line of reconfig.lines) print(line);
  const published = experiment.published === null ? [] : publishedLines(outcomes, experiment.published);
  if (published.length > 0) print("");
  for (const line of published) print(line);
  sections.push(...linesSections(reconfig.lines, published));
  if (outcomes.length < records.length && sections.length > 0)
    print(`(the tables above the main ones cover the ${outcomes.length} run(s) of this invocation)`);

  // The diagram explains the slowest multicast (or the one asked for), replayed with every send.
  const target = explainTarget(explain, plan, records);
  const sequence = target === undefined ? null : replayMulticast(target);
  const files = writeReport(store.dir, {
    header: store.reportHeader("simulator"),
    records,
    sections,
    sequence,
  });
  const runs = records.map((record) => record.summary);
  const summary = {
    experiment: experiment.name,
    seed: seed ?? experiment.seeds[0] ?? 1,
    seeds: seed === undefined ? experiment.seeds : [seed],
    results: store.dir,
    notes,
    runs,
  };
  print("");
  const figures = files.filter((file) => file.endsWith(".svg")).length;
  print(
    `results: ${displayPath(store.dir)}/ (summary.json, runs.csv, kinds.csv, samples.csv, ${figures} figures with their data)`,
  );
  print(`report: ${displayPath(join(store.dir, "index.html"))}`);
  if (writer !== undefined) print(`trace: ${displayPath(writer.file)} (${writer.lines} events)`);

  for (const line of reconfig.verdict) print(line);
  const verdict = verdictLines(records, (record) =>
    replayCommand(name, record.seed, traceFile ?? "trace.jsonl"),
  );
  for (const line of verdict.lines) print(line);
  return { code: verdict.failed === 0 && reconfig.failed === 0 ? 0 : 1, summary };
}

/** The tables only this invocation's runs have (they need the runs' full outcomes). */
function detailSections(outcomes: readonly ScenarioOutcome[]): ReportSection[] {
  const sections: ReportSection[] = [];
  const add = (title: string, text: string | undefined): void => {
    if (text !== undefined) sections.push({ title, text });
  };
  add(
    "genuineness (recorded sends): messages about a multicast (protocol messages and client requests) received by groups outside its destinations",
    genuinenessTable(outcomes),
  );
  add(
    "what linearizability costs (extra delays: measured extra over one predicted ACK hop between destinations)",
    linearizableCostTable(outcomes),
  );
  add(`latency around crashes (multicasts started ${2} s before and after)`, faultImpactTable(outcomes));
  return sections;
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
      `unknown experiment ${describeValue(name)}${didYouMean(name, jsonNames(experimentsDir))} (known: ${listNames(jsonNames(experimentsDir))})`,
    );
  }
  return file;
}

/** Bytes of results per multicast, about: a samples.csv row and its share of a run record. */
const RESULT_BYTES_PER_MULTICAST = 60;

/** `--list`: every experiment with its run count, multicasts, size of results and description. */
export function experimentList(experimentsDir: string): string {
  const rows = jsonNames(experimentsDir).map((name) => {
    try {
      const file = join(experimentsDir, `${name}.json`);
      const text = readFileSync(file, "utf8");
      if (isRecoveryExperiment(text)) {
        const plan = readRecoveryPlan(text, file);
        const cases = plan.keys.length * plan.modes.length * plan.roles.length;
        const multicasts = (cases * plan.clients * plan.ratePerSecPerClient * plan.durationMs) / 1000;
        const description = (JSON.parse(text) as { description?: string }).description ?? "";
        return [name, cases, Math.round(multicasts), "table only", oneLine(description)];
      }
      const experiment = selectWorkloads(loadExperiment(file), false);
      const runs = planRuns(experiment, { recordSends: false, keepSamples: false });
      // A service experiment's runs drive transactions, counted by its service, not multicasts.
      if (experiment.service !== null)
        return [
          name,
          serviceRuns(experiment, undefined).length,
          `${experiment.service.kind} service`,
          "-",
          oneLine(experiment.description),
        ];
      // Runs that end at their time limit make as many multicasts as their rate allows in it,
      // not the clients' budgets (which are only set high enough never to run out).
      if (experiment.endsAtTimeLimit)
        return [
          name,
          runs.length,
          `${experiment.timeLimitMs / 1000} s each`,
          "grows with rate",
          oneLine(experiment.description),
        ];
      const multicasts = runs.reduce((sum, run) => sum + expectedMulticasts(run.spec), 0);
      const bytes = runs.reduce(
        (sum, run) =>
          sum + expectedMulticasts(run.spec) * (RESULT_BYTES_PER_MULTICAST + run.spec.label.length),
        0,
      );
      return [name, runs.length, multicasts, `~${sizeText(bytes)}`, oneLine(experiment.description)];
    } catch (error) {
      return [name, "-", "-", "-", `cannot load: ${(error as Error).message}`];
    }
  });
  return formatTable(["experiment", "runs", "multicasts", "results", "description"], rows);
}

function sizeText(bytes: number): string {
  if (bytes < 1e6) return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 1 : 0)} MB`;
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

/** The first sentence, at most 100 characters. */
function oneLine(text: string): string {
  const sentence = (text.split(/(?<=\.)\s/)[0] ?? "").trim();
  return sentence.length > 100 ? `${sentence.slice(0, 99)}…` : sentence;
}
