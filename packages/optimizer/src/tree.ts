/**
 * The best ByzCast tree for a workload (cost model: `treeCostMs`; loads: `treeLoads`).
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
import { LinearModel, solveIlp, tooLarge } from "./lp.js";
import type { DestinationCount, GroupLatencyMs, OptimizeResult, TreeOptimizeOptions } from "./types.js";
import type { Workload } from "./workload.js";
import { aggregate, latencyMatrix } from "./workload.js";

/** The exhaustive search tries every parent assignment: n (n-1)^(n-1) for n groups (7: 326,592). */
export const TREE_EXHAUSTIVE_MAX_GROUPS = 7;

interface TreeProblem {
  /** The current tree's groups, in its order (parents before children). */
  readonly groups: readonly GroupId[];
  readonly target: readonly boolean[];
  readonly lat: readonly (readonly number[])[];
  readonly sets: readonly { readonly members: readonly number[]; readonly count: number }[];
  /** Multicasts to each group alone (by index). */
  readonly single: readonly number[];
  readonly total: number;
  readonly loadLimit: number | undefined;
}

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
  const single: number[] = new Array(groups.length).fill(0);
  for (const [group, count] of workload.single) single[indexOf(group)] = count;
  return {
    groups,
    target: groups.map((group) => current.isTarget(group)),
    lat: latencyMatrix(groups, latencyMs),
    sets: workload.multi.map((set) => ({ members: set.dst.map(indexOf), count: set.count })),
    single,
    total: workload.total,
    loadLimit,
  };
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
  let sum = 0;
  for (const set of problem.sets) sum += set.count * tree.setCost(set.members, problem.lat);
  const costMs = problem.total === 0 ? 0 : sum / problem.total;
  if (problem.loadLimit === undefined) return { costMs, feasible: true };
  const loads = [...problem.single];
  for (const set of problem.sets) tree.addLoad(set.members, set.count, loads);
  return { costMs, feasible: loads.every((load) => load <= (problem.loadLimit as number) + 1e-9) };
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
        : ilp(current, problem, now, checked);
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

/** Every group reaches the root (no cycle) and every auxiliary group has a child. */
function isValidTree(parent: readonly number[], target: readonly boolean[]): boolean {
  const n = parent.length;
  const hasChild: boolean[] = new Array(n).fill(false);
  for (let v = 0; v < n; v++) {
    const p = parent[v] as number;
    if (p >= 0) hasChild[p] = true;
    let steps = 0;
    for (let u = v; (parent[u] as number) >= 0; u = parent[u] as number) if (++steps > n) return false;
  }
  for (let v = 0; v < n; v++) if (!target[v] && !hasChild[v]) return false;
  return true;
}

/**
 * The tree ILP, over groups 0..n-1 (T: targets; lat(u,v): the delay from u to v; an edge u -> v
 * means u is v's parent):
 *   - p(u,v) binary: u is v's parent; r(v) binary: v is the root; sum_u p(u,v) + r(v) <= 1 for
 *     every v, sum_v r(v) <= 1 (the flows below make every group hang below exactly one root).
 *   - one flow commodity per target d, from the root down to d: f(d,u,v) >= 0 for u != d, with
 *     f(d,u,v) <= p(u,v); no group but the root creates flow (out - in <= r(v) at v != d) and d
 *     receives a unit (in + r(d) >= 1). With integral p the groups and parent edges form a forest
 *     whose root emits at most one unit, so the only way to feed d is d's root path: f(d,.,.) is
 *     exactly the indicator of the edges on it. Hence
 *       W(d)   = sum lat(u,v) f(d,u,v)     d's latency from the root,
 *       A(g,d) = sum_w f(d,g,w)            1 when g is a proper ancestor of d.
 *   - every auxiliary group a is a proper ancestor of some target: sum_d A(a,d) >= 1 (it has a
 *     child and hangs below the root). Flow could also circulate on a cycle of auxiliary groups
 *     (a cycle through a target would starve it), so ranks h(a) in [0, |aux| - 1] with
 *     h(b) >= h(a) + 1 - |aux| (1 - p(a,b)) rule such cycles out.
 *   - per destination set D and edge e = (u,v) with u not in D (an edge out of a destination
 *     never leads to a common ancestor): k(D,e) >= 0, k(D,e) <= f(d,e) for every d in D. The
 *     edges on every member's root path are those down to lca(D), so
 *       cost(D) >= W(d) - sum_e lat(e) k(D,e)   for every d in D
 *     and at the optimum k(D,.) marks the root path of lca(D) (the objective pushes it up, the
 *     flows cap it), making cost(D) = max_d dist(lca(D), d) exactly.
 *   - objective: sum over sets of count/total x cost(D), the mean cost in ms; cut-off: at most
 *     the current tree's cost when that tree keeps the load limit.
 *   - with a load limit: a group g orders a multicast to D unless it has no destination below
 *     it or it passes all of D on to a single child (then it is above lca(D)); that child edge is
 *     a common edge, so u(D,g) >= A(g,d) - sum_w k(D,(g,w)) for every d in D (A(g,g) = 1) is
 *     exactly the indicator at the optimum, and sum_D count(D) u(D,g) <= limit - (multicasts to
 *     g alone) for every group g.
 */
