import { readFileSync } from "node:fs";
import type { TreeOverlay } from "@amcast/core";
import { CdagOverlay, overlayToJson, parseOverlay, parseTopology } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { optimizeCdagWith } from "../src/cdag.js";
import { buildCdagIlp, orderFromPairs } from "../src/cdag-ilp.js";
import { cdagProblem, fullOrder } from "../src/cdag-problem.js";
import type { DestinationCount, GroupLatencyMs, OptimizeResult } from "../src/index.js";
import { cdagCostMs, optimizeCdag, optimizeTree, treeCostMs, treeLoads } from "../src/index.js";
import { solveIlp } from "../src/lp.js";
import { treeSearchInput } from "../src/tree.js";
import { localSearchTree } from "../src/tree-local.js";
import { aggregate } from "../src/workload.js";
import { matrixLatency, randomCdag, randomTree } from "./instances.js";

const sameCost = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

function roundTrips(result: OptimizeResult<CdagOverlay | TreeOverlay>): void {
  const json = overlayToJson(result.overlay);
  expect(overlayToJson(parseOverlay(JSON.parse(JSON.stringify(json)), "round trip"))).toEqual(json);
}

describe("C-DAG: the ILP finds the optimum the exhaustive search finds", () => {
  // Small instances: the exact model's ILP is slow beyond 5 groups (scripts/optimizer-cross-check.ts
  // runs a heavier sweep).
  const seeds = Array.from({ length: 8 }, (_, i) => i + 1);

  it("on 8 random instances (4 groups, sets of 2-4, clients' legs), the ILP alone and after the local search", () => {
    for (const seed of seeds) {
      const { current, counts, latency } = randomCdag(seed, 4);
      const alone = optimizeCdagWith(current, counts, latency, { minGainFraction: 0 }, 4, false);
      const both = optimizeCdag(current, counts, latency, { minGainFraction: 0 });
      const exhaustive = optimizeCdag(current, counts, latency, { minGainFraction: 0, solver: "exhaustive" });
      expect(alone.method, `seed ${seed}: ${alone.reason}`).toBe("ilp");
      expect(exhaustive.optimal).toBe(true);
      for (const result of [alone, both]) {
        expect(result.optimal, `seed ${seed}: ${result.reason}`).toBe(true);
        expect(
          sameCost(result.bestCostMs, exhaustive.bestCostMs),
          `seed ${seed}: ${result.bestCostMs} vs ${exhaustive.bestCostMs}`,
        ).toBe(true);
        expect(sameCost(result.currentCostMs, exhaustive.currentCostMs)).toBe(true);
        // The reported costs are the model's (each count evaluated by the protocol's function).
        expect(
          sameCost(
            cdagCostMs(result.overlay.order, counts, latency),
            result.changed ? result.bestCostMs : result.currentCostMs,
          ),
        ).toBe(true);
      }
      expect(sameCost(cdagCostMs(current.order, counts, latency), alone.currentCostMs)).toBe(true);
      roundTrips(alone);
      roundTrips(exhaustive);
    }
  });

  it("the ILP's objective at its optimum is the model's mean latency of the order it encodes", () => {
    for (const seed of seeds.slice(0, 4)) {
      const { current, counts, latency } = randomCdag(seed, 4);
      for (const orderVariablesMaxSet of [0, 4]) {
        const problem = cdagProblem(current.order, aggregate(counts), latency);
        const { model, pairs, constantMs } = buildCdagIlp(problem, null, orderVariablesMaxSet);
        const outcome = solveIlp(model, undefined);
        expect(outcome.status, `seed ${seed}`).toBe("optimal");
        const order = orderFromPairs(problem, pairs, outcome.values) as number[];
        const names = fullOrder(problem, order).map((g) => problem.groups[g] as string);
        expect(outcome.objective + constantMs, `seed ${seed}`).toBeCloseTo(
          cdagCostMs(names, counts, latency),
          4,
        );
      }
    }
  });

  it("puts groups that share no set after the others, out of every span, and lists every group once", () => {
    const ids = ["A", "B", "C", "D"];
    const latency = matrixLatency(ids, [
      [1, 90, 1, 1],
      [10, 1, 1, 1],
      [1, 1, 1, 1],
      [1, 1, 1, 1],
    ]);
    // C and D between B and A: notified, each a 2 ms detour (B -> C -> A), so only the order
    // counts: B before A, 10 ms, plus the client's leg.
    const current = new CdagOverlay("o", ["A", "C", "D", "B"]);
    const result = optimizeCdag(current, [{ dst: ["A", "B"], count: 1, origin: "B" }], latency);
    expect(result.changed).toBe(true);
    expect(result.overlay.order).toEqual(["B", "A", "C", "D"]);
    expect(result.overlay.name).toBe("o");
    expect(result.currentCostMs).toBe(10 + 90);
    expect(result.bestCostMs).toBe(1 + 10);
  });

  it("the prototype's 3-group scenario: the notified group between the frequent pair is what the order pays", () => {
    const ids = ["Canada", "Virginia", "SaoPaulo"];
    const latency = matrixLatency(ids, [
      [5, 100, 100],
      [100, 5, 100],
      [100, 100, 5],
    ]);
    const current = new CdagOverlay("o", ids);
    const counts: DestinationCount[] = [
      { dst: ["Canada", "SaoPaulo"], count: 95, origin: "Canada" },
      { dst: ["Canada", "SaoPaulo"], count: 95, origin: "SaoPaulo" },
      { dst: ["SaoPaulo", "Virginia"], count: 95, origin: "Virginia" },
    ];
    for (const solver of ["ilp", "exhaustive"] as const) {
      const result = optimizeCdag(current, counts, latency, { solver });
      // Canada's clients 5 + 200, SaoPaulo's 100 + 200, Virginia's 5 + 100.
      expect(result.currentCostMs).toBeCloseTo((205 + 300 + 105) / 3, 9);
      // Virginia, SaoPaulo, Canada: 100 + 100, 5 + 100, 5 + 100.
      expect(result.bestCostMs).toBeCloseTo((200 + 105 + 105) / 3, 9);
      expect(result.overlay.order).toEqual(["Virginia", "SaoPaulo", "Canada"]);
    }
  });
});

