import type { KvOutput } from "@amcast/check";
import type { TraceId } from "@amcast/core";
import type { FaultOptions, SimCluster, SimRequest, SimWorkloadClient } from "@amcast/smr";
import type { HistoryRecorder } from "./history.js";
import type { KvCommand, KvLimits, KvReply } from "./operations.js";
import { DEFAULT_KV_LIMITS, mergeReplies, planOperation } from "./operations.js";
import type { Partitioning } from "./partitioning.js";
import type { KvWorkloadClient, KvWorkloadSpec } from "./workload.js";

interface KvRequest extends SimRequest<KvCommand> {
  readonly op: TraceId | undefined;
  readonly client: KvWorkloadClient;
  readonly startedMs: number;
}

export interface KvSimulationResult {
  readonly operations: number;
  /** Operations whose replies could not be merged (a shard refused): none in a correct run. */
  readonly refused: number;
  /** Virtual ms the workload took. */
  readonly durationMs: number;
  /** Mean virtual ms from call to return. */
  readonly meanLatencyMs: number;
}

/**
 * Runs `clients` on a simulated key-value service, closed loop, on the cluster's virtual clock
 * (`SimCluster.run`): a client's next operation starts when its previous one returned, so the
 * history records the real-time order of the simulated execution exactly. Every operation is
 * recorded in `history` (if given). `faults` strike during the run (see `SimCluster.run`).
 */
export function simulateKvWorkload(
  cluster: SimCluster<KvCommand, KvReply>,
  partitioning: Partitioning,
  clients: readonly KvWorkloadClient[],
  spec: Pick<KvWorkloadSpec, "operationsPerClient" | "outstanding" | "thinkMs" | "startSpreadMs">,
  history: HistoryRecorder | undefined,
  limits: KvLimits = DEFAULT_KV_LIMITS,
  faults?: FaultOptions,
): KvSimulationResult {
  const startMs = cluster.nowMs;
  let operations = 0;
  let refused = 0;
  let latencySumMs = 0;
  const workload = clients.map(
    (client, index): SimWorkloadClient<KvCommand, KvReply, KvRequest> => ({
      home: client.home,
      multicasts: spec.operationsPerClient,
      outstanding: spec.outstanding,
      thinkMs: spec.thinkMs,
      // Spread deterministically by index: the clients' streams stay reserved for operations.
      startMs: clients.length <= 1 ? 0 : (spec.startSpreadMs * index) / clients.length,
      next: (nowMs) => {
        const payload = client.next();
        const destinations = planOperation(payload, partitioning, limits);
        const op = history?.invoke(client.id, payload, nowMs);
        return { destinations, payload, op, client, startedMs: nowMs };
      },
      onReplies: (replies, nowMs, request) => {
        operations += 1;
        latencySumMs += nowMs - request.startedMs;
        let result: KvOutput;
        try {
          result = mergeReplies(request.payload, replies);
        } catch (error) {
          refused += 1;
          if (request.op !== undefined)
            history?.ended(request.op, request.client.id, "unknown", (error as Error).message, nowMs);
          return;
        }
        request.client.observe(request.payload, result);
        if (request.op !== undefined) history?.ok(request.op, request.client.id, result, nowMs);
      },
    }),
  );
  const result = cluster.run(workload, faults === undefined ? {} : { faults });
  return {
    operations,
    refused,
    durationMs: result.endMs - startMs,
    meanLatencyMs: operations === 0 ? 0 : latencySumMs / operations,
  };
}
