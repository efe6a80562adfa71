/**
 * The best ByzCast tree for a workload (cost: ByzCast's latency model, `treeCostMs`; loads:
 * `treeLoads`).
 *
 * The search space: trees over exactly the current tree's groups, every group in the role it has
 * now, that `parseOverlay` accepts: one root (any group), every other group with one parent (any
 * other group, targets included: a target may order for the groups below it), no cycle, and every
 * auxiliary group with at least one child (so with a target below it: leaves are targets).
 * Keeping the roles keeps the tree valid against its topology (`checkOverlayAgainstTopology`),
 * and keeping every auxiliary group, even where it adds a hop, keeps reconfiguration a change of
 * edges only; an auxiliary group that does not help ends up as the single parent of a subtree
 * where its hop costs least.
 */
import type { GroupId, TreeOverlay } from "@amcast/core";
import { describeValue, overlayToJson, parseOverlay } from "@amcast/core";
import { IndexedTree } from "./cost.js";
import type { CheckedOptions, SearchOutcome } from "./decide.js";
import { checkOptions, decide } from "./decide.js";
import type { ModelStats } from "./lp.js";
import { solveIlp, tooLarge } from "./lp.js";
import { buildTreeIlp } from "./tree-ilp.js";
import { localSearchTree } from "./tree-local.js";
import type { TreeProblem } from "./tree-problem.js";
import { isValidTree, scoreTree } from "./tree-problem.js";
import type { DestinationCount, GroupLatencyMs, OptimizeResult, TreeOptimizeOptions } from "./types.js";
import type { Workload } from "./workload.js";
import { aggregate, latencyMatrix, meanLegs } from "./workload.js";

/** The exhaustive search tries every parent assignment: n (n-1)^(n-1) for n groups (7: 326,592). */
export const TREE_EXHAUSTIVE_MAX_GROUPS = 7;

function problemOf(
  current: TreeOverlay,
  workload: Workload,
  latencyMs: GroupLatencyMs,
  loadLimit: number | undefined,
): TreeProblem {
  const groups = current.groups;
  const index = new Map(groups.map((group, i) => [group, i]));
  const indexOf = (group: GroupId): number => {
    const i = index.get(group);
    if (i === undefined)
      throw new Error(`destination group ${describeValue(group)} is not in tree ${current.name}`);
    if (!current.isTarget(group))
      throw new Error(`destination group ${describeValue(group)} is auxiliary in tree ${current.name}`);
    return i;
  };
  const originOf = (group: GroupId): number => {
    const i = index.get(group);
    if (i === undefined)
      throw new Error(`origin group ${describeValue(group)} is not in tree ${current.name}`);
    return i;
  };
  const lat = latencyMatrix(groups, latencyMs);
  const single: number[] = new Array(groups.length).fill(0);
  let singleLegsMs = 0;
  for (const set of workload.single) {
    const group = indexOf(set.dst[0] as GroupId);
    single[group] = set.count;
    singleLegsMs += set.count * (meanLegs(set, originOf, lat)[group] as number);
  }
  return {
    groups,
    target: groups.map((group) => current.isTarget(group)),
    lat,
    sets: workload.multi.map((set) => ({
      members: set.dst.map(indexOf),
      count: set.count,
      legs: meanLegs(set, originOf, lat),
    })),
    single,
    singleLegsMs,
    total: workload.total,
    loadLimit,
  };
}

/** The search problem of `optimizeTree` and the current tree's parents (for tests of the searches). */
export function treeSearchInput(
  current: TreeOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  loadLimit?: number,
): { problem: TreeProblem; parents: number[] } {
  const problem = problemOf(current, aggregate(counts), latencyMs, loadLimit);
  return { problem, parents: parentsOf(current, problem) };
}

function parentsOf(tree: TreeOverlay, problem: TreeProblem): number[] {
  const index = new Map(problem.groups.map((group, i) => [group, i]));
  return problem.groups.map((group) => {
    const parent = tree.parent(group);
    return parent === null ? -1 : (index.get(parent) as number);
  });
}

/** Mean cost (ms) and whether every group's load is within the limit. */
function evaluate(problem: TreeProblem, tree: IndexedTree): { costMs: number; feasible: boolean } {
  const { costMs, excess } = scoreTree(problem, tree);
  return { costMs, feasible: excess === 0 };
}

