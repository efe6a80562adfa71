/**
 * The best C-DAG order for a workload (FlexCast cost model, see `orderedSetCost`).
 *
 * Only the relative order of groups that share a destination set of two or more groups matters
 * (the "relevant" groups); every other group keeps its place, and the relevant groups are
 * reordered within the positions they hold, so the proposal moves as little as it can.
 */
import type { GroupId } from "@amcast/core";
import { CdagOverlay } from "@amcast/core";
import { orderedSetCost } from "./cost.js";
import type { CheckedOptions, SearchOutcome } from "./decide.js";
import { checkOptions, decide } from "./decide.js";
import type { ModelStats } from "./lp.js";
import { LinearModel, solveIlp, tooLarge } from "./lp.js";
import type { DestinationCount, GroupLatencyMs, OptimizeOptions, OptimizeResult } from "./types.js";
import type { Workload } from "./workload.js";
import { aggregate, checkGroups, latencyMatrix } from "./workload.js";

/** The exhaustive search tries every order of the relevant groups: at most 9! = 362,880. */
export const CDAG_EXHAUSTIVE_MAX_GROUPS = 9;

/**
 * Sets of up to this many groups get one variable per order of their members (an exact, tight
 * formulation, size |D|!); larger sets fall back to big-M path constraints.
 */
export const CDAG_ORDER_VARIABLES_MAX_SET = 5;

/** The problem over the relevant groups, as indices. */
interface CdagProblem {
  /** Relevant groups in current order. */
  readonly groups: readonly GroupId[];
  /** `lat[i][j]`: delay from groups[i] to groups[j]. */
  readonly lat: readonly (readonly number[])[];
  /** Sets of two or more groups as sorted index lists (sorted by current position), with weights. */
  readonly sets: readonly { readonly members: readonly number[]; readonly weight: number }[];
  readonly workload: Workload;
}

function problemOf(current: CdagOverlay, workload: Workload, latencyMs: GroupLatencyMs): CdagProblem {
  const relevant = new Set<GroupId>();
  for (const set of workload.multi) for (const group of set.dst) relevant.add(group);
  const groups = current.order.filter((group) => relevant.has(group));
  const index = new Map(groups.map((group, i) => [group, i]));
  const sets = workload.multi.map((set) => ({
    members: set.dst.map((group) => index.get(group) as number).sort((a, b) => a - b),
    weight: set.count / workload.total,
  }));
  return { groups, lat: latencyMatrix(groups, latencyMs), sets, workload };
}

/** Mean cost (ms) with the relevant groups in `rank` order (rank[i]: position of group i). */
function meanCost(problem: CdagProblem, rank: readonly number[]): number {
  let sum = 0;
  for (const set of problem.sets) {
    const ordered = [...set.members].sort((a, b) => (rank[a] as number) - (rank[b] as number));
    sum += set.weight * orderedSetCost(ordered, problem.lat);
  }
  return sum;
}

/** The full order: the relevant groups in `rank` order, in the slots they hold in `current`. */
function orderOf(current: CdagOverlay, problem: CdagProblem, rank: readonly number[]): CdagOverlay {
  const byRank = problem.groups.map((_, i) => i).sort((a, b) => (rank[a] as number) - (rank[b] as number));
  const relevant = new Set(problem.groups);
  let next = 0;
  const order = current.order.map((group) =>
    relevant.has(group) ? (problem.groups[byRank[next++] as number] as GroupId) : group,
  );
  return new CdagOverlay(current.name, order);
}

export function optimizeCdag(
  current: CdagOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  options: OptimizeOptions = {},
): OptimizeResult<CdagOverlay> {
  return optimizeCdagWith(current, counts, latencyMs, options, CDAG_ORDER_VARIABLES_MAX_SET);
}

