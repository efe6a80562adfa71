import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HistoryEvent } from "@amcast/check";
import { formatHistoryLine, formatLinearizabilityReport, formatReport } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import { InputError, listNames } from "@amcast/core";
import { displayPath } from "../files.js";
import { csv } from "../results.js";
import type { GtpccRunOutcome } from "../service/gtpcc.js";
import { gtpccRunFailed, readGtpccService, runGtpccService } from "../service/gtpcc.js";
import type { KvRunOutcome } from "../service/kv.js";
import { kvRunFailed, readKvService, runKvService } from "../service/kv.js";
import { checkServiceExperiment, serviceRuns } from "../service/runs.js";
import type { ExperimentSpec } from "../spec.js";
import { formatTable } from "../table.js";
import { TraceFileWriter } from "../trace-file.js";

export interface ServiceExperimentOptions {
  readonly experiment: ExperimentSpec;
  readonly name: string;
  readonly root: string;
  readonly seed: number | undefined;
  readonly out: string | undefined;
  readonly json: boolean;
  /** Write every run's client history here (JSON Lines, runs labelled). */
  readonly historyFile: string | undefined;
  /** Write every run's trace here (JSON Lines, runs labelled). */
  readonly traceFile: string | undefined;
}

/** Services an experiment's `service.kind` may name. */
const SERVICE_KINDS = ["kv", "gtpcc"];