function overlayOf(current: TreeOverlay, problem: TreeProblem, parent: readonly number[]): TreeOverlay {
  const json = overlayToJson(current) as { groups: unknown };
  const edges: [GroupId, GroupId][] = [];
  parent.forEach((p, v) => {
    if (p >= 0) edges.push([problem.groups[p] as GroupId, problem.groups[v] as GroupId]);
  });
  const overlay = parseOverlay(
    { kind: "tree", name: current.name, groups: json.groups, edges },
    `optimised tree ${current.name}`,
  );
  return overlay as TreeOverlay;
}

export function optimizeTree(
  current: TreeOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  options: TreeOptimizeOptions = {},
): OptimizeResult<TreeOverlay> {
  const checked = checkOptions(options);
  const loadLimit = options.loadLimit;
  if (loadLimit !== undefined && !(Number.isFinite(loadLimit) && loadLimit >= 0))
    throw new Error(`loadLimit must be a number >= 0, got ${loadLimit}`);
  const problem = problemOf(current, aggregate(counts), latencyMs, loadLimit);
  const now = evaluate(problem, new IndexedTree(parentsOf(current, problem)));
  const outcome: SearchOutcome<TreeOverlay> =
    problem.sets.length === 0 && now.feasible
      ? { best: null, method: checked.solver, optimal: true, note: "no multicast to two or more groups" }
      : checked.solver === "exhaustive"
        ? exhaustive(current, problem, now)
        : checked.solver === "local-search"
          ? localOnly(current, problem, now)
          : ilp(current, problem, now, checked, options.localSearch ?? true);
  return decide(current, now.costMs, outcome, checked.minGainFraction, now.feasible);
}

function exhaustive(
  current: TreeOverlay,
  problem: TreeProblem,
  now: { costMs: number; feasible: boolean },
): SearchOutcome<TreeOverlay> {
  const n = problem.groups.length;
  if (n > TREE_EXHAUSTIVE_MAX_GROUPS)
    throw new Error(
      `exhaustive tree search refuses ${n} groups (at most ${TREE_EXHAUSTIVE_MAX_GROUPS}, n (n-1)^(n-1) parent assignments); use the ILP`,
    );
  let best: { parent: number[]; costMs: number } | null = null;
  let bestCost = now.feasible ? now.costMs : Number.POSITIVE_INFINITY;
  const parent: number[] = new Array(n).fill(-1);
  const assign = (v: number, root: number): void => {
    if (v === n) {
      if (!isValidTree(parent, problem.target)) return;
      const { costMs, feasible } = evaluate(problem, new IndexedTree(parent));
      if (feasible && costMs < bestCost) {
        bestCost = costMs;
        best = { parent: [...parent], costMs };
      }
      return;
    }
    if (v === root) {
      parent[v] = -1;
      assign(v + 1, root);
      return;
    }
    for (let p = 0; p < n; p++) {
      if (p === v) continue;
      parent[v] = p;
      assign(v + 1, root);
    }
  };
  for (let root = 0; root < n; root++) assign(0, root);
  const found = best as { parent: number[]; costMs: number } | null;
  if (found !== null)
    return {
      best: { overlay: overlayOf(current, problem, found.parent), costMs: found.costMs },
      method: "exhaustive",
      optimal: true,
      note: "",
    };
  if (now.feasible)
    return { best: { overlay: current, costMs: now.costMs }, method: "exhaustive", optimal: true, note: "" };
  return { best: null, method: "exhaustive", optimal: true, note: "no tree keeps the load limit" };
}

/** The local search alone: its tree when it keeps the load limit and beats the current one. */
function localOnly(
  current: TreeOverlay,
  problem: TreeProblem,
  now: { costMs: number; feasible: boolean },
): SearchOutcome<TreeOverlay> {
  const local = localSearchTree(problem, parentsOf(current, problem));
  if (local.score.excess === 0 && (!now.feasible || local.score.costMs < now.costMs))
    return {
      best: { overlay: overlayOf(current, problem, local.parent), costMs: local.score.costMs },
      method: "local-search",
      optimal: false,
      note: "",
    };
  if (now.feasible)
    return {
      best: { overlay: current, costMs: now.costMs },
      method: "local-search",
      optimal: false,
      note: "",
    };
  return { best: null, method: "local-search", optimal: false, note: "the local search kept no load limit" };
}