/** `optimizeCdag` with the formulation's threshold exposed (tests cover both formulations). */
export function optimizeCdagWith(
  current: CdagOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  options: OptimizeOptions,
  orderVariablesMaxSet: number,
): OptimizeResult<CdagOverlay> {
  const checked = checkOptions(options);
  const workload = aggregate(counts);
  checkGroups(workload, (group) => current.hasGroup(group), `C-DAG ${current.name}`);
  const problem = problemOf(current, workload, latencyMs);
  const identity = problem.groups.map((_, i) => i);
  const currentCostMs = meanCost(problem, identity);
  const outcome =
    problem.sets.length === 0
      ? { best: null, method: checked.solver, optimal: true, note: "no multicast to two or more groups" }
      : checked.solver === "exhaustive"
        ? exhaustive(current, problem, currentCostMs)
        : ilp(current, problem, currentCostMs, checked, orderVariablesMaxSet);
  return decide(current, currentCostMs, outcome, checked.minGainFraction);
}

function exhaustive(
  current: CdagOverlay,
  problem: CdagProblem,
  currentCostMs: number,
): SearchOutcome<CdagOverlay> {
  const n = problem.groups.length;
  if (n > CDAG_EXHAUSTIVE_MAX_GROUPS)
    throw new Error(
      `exhaustive C-DAG search refuses ${n} groups (at most ${CDAG_EXHAUSTIVE_MAX_GROUPS}, ${n}! orders); use the ILP`,
    );
  let bestRank: number[] | null = null;
  let bestCost = currentCostMs;
  // Heap's algorithm over the relevant groups; perm[p] is the group at position p.
  const perm = problem.groups.map((_, i) => i);
  const rank: number[] = new Array(n).fill(0);
  const visit = (): void => {
    perm.forEach((group, position) => {
      rank[group] = position;
    });
    const cost = meanCost(problem, rank);
    if (cost < bestCost) {
      bestCost = cost;
      bestRank = [...rank];
    }
  };
  const c: number[] = new Array(n).fill(0);
  visit();
  for (let i = 1; i < n; ) {
    if ((c[i] as number) < i) {
      const j = i % 2 === 0 ? 0 : (c[i] as number);
      [perm[j], perm[i]] = [perm[i] as number, perm[j] as number];
      visit();
      c[i] = (c[i] as number) + 1;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
  const found: number[] | null = bestRank;
  return {
    best:
      found === null
        ? { overlay: current, costMs: currentCostMs }
        : { overlay: orderOf(current, problem, found), costMs: bestCost },
    method: "exhaustive",
    optimal: true,
    note: "",
  };
}

/**
 * The C-DAG ILP over the relevant groups 0..k-1:
 *   - x(i,j) binary for i < j: 1 when i comes before j (before(j,i) = 1 - x(i,j)), not for every
 *     pair but for the edges of a chordal completion of the graph of pairs that share a
 *     destination set (`chordalCompletion`): the pairs whose order matters, plus fill edges;
 *   - transitivity on the triangles of that graph, two constraints per triangle i < j < l, which
 *     forbid both directed 3-cycles; in a chordal graph that rules out every directed cycle, so the
 *     orientation extends to a total order (`topologicalRank`). Triangles inside a set with order
 *     variables (below) need none: those variables imply transitivity there;
 *   - per destination set D of two groups {a, b}: its cost is linear in x(a,b),
 *     lat(b,a) + (lat(a,b) - lat(b,a)) x(a,b), straight into the objective;
 *   - per set of 3..5 groups: a continuous y(D,π) >= 0 for each order π of D's members with
 *     sum_π y = 1 and, per pair i < j of D, sum of y over the orders with i before j = x(i,j). With
 *     x integral these force y to the indicator of D's actual order, so
 *     cost(D) = sum_π cost(π) y(D,π) exactly, where cost(π) is `orderedSetCost` itself: the very
 *     function the exhaustive search evaluates;
 *   - per larger set: cost variable c(D) >= 0 and, for each path P = (p1..pm) through distinct
 *     members, c(D) >= L(P) (sum over P's hops of before(hop) - (m - 2)), a big-M constraint (M =
 *     L(P)) that binds exactly when P follows the order. The longest such path is the cost. A path
 *     is left out when inserting any other member w between two of its hops u, v never shortens it
 *     (lat(u,w) + lat(w,v) >= lat(u,v)): whatever the order, a path at least as long is active.
 *   - objective: sum over sets of count/total x cost(D), the mean cost in ms;
 *   - a cut-off: the objective is at most the current order's cost (which satisfies it), so the
 *     search prunes anything worse from the start.
 */
export function buildCdagIlp(
  problem: Pick<CdagProblem, "groups" | "lat" | "sets">,
  cutoffMs: number | null,
  orderVariablesMaxSet = CDAG_ORDER_VARIABLES_MAX_SET,
): { model: LinearModel; pairs: number[][]; constant: number } {
  const k = problem.groups.length;
  const model = new LinearModel();
  const { edges, triangles } = chordalCompletion(
    k,
    problem.sets.map((set) => set.members),
  );
  const pairs: number[][] = Array.from({ length: k }, () => new Array(k).fill(-1));
  for (const [i, j] of edges) (pairs[i] as number[])[j] = model.addVariable(`x_${i}_${j}`, { integer: true });
  const x = (i: number, j: number): number => {
    const variable = (pairs[i] as number[])[j] as number;
    if (variable < 0) throw new Error(`no order variable for groups ${i} and ${j}`);
    return variable;
  };
  // Within a set that gets order variables, transitivity follows from them.
  const implied = new Set<string>();
  for (const set of problem.sets)
    if (set.members.length > 2 && set.members.length <= orderVariablesMaxSet)
      for (const [i, j, l] of triplesOf(set.members)) implied.add(`${i},${j},${l}`);
  for (const [i, j, l] of triangles) {
    if (implied.has(`${i},${j},${l}`)) continue;
    model.addConstraint(
      [
        [x(i, j), 1],
        [x(j, l), 1],
        [x(i, l), -1],
      ],
      { max: 1 },
    );
    model.addConstraint(
      [
        [x(i, j), -1],
        [x(j, l), -1],
        [x(i, l), 1],
      ],
      { max: 0 },
    );
  }

  // before(u, v) as (terms, constant).
  const before = (u: number, v: number, scale: number, terms: [number, number][]): number => {
    if (u < v) {
      terms.push([x(u, v), scale]);
      return 0;
    }
    terms.push([x(v, u), -scale]);
    return scale;
  };

  const objective: [number, number][] = [];
  let constant = 0;
  problem.sets.forEach((set, s) => {
    const members = set.members;
    if (members.length === 2) {
      const [a, b] = members as [number, number];
      const ab = problem.lat[a]?.[b] as number;
      const ba = problem.lat[b]?.[a] as number;
      constant += set.weight * ba;
      if (ab !== ba) objective.push([x(a, b), set.weight * (ab - ba)]);
      return;
    }
    if (members.length <= orderVariablesMaxSet) {
      const orders = permutations(members);
      const ys = orders.map((order, o) =>
        model.addVariable(`y_${s}_${o}`, { objective: set.weight * orderedSetCost(order, problem.lat) }),
      );
      model.addConstraint(
        ys.map((y) => [y, 1] as const),
        { equal: 1 },
      );
      for (let p = 0; p < members.length; p++)
        for (let q = p + 1; q < members.length; q++) {
          const i = members[p] as number;
          const j = members[q] as number;
          const terms: [number, number][] = [[x(i, j), -1]];
          orders.forEach((order, o) => {
            if (order.indexOf(i) < order.indexOf(j)) terms.push([ys[o] as number, 1]);
          });
          model.addConstraint(terms, { equal: 0 });
        }
      return;
    }
    const c = model.addVariable(`c_${s}`, { objective: set.weight });
    for (const path of candidatePaths(members, problem.lat)) {
      const length = pathLength(path, problem.lat);
      if (length <= 0) continue;
      const terms: [number, number][] = [[c, 1]];
      let rhs = -length * (path.length - 2);
      for (let h = 0; h + 1 < path.length; h++)
        rhs -= before(path[h] as number, path[h + 1] as number, -length, terms);
      // c - L * sum(before) >= -L (m - 2); before() moved its constants to the left side.
      model.addConstraint(terms, { min: rhs });
    }
  });
  for (const [variable, coefficient] of objective) model.setObjective(variable, coefficient);
  if (cutoffMs !== null) {
    const terms = model.objectiveTerms();
    if (terms.length > 0)
      model.addConstraint(terms, { max: cutoffMs - constant + 1e-7 * Math.max(1, Math.abs(cutoffMs)) });
  }
  return { model, pairs, constant };
}

function ilp(
  current: CdagOverlay,
  problem: CdagProblem,
  currentCostMs: number,
  options: CheckedOptions,
  orderVariablesMaxSet: number,
): SearchOutcome<CdagOverlay> {
  const { model, pairs } = buildCdagIlp(problem, currentCostMs, orderVariablesMaxSet);
  const outcome = solveIlp(model, options.timeLimitMs);
  if (outcome.status === "no-solution")
    return { best: null, method: "fallback", optimal: false, note: "the ILP timed out without a solution" };
  if (outcome.status === "stalled")
    return { best: null, method: "fallback", optimal: false, note: "the LP solver stalled (cycling)" };
  if (outcome.status === "too-large")
    return { best: null, method: "fallback", optimal: false, note: tooLarge(model) };
  if (outcome.status === "infeasible")
    // The cut-off admits the current order, so this is numerical trouble; keep the current order.
    return {
      best: null,
      method: "fallback",
      optimal: false,
      note: "the ILP found no order (numerical trouble)",
    };
  const rank = topologicalRank(problem.groups.length, pairs, outcome.values);
  if (rank === null)
    return {
      best: null,
      method: "fallback",
      optimal: false,
      note: "the ILP solution has a cycle (numerical trouble)",
    };
  const costMs = meanCost(problem, rank);
  const optimal = outcome.status === "optimal";
  if (costMs >= currentCostMs)
    return { best: { overlay: current, costMs: currentCostMs }, method: "ilp", optimal, note: "" };
  return { best: { overlay: orderOf(current, problem, rank), costMs }, method: "ilp", optimal, note: "" };
}

/** Variable, constraint and integer-variable counts of the C-DAG ILP for this instance. */
export function cdagIlpStats(
  current: CdagOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
): ModelStats & { readonly relevantGroups: number; readonly sets: number } {
  const workload = aggregate(counts);
  checkGroups(workload, (group) => current.hasGroup(group), `C-DAG ${current.name}`);
  const problem = problemOf(current, workload, latencyMs);
  const { model } = buildCdagIlp(
    problem,
    meanCost(
      problem,
      problem.groups.map((_, i) => i),
    ),
  );
  return { ...model.stats(), relevantGroups: problem.groups.length, sets: problem.sets.length };
}

export function permutations(items: readonly number[]): number[][] {
  if (items.length <= 1) return [[...items]];
  const out: number[][] = [];
  items.forEach((item, index) => {
    const rest = [...items.slice(0, index), ...items.slice(index + 1)];
    for (const tail of permutations(rest)) out.push([item, ...tail]);
  });
  return out;
}

function pathLength(path: readonly number[], lat: readonly (readonly number[])[]): number {
  let length = 0;
  for (let h = 0; h + 1 < path.length; h++)
    length += lat[path[h] as number]?.[path[h + 1] as number] as number;
  return length;
}

/** Paths (sequences of >= 2 distinct members) that may be the longest one for some order. */
function candidatePaths(members: readonly number[], lat: readonly (readonly number[])[]): number[][] {
  const out: number[][] = [];
  const extend = (path: number[], used: Set<number>): void => {
    if (path.length >= 2 && !dominated(path, members, used, lat)) out.push([...path]);
    for (const next of members) {
      if (used.has(next)) continue;
      used.add(next);
      path.push(next);
      extend(path, used);
      path.pop();
      used.delete(next);
    }
  };
  extend([], new Set());
  return out;
}

function dominated(
  path: readonly number[],
  members: readonly number[],
  used: ReadonlySet<number>,
  lat: readonly (readonly number[])[],
): boolean {
  if (path.length === members.length) return false;
  for (const w of members) {
    if (used.has(w)) continue;
    for (let h = 0; h + 1 < path.length; h++) {
      const u = path[h] as number;
      const v = path[h + 1] as number;
      if ((lat[u]?.[w] as number) + (lat[w]?.[v] as number) < (lat[u]?.[v] as number)) return false;
    }
  }
  return true;
}

/**
 * Makes the graph of pairs that share a destination set chordal (greedy minimum-degree
 * elimination, ties by index) and lists its edges and triangles (as sorted index pairs and
 * triples). In a chordal graph an orientation with no directed triangle has no directed cycle at
 * all (a shortest directed cycle longer than 3 has a chord, which splits it into a shorter directed
 * one), so transitivity on these triangles is enough for the order variables to extend to a total
 * order, without a variable for every pair and a constraint for every triple of groups.
 */
export function chordalCompletion(
  k: number,
  cliques: readonly (readonly number[])[],
): { edges: [number, number][]; triangles: [number, number, number][] } {
  const adjacent: Set<number>[] = Array.from({ length: k }, () => new Set<number>());
  const link = (a: number, b: number): void => {
    if (a === b) return;
    (adjacent[a] as Set<number>).add(b);
    (adjacent[b] as Set<number>).add(a);
  };
  for (const clique of cliques) for (const a of clique) for (const b of clique) link(a, b);
  const edges = new Set<string>();
  const triangles = new Set<string>();
  const key = (...items: number[]): string => items.sort((a, b) => a - b).join(",");
  for (let a = 0; a < k; a++) for (const b of adjacent[a] as Set<number>) if (a < b) edges.add(key(a, b));
  const remaining = new Set(Array.from({ length: k }, (_, i) => i));
  while (remaining.size > 0) {
    let v = -1;
    let best = Number.POSITIVE_INFINITY;
    for (const candidate of remaining) {
      const degree = (adjacent[candidate] as Set<number>).size;
      if (degree < best) {
        best = degree;
        v = candidate;
      }
    }
    const neighbours = [...(adjacent[v] as Set<number>)].sort((a, b) => a - b);
    for (let p = 0; p < neighbours.length; p++)
      for (let q = p + 1; q < neighbours.length; q++) {
        const a = neighbours[p] as number;
        const b = neighbours[q] as number;
        link(a, b);
        edges.add(key(a, b));
        triangles.add(key(v, a, b));
      }
    for (const neighbour of neighbours) (adjacent[neighbour] as Set<number>).delete(v);
    remaining.delete(v);
  }
  const parse = (text: string): number[] => text.split(",").map(Number);
  return {
    edges: [...edges]
      .map((text) => parse(text) as [number, number])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1]),
    triangles: [...triangles]
      .map((text) => parse(text) as [number, number, number])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]),
  };
}

