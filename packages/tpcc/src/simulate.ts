import type { GroupId } from "@amcast/core";
import { Prng } from "@amcast/core";
import type { FaultOptions, Replies, SimCluster, SimRequest, SimWorkloadClient } from "@amcast/smr";
import type { TpccLayout, TpccMix } from "./config.js";
import { TpccTerminal } from "./terminal.js";
import type { TpccCommand, TpccReply, TxType } from "./transactions.js";
import { destinationsOf, isRemote, TX_TYPES } from "./transactions.js";

/** What the terminals did, per transaction type. */
export interface TxStats {
  readonly type: TxType;
  count: number;
  committed: number;
  rolledBack: number;
  /** Transactions that touched another warehouse than their home one. */
  remote: number;
  /** Transactions multicast to more than one group. */
  multiGroup: number;
  /** Call-to-return virtual ms of every transaction, in completion order. */
  readonly latenciesMs: number[];
}

export interface TpccSimulationResult {
  readonly stats: ReadonlyMap<TxType, TxStats>;
  /** Virtual ms from the first transaction to the last reply. */
  readonly durationMs: number;
  /** Transactions whose groups disagreed on committing (none in a correct run). */
  readonly disagreements: number;
}

export interface TpccWorkload {
  readonly terminalsPerWarehouse: number;
  readonly transactionsPerTerminal: number;
  readonly mix: TpccMix;
  readonly thinkMs: number;
}

interface TpccRequest extends SimRequest<TpccCommand> {
  readonly startedMs: number;
}

/**
 * The remote warehouses each warehouse's terminals may use: every other warehouse (`uniform`,
 * TPC-C), or the warehouses of the group nearest its own (`nearest`, by `distanceMs`).
 */
export function remoteWarehouses(
  layout: TpccLayout,
  mix: TpccMix,
  distanceMs: (from: GroupId, to: GroupId) => number,
): Map<number, number[]> {
  const remote = new Map<number, number[]>();
  for (let w = 1; w <= layout.warehouses; w += 1) {
    const all = Array.from({ length: layout.warehouses }, (_, index) => index + 1).filter(
      (other) => other !== w,
    );
    if (mix.remoteChoice === "uniform" || layout.groups.length === 1) {
      remote.set(w, all);
      continue;
    }
    const home = layout.groupOf(w);
    const nearest = [...layout.groups]
      .filter((group) => group !== home)
      .sort((a, b) => distanceMs(home, a) - distanceMs(home, b) || (a < b ? -1 : 1))[0] as GroupId;
    remote.set(w, layout.warehousesOf(nearest));
  }
  return remote;
}

/**
 * Runs gTPC-C terminals on a simulated service, closed loop, on the cluster's virtual clock:
 * `terminalsPerWarehouse` terminals per warehouse, each running `transactionsPerTerminal`
 * transactions, every transaction one multicast to the groups of the warehouses it touches.
 * `faults` strike during the run (see `SimCluster.run`).
 */
export function simulateTpcc(
  cluster: SimCluster<TpccCommand, TpccReply>,
  layout: TpccLayout,
  workload: TpccWorkload,
  seed: number,
  distanceMs: (from: GroupId, to: GroupId) => number,
  faults?: FaultOptions,
): TpccSimulationResult {
  const stats = new Map<TxType, TxStats>(
    TX_TYPES.map((type) => [
      type,
      { type, count: 0, committed: 0, rolledBack: 0, remote: 0, multiGroup: 0, latenciesMs: [] },
    ]),
  );
  const remote = remoteWarehouses(layout, workload.mix, distanceMs);
  const root = new Prng(seed).derive("tpcc-terminals");
  const startMs = cluster.nowMs;
  let disagreements = 0;
  const clients: SimWorkloadClient<TpccCommand, TpccReply, TpccRequest>[] = [];
  for (let w = 1; w <= layout.warehouses; w += 1)
    for (let index = 0; index < workload.terminalsPerWarehouse; index += 1) {
      const id = `w${w}.${index}`;
      const terminal = new TpccTerminal(id, w, layout, workload.mix, remote.get(w) ?? [], root.derive(id));
      clients.push({
        home: layout.groupOf(w),
        multicasts: workload.transactionsPerTerminal,
        thinkMs: workload.thinkMs,
        next: (nowMs) => {
          const payload = terminal.next(nowMs);
          return { destinations: destinationsOf(payload, layout), payload, startedMs: nowMs };
        },
        onReplies: (replies, nowMs, request) => {
          const entry = stats.get(request.payload.tx) as TxStats;
          entry.count += 1;
          entry.latenciesMs.push(nowMs - request.startedMs);
          if (isRemote(request.payload)) entry.remote += 1;
          if (Object.keys(replies).length > 1) entry.multiGroup += 1;
          const decision = committedBy(replies);
          if (decision === undefined) disagreements += 1;
          else if (decision) entry.committed += 1;
          else entry.rolledBack += 1;
        },
      });
    }
  const result = cluster.run(clients, faults === undefined ? {} : { faults });
  return { stats, durationMs: result.endMs - startMs, disagreements };
}

/** Whether every group committed (true), every group rolled back (false), or they disagree. */
function committedBy(replies: Replies<TpccReply>): boolean | undefined {
  const decisions = new Set(Object.values(replies).map((reply) => reply.committed));
  return decisions.size === 1 ? [...decisions][0] : undefined;
}
