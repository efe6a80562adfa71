/**
 * The C-DAG ILP: the order of the relevant groups (see cdag-problem.ts) of least mean latency by
 * FlexCast's model (`flexcastSpanLatencyMs`), encoded exactly as constraints.
 *
 * Over the relevant groups 0..k-1, delays in units of the largest one (big-M rows mix M with
 * delays and 0/1 variables; the solver's dense tableau is numerically safer with all of them near
 * 1), B = k - 1 units bounding every time below (a path through the order has at most k - 1 hops):
 *   - x(i,j) binary for i < j: i comes before j; before(j,i) = 1 - x(i,j); transitivity on every
 *     triple (two rows forbid both directed 3-cycles; a tournament without one is a total order);
 *   - per destination set D (members M, weight w = count / total), times relative to the lca's:
 *     T(d) >= 0 for a member d, and for every other group t: A(t) in [0, 1] ("t is in D's span",
 *     between two members), L(t) (when t answers last) and F(t) (when it notifies: its first
 *     notification), all >= 0 and unbounded above. Every row below is a lower bound that binds
 *     only when its condition holds (big-M on before() and A(), valid while every time is at most
 *     B), and the objective pushes every variable down to the largest bound that binds, which is
 *     the model's value (at most B: no upper-bound rows needed):
 *       A(t) >= before(a,t) + before(t,b) - 1                   for members a != b,
 *       T(d) >= T(a) + lat(a,d)       if a before d             (copies and acknowledgements),
 *       T(d) >= L(t) + lat(t,d)       if t before d, A(t)       (a notified group's answers),
 *       L(t) >= T(a) + lat(a,t)       if a before t             (a member's notification),
 *       L(t) >= F(u) + lat(u,t)       if u before t, A(u)       (a notified group's notification),
 *       F(t) >= lat(d,t)              if d is the lca and d before t, unless S(t,a) = 1 for some a,
 *       F(t) >= E(a) + lat(a,t)       if S(t,a) = 1 (E = T for members, F otherwise),
 *     with S(t,a) binary, S(t,a) <= before(a,t), S(t,a) <= sum over members d of before(d,a) (a is
 *     in the span), sum_a S(t,a) <= 1: F(t) is the minimum over the participants above t, the
 *     minimiser picking which. S exists only where a route through a can beat the lca's direct
 *     notification (the shortest delay from some member to a plus lat(a,t) below lat(member,t));
 *     with the triangle inequality there is none;
 *   - cost(D) >= T(d) for every member d (the last one's is the largest); the client's leg
 *     leg(D) >= leg(d) - leg(d) sum_{d' != d} before(d',d) (binds for the lca);
 *   - valid bounds that tighten the relaxation: for |D| = 2 (members a, b), cost(D) >= lat(a,b)
 *     before(a,b) + lat(b,a) before(b,a) and the same for the leg, exact for the leg; for
 *     3..`orderVariablesMaxSet` members, y(D,π) >= 0 per order π of the members, sum_π y = 1 and,
 *     per pair i < j, sum of y over the orders with i before j = before(i,j): integral x make y the
 *     indicator of D's order, so cost(D) >= sum_π y(D,π) (the model on the members alone, lca at
 *     0) and leg(D) >= sum_π y(D,π) leg(first of π);
 *   - objective: sum over sets of w (cost(D) + leg(D)) in ms, plus the constant; cut-off: at most
 *     the best known order's mean, so the branch and bound prunes everything worse.
 */
import { flexcastSpanLatencyMs } from "@amcast/flexcast";
import type { CdagProblem } from "./cdag-problem.js";
import { LinearModel } from "./lp.js";

/** Sets of up to this many members get order variables y (tightening, see the file comment). */
export const CDAG_ORDER_VARIABLES_MAX_SET = 4;

/** Improvements smaller than this (ms) are rounding, not a route that beats a direct one. */
const EPSILON_MS = 1e-9;

export interface CdagIlp {
  readonly model: LinearModel;
  /** pairs[i][j] (i < j, indices into `problem.relevant`): the variable x(i,j). */
  readonly pairs: readonly (readonly number[])[];
  /** The objective's constant (ms): the model's objective plus this is the mean latency. */
  readonly constantMs: number;
}

/** A linear expression: terms over variables plus a constant. */
class Expression {
  readonly terms: [number, number][] = [];
  constant = 0;

  add(variable: number, coefficient: number): this {
    if (coefficient !== 0) this.terms.push([variable, coefficient]);
    return this;
  }
}