describe("trees: the ILP finds the optimum the exhaustive search finds", () => {
  // 4 groups: the ILP with the clients' legs takes seconds from 5 groups on
  // (scripts/optimizer-cross-check.ts runs a heavier sweep).
  const seeds = Array.from({ length: 8 }, (_, i) => i + 1);

  it("on 8 random instances (4 groups, 0-2 auxiliary, clients' legs) without a load limit", () => {
    for (const seed of seeds) {
      const { current, counts, latency } = randomTree(seed, { groups: 4 });
      // The ILP alone, from the current tree, and as the optimiser runs it (after the local
      // search, whose tree it must beat or prove optimal).
      const ilp = optimizeTree(current, counts, latency, { minGainFraction: 0, localSearch: false });
      const both = optimizeTree(current, counts, latency, { minGainFraction: 0 });
      const exhaustive = optimizeTree(current, counts, latency, { minGainFraction: 0, solver: "exhaustive" });
      expect(ilp.method, `seed ${seed}: ${ilp.reason}`).toBe("ilp");
      expect(ilp.optimal, `seed ${seed}`).toBe(true);
      expect(both.optimal, `seed ${seed}`).toBe(true);
      expect(["ilp", "local-search"]).toContain(both.method);
      for (const result of [ilp, both])
        expect(
          sameCost(result.bestCostMs, exhaustive.bestCostMs),
          `seed ${seed}: ${result.bestCostMs} vs ${exhaustive.bestCostMs}`,
        ).toBe(true);
      expect(
        sameCost(treeCostMs(ilp.overlay, counts, latency), ilp.changed ? ilp.bestCostMs : ilp.currentCostMs),
      ).toBe(true);
      for (const group of current.groups) expect(ilp.overlay.role(group)).toBe(current.role(group));
      roundTrips(ilp);
      roundTrips(exhaustive);
    }
  }, 120_000);

  /** The unconstrained optimum, its busiest group's load, and the least limit some tree keeps. */
  function limits(instance: ReturnType<typeof randomTree>): {
    free: OptimizeResult<TreeOverlay>;
    freeMax: number;
    least: number;
  } {
    const { current, counts, latency } = instance;
    const free = optimizeTree(current, counts, latency, { minGainFraction: 0, solver: "exhaustive" });
    const freeMax = Math.max(...treeLoads(free.overlay, counts).values());
    let least = 0;
    while (least < freeMax) {
      const attempt = optimizeTree(current, counts, latency, { loadLimit: least, solver: "exhaustive" });
      if (!/no tree keeps the load limit/.test(attempt.reason)) break;
      least++;
    }
    return { free, freeMax, least };
  }

  // Instances (5 groups, an auxiliary hub) whose least feasible limit binds: the best tree under
  // it costs more than the best tree without it. The ILP alone takes tens of seconds on such an
  // instance (scripts/optimizer-cross-check.ts runs it); the local search, which gives the
  // optimiser its cut-off, runs on all of them.
  it("with a binding load limit: the local search on the instances among 40 where the limit binds", () => {
    let binding = 0;
    for (let seed = 100; seed < 140; seed++) {
      const instance = randomTree(seed, { singleMax: 5, hub: true, groups: 5, origins: false });
      const { current, counts, latency } = instance;
      const { free, least } = limits(instance);
      const options = { minGainFraction: 0, loadLimit: least };
      const exhaustive = optimizeTree(current, counts, latency, { ...options, solver: "exhaustive" });
      if (!(exhaustive.bestCostMs > free.bestCostMs + 1e-9)) continue;
      binding++;
      expect(Math.max(...treeLoads(exhaustive.overlay, counts).values())).toBeLessThanOrEqual(least);
      const { problem, parents } = treeSearchInput(current, counts, latency, least);
      const local = localSearchTree(problem, parents);
      expect(local.score.excess, `seed ${seed}`).toBe(0);
      expect(
        sameCost(local.score.costMs, exhaustive.bestCostMs),
        `seed ${seed}: ${local.score.costMs} vs ${exhaustive.bestCostMs}`,
      ).toBe(true);
    }
    expect(binding).toBeGreaterThanOrEqual(5);
  }, 120_000);

  it("on 6 random instances with a load limit no tree keeps", () => {
    for (const seed of Array.from({ length: 6 }, (_, i) => i + 202)) {
      const instance = randomTree(seed, { singleMax: 5, hub: true, groups: 4, origins: false });
      const { current, counts, latency } = instance;
      const { least } = limits(instance);
      for (const solver of ["ilp", "exhaustive"] as const) {
        const result = optimizeTree(current, counts, latency, { solver, loadLimit: least - 1 });
        expect(result, `seed ${seed} ${solver}`).toMatchObject({
          changed: false,
          method: solver,
          optimal: true,
        });
        expect(result.reason).toMatch(/no tree keeps the load limit/);
        expect(result.overlay).toBe(current);
      }
    }
  }, 120_000);
});