export function buildTreeIlp(
  problem: TreeProblem,
  cutoffMs: number | null,
): { model: LinearModel; parentVar: number[][]; rootVar: number[] } {
  const n = problem.groups.length;
  const { lat, target } = problem;
  const targets = problem.groups.map((_, i) => i).filter((i) => target[i]);
  const model = new LinearModel();
  const parentVar: number[][] = Array.from({ length: n }, () => new Array(n).fill(-1));
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++)
      if (u !== v) (parentVar[u] as number[])[v] = model.addVariable(`p_${u}_${v}`, { integer: true });
  const p = (u: number, v: number): number => (parentVar[u] as number[])[v] as number;
  const rootVar = problem.groups.map((_, v) => model.addVariable(`r_${v}`, { integer: true }));
  const r = (v: number): number => rootVar[v] as number;
  for (let v = 0; v < n; v++) {
    const terms: [number, number][] = [[r(v), 1]];
    for (let u = 0; u < n; u++) if (u !== v) terms.push([p(u, v), 1]);
    model.addConstraint(terms, { max: 1 });
  }
  model.addConstraint(
    rootVar.map((variable) => [variable, 1] as const),
    { max: 1 },
  );

  // flow.get(d)[u][v]: -1 where absent (out of d, or u === v).
  const flow = new Map<number, number[][]>();
  for (const d of targets) {
    const table: number[][] = Array.from({ length: n }, () => new Array(n).fill(-1));
    for (let u = 0; u < n; u++)
      for (let v = 0; v < n; v++) {
        if (u === v || u === d) continue;
        const variable = model.addVariable(`f_${d}_${u}_${v}`);
        (table[u] as number[])[v] = variable;
        model.addConstraint(
          [
            [variable, 1],
            [p(u, v), -1],
          ],
          { max: 0 },
        );
      }
    flow.set(d, table);
  }
  const f = (d: number, u: number, v: number): number =>
    ((flow.get(d) as number[][])[u] as number[])[v] as number;
  for (const d of targets)
    for (let v = 0; v < n; v++) {
      const terms: [number, number][] = [];
      for (let u = 0; u < n; u++) if (u !== v && u !== d) terms.push([f(d, u, v), v === d ? 1 : -1]);
      if (v === d) {
        terms.push([r(d), 1]);
        model.addConstraint(terms, { min: 1 });
      } else {
        for (let w = 0; w < n; w++) if (w !== v) terms.push([f(d, v, w), 1]);
        terms.push([r(v), -1]);
        model.addConstraint(terms, { max: 0 });
      }
    }
  /** A(y,d) as terms, y !== d. */
  const ancestor = (y: number, d: number, scale: number): [number, number][] => {
    const terms: [number, number][] = [];
    for (let w = 0; w < n; w++) if (w !== y) terms.push([f(d, y, w), scale]);
    return terms;
  };
  for (let a = 0; a < n; a++)
    if (!target[a])
      model.addConstraint(
        targets.flatMap((d) => ancestor(a, d, 1)),
        { min: 1 },
      );
  // Flow may also circulate on a cycle of auxiliary groups cut off from the root (nothing
  // else can form one: a target on it would get no flow), which would fake the constraint
  // above: order the auxiliary groups along parent edges (Miller-Tucker-Zemlin).
  const auxiliary = problem.groups.map((_, i) => i).filter((i) => !target[i]);
  if (auxiliary.length > 1) {
    const span = auxiliary.length;
    const rank = new Map(auxiliary.map((a) => [a, model.addVariable(`h_${a}`, { upper: span - 1 })]));
    for (const a of auxiliary)
      for (const b of auxiliary)
        if (a !== b)
          // h(b) >= h(a) + 1 when a is b's parent.
          model.addConstraint(
            [
              [rank.get(b) as number, 1],
              [rank.get(a) as number, -1],
              [p(a, b), -span],
            ],
            { min: 1 - span },
          );
  }

  const objective: [number, number][] = [];
  const loadTerms: [number, number][][] = problem.groups.map(() => []);
  problem.sets.forEach((set, s) => {
    const weight = set.count / problem.total;
    const cost = model.addVariable(`cost_${s}`, { objective: weight });
    objective.push([cost, weight]);
    // common[u][v]: k(D,(u,v)), -1 where absent (u in D).
    const common: number[][] = Array.from({ length: n }, () => new Array(n).fill(-1));
    const commonTerms: [number, number][] = [];
    for (let u = 0; u < n; u++) {
      if (set.members.includes(u)) continue;
      for (let v = 0; v < n; v++) {
        if (u === v) continue;
        const k = model.addVariable(`k_${s}_${u}_${v}`);
        (common[u] as number[])[v] = k;
        commonTerms.push([k, lat[u]?.[v] as number]);
        for (const d of set.members)
          model.addConstraint(
            [
              [k, 1],
              [f(d, u, v), -1],
            ],
            { max: 0 },
          );
      }
    }
    for (const d of set.members) {
      const terms: [number, number][] = [[cost, 1], ...commonTerms];
      for (let u = 0; u < n; u++)
        for (let v = 0; v < n; v++)
          if (u !== v && u !== d) terms.push([f(d, u, v), -(lat[u]?.[v] as number)]);
      model.addConstraint(terms, { min: 0 });
    }
    if (problem.loadLimit === undefined) return;
    for (let g = 0; g < n; g++) {
      const on = model.addVariable(`u_${s}_${g}`);
      (loadTerms[g] as [number, number][]).push([on, set.count]);
      const passOn: [number, number][] = [];
      for (let w = 0; w < n; w++) {
        const k = (common[g] as number[])[w] as number;
        if (k >= 0) passOn.push([k, 1]);
      }
      for (const d of set.members) {
        if (d === g) model.addConstraint([[on, 1], ...passOn], { min: 1 });
        else model.addConstraint([[on, 1], ...passOn, ...ancestor(g, d, -1)], { min: 0 });
      }
    }
  });
  if (cutoffMs !== null && objective.length > 0)
    model.addConstraint(objective, { max: cutoffMs + 1e-7 * Math.max(1, Math.abs(cutoffMs)) });
  if (problem.loadLimit !== undefined) {
    // (A group whose single-group multicasts alone break the limit is caught before the model.)
    const limit = problem.loadLimit;
    problem.groups.forEach((_, g) => {
      const terms = loadTerms[g] as [number, number][];
      if (terms.length > 0) model.addConstraint(terms, { max: limit - (problem.single[g] as number) });
    });
  }
  return { model, parentVar, rootVar };
}

