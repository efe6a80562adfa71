import { formatReport } from "@amcast/check";
import type { JsonFields, TraceEvent } from "@amcast/core";
import { InputError } from "@amcast/core";
import { displayPath } from "@amcast/system";
import { formatTable } from "../table.js";
import type { GtpccRunOutcome } from "./gtpcc.js";
import { gtpccRunFailed, readGtpccService, runGtpccService } from "./gtpcc.js";
import type { ServiceExperimentOptions } from "./output.js";
import { experimentSummary, print, traceWriter, writeServiceResults } from "./output.js";
import { runIdentity, serviceRuns } from "./runs.js";

/** The gTPC-C experiment: every run, throughput and latency per type, consistency, results. */
export function runGtpccExperiment(options: ServiceExperimentOptions, doc: JsonFields): number {
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
      ...runIdentity(outcome.run),
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