describe("decisions", () => {
  const ids = ["A", "B"];
  const latency = matrixLatency(ids, [
    [1, 100],
    [96, 1],
  ]);
  const counts: DestinationCount[] = [
    { dst: ["A", "B"], count: 1 },
    { dst: ["A"], count: 3 },
  ];
  const current = new CdagOverlay("o", ["A", "B"]);

  it("hysteresis: no change below the threshold (default 5%), a change above it", () => {
    for (const solver of ["ilp", "exhaustive"] as const) {
      // 100 -> 96 over 4 multicasts: 25 -> 24, a 4% gain.
      const held = optimizeCdag(current, counts, latency, { solver });
      expect(held.changed).toBe(false);
      expect(held.overlay).toBe(current);
      expect(held.currentCostMs).toBe(25);
      expect(held.bestCostMs).toBe(24);
      expect(held.reason).toMatch(/below the threshold/);
      const taken = optimizeCdag(current, counts, latency, { solver, minGainFraction: 0.03 });
      expect(taken.changed).toBe(true);
      expect(taken.overlay.order).toEqual(["B", "A"]);
    }
  });

  it("no change when nothing is better, or when no multicast reaches two groups", () => {
    const best = new CdagOverlay("o", ["B", "A"]);
    const result = optimizeCdag(best, counts, latency, { minGainFraction: 0 });
    expect(result).toMatchObject({ changed: false, currentCostMs: 24, bestCostMs: 24, optimal: true });
    expect(result.overlay).toBe(best);
    const local = optimizeCdag(current, [{ dst: ["A"], count: 1 }], latency);
    expect(local).toMatchObject({ changed: false, currentCostMs: 0, bestCostMs: 0 });
  });

  it("falls back to the current overlay when the solver times out without a solution", () => {
    const { current: tree, counts: treeCounts, latency: treeLatency } = bigRandomTree();
    const result = optimizeTree(tree, treeCounts, treeLatency, { timeLimitMs: 1, localSearch: false });
    expect(result).toMatchObject({ changed: false, method: "fallback", optimal: false });
    expect(result.overlay).toBe(tree);
    expect(result.bestCostMs).toBe(result.currentCostMs);
    expect(result.reason).toMatch(/timed out/);
  });

  it("gives the local search's tree, not proven optimal, when the ILP does not finish (13 groups)", () => {
    const { topologyLatency, twoLevel, locality } = aws();
    const counts = locality(twoLevel.targets);
    const result = optimizeTree(twoLevel, counts, topologyLatency, { timeLimitMs: 1000 });
    expect(result, result.reason).toMatchObject({ changed: true, method: "local-search", optimal: false });
    expect(result.reason).toMatch(/gain/);
    expect(result.bestCostMs).toBeLessThan(result.currentCostMs);
    expect(sameCost(treeCostMs(result.overlay, counts, topologyLatency), result.bestCostMs)).toBe(true);
    for (const group of twoLevel.groups) expect(result.overlay.role(group)).toBe(twoLevel.role(group));
    roundTrips(result);
  });

  it("does not attempt a model beyond the solver (16 groups): the local search's tree", () => {
    const { topologyLatency, threeLevel, locality } = aws();
    const counts = locality(threeLevel.targets);
    const result = optimizeTree(threeLevel, counts, topologyLatency);
    expect(result).toMatchObject({ changed: true, method: "local-search", optimal: false });
    expect(sameCost(treeCostMs(result.overlay, counts, topologyLatency), result.bestCostMs)).toBe(true);
    const alone = optimizeTree(threeLevel, counts, topologyLatency, { localSearch: false });
    expect(alone).toMatchObject({ changed: false, method: "fallback", optimal: false });
    expect(alone.overlay).toBe(threeLevel);
    expect(alone.reason).toMatch(/beyond javascript-lp-solver/);
  });

  it("a tree that breaks the load limit is replaced whatever the gain; an impossible limit changes nothing", () => {
    const { current: tree, counts: treeCounts, latency: treeLatency } = randomTree(3, { origins: false });
    const loads = treeLoads(tree, treeCounts);
    const busiest = Math.max(...loads.values());
    for (const solver of ["ilp", "exhaustive"] as const) {
      const result = optimizeTree(tree, treeCounts, treeLatency, {
        solver,
        minGainFraction: 0.99,
        loadLimit: busiest - 1,
        timeLimitMs: 2000,
      });
      if (result.changed) {
        expect(result.reason).toMatch(/breaks the load limit/);
        expect(Math.max(...treeLoads(result.overlay, treeCounts).values())).toBeLessThanOrEqual(busiest - 1);
      } else expect(result.reason).toMatch(/no tree keeps the load limit/);
      const impossible = optimizeTree(tree, treeCounts, treeLatency, { solver, loadLimit: 0 });
      expect(impossible).toMatchObject({ changed: false, optimal: true });
      expect(impossible.reason).toMatch(/no tree keeps the load limit/);
    }
  });

  it("the local search alone: never worse than the current overlay, never better than the optimum, not proven", () => {
    for (const seed of [1, 2, 3, 4]) {
      const cdag = randomCdag(seed, 5);
      const tree = randomTree(seed, { groups: 5 });
      const [local, localTree, best, bestTree] = (["local-search", "exhaustive"] as const).flatMap(
        (solver) => [
          optimizeCdag(cdag.current, cdag.counts, cdag.latency, { minGainFraction: 0, solver }),
          optimizeTree(tree.current, tree.counts, tree.latency, { minGainFraction: 0, solver }),
        ],
      ) as [
        OptimizeResult<unknown>,
        OptimizeResult<unknown>,
        OptimizeResult<unknown>,
        OptimizeResult<unknown>,
      ];
      for (const [result, optimum] of [
        [local, best],
        [localTree, bestTree],
      ] as const) {
        expect(result).toMatchObject({ method: "local-search", optimal: false });
        expect(result.bestCostMs).toBeLessThanOrEqual(result.currentCostMs + 1e-9);
        expect(result.bestCostMs).toBeGreaterThanOrEqual(optimum.bestCostMs - 1e-9);
      }
    }
  });

  it("checks its options and its input", () => {
    expect(() => optimizeCdag(current, counts, latency, { minGainFraction: 1 })).toThrow(/minGainFraction/);
    expect(() => optimizeCdag(current, counts, latency, { timeLimitMs: 0 })).toThrow(/timeLimitMs/);
    // @ts-expect-error: a solver the optimiser does not have
    expect(() => optimizeCdag(current, counts, latency, { solver: "simplex" })).toThrow(/"local-search"/);
    expect(() => optimizeCdag(current, [{ dst: ["A", "Z"], count: 1 }], latency)).toThrow(/"Z"/);
    expect(() => optimizeCdag(current, [{ dst: ["A", "B"], count: -1 }], latency)).toThrow(/count/);
    expect(() => optimizeCdag(current, counts, () => Number.NaN)).toThrow(/latency/);
  });

  it("the exhaustive searches refuse large instances", () => {
    const ids10 = Array.from({ length: 10 }, (_, i) => `g${i}`);
    const ring = ids10.map((group, i) => ({ dst: [group, ids10[(i + 1) % 10] as string].sort(), count: 1 }));
    expect(() => optimizeCdag(new CdagOverlay("o", ids10), ring, () => 1, { solver: "exhaustive" })).toThrow(
      /refuses 10 groups/,
    );
    const { twoLevel, topologyLatency, locality } = aws();
    expect(() =>
      optimizeTree(twoLevel, locality(twoLevel.targets), topologyLatency, { solver: "exhaustive" }),
    ).toThrow(/refuses 13 groups/);
  });
});