export function buildCdagIlp(
  problem: CdagProblem,
  cutoffMs: number | null,
  orderVariablesMaxSet = CDAG_ORDER_VARIABLES_MAX_SET,
): CdagIlp {
  const groups = problem.relevant;
  const k = groups.length;
  const local = new Map(groups.map((group, i) => [group, i]));
  let unitMs = 1e-3;
  for (const u of groups)
    for (const v of groups) if (u !== v) unitMs = Math.max(unitMs, problem.lat[u]?.[v] as number);
  const lat = (i: number, j: number): number =>
    (problem.lat[groups[i] as number]?.[groups[j] as number] as number) / unitMs;
  const bound = Math.max(1, k - 1);
  const model = new LinearModel();

  const pairs: number[][] = Array.from({ length: k }, () => new Array(k).fill(-1));
  for (let i = 0; i < k; i++)
    for (let j = i + 1; j < k; j++)
      (pairs[i] as number[])[j] = model.addVariable(`x_${i}_${j}`, { integer: true });
  const x = (i: number, j: number): number => (pairs[i] as number[])[j] as number;
  /** Adds scale x before(u,v) to `expression`. */
  const before = (expression: Expression, u: number, v: number, scale: number): Expression => {
    if (u < v) return expression.add(x(u, v), scale);
    expression.constant += scale;
    return expression.add(x(v, u), -scale);
  };
  /** expression >= rhs. */
  const atLeast = (expression: Expression, rhs: number): void =>
    model.addConstraint(expression.terms, { min: rhs - expression.constant });
  const atMost = (expression: Expression, rhs: number): void =>
    model.addConstraint(expression.terms, { max: rhs - expression.constant });

  for (let i = 0; i < k; i++)
    for (let j = i + 1; j < k; j++)
      for (let l = j + 1; l < k; l++) {
        atMost(new Expression().add(x(i, j), 1).add(x(j, l), 1).add(x(i, l), -1), 1);
        atMost(new Expression().add(x(i, j), -1).add(x(j, l), -1).add(x(i, l), 1), 0);
      }

  // Shortest delays (units) between relevant groups: no participant can be reached sooner.
  const shortest = Array.from({ length: k }, (_, u) =>
    Array.from({ length: k }, (__, v) => (u === v ? 0 : lat(u, v))),
  );
  for (let w = 0; w < k; w++)
    for (let u = 0; u < k; u++)
      for (let v = 0; v < k; v++) {
        const through = (shortest[u]?.[w] as number) + (shortest[w]?.[v] as number);
        if (through < (shortest[u]?.[v] as number)) (shortest[u] as number[])[v] = through;
      }

  const objective: [number, number][] = [];
  let constantMs = problem.constantMs;
  problem.sets.forEach((set, s) => {
    const members = set.members.map((group) => local.get(group) as number).sort((a, b) => a - b);
    const isMember = new Set(members);
    const others = Array.from({ length: k }, (_, t) => t).filter((t) => !isMember.has(t));
    const weightMs = set.weight * unitMs;
    const legOf = (d: number): number => (set.legs[groups[d] as number] as number) / unitMs;

    const cost = model.addVariable(`c_${s}`, { objective: weightMs });
    objective.push([cost, weightMs]);
    const T = new Map(members.map((d) => [d, model.addVariable(`T_${s}_${d}`)]));
    const A = new Map(others.map((t) => [t, model.addVariable(`A_${s}_${t}`)]));
    const L = new Map(others.map((t) => [t, model.addVariable(`L_${s}_${t}`)]));
    const F = new Map(others.map((t) => [t, model.addVariable(`F_${s}_${t}`)]));
    const t_ = (d: number): number => T.get(d) as number;
    const a_ = (t: number): number => A.get(t) as number;
    const l_ = (t: number): number => L.get(t) as number;
    const f_ = (t: number): number => F.get(t) as number;

    for (const d of members) atLeast(new Expression().add(cost, 1).add(t_(d), -1), 0);
    for (const t of others)
      for (const a of members)
        for (const b of members)
          if (a !== b) atLeast(before(before(new Expression().add(a_(t), 1), a, t, -1), t, b, -1), -1);
    // Y >= X + delay when the conditions hold: Y - X - M (conditions) >= delay - M (conditions).
    for (const d of members)
      for (const a of members) {
        if (a === d) continue;
        const big = bound + lat(a, d);
        atLeast(before(new Expression().add(t_(d), 1).add(t_(a), -1), a, d, -big), lat(a, d) - big);
      }
    for (const d of members)
      for (const t of others) {
        const big = bound + lat(t, d);
        const row = before(new Expression().add(t_(d), 1).add(l_(t), -1).add(a_(t), -big), t, d, -big);
        atLeast(row, lat(t, d) - 2 * big);
      }
    for (const t of others) {
      for (const a of members) {
        const big = bound + lat(a, t);
        atLeast(before(new Expression().add(l_(t), 1).add(t_(a), -1), a, t, -big), lat(a, t) - big);
      }
      for (const u of others) {
        if (u === t) continue;
        const big = bound + lat(u, t);
        const row = before(new Expression().add(l_(t), 1).add(f_(u), -1).add(a_(u), -big), u, t, -big);
        atLeast(row, lat(u, t) - 2 * big);
      }
      // F(t): the lca's direct notification, unless a route through another participant is chosen.
      const routes: number[] = [];
      for (const a of [...members, ...others]) {
        if (a === t) continue;
        const beats = members.some(
          (d) => d !== a && (shortest[d]?.[a] as number) + lat(a, t) < lat(d, t) - EPSILON_MS / unitMs,
        );
        if (!beats) continue;
        const choice = model.addVariable(`S_${s}_${t}_${a}`, { integer: true });
        routes.push(choice);
        const big = bound + lat(a, t);
        const emitted = isMember.has(a) ? t_(a) : f_(a);
        atLeast(new Expression().add(f_(t), 1).add(emitted, -1).add(choice, -big), lat(a, t) - big);
        atMost(before(new Expression().add(choice, 1), a, t, -1), 0);
        if (!isMember.has(a)) {
          const inSpan = new Expression().add(choice, 1);
          for (const d of members) before(inSpan, d, a, -1);
          atMost(inSpan, 0);
        }
      }
      if (routes.length > 1)
        model.addConstraint(
          routes.map((choice) => [choice, 1] as const),
          { max: 1 },
        );
      for (const d of members) {
        const direct = lat(d, t);
        const row = before(new Expression().add(f_(t), 1), d, t, -direct);
        for (const other of members) if (other !== d) before(row, other, d, direct);
        for (const choice of routes) row.add(choice, direct);
        atLeast(row, 0);
      }
    }

    // The client's leg, and the valid bounds on the members alone.
    const legs = members.map(legOf);
    const legVaries = legs.some((leg) => Math.abs(leg - (legs[0] as number)) > EPSILON_MS / unitMs);
    const leg = legVaries ? model.addVariable(`leg_${s}`, { objective: weightMs }) : -1;
    if (leg >= 0) objective.push([leg, weightMs]);
    const legConstantMs = legVaries ? 0 : set.weight * (legs[0] as number) * unitMs;
    if (members.length === 2) {
      const [a, b] = members as [number, number];
      atLeast(before(before(new Expression().add(cost, 1), a, b, -lat(a, b)), b, a, -lat(b, a)), 0);
      if (leg >= 0)
        atLeast(before(before(new Expression().add(leg, 1), a, b, -legOf(a)), b, a, -legOf(b)), 0);
    } else if (members.length <= orderVariablesMaxSet) {
      const orders = permutations(members);
      const ys = orders.map((_, o) => model.addVariable(`y_${s}_${o}`));
      model.addConstraint(
        ys.map((y) => [y, 1] as const),
        { equal: 1 },
      );
      for (let p = 0; p < members.length; p++)
        for (let q = p + 1; q < members.length; q++) {
          const i = members[p] as number;
          const j = members[q] as number;
          const row = new Expression().add(x(i, j), -1);
          orders.forEach((order, o) => {
            if (order.indexOf(i) < order.indexOf(j)) row.add(ys[o] as number, 1);
          });
          model.addConstraint(row.terms, { equal: 0 });
        }
      const floor = new Expression().add(cost, 1);
      orders.forEach((order, o) => {
        floor.add(ys[o] as number, -flexcastSpanLatencyMs(order, () => true, 0, lat));
      });
      atLeast(floor, 0);
      if (leg >= 0) {
        const legFloor = new Expression().add(leg, 1);
        orders.forEach((order, o) => {
          legFloor.add(ys[o] as number, -legOf(order[0] as number));
        });
        atLeast(legFloor, 0);
      }
    }
    if (leg >= 0 && members.length > 2)
      for (const d of members) {
        const row = new Expression().add(leg, 1);
        for (const other of members) if (other !== d) before(row, other, d, legOf(d));
        atLeast(row, legOf(d));
      }
    constantMs += legConstantMs;
  });
  if (cutoffMs !== null && objective.length > 0)
    model.addConstraint(objective, {
      max: cutoffMs - constantMs + 1e-7 * Math.max(1, Math.abs(cutoffMs)),
    });
  return { model, pairs, constantMs };
}

