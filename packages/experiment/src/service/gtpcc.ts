import type { CheckReport } from "@amcast/check";
import type { JsonFields } from "@amcast/core";
import type {
  ConsistencyReport,
  TpccCommand,
  TpccMix,
  TpccReply,
  TpccScale,
  TxStats,
  TxType,
} from "@amcast/tpcc";
import { checkTpccConsistency, readMix, readScale, simulateTpcc, TpccLayout, TpccShard } from "@amcast/tpcc";
import { percentile } from "../metrics.js";
import type { ExperimentSpec } from "../spec.js";
import type { ServiceRun, ServiceSinks } from "./runs.js";
import { serviceCluster, serviceTargets } from "./runs.js";

/** The `service` block of a gTPC-C experiment (`"kind": "gtpcc"`). */
export interface GtpccServiceSpec {
  readonly scale: TpccScale;
  readonly mix: TpccMix;
  readonly terminalsPerWarehouse: number;
  readonly transactionsPerTerminal: number;
  readonly thinkMs: number;
}

export function readGtpccService(doc: JsonFields): GtpccServiceSpec {
  const scale = readScale(doc.optionalObject("scale"));
  const mix = readMix(doc.optionalObject("mix"));
  const spec: GtpccServiceSpec = {
    scale,
    mix,
    terminalsPerWarehouse: doc.number("terminalsPerWarehouse", { integer: true, min: 1, max: 1000 }, 4),
    transactionsPerTerminal: doc.number(
      "transactionsPerTerminal",
      { integer: true, min: 1, max: 10_000_000 },
      100,
    ),
    thinkMs: doc.number("thinkMs", { min: 0 }, 0),
  };
  doc.done();
  return spec;
}

export interface TxSummary {
  readonly type: TxType;
  readonly count: number;
  readonly committed: number;
  readonly rolledBack: number;
  /** Committed transactions per simulated second. */
  readonly committedPerSec: number;
  /** Share of transactions that touched another group. */
  readonly multiGroupFraction: number;
  readonly latencyMs: { readonly mean: number; readonly p50: number; readonly p99: number };
}

export interface GtpccRunOutcome {
  readonly run: ServiceRun;
  readonly warehouses: number;
  readonly byType: readonly TxSummary[];
  readonly durationMs: number;
  readonly disagreements: number;
  readonly consistency: ConsistencyReport;
  readonly oracles: CheckReport;
  readonly wallMs: number;
}

/**
 * One run: gTPC-C on the run's protocol, warehouses over its target groups, terminals next to
 * their warehouses; then the TPC-C consistency conditions over every replica's database and the
 * multicast oracles over the trace.
 */
export function runGtpccService(
  experiment: ExperimentSpec,
  spec: GtpccServiceSpec,
  run: ServiceRun,
  sinks: ServiceSinks = {},
): GtpccRunOutcome {
  const layout = new TpccLayout(serviceTargets(experiment, run), spec.scale);
  const shards = new Map<string, TpccShard>();
  const cluster = serviceCluster<TpccCommand, TpccReply>(
    experiment,
    run,
    (group, replica) => {
      const shard = new TpccShard(group, layout);
      shards.set(replica, shard);
      return shard.application;
    },
    sinks.onTrace,
  );
  const started = performance.now();
  const result = simulateTpcc(
    cluster,
    layout,
    {
      terminalsPerWarehouse: spec.terminalsPerWarehouse,
      transactionsPerTerminal: spec.transactionsPerTerminal,
      mix: spec.mix,
      thinkMs: spec.thinkMs,
    },
    run.seed,
    (from, to) => experiment.topology.groupToGroupMs(from, to),
    run.faults,
  );
  const wallMs = performance.now() - started;
  // Groups that hold no warehouse (ByzCast's auxiliaries) have nothing to compare, and a replica
  // that crashed for good stopped where it crashed.
  const down = new Set(
    run.faults.crashes.filter((crash) => crash.recoverAtMs === undefined).map((crash) => crash.proc),
  );
  const holding = new Map([...shards].filter(([id, shard]) => shard.warehouses.size > 0 && !down.has(id)));
  return {
    run,
    warehouses: layout.warehouses,
    byType: [...result.stats.values()].map((stats) => txSummary(stats, result.durationMs)),
    durationMs: result.durationMs,
    disagreements: result.disagreements,
    consistency: checkTpccConsistency(holding, layout),
    oracles: cluster.check(),
    wallMs,
  };
}

function txSummary(stats: TxStats, durationMs: number): TxSummary {
  const sorted = Float64Array.from(stats.latenciesMs).sort();
  return {
    type: stats.type,
    count: stats.count,
    committed: stats.committed,
    rolledBack: stats.rolledBack,
    committedPerSec: durationMs > 0 ? (stats.committed * 1000) / durationMs : 0,
    multiGroupFraction: stats.count === 0 ? 0 : stats.multiGroup / stats.count,
    latencyMs: {
      mean: sorted.length === 0 ? 0 : sorted.reduce((sum, value) => sum + value, 0) / sorted.length,
      p50: sorted.length === 0 ? 0 : percentile(sorted, 0.5),
      p99: sorted.length === 0 ? 0 : percentile(sorted, 0.99),
    },
  };
}

export function gtpccRunFailed(outcome: GtpccRunOutcome): boolean {
  return (
    outcome.disagreements > 0 ||
    outcome.consistency.violations.length > 0 ||
    outcome.oracles.violations.length > 0
  );
}
