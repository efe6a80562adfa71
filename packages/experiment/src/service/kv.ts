import type { CheckReport, HistoryEvent, LinearizabilityReport } from "@amcast/check";
import { checkLinearizability, kvModel } from "@amcast/check";
import type { GroupId, JsonFields } from "@amcast/core";
import { describeValue, listNames } from "@amcast/core";
import type { KvCommand, KvReply, KvWorkloadSpec } from "@amcast/kv";
import {
  evenRangePartitioning,
  HistoryRecorder,
  KvShard,
  Partitioning,
  readKvWorkload,
  simulateKvWorkload,
  workloadClients,
} from "@amcast/kv";
import type { ExperimentSpec } from "../spec.js";
import type { ServiceRun, ServiceSinks } from "./runs.js";
import { serviceCluster, serviceTargets } from "./runs.js";

/** The `service` block of a key-value experiment (`"kind": "kv"`). */
export interface KvServiceSpec {
  /** The shards, in order (range partitioning follows it); null: every target group. */
  readonly shards: readonly GroupId[] | null;
  readonly partitioning: "range" | "hash";
  readonly workload: KvWorkloadSpec;
  /** The checker's budget per history: configurations per search and wall time. */
  readonly statesMax: number;
  readonly timeMs: number;
}

export function readKvService(doc: JsonFields, experiment: ExperimentSpec): KvServiceSpec {
  const shardItems = doc.optionalArray("shards");
  const shards = shardItems === undefined ? null : shardItems.strings();
  if (shards !== null) {
    if (new Set(shards).size !== shards.length) throw doc.error("shards", "names a group twice");
    for (const run of experiment.protocols) {
      const targets = run.overlay?.kind === "tree" ? run.overlay.targets : experiment.topology.targetGroupIds;
      shards.forEach((shard, index) => {
        if (!targets.includes(shard))
          throw (
            shardItems?.error(
              index,
              `${describeValue(shard)} is not a target group of ${run.label} (groups: ${listNames([...targets])})`,
            ) ?? doc.error("shards", "unreadable")
          );
      });
    }
  }
  const partitioning = doc.choice("partitioning", ["range", "hash"] as const, "range");
  const workload = readKvWorkload(doc.optionalObject("workload"));
  const check = doc.optionalObject("check");
  const statesMax = check?.number("statesMax", { integer: true, min: 1 }, 5_000_000) ?? 5_000_000;
  const timeMs = check?.number("timeMs", { min: 1 }, 60_000) ?? 60_000;
  check?.done();
  doc.done();
  return { shards, partitioning, workload, statesMax, timeMs };
}

export interface KvRunOutcome {
  readonly run: ServiceRun;
  readonly shards: readonly GroupId[];
  readonly operations: number;
  /** Operations a shard refused (none in a correct run). */
  readonly refused: number;
  readonly simulatedMs: number;
  readonly meanLatencyMs: number;
  /** The linearizability checker's verdict on the clients' history. */
  readonly linearizability: LinearizabilityReport;
  /** Wall time the checker took, in ms. */
  readonly checkMs: number;
  /** The multicast oracles over the run's trace (real-time order only for linearizable runs). */
  readonly oracles: CheckReport;
  /** Wall time of the simulation, in ms. */
  readonly wallMs: number;
}

/** The partitioning of a run's shards. */
export function kvPartitioning(spec: KvServiceSpec, shards: readonly GroupId[]): Partitioning {
  return spec.partitioning === "hash" ? Partitioning.hash(shards) : evenRangePartitioning(shards);
}

/**
 * One run: the key-value service on the run's protocol, its workload on the simulator with every
 * operation recorded, then the history checked for linearizability and the trace by the oracles.
 * `sinks` see each history and trace event (labelled with the run) as it happens.
 */
export function runKvService(
  experiment: ExperimentSpec,
  spec: KvServiceSpec,
  run: ServiceRun,
  sinks: ServiceSinks = {},
): KvRunOutcome {
  const shards = spec.shards ?? serviceTargets(experiment, run);
  const partitioning = kvPartitioning(spec, shards);
  const cluster = serviceCluster<KvCommand, KvReply>(
    experiment,
    run,
    (group) => new KvShard(group, partitioning).application,
  );
  const events: HistoryEvent[] = [];
  const history = new HistoryRecorder(
    (event) => {
      events.push(event);
      sinks.onHistory?.(event);
    },
    { run: run.label },
  );
  const started = performance.now();
  const result = simulateKvWorkload(
    cluster,
    partitioning,
    workloadClients(spec.workload, partitioning, run.seed),
    spec.workload,
    history,
    undefined,
    run.faults,
  );
  const wallMs = performance.now() - started;
  const checkStarted = performance.now();
  const linearizability = checkLinearizability(events, kvModel, {
    statesMax: spec.statesMax,
    timeMs: spec.timeMs,
    now: () => performance.now(),
    source: run.label,
  });
  const checkMs = performance.now() - checkStarted;
  return {
    run,
    shards,
    operations: result.operations,
    refused: result.refused,
    simulatedMs: result.durationMs,
    meanLatencyMs: result.meanLatencyMs,
    linearizability,
    checkMs,
    oracles: cluster.check(),
    wallMs,
  };
}

/** Whether a run failed: a linearizable run that is not (or not surely) linearizable, a refusal, an oracle. */
export function kvRunFailed(outcome: KvRunOutcome): boolean {
  return (
    outcome.refused > 0 ||
    outcome.oracles.violations.length > 0 ||
    (outcome.run.linearizable && outcome.linearizability.verdict !== "linearizable")
  );
}
