/** A tree optimisation instance over group indices, and what the searches need to judge a tree. */
import type { GroupId } from "@amcast/core";
import type { IndexedTree } from "./cost.js";

export interface TreeProblem {
  /** The current tree's groups, in its order (parents before children). */
  readonly groups: readonly GroupId[];
  readonly target: readonly boolean[];
  /** lat[u][v]: the delay (ms) from group u to group v. */
  readonly lat: readonly (readonly number[])[];
  /**
   * Destination sets of two or more targets (indices), their counts, and the mean client's leg
   * of their multicasts to each group as their lca (`legs[g]`, see `meanLegs`).
   */
  readonly sets: readonly {
    readonly members: readonly number[];
    readonly count: number;
    readonly legs: readonly number[];
  }[];
  /** Multicasts to each group alone (by index). */
  readonly single: readonly number[];
  /** The client's legs of all single-group multicasts, summed (ms): the same on every tree. */
  readonly singleLegsMs: number;
  /** All multicasts: a set's weight in the mean cost is count / total. */
  readonly total: number;
  readonly loadLimit: number | undefined;
}

export interface TreeScore {
  /** Mean predicted cost (ms) over all multicasts. */
  readonly costMs: number;
  /** Sum over groups of the load above the limit (0: the tree keeps the limit). */
  readonly excess: number;
}

export function scoreTree(problem: TreeProblem, tree: IndexedTree): TreeScore {
  let sum = problem.singleLegsMs;
  for (const set of problem.sets) sum += set.count * tree.setCost(set.members, problem.lat, set.legs);
  const costMs = problem.total === 0 ? 0 : sum / problem.total;
  const limit = problem.loadLimit;
  if (limit === undefined) return { costMs, excess: 0 };
  const loads = [...problem.single];
  for (const set of problem.sets) tree.addLoad(set.members, set.count, loads);
  let excess = 0;
  for (const load of loads) if (load > limit + 1e-9) excess += load - limit;
  return { costMs, excess };
}

/** a is better than b: less excess load, then a lower cost (beyond rounding). */
export function betterScore(a: TreeScore, b: TreeScore): boolean {
  if (a.excess < b.excess - 1e-9) return true;
  if (a.excess > b.excess + 1e-9) return false;
  return a.costMs < b.costMs - 1e-9 * Math.max(1, b.costMs);
}

/** Every group reaches the root (no cycle), there is one root, every auxiliary group has a child. */
export function isValidTree(parent: readonly number[], target: readonly boolean[]): boolean {
  const n = parent.length;
  const hasChild: boolean[] = new Array(n).fill(false);
  let roots = 0;
  for (let v = 0; v < n; v++) {
    const p = parent[v] as number;
    if (p >= 0) hasChild[p] = true;
    else roots++;
    let steps = 0;
    for (let u = v; (parent[u] as number) >= 0; u = parent[u] as number) if (++steps > n) return false;
  }
  if (roots !== 1) return false;
  for (let v = 0; v < n; v++) if (!target[v] && !hasChild[v]) return false;
  return true;
}