/**
 * Local search first (its tree is the cut-off), then the ILP for anything better, within the time
 * limit. The answer is the better of the two; it is optimal when the ILP finished its search:
 * with an integral solution (the ILP's tree), or infeasible under the cut-off (no tree beats the
 * local search's).
 */
function ilp(
  current: TreeOverlay,
  problem: TreeProblem,
  now: { costMs: number; feasible: boolean },
  options: CheckedOptions,
  localSearch: boolean,
): SearchOutcome<TreeOverlay> {
  const limit = problem.loadLimit;
  if (limit !== undefined && problem.single.some((count) => count > limit))
    return now.feasible
      ? { best: { overlay: current, costMs: now.costMs }, method: "ilp", optimal: true, note: "" }
      : {
          best: null,
          method: "ilp",
          optimal: true,
          note: "no tree keeps the load limit (single-group multicasts alone exceed it)",
        };
  const local = localSearch ? localSearchTree(problem, parentsOf(current, problem)) : null;
  const localFeasible = local !== null && local.score.excess === 0;
  /** The best tree known before the ILP: the local search's, or the current one. */
  const known: { parent: readonly number[] | null; costMs: number } | null = localFeasible
    ? { parent: local.parent, costMs: local.score.costMs }
    : now.feasible
      ? { parent: null, costMs: now.costMs }
      : null;
  /**
   * The known tree as the answer: proven optimal when the ILP finished (`proved`). Not proven, a
   * local-search tree better than the current one is still an answer; the current tree is not
   * (the search gave none: "fallback").
   */
  const knownOutcome = (note: string, proved: boolean): SearchOutcome<TreeOverlay> => {
    const improves = known !== null && known.parent !== null && (!now.feasible || known.costMs < now.costMs);
    if (improves)
      return {
        best: { overlay: overlayOf(current, problem, known.parent as number[]), costMs: known.costMs },
        method: "local-search",
        optimal: proved,
        note,
      };
    if (proved && known !== null)
      return { best: { overlay: current, costMs: now.costMs }, method: "ilp", optimal: true, note };
    return { best: null, method: "fallback", optimal: false, note };
  };

  const { model, parentVar, rootVar } = buildTreeIlp(problem, known === null ? null : known.costMs);
  const outcome = solveIlp(model, options.timeLimitMs);
  if (outcome.status === "no-solution") return knownOutcome("the ILP timed out without a better tree", false);
  if (outcome.status === "stalled") return knownOutcome("the LP solver stalled (cycling)", false);
  if (outcome.status === "too-large") return knownOutcome(tooLarge(model), false);
  if (outcome.status === "infeasible")
    return known === null
      ? { best: null, method: "ilp", optimal: true, note: "no tree keeps the load limit" }
      : knownOutcome("", true);
  const n = problem.groups.length;
  const parent: number[] = new Array(n).fill(-1);
  for (let v = 0; v < n; v++) {
    if ((outcome.values[rootVar[v] as number] as number) > 0.5) continue;
    for (let u = 0; u < n; u++)
      if (u !== v && (outcome.values[(parentVar[u] as number[])[v] as number] as number) > 0.5) parent[v] = u;
  }
  const optimal = outcome.status === "optimal";
  if (!isValidTree(parent, problem.target))
    return knownOutcome("the ILP solution is not a valid tree (numerical trouble)", false);
  const found = evaluate(problem, new IndexedTree(parent));
  if (!found.feasible)
    return knownOutcome("the ILP solution breaks the load limit (numerical trouble)", false);
  if (known !== null && !(found.costMs < known.costMs)) return knownOutcome("", optimal);
  if (now.feasible && !(found.costMs < now.costMs))
    return { best: { overlay: current, costMs: now.costMs }, method: "ilp", optimal, note: "" };
  return {
    best: { overlay: overlayOf(current, problem, parent), costMs: found.costMs },
    method: "ilp",
    optimal,
    note: "",
  };
}

/** Variable, constraint and integer-variable counts of the tree ILP for this instance. */
export function treeIlpStats(
  current: TreeOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  loadLimit?: number,
): ModelStats & { readonly groups: number; readonly sets: number } {
  const problem = problemOf(current, aggregate(counts), latencyMs, loadLimit);
  const now = evaluate(problem, new IndexedTree(parentsOf(current, problem)));
  const { model } = buildTreeIlp(problem, now.feasible ? now.costMs : null);
  return { ...model.stats(), groups: problem.groups.length, sets: problem.sets.length };
}