function triplesOf(members: readonly number[]): [number, number, number][] {
  const out: [number, number, number][] = [];
  const sorted = [...members].sort((a, b) => a - b);
  for (let p = 0; p < sorted.length; p++)
    for (let q = p + 1; q < sorted.length; q++)
      for (let r = q + 1; r < sorted.length; r++)
        out.push([sorted[p] as number, sorted[q] as number, sorted[r] as number]);
  return out;
}

/**
 * Ranks from the order variables: a topological order of the oriented pairs, ties (groups the
 * pairs leave unordered) broken by current position. Null when the orientation has a cycle.
 */
function topologicalRank(
  k: number,
  pairs: readonly (readonly number[])[],
  values: readonly number[],
): number[] | null {
  const successors: number[][] = Array.from({ length: k }, () => []);
  const indegree: number[] = new Array(k).fill(0);
  for (let i = 0; i < k; i++)
    for (let j = i + 1; j < k; j++) {
      const variable = (pairs[i] as number[])[j] as number;
      if (variable < 0) continue;
      const [from, to] = (values[variable] as number) > 0.5 ? [i, j] : [j, i];
      (successors[from] as number[]).push(to);
      indegree[to] = (indegree[to] as number) + 1;
    }
  const rank: number[] = new Array(k).fill(-1);
  const ready = new Set<number>();
  for (let v = 0; v < k; v++) if (indegree[v] === 0) ready.add(v);
  for (let position = 0; position < k; position++) {
    if (ready.size === 0) return null;
    const v = Math.min(...ready);
    ready.delete(v);
    rank[v] = position;
    for (const w of successors[v] as number[]) {
      indegree[w] = (indegree[w] as number) - 1;
      if (indegree[w] === 0) ready.add(w);
    }
  }
  return rank;
}