/** Runs a service experiment (the experiment file has a `service` block): see docs/history.md. */
export function runServiceExperiment(options: ServiceExperimentOptions): number {
  const { experiment } = options;
  const service = experiment.service;
  if (service === null) throw new Error("not a service experiment");
  checkServiceExperiment(experiment);
  if (service.kind === "kv") return runKvExperiment(options, service.doc);
  if (service.kind === "gtpcc") return runGtpccExperiment(options, service.doc);
  throw new InputError(
    experiment.file,
    "service.kind",
    `unknown service ${JSON.stringify(service.kind)} (known: ${listNames(SERVICE_KINDS)})`,
  );
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function replayCommand(name: string, seed: number, historyFile: string | undefined): string {
  return `pnpm run experiment ${name} --seed ${seed} --history ${historyFile ?? "history.jsonl"}`;
}

/** The trace file (every run's events, labelled); undefined without --trace. */
function traceWriter(file: string | undefined): TraceFileWriter | undefined {
  return file === undefined ? undefined : new TraceFileWriter(resolve(file));
}

/** A history writer that also counts; null without --history. */
function historyWriter(
  file: string | undefined,
): { write: (event: HistoryEvent) => void; close: () => void; lines: () => number } | null {
  if (file === undefined) return null;
  // The trace writer writes any JSON Lines; history lines are formatted here.
  const writer = new TraceFileWriter(resolve(file));
  let lines = 0;
  return {
    write: (event) => {
      writer.writeLine(formatHistoryLine(event));
      lines += 1;
    },
    close: () => writer.close(),
    lines: () => lines,
  };
}

function runKvExperiment(options: ServiceExperimentOptions, doc: import("@amcast/core").JsonFields): number {
  const { experiment, name, seed } = options;
  const spec = readKvService(doc, experiment);
  const runs = serviceRuns(experiment, seed);
  const seeds = seed === undefined ? experiment.seeds.length : 1;
  print(
    `amcast experiment ${experiment.name}: key-value service, ${experiment.protocols.length} protocol(s) x ${experiment.linearizable.length} variant(s) x ${seeds} seed(s) on ${experiment.topology.name} ` +
      `(${spec.partitioning} partitioning, ${experiment.modes.join("/")} mode${experiment.modes.length > 1 ? "s" : ""}); every history checked for linearizability`,
  );
  const writer = historyWriter(options.historyFile);
  const trace = traceWriter(options.traceFile);
  const outcomes: KvRunOutcome[] = [];
  try {
    runs.forEach((run, index) => {
      const outcome = runKvService(experiment, spec, run, {
        ...(writer === null ? {} : { onHistory: writer.write }),
        ...(trace === undefined ? {} : { onTrace: (event: TraceEvent) => trace.write(event) }),
      });
      outcomes.push(outcome);
      const report = outcome.linearizability;
      const verdict =
        report.verdict === "linearizable"
          ? "linearizable"
          : report.verdict === "unknown"
            ? "UNKNOWN (checker budget ran out)"
            : `NOT linearizable (witness: ${report.witness?.operations.length ?? "?"} operations)`;
      print(
        `[${index + 1}/${runs.length}] ${run.label}: ${outcome.operations} operations on ${outcome.shards.length} shards, ${(outcome.simulatedMs / 1000).toFixed(1)} s simulated; ` +
          `history ${verdict}, checked in ${outcome.checkMs.toFixed(0)} ms; multicast checks: ${outcome.oracles.violations.length === 0 ? `${outcome.oracles.checked.length} properties hold` : "VIOLATED"}`,
      );
    });
  } finally {
    writer?.close();
    trace?.close();
  }

  print("");
  print(
    "linearizability of the clients' histories, per protocol and variant (checker time: wall ms per history)",
  );
  print(kvTable(outcomes));

  // One witness per protocol and variant that had violations: the first seed's.
  const shown = new Set<string>();
  for (const outcome of outcomes) {
    const key = `${outcome.run.protocol.label}/${outcome.run.linearizable}/${outcome.run.mode}`;
    if (outcome.linearizability.verdict !== "violation" || shown.has(key)) continue;
    shown.add(key);
    print("");
    print(
      `witness, ${outcome.run.label} (replay: ${replayCommand(name, outcome.run.seed, options.historyFile)}):`,
    );
    print(formatLinearizabilityReport(outcome.linearizability));
  }

  const summary = experimentSummary(experiment, seed, outcomes.map(kvRunSummary));
  writeServiceResults(options, summary, "runs.csv", [
    [
      "run",
      "protocol",
      "linearizable",
      "mode",
      "seed",
      "operations",
      "verdict",
      "witness_operations",
      "check_ms",
      "states",
      "mean_latency_ms",
      "simulated_ms",
    ],
    outcomes.map((outcome) => [
      outcome.run.label,
      outcome.run.protocol.label,
      String(outcome.run.linearizable),
      outcome.run.mode,
      outcome.run.seed,
      outcome.operations,
      outcome.linearizability.verdict,
      outcome.linearizability.witness?.operations.length ?? "",
      outcome.checkMs,
      outcome.linearizability.states,
      outcome.meanLatencyMs,
      outcome.simulatedMs,
    ]),
  ]);
  if (writer !== null && options.historyFile !== undefined)
    print(`history: ${displayPath(resolve(options.historyFile))} (${writer.lines()} events)`);
  if (trace !== undefined) print(`trace: ${displayPath(trace.file)} (${trace.lines} events)`);

  const failed = outcomes.filter(kvRunFailed);
  for (const outcome of failed) {
    if (outcome.oracles.violations.length > 0) print(formatReport(outcome.oracles));
    if (outcome.refused > 0) print(`${outcome.run.label}: ${outcome.refused} operations refused by a shard`);
    print(
      `FAILED: ${outcome.run.label}; replay: ${replayCommand(name, outcome.run.seed, options.historyFile)}`,
    );
  }
  const plainClean = experiment.protocols.filter(
    (protocol) =>
      experiment.linearizable.includes(false) &&
      !outcomes.some(
        (outcome) =>
          outcome.run.protocol === protocol &&
          !outcome.run.linearizable &&
          outcome.linearizability.verdict === "violation",
      ),
  );
  if (plainClean.length > 0)
    print(
      `note: no non-linearizable history for plain ${plainClean.map((run) => run.label).join(", ")} on these seeds`,
    );
  if (failed.length === 0)
    print(
      `checks: every linearizable run's history is linearizable and every run's trace holds (${outcomes.length} run(s))`,
    );
  if (options.json) print(JSON.stringify(summary));
  return failed.length === 0 ? 0 : 1;
}

function kvRunSummary(outcome: KvRunOutcome): Record<string, unknown> {
  const report = outcome.linearizability;
  return {
    label: outcome.run.label,
    protocol: outcome.run.protocol.protocol.name,
    overlay: outcome.run.protocol.overlay?.name ?? null,
    mode: outcome.run.mode,
    linearizable: outcome.run.linearizable,
    seed: outcome.run.seed,
    operations: outcome.operations,
    verdict: report.verdict,
    parts: report.parts,
    states: report.states,
    checkMs: Math.round(outcome.checkMs * 10) / 10,
    witness: report.witness,
    meanLatencyMs: Math.round(outcome.meanLatencyMs * 100) / 100,
    simulatedMs: Math.round(outcome.simulatedMs),
    violations: outcome.oracles.violations.length,
    failed: kvRunFailed(outcome),
  };
}

/** Per protocol x variant x mode: histories, violations, unknown verdicts, checker time. */
function kvTable(outcomes: readonly KvRunOutcome[]): string {
  const groups = new Map<string, KvRunOutcome[]>();
  for (const outcome of outcomes) {
    const key = `${outcome.run.protocol.label}\u0000${outcome.run.linearizable ? "linearizable" : "plain"}\u0000${outcome.run.mode}`;
    const list = groups.get(key);
    if (list === undefined) groups.set(key, [outcome]);
    else list.push(outcome);
  }
  const rows = [...groups].map(([key, list]) => {
    const [protocol, variant, mode] = key.split("\u0000") as [string, string, string];
    const checkMs = list.map((outcome) => outcome.checkMs);
    const operations = list.reduce((sum, outcome) => sum + outcome.operations, 0);
    return [
      protocol,
      variant,
      mode,
      list.length,
      list.filter((outcome) => outcome.linearizability.verdict === "violation").length,
      list.filter((outcome) => outcome.linearizability.verdict === "unknown").length,
      Math.round(operations / list.length),
      list.reduce((sum, outcome) => sum + outcome.meanLatencyMs, 0) / list.length,
      checkMs.reduce((sum, value) => sum + value, 0) / list.length,
      Math.max(...checkMs),
      list.filter(kvRunFailed).length === 0 ? "ok" : "FAILED",
    ];
  });
  return formatTable(
    [
      "protocol",
      "variant",
      "mode",
      "histories",
      "violations",
      "unknown",
      "ops/history",
      "latency ms",
      "check ms",
      "max check ms",
      "checks",
    ],
    rows,
  );
}

function runGtpccExperiment(
  options: ServiceExperimentOptions,
  doc: import("@amcast/core").JsonFields,
): number {
  const { experiment, name, seed } = options;
  if (options.historyFile !== undefined)
    throw new InputError(
      experiment.file,
      "service.kind",
      "gTPC-C writes no history (--history is for the key-value service)",
    );
  const spec = readGtpccService(doc);
  const runs = serviceRuns(experiment, seed);
  const seeds = seed === undefined ? experiment.seeds.length : 1;
  print(
    `amcast experiment ${experiment.name}: gTPC-C, ${experiment.protocols.length} protocol(s) x ${experiment.linearizable.length} variant(s) x ${seeds} seed(s) on ${experiment.topology.name} ` +
      `(${spec.scale.warehousesPerGroup} warehouse(s) per group, ${spec.terminalsPerWarehouse} terminals per warehouse, ${spec.transactionsPerTerminal} transactions each; ` +
      `remote items ${spec.mix.remoteItemPercent}%, remote customers ${spec.mix.remoteCustomerPercent}%, ${spec.mix.remoteChoice})`,
  );
  const outcomes: GtpccRunOutcome[] = [];
  const trace = traceWriter(options.traceFile);
  try {
    runs.forEach((run, index) => {
      const outcome = runGtpccService(
        experiment,
        spec,
        run,
        trace === undefined ? {} : { onTrace: (event: TraceEvent) => trace.write(event) },
      );
      outcomes.push(outcome);
      const committed = outcome.byType.reduce((sum, type) => sum + type.committed, 0);
      print(
        `[${index + 1}/${runs.length}] ${run.label}: ${committed} transactions committed over ${outcome.warehouses} warehouses in ${(outcome.durationMs / 1000).toFixed(1)} s simulated ` +
          `(${(outcome.wallMs / 1000).toFixed(1)} s wall); consistency: ${outcome.consistency.violations.length === 0 ? `${outcome.consistency.conditions.length} conditions hold over ${outcome.consistency.replicas} replicas` : "VIOLATED"}; ` +
          `multicast checks: ${outcome.oracles.violations.length === 0 ? `${outcome.oracles.checked.length} properties hold` : "VIOLATED"}`,
      );
    });
  } finally {
    trace?.close();
  }
  print("");
  print("committed transactions per second (simulated) and latency per type (call to return, ms)");
  const rows: (string | number)[][] = [];
  for (const outcome of outcomes) {
    for (const type of outcome.byType)
      rows.push([
        outcome.run.label,
        type.type,
        type.count,
        type.committedPerSec,
        type.rolledBack,
        type.multiGroupFraction * 100,
        type.latencyMs.mean,
        type.latencyMs.p50,
        type.latencyMs.p99,
      ]);
    const all = outcome.byType.reduce((sum, type) => sum + type.committedPerSec, 0);
    const count = outcome.byType.reduce((sum, type) => sum + type.count, 0);
    rows.push([outcome.run.label, "all", count, all, "-", "-", "-", "-", "-"]);
  }
  print(
    formatTable(
      ["run", "type", "count", "committed/s", "rolled back", "multi-group %", "mean ms", "p50 ms", "p99 ms"],
      rows,
    ),
  );
  print("");
  print(
    "TPC-C consistency over every replica's final database (clause 3.3.2 conditions, replicas equal, stock against order lines)",
  );
  print(
    formatTable(
      ["run", "replicas", "warehouses", "orders", "conditions", "violations", "disagreements", "result"],
      outcomes.map((outcome) => [
        outcome.run.label,
        outcome.consistency.replicas,
        outcome.consistency.warehouses,
        outcome.consistency.orders,
        outcome.consistency.conditions.length,
        outcome.consistency.violations.length,
        outcome.disagreements,
        gtpccRunFailed(outcome) ? "FAILED" : "hold",
      ]),
    ),
  );
  const summary = experimentSummary(
    experiment,
    seed,
    outcomes.map((outcome) => ({
      label: outcome.run.label,
      protocol: outcome.run.protocol.protocol.name,
      overlay: outcome.run.protocol.overlay?.name ?? null,
      mode: outcome.run.mode,
      linearizable: outcome.run.linearizable,
      seed: outcome.run.seed,
      warehouses: outcome.warehouses,
      simulatedMs: Math.round(outcome.durationMs),
      byType: outcome.byType,
      consistency: outcome.consistency,
      disagreements: outcome.disagreements,
      violations: outcome.oracles.violations.length,
      failed: gtpccRunFailed(outcome),
    })),
  );
  writeServiceResults(options, summary, "types.csv", [
    [
      "run",
      "type",
      "count",
      "committed",
      "rolled_back",
      "committed_per_sec",
      "multi_group_fraction",
      "mean_ms",
      "p50_ms",
      "p99_ms",
    ],
    outcomes.flatMap((outcome) =>
      outcome.byType.map((type) => [
        outcome.run.label,
        type.type,
        type.count,
        type.committed,
        type.rolledBack,
        type.committedPerSec,
        type.multiGroupFraction,
        type.latencyMs.mean,
        type.latencyMs.p50,
        type.latencyMs.p99,
      ]),
    ),
  ]);
  if (trace !== undefined) print(`trace: ${displayPath(trace.file)} (${trace.lines} events)`);
  const failed = outcomes.filter(gtpccRunFailed);
  for (const outcome of failed) {
    for (const violation of outcome.consistency.violations)
      print(`  ${violation.condition}: ${violation.message}`);
    if (outcome.oracles.violations.length > 0) print(formatReport(outcome.oracles));
    print(`FAILED: ${outcome.run.label}; replay: pnpm run experiment ${name} --seed ${outcome.run.seed}`);
  }
  if (failed.length === 0)
    print(
      `checks: every replica's database is consistent and every run's trace holds (${outcomes.length} run(s))`,
    );
  if (options.json) print(JSON.stringify(summary));
  return failed.length === 0 ? 0 : 1;
}

/** The machine-readable summary of a service experiment: its runs, as `--json` prints them. */
function experimentSummary(
  experiment: ExperimentSpec,
  seed: number | undefined,
  runs: readonly Record<string, unknown>[],
): Record<string, unknown> {
  return {
    experiment: experiment.name,
    seed: seed ?? experiment.seeds[0] ?? 1,
    seeds: seed === undefined ? experiment.seeds : [seed],
    runs,
  };
}

/** Writes summary.json and one CSV under the results directory, and says where. */
function writeServiceResults(
  options: ServiceExperimentOptions,
  summary: Record<string, unknown>,
  csvName: string,
  [header, rows]: [readonly string[], readonly (readonly (string | number)[])[]],
): void {
  const outDir = resolve(options.out ?? join(options.root, "results", options.experiment.name));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(outDir, csvName), csv(header, rows));
  print("");
  print(`results: ${displayPath(outDir)}/ (summary.json, ${csvName})`);
}
