import { resolve } from "node:path";
import { formatLinearizabilityReport, formatReport } from "@amcast/check";
import type { JsonFields, TraceEvent } from "@amcast/core";
import { displayPath } from "@amcast/system";
import { formatTable } from "../table.js";
import type { KvRunOutcome } from "./kv.js";
import { kvRunFailed, readKvService, runKvService } from "./kv.js";
import type { ServiceExperimentOptions } from "./output.js";
import { experimentSummary, historyWriter, print, traceWriter, writeServiceResults } from "./output.js";
import { runIdentity, serviceRuns } from "./runs.js";

function replayCommand(name: string, seed: number, historyFile: string | undefined): string {
  return `pnpm run experiment ${name} --seed ${seed} --history ${historyFile ?? "history.jsonl"}`;
}

/** The key-value service's experiment: every run, the linearizability table, witnesses, results. */
export function runKvExperiment(options: ServiceExperimentOptions, doc: JsonFields): number {
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
    ...runIdentity(outcome.run),
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
