/**
 * The tree ILP: the ByzCast tree of least mean latency (ByzCast's model, `treeCostMs`: the
 * client's leg to the lca, then down the tree), optionally under a per-group load limit
 * (`treeLoads`), over the search space described in tree.ts.
 *
 * The model is compact on purpose: javascript-lp-solver keeps a dense tableau, so its size is
 * (constraints) x (variables) cells, and a formulation with a flow per destination (n^3 variables)
 * is out of reach beyond 6-7 groups. This one has O(n^2) variables, O(n^3) sparse constraints
 * (the ancestry rows) and O(n) rows per pair of targets that some multicast addresses together.
 *
 * Over groups 0..n-1 (lat(u,v) > 0 the modelled delay from u to v; an edge u -> v means u is v's
 * parent; M an upper bound on any root-to-group delay):
 *   - p(u,v), r(v) binary: u is v's parent / v is the root; sum_u p(u,v) + r(v) = 1 for every v,
 *     sum_v r(v) = 1; every auxiliary group has a child: sum_w p(a,w) >= 1.
 *   - W(v) in [0, M], v's delay from the root: W(v) <= M (1 - r(v)), and when p(u,v) = 1,
 *     W(v) = W(u) + lat(u,v) (two big-M rows per pair). Delays are positive, so W strictly grows
 *     along parent edges: no cycle, and the parent edges form one tree below the root.
 *   - x(g,v) in [0, 1] (g != v), "g is a proper ancestor of v" (x'(g,v): the same, 1 when g = v):
 *     x(g,v) <= 1 - r(v), and for every possible parent u of v, when p(u,v) = 1,
 *     x(g,v) = x'(g,u) (two rows). With integral p this fixes x by induction from the root.
 *   - for a pair of targets a, b: L(a,b) <= W(lca(a,b)). L(a,b) <= W(a), L(a,b) <= W(b), and for
 *     every g != b: if g is an ancestor-or-self of a and not of b, the lca is above g, so
 *       L(a,b) <= W(g) - sum_u lat(u,g) p(u,g) + M (1 - x'(g,a)) + M x(g,b)
 *     (W(g) less the delay of its parent edge is its parent's W). The same with a and b swapped.
 *     The child of the lca on the side of a (or of b, when the lca is a) makes the bound exact.
 *   - a destination set D = {d0 < d1 < ...}: lca(D) is the highest of the lca(d0, di), so
 *     L(D) <= L(d0, di) for every i (L(D) is the pair's L for two destinations), and
 *       cost(D) >= W(d) - L(D)   for every d in D.
 *     Minimising pushes L up to W(lca(D)) and cost(D) down to max_d W(d) - W(lca(D)), the cost
 *     model's max over D of the delay from the lca down to d.
 *   - "g is above lca(D)": one child c of g holds all of D below it: k(D,g,c) in [0, 1] with
 *     k(D,g,c) <= p(g,c) and k(D,g,c) <= x'(c,d) for every d in D; at most one child can, so
 *     sum_c k(D,g,c) is the indicator once p is integral (the rows that use it push k up).
 *   - the client's leg: leg(D,g) is the mean leg of D's multicasts if g is their lca. With
 *     z(D,g) >= sum_d x'(g,d) - (|D| - 1) - sum_c k(D,g,c), z is 1 at the lca (an ancestor of
 *     every d, not above the lca) and may be 0 elsewhere; the leg costs min_g leg(D,g) plus
 *     sum_g z(D,g) (leg(D,g) - min_g leg(D,g)).
 *   - objective: sum over sets of count / total x (cost(D) + leg), plus the legs of single-group
 *     multicasts: the mean latency in ms; cut-off: at most the best known tree's, so the branch
 *     and bound prunes everything worse.
 *   - with a load limit: a group g not in D orders D when it is an ancestor of some destination
 *     and not above lca(D): u(D,g) >= x(g,d) - sum_c k(D,g,c) for every d in D (u = 1 for g in
 *     D), and sum_D count(D) u(D,g) <= limit - (multicasts to g alone)   for every group g.
 */
import { LinearModel } from "./lp.js";
import type { TreeProblem } from "./tree-problem.js";

/**
 * The delay the model uses between two distinct groups: the latency, at least this. Two groups in
 * one region may be 0 ms apart, and W must grow strictly along edges to rule cycles out. Every
 * tree the ILP returns is costed again with the real latencies, and the cut-off is loosened by
 * n times this (a root path has fewer than n edges).
 */
export const MODELLED_DELAY_MIN_MS = 1e-3;