/**
 * Tableau cells (rows x columns) of the ILP `buildCdagIlp` would build, estimated from the
 * instance's shape without building it (a model too large for the solver is not worth building).
 */
export function cdagIlpCellsEstimate(problem: CdagProblem): number {
  const k = problem.relevant.length;
  let rows = (k * (k - 1) * (k - 2)) / 3;
  let columns = (k * (k - 1)) / 2;
  for (const set of problem.sets) {
    const m = set.members.length;
    const others = k - m;
    rows += m + m * (m - 1) * (others + 1) + 4 * m * others + others * (others - 1) + 2;
    columns += m + 3 * others + 2;
  }
  return rows * columns;
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

/**
 * The relevant groups' order from the x values (a total order by transitivity): group i's
 * position is the number of groups before it. Null when the values do not form one (numerical
 * trouble).
 */
export function orderFromPairs(
  problem: CdagProblem,
  pairs: readonly (readonly number[])[],
  values: readonly number[],
): number[] | null {
  const k = problem.relevant.length;
  const position: number[] = new Array(k).fill(0);
  for (let i = 0; i < k; i++)
    for (let j = i + 1; j < k; j++) {
      const later = (values[(pairs[i] as number[])[j] as number] as number) > 0.5 ? j : i;
      position[later] = (position[later] as number) + 1;
    }
  const order: number[] = new Array(k).fill(-1);
  for (let i = 0; i < k; i++) {
    const at = position[i] as number;
    if (order[at] !== -1) return null;
    order[at] = problem.relevant[i] as number;
  }
  return order;
}