describe("the AWS instances", () => {
  it("12 regions: the ILP is beyond the solver, the local search's order is the answer, and a fixed point", () => {
    const { topologyLatency, locality, cdag } = aws();
    const counts = locality(cdag.order);
    const result = optimizeCdag(cdag, counts, topologyLatency);
    expect(result).toMatchObject({ method: "local-search", optimal: false });
    expect(result.reason).toMatch(/gain|beyond javascript-lp-solver/);
    expect(result.bestCostMs).toBeLessThanOrEqual(result.currentCostMs);
    expect(sameCost(cdagCostMs(result.overlay.order, counts, topologyLatency), result.bestCostMs)).toBe(true);
    const again = optimizeCdag(result.overlay, counts, topologyLatency, { minGainFraction: 0 });
    expect(again.changed).toBe(false);
    expect(sameCost(again.currentCostMs, result.bestCostMs)).toBe(true);
  });
});

/** 7 groups (2 auxiliary), 8 sets: a root LP of some tens of ms, far from integral. */
function bigRandomTree(): { current: TreeOverlay; counts: DestinationCount[]; latency: GroupLatencyMs } {
  const ids = ["a0", "a1", "t2", "t3", "t4", "t5", "t6"];
  const matrix = ids.map((_, i) => ids.map((__, j) => (i === j ? 1 : 5 + ((i * 37 + j * 11) % 97))));
  const current = parseOverlay(
    {
      kind: "tree",
      name: "big",
      groups: ids.map((id) => ({ id, role: id.startsWith("a") ? "auxiliary" : "target" })),
      edges: [
        ["a0", "a1"],
        ["a0", "t2"],
        ["a0", "t3"],
        ["a1", "t4"],
        ["a1", "t5"],
        ["a1", "t6"],
      ],
    },
    "big tree",
  ) as TreeOverlay;
  const counts: DestinationCount[] = [
    { dst: ["t2", "t4"], count: 9 },
    { dst: ["t3", "t5", "t6"], count: 7 },
    { dst: ["t2", "t3"], count: 5 },
    { dst: ["t4", "t6"], count: 8 },
    { dst: ["t2", "t5", "t6"], count: 3 },
    { dst: ["t3", "t4"], count: 6 },
    { dst: ["t5", "t6"], count: 4 },
    { dst: ["t2", "t3", "t4"], count: 2 },
  ];
  return { current, counts, latency: matrixLatency(ids, matrix) };
}

