/** A C-DAG optimisation instance over group indices, and the cost of an order (FlexCast's model). */
import type { GroupId } from "@amcast/core";
import { describeValue } from "@amcast/core";
import { flexcastSpanLatencyMs } from "@amcast/flexcast";
import type { GroupLatencyMs } from "./types.js";
import type { Workload } from "./workload.js";
import { latencyMatrix, meanLegs } from "./workload.js";

export interface CdagSet {
  /** Members (group indices), sorted. */
  readonly members: readonly number[];
  /** member[g]: g is a member. */
  readonly member: readonly boolean[];
  /** count / total: the set's share of the mean. */
  readonly weight: number;
  /** The mean client's leg of the set's multicasts if g is their lca (`meanLegs`). */
  readonly legs: readonly number[];
}

export interface CdagProblem {
  /** Every group of the current order, in that order (index = current position). */
  readonly groups: readonly GroupId[];
  /**
   * The groups some set of two or more groups addresses, in current order. Only their order is
   * searched; the others are kept out of every set's span (after all of them), where they delay
   * nobody.
   */
  readonly relevant: readonly number[];
  /** `lat[u][v]`: delay from group u to group v. */
  readonly lat: readonly (readonly number[])[];
  readonly sets: readonly CdagSet[];
  /** The mean's part that no order changes: the client's legs of single-group multicasts. */
  readonly constantMs: number;
}

export function cdagProblem(
  order: readonly GroupId[],
  workload: Workload,
  latencyMs: GroupLatencyMs,
): CdagProblem {
  const index = new Map(order.map((group, i) => [group, i]));
  const indexOf = (group: GroupId): number => {
    const i = index.get(group);
    if (i === undefined) throw new Error(`group ${describeValue(group)} is not in the C-DAG order`);
    return i;
  };
  const lat = latencyMatrix(order, latencyMs);
  const inSets = new Set<number>();
  const sets = workload.multi.map((set) => {
    const members = set.dst.map(indexOf).sort((a, b) => a - b);
    for (const g of members) inSets.add(g);
    const member = order.map((_, g) => members.includes(g));
    return { members, member, weight: set.count / workload.total, legs: meanLegs(set, indexOf, lat) };
  });
  let constantMs = 0;
  for (const set of workload.single) {
    const group = indexOf(set.dst[0] as GroupId);
    constantMs += (set.count / workload.total) * (meanLegs(set, indexOf, lat)[group] as number);
  }
  const relevant = order.map((_, g) => g).filter((g) => inSets.has(g));
  return { groups: order, relevant, lat, sets, constantMs };
}

/**
 * Mean latency (ms) of the workload with the groups in `order` (group indices, each at most
 * once, every member of every set present): FlexCast's model for every set, by
 * `flexcastSpanLatencyMs`. Groups left out of `order` are outside every span.
 */
export function orderCostMs(problem: CdagProblem, order: readonly number[]): number {
  const position: number[] = new Array(problem.groups.length).fill(-1);
  order.forEach((group, at) => {
    position[group] = at;
  });
  const lat = problem.lat;
  const delay = (from: number, to: number): number => lat[from]?.[to] as number;
  let sum = problem.constantMs;
  for (const set of problem.sets) {
    let first = Number.POSITIVE_INFINITY;
    let last = -1;
    for (const g of set.members) {
      const at = position[g] as number;
      if (at < first) first = at;
      if (at > last) last = at;
    }
    const span = order.slice(first, last + 1);
    const member = set.member;
    sum +=
      set.weight *
      flexcastSpanLatencyMs(span, (g) => member[g] === true, set.legs[span[0] as number] as number, delay);
  }
  return sum;
}

/** The full order: the relevant groups in `relevantOrder`, then every other group in current order. */
export function fullOrder(problem: CdagProblem, relevantOrder: readonly number[]): number[] {
  const placed = new Set(relevantOrder);
  return [...relevantOrder, ...problem.groups.map((_, g) => g).filter((g) => !placed.has(g))];
}
