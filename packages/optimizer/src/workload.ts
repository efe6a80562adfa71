import type { GroupId } from "@amcast/core";
import { compareIds, describeValue } from "@amcast/core";
import type { DestinationCount, GroupLatencyMs } from "./types.js";

/** One destination set of the workload, identical sets merged, with where its multicasts came from. */
export interface AggregatedSet {
  readonly dst: readonly GroupId[];
  readonly count: number;
  /** Multicasts by origin group (null: no origin given, the client's leg counts 0). */
  readonly origins: ReadonlyMap<GroupId | null, number>;
}

/**
 * The workload as the optimiser sees it: identical destination sets merged (so a model has one
 * cost term per distinct set); sets of one group kept apart (their cost is the client's leg, the
 * same on every overlay).
 */
export interface Workload {
  /** Sets of two or more groups, with a positive count, in a deterministic order. */
  readonly multi: readonly AggregatedSet[];
  /** Sets of one group, in a deterministic order. */
  readonly single: readonly AggregatedSet[];
  /** Every multicast, single-group ones included: the denominator of the mean. */
  readonly total: number;
}

export function aggregate(counts: readonly DestinationCount[]): Workload {
  const byKey = new Map<string, { dst: GroupId[]; count: number; origins: Map<GroupId | null, number> }>();
  let total = 0;
  for (const { dst, count, origin } of counts) {
    if (!Number.isFinite(count) || count < 0)
      throw new Error(`a destination count must be a finite number >= 0, got ${describeValue(count)}`);
    const set = [...new Set(dst)].sort(compareIds);
    if (set.length === 0) throw new Error("a destination set is empty");
    if (count === 0) continue;
    total += count;
    const key = JSON.stringify(set);
    let entry = byKey.get(key);
    if (entry === undefined) {
      entry = { dst: set, count: 0, origins: new Map() };
      byKey.set(key, entry);
    }
    entry.count += count;
    const from = origin ?? null;
    entry.origins.set(from, (entry.origins.get(from) ?? 0) + count);
  }
  const sets = [...byKey.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, entry]) => entry);
  return {
    multi: sets.filter((set) => set.dst.length > 1),
    single: sets.filter((set) => set.dst.length === 1),
    total,
  };
}

/** Every group named by the workload (destinations and origins) must be in the overlay. */
export function checkGroups(workload: Workload, known: (group: GroupId) => boolean, where: string): void {
  for (const set of [...workload.multi, ...workload.single]) {
    for (const group of set.dst)
      if (!known(group)) throw new Error(`destination group ${describeValue(group)} is not in ${where}`);
    for (const origin of set.origins.keys())
      if (origin !== null && !known(origin))
        throw new Error(`origin group ${describeValue(origin)} is not in ${where}`);
  }
}

/**
 * The client's leg of a set's multicasts to each group as their entry group (by index): the mean
 * over their origins of the origin's delay to it (0 without an origin). Every latency model here
 * is the client's leg plus a part that does not depend on it, so the mean latency of the set's
 * multicasts is the model evaluated with this mean leg.
 */
export function meanLegs(
  set: AggregatedSet,
  indexOf: (group: GroupId) => number,
  lat: readonly (readonly number[])[],
): number[] {
  const legs: number[] = new Array(lat.length).fill(0);
  for (const [origin, count] of set.origins) {
    if (origin === null) continue;
    const row = lat[indexOf(origin)] as readonly number[];
    for (let g = 0; g < legs.length; g++)
      legs[g] = (legs[g] as number) + (count * (row[g] as number)) / set.count;
  }
  return legs;
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