function ilp(
  current: TreeOverlay,
  problem: TreeProblem,
  now: { costMs: number; feasible: boolean },
  options: CheckedOptions,
): SearchOutcome<TreeOverlay> {
  const keepCurrent = (
    note: string,
    method: "ilp" | "fallback",
    optimal: boolean,
  ): SearchOutcome<TreeOverlay> =>
    now.feasible
      ? { best: { overlay: current, costMs: now.costMs }, method, optimal, note }
      : { best: null, method, optimal, note };
  const limit = problem.loadLimit;
  if (limit !== undefined && problem.single.some((count) => count > limit))
    return keepCurrent("no tree keeps the load limit (single-group multicasts alone exceed it)", "ilp", true);
  const { model, parentVar, rootVar } = buildTreeIlp(problem, now.feasible ? now.costMs : null);
  const outcome = solveIlp(model, options.timeLimitMs);
  if (outcome.status === "no-solution")
    return { best: null, method: "fallback", optimal: false, note: "the ILP timed out without a solution" };
  if (outcome.status === "stalled")
    return { best: null, method: "fallback", optimal: false, note: "the LP solver stalled (cycling)" };
  if (outcome.status === "too-large")
    return { best: null, method: "fallback", optimal: false, note: tooLarge(model) };
  if (outcome.status === "infeasible")
    return now.feasible
      ? { best: null, method: "fallback", optimal: false, note: "the ILP found no tree (numerical trouble)" }
      : keepCurrent("no tree keeps the load limit", "ilp", true);
  const n = problem.groups.length;
  const parent: number[] = new Array(n).fill(-1);
  for (let v = 0; v < n; v++) {
    if ((outcome.values[rootVar[v] as number] as number) > 0.5) continue;
    for (let u = 0; u < n; u++)
      if (u !== v && (outcome.values[(parentVar[u] as number[])[v] as number] as number) > 0.5) parent[v] = u;
  }
  if (parent.filter((q) => q < 0).length !== 1 || !isValidTree(parent, problem.target))
    return { best: null, method: "fallback", optimal: false, note: "the ILP solution is not a valid tree" };
  const tree = new IndexedTree(parent);
  const found = evaluate(problem, tree);
  const optimal = outcome.status === "optimal";
  if (!found.feasible)
    return { best: null, method: "fallback", optimal: false, note: "the ILP solution breaks the load limit" };
  if (now.feasible && found.costMs >= now.costMs) return keepCurrent("", "ilp", optimal);
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