export interface TreeIlp {
  readonly model: LinearModel;
  /** parentVar[u][v]: the variable p(u,v) (-1 where u === v). */
  readonly parentVar: readonly (readonly number[])[];
  readonly rootVar: readonly number[];
  /** The objective's constant (ms): the model's objective plus this is the mean cost. */
  readonly constantMs: number;
}

/** Differences in a client's leg below this (ms) are not worth a variable. */
const LEG_EPSILON_MS = 1e-9;

export function buildTreeIlp(input: TreeProblem, cutoffMs: number | null): TreeIlp {
  const n = input.groups.length;
  const { target } = input;
  // Delays in units of the largest one: big-M rows mix M with delays and 0/1 variables, and the
  // solver's dense tableau (tolerance 1e-9) is numerically safer with all of them near 1.
  let unitMs = MODELLED_DELAY_MIN_MS;
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++) if (u !== v) unitMs = Math.max(unitMs, input.lat[u]?.[v] as number);
  const lat = (u: number, v: number): number =>
    Math.max(input.lat[u]?.[v] as number, MODELLED_DELAY_MIN_MS) / unitMs;
  let deepestUnits = 0;
  for (let v = 0; v < n; v++) {
    let most = 0;
    for (let u = 0; u < n; u++)
      if (u !== v) {
        most = Math.max(most, lat(u, v));
      }
    deepestUnits += most;
  }
  // Every root path has at most n - 1 edges, each into a distinct group.
  const bigM = deepestUnits;
  const model = new LinearModel();

  const parentVar: number[][] = Array.from({ length: n }, () => new Array(n).fill(-1));
  for (let u = 0; u < n; u++)
    for (let v = 0; v < n; v++)
      if (u !== v) (parentVar[u] as number[])[v] = model.addVariable(`p_${u}_${v}`, { integer: true });
  const p = (u: number, v: number): number => (parentVar[u] as number[])[v] as number;
  const rootVar = Array.from({ length: n }, (_, v) => model.addVariable(`r_${v}`, { integer: true }));
  const r = (v: number): number => rootVar[v] as number;
  for (let v = 0; v < n; v++) {
    const terms: [number, number][] = [[r(v), 1]];
    for (let u = 0; u < n; u++) if (u !== v) terms.push([p(u, v), 1]);
    model.addConstraint(terms, { equal: 1 });
  }
  model.addConstraint(
    rootVar.map((variable) => [variable, 1] as const),
    { equal: 1 },
  );
  for (let a = 0; a < n; a++) {
    if (target[a]) continue;
    const children: [number, number][] = [];
    for (let w = 0; w < n; w++) if (w !== a) children.push([p(a, w), 1]);
    model.addConstraint(children, { min: 1 });
  }

  // W: delays from the root.
  const rootDelay = Array.from({ length: n }, (_, v) => model.addVariable(`W_${v}`, { upper: bigM }));
  const W = (v: number): number => rootDelay[v] as number;
  for (let v = 0; v < n; v++) {
    model.addConstraint(
      [
        [W(v), 1],
        [r(v), bigM],
      ],
      { max: bigM },
    );
    for (let u = 0; u < n; u++) {
      if (u === v) continue;
      const edgeUnits = lat(u, v);
      // W(v) - W(u) >= lat - (M + lat)(1 - p)  and  W(v) - W(u) <= lat + M (1 - p).
      model.addConstraint(
        [
          [W(v), 1],
          [W(u), -1],
          [p(u, v), -(bigM + edgeUnits)],
        ],
        { min: -bigM },
      );
      model.addConstraint(
        [
          [W(v), 1],
          [W(u), -1],
          [p(u, v), bigM],
        ],
        { max: edgeUnits + bigM },
      );
    }
  }
  /** W(g) - (delay of g's parent edge), as terms: g's parent's W (0 at the root). */
  const parentW = (g: number): [number, number][] => {
    const terms: [number, number][] = [[W(g), 1]];
    for (let u = 0; u < n; u++) if (u !== g) terms.push([p(u, g), -lat(u, g)]);
    return terms;
  };
  // W(v) is at least the delay of v's parent edge (the parent's W is >= 0): tighter than the
  // big-M rows when p is fractional.
  for (let v = 0; v < n; v++) model.addConstraint(parentW(v), { min: 0 });

  // x: ancestry.
  const ancestorVar: number[][] = Array.from({ length: n }, () => new Array(n).fill(-1));
  for (let g = 0; g < n; g++)
    for (let v = 0; v < n; v++)
      if (g !== v) (ancestorVar[g] as number[])[v] = model.addVariable(`x_${g}_${v}`);
  const x = (g: number, v: number): number => (ancestorVar[g] as number[])[v] as number;
  for (let g = 0; g < n; g++)
    for (let v = 0; v < n; v++) {
      if (g === v) continue;
      model.addConstraint(
        [
          [x(g, v), 1],
          [r(v), 1],
        ],
        { max: 1 },
      );
      for (let u = 0; u < n; u++) {
        if (u === v) continue;
        if (u === g) {
          // x(g,v) >= p(g,v); the upper row is void (x'(g,g) = 1).
          model.addConstraint(
            [
              [x(g, v), 1],
              [p(g, v), -1],
            ],
            { min: 0 },
          );
          continue;
        }
        // x(g,v) >= x(g,u) + p(u,v) - 1  and  x(g,v) <= x(g,u) + 1 - p(u,v).
        model.addConstraint(
          [
            [x(g, v), 1],
            [x(g, u), -1],
            [p(u, v), -1],
          ],
          { min: -1 },
        );
        model.addConstraint(
          [
            [x(g, v), 1],
            [x(g, u), -1],
            [p(u, v), 1],
          ],
          { max: 1 },
        );
      }
    }

  // L for the pairs (d0, di) the sets need.
  const pairVar = new Map<string, number>();
  const pairL = (a: number, b: number): number => {
    const key = `${a},${b}`;
    const known = pairVar.get(key);
    if (known !== undefined) return known;
    const L = model.addVariable(`L_${a}_${b}`, { upper: bigM });
    pairVar.set(key, L);
    for (const side of [a, b])
      model.addConstraint(
        [
          [L, 1],
          [W(side), -1],
        ],
        { max: 0 },
      );
    for (const [one, other] of [
      [a, b],
      [b, a],
    ] as const)
      for (let g = 0; g < n; g++) {
        if (g === other) continue;
        // L - W(g) + lat(parent edge) + M x'(g,one) - M x(g,other) <= M.
        const terms: [number, number][] = [
          [L, 1],
          ...parentW(g).map(([variable, coefficient]): [number, number] => [variable, -coefficient]),
          [x(g, other), -bigM],
        ];
        if (g === one) model.addConstraint(terms, { max: 0 });
        else model.addConstraint([...terms, [x(g, one), bigM]], { max: bigM });
      }
    return L;
  };

  // Shortest delays over any route (Floyd-Warshall): a tree path is one such route.
  const shortest = Array.from({ length: n }, (_, u) =>
    Array.from({ length: n }, (__, v) => (u === v ? 0 : lat(u, v))),
  );
  for (let k = 0; k < n; k++)
    for (let u = 0; u < n; u++)
      for (let v = 0; v < n; v++) {
        const through = (shortest[u]?.[k] as number) + (shortest[k]?.[v] as number);
        if (through < (shortest[u]?.[v] as number)) (shortest[u] as number[])[v] = through;
      }

  const objective: [number, number][] = [];
  /** The objective's constant part (ms): the client's legs every tree pays. */
  let constantMs = input.total === 0 ? 0 : input.singleLegsMs / input.total;
  const loadTerms: [number, number][][] = Array.from({ length: n }, () => []);
  input.sets.forEach((set, s) => {
    const members = [...set.members].sort((a, b) => a - b);
    const first = members[0] as number;
    let L: number;
    if (members.length === 2) L = pairL(first, members[1] as number);
    else {
      L = model.addVariable(`LD_${s}`, { upper: bigM });
      for (const d of members.slice(1))
        model.addConstraint(
          [
            [L, 1],
            [pairL(first, d), -1],
          ],
          { max: 0 },
        );
    }
    // Objective in ms again, so the solver's tie-breaking perturbation stays well below a
    // microsecond (see lp.ts).
    const share = set.count / input.total;
    const weight = share * unitMs;
    const cost = model.addVariable(`cost_${s}`, { objective: weight });
    objective.push([cost, weight]);
    // Whatever the tree, the lca g reaches every destination along a route: cost(D) is at least
    // the least over g of the farthest destination's shortest delay. Valid, and it lifts the
    // LP bound far above what the big-M rows give.
    let floorUnits = Number.POSITIVE_INFINITY;
    for (let g = 0; g < n; g++)
      floorUnits = Math.min(floorUnits, Math.max(...members.map((d) => shortest[g]?.[d] as number)));
    model.addConstraint([[cost, 1]], { min: floorUnits });
    // A destination d that is not the lca is reached over its parent edge, and d is the lca
    // only when it is above every other destination d': cost(D) >= lat(parent(d), d) - (the most
    // delay into d) x(d,d'). Valid for integral p; with fractional p it ties cost to the edges.
    for (const d of members) {
      let intoUnits = 0;
      const edgeTerms: [number, number][] = [];
      for (let u = 0; u < n; u++)
        if (u !== d) {
          edgeTerms.push([p(u, d), -lat(u, d)]);
          intoUnits = Math.max(intoUnits, lat(u, d));
        }
      for (const other of members)
        if (other !== d) model.addConstraint([[cost, 1], ...edgeTerms, [x(d, other), intoUnits]], { min: 0 });
    }
    for (const d of members)
      model.addConstraint(
        [
          [cost, 1],
          [W(d), -1],
          [L, 1],
        ],
        { min: 0 },
      );

    // k(D,g,c) <= p(g,c) and <= x'(c,d) for every d in D: c is a child of g whose subtree holds
    // all of D. At most one child can, so the sum over c is the indicator of "g is above lca(D)"
    // once p is integral (the rows that use it push every k up to its cap).
    const passOnOf = new Map<number, [number, number][]>();
    const passOn = (g: number): [number, number][] => {
      const known = passOnOf.get(g);
      if (known !== undefined) return known;
      const terms: [number, number][] = [];
      for (let c = 0; c < n; c++) {
        if (c === g) continue;
        const k = model.addVariable(`k_${s}_${g}_${c}`);
        terms.push([k, 1]);
        model.addConstraint(
          [
            [k, 1],
            [p(g, c), -1],
          ],
          { max: 0 },
        );
        for (const d of members)
          if (d !== c)
            model.addConstraint(
              [
                [k, 1],
                [x(c, d), -1],
              ],
              { max: 0 },
            );
      }
      passOnOf.set(g, terms);
      return terms;
    };

    // The client's leg to lca(D): z(D,g) >= [g is an ancestor-or-self of every d] - [g is above
    // lca(D)], 1 exactly for the lca; the legs above the cheapest one cost z(D,g) x (the
    // difference), the cheapest is a constant.
    const legMinMs = Math.min(...set.legs);
    constantMs += share * legMinMs;
    if (set.legs.some((leg) => leg - legMinMs > LEG_EPSILON_MS)) {
      // Valid and tighter when p is fractional: exactly one lca, a common ancestor of D.
      const zs: [number, number][] = [];
      for (let g = 0; g < n; g++) {
        const extraMs = (set.legs[g] as number) - legMinMs;
        const z = model.addVariable(`z_${s}_${g}`, { objective: share * extraMs });
        zs.push([z, 1]);
        if (extraMs > LEG_EPSILON_MS) objective.push([z, share * extraMs]);
        for (const d of members)
          if (d !== g)
            model.addConstraint(
              [
                [z, 1],
                [x(g, d), -1],
              ],
              { max: 0 },
            );
        if (extraMs <= LEG_EPSILON_MS) continue;
        const terms: [number, number][] = [[z, 1], ...passOn(g)];
        for (const d of members) if (d !== g) terms.push([x(g, d), -1]);
        model.addConstraint(terms, { min: (members.includes(g) ? 1 : 0) - (members.length - 1) });
      }
      model.addConstraint(zs, { equal: 1 });
    }

    if (input.loadLimit === undefined) return;
    for (let g = 0; g < n; g++) {
      const on = model.addVariable(`u_${s}_${g}`);
      (loadTerms[g] as [number, number][]).push([on, set.count]);
      if (members.includes(g)) {
        model.addConstraint([[on, 1]], { min: 1 });
        continue;
      }
      // u(D,g) >= x(g,d) - [g is above lca(D)]: g orders D when it is an ancestor of some d and
      // not above the lca.
      for (const d of members) model.addConstraint([[on, 1], [x(g, d), -1], ...passOn(g)], { min: 0 });
    }
  });
  if (cutoffMs !== null && objective.length > 0)
    // (The objective's terms are in ms.)
    model.addConstraint(objective, {
      max: cutoffMs - constantMs + n * MODELLED_DELAY_MIN_MS + 1e-7 * Math.max(1, Math.abs(cutoffMs)),
    });
  if (input.loadLimit !== undefined) {
    const limit = input.loadLimit;
    for (let g = 0; g < n; g++) {
      const terms = loadTerms[g] as [number, number][];
      if (terms.length > 0) model.addConstraint(terms, { max: limit - (input.single[g] as number) });
    }
  }
  return { model, parentVar, rootVar, constantMs };
}
