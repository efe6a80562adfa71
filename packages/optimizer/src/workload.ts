import type { GroupId } from "@amcast/core";
import { compareIds, describeValue } from "@amcast/core";
import type { DestinationCount, GroupLatencyMs } from "./types.js";

/** One destination set of the workload, identical sets merged. */
export interface AggregatedSet {
  readonly dst: readonly GroupId[];
  readonly count: number;
}

/**
 * The workload as the optimiser sees it: identical destination sets merged (so a model has one
 * cost term per distinct set), sets of one group kept apart (their cost is 0 on every overlay).
 */
export interface Workload {
  /** Sets of two or more groups, with a positive count, in a deterministic order. */
  readonly multi: readonly AggregatedSet[];
  /** Multicasts to one group alone, by group. */
  readonly single: ReadonlyMap<GroupId, number>;
  /** Every multicast, single-group ones included: the denominator of the mean. */
  readonly total: number;
}

export function aggregate(counts: readonly DestinationCount[]): Workload {
  const byKey = new Map<string, { dst: GroupId[]; count: number }>();
  const single = new Map<GroupId, number>();
  let total = 0;
  for (const { dst, count } of counts) {
    if (!Number.isFinite(count) || count < 0)
      throw new Error(`a destination count must be a finite number >= 0, got ${describeValue(count)}`);
    const set = [...new Set(dst)].sort(compareIds);
    if (set.length === 0) throw new Error("a destination set is empty");
    if (count === 0) continue;
    total += count;
    if (set.length === 1) {
      const group = set[0] as GroupId;
      single.set(group, (single.get(group) ?? 0) + count);
      continue;
    }
    const key = JSON.stringify(set);
    const entry = byKey.get(key);
    if (entry === undefined) byKey.set(key, { dst: set, count });
    else entry.count += count;
  }
  const multi = [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, entry]) => entry);
  return { multi, single, total };
}

/** Every group named by the workload must be in the overlay. */
export function checkGroups(workload: Workload, known: (group: GroupId) => boolean, where: string): void {
  for (const set of workload.multi)
    for (const group of set.dst)
      if (!known(group)) throw new Error(`destination group ${describeValue(group)} is not in ${where}`);
  for (const group of workload.single.keys())
    if (!known(group)) throw new Error(`destination group ${describeValue(group)} is not in ${where}`);
}

/** A dense latency matrix over `groups`, each entry checked once (finite, >= 0). */
export function latencyMatrix(groups: readonly GroupId[], latencyMs: GroupLatencyMs): number[][] {
  return groups.map((from) =>
    groups.map((to) => {
      const value = latencyMs(from, to);
      if (!Number.isFinite(value) || value < 0)
        throw new Error(
          `latency from ${describeValue(from)} to ${describeValue(to)} must be a finite number >= 0, got ${describeValue(value)}`,
        );
      return value;
    }),
  );
}