function aws(): {
  topologyLatency: GroupLatencyMs;
  twoLevel: TreeOverlay;
  threeLevel: TreeOverlay;
  cdag: CdagOverlay;
  locality: (targets: readonly string[]) => DestinationCount[];
} {
  const dir = new URL("../../../overlays/", import.meta.url);
  const read = (name: string): string => readFileSync(new URL(name, dir), "utf8");
  const topology = parseTopology(JSON.parse(read("aws-12-byzcast.topology.json")), "topology", read);
  const topologyLatency: GroupLatencyMs = (from, to) => topology.groupToGroupMs(from, to);
  const twoLevel = parseOverlay(JSON.parse(read("aws-12-tree-two-level.json")), "tree") as TreeOverlay;
  const threeLevel = parseOverlay(JSON.parse(read("aws-12-tree-three-level.json")), "tree") as TreeOverlay;
  const cdag = parseOverlay(JSON.parse(read("aws-12-cdag-o1.json")), "cdag") as CdagOverlay;
  // Each group alone (90%), with one of its 2 nearest (5%), with 2 of its 3 nearest (5%).
  const locality = (targets: readonly string[]): DestinationCount[] => {
    const counts: DestinationCount[] = [];
    for (const home of targets) {
      counts.push({ dst: [home], count: 1080, origin: home });
      const near = targets
        .filter((other) => other !== home)
        .sort((a, b) => topologyLatency(home, a) - topologyLatency(home, b));
      for (const other of near.slice(0, 2)) counts.push({ dst: [home, other], count: 30, origin: home });
      const three = near.slice(0, 3);
      for (let i = 0; i < 3; i++)
        for (let j = i + 1; j < 3; j++)
          counts.push({ dst: [home, three[i] as string, three[j] as string], count: 20, origin: home });
    }
    return counts;
  };
  return { topologyLatency, twoLevel, threeLevel, cdag, locality };
}
