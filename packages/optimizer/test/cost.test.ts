import type { TreeOverlay } from "@amcast/core";
import { parseOverlay } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { cdagCostMs, treeCostMs, treeLoads } from "../src/index.js";
import { matrixLatency } from "./instances.js";

// One-way delays (row: from, column: to), asymmetric on purpose.
const ids = ["A", "B", "C", "R", "X"];
const latency = matrixLatency(ids, [
  // A   B   C   R   X
  [2, 10, 50, 30, 7],
  [12, 3, 15, 25, 8],
  [45, 14, 4, 20, 40],
  [31, 26, 21, 1, 5],
  [6, 9, 42, 4, 1],
]);

function tree(edges: [string, string][], auxiliary: string[] = []): TreeOverlay {
  const groups = [...new Set(edges.flat())].map((id) => ({
    id,
    role: auxiliary.includes(id) ? "auxiliary" : "target",
  }));
  return parseOverlay({ kind: "tree", name: "t", groups, edges }, "test tree") as TreeOverlay;
}

describe("cdagCostMs (FlexCast's latency model)", () => {
  it("two groups cost the one-way delay from the first to the second in the order", () => {
    expect(cdagCostMs(["A", "B", "C"], [{ dst: ["A", "B"], count: 1 }], latency)).toBe(10);
    expect(cdagCostMs(["B", "A", "C"], [{ dst: ["A", "B"], count: 1 }], latency)).toBe(12);
  });

  it("three groups cost max(lat(a,c), lat(a,b) + lat(b,c))", () => {
    // A, B, C: max(50, 10 + 15) = 50; C, B, A: max(45, 14 + 12) = 45; B, C, A: max(12, 15 + 45) = 60.
    const dst = [{ dst: ["A", "B", "C"], count: 1 }];
    expect(cdagCostMs(["A", "B", "C"], dst, latency)).toBe(50);
    expect(cdagCostMs(["C", "B", "A"], dst, latency)).toBe(45);
    expect(cdagCostMs(["B", "C", "A"], dst, latency)).toBe(60);
  });

  it("groups between the destinations are notified and delay them; the mean is weighted by count", () => {
    const counts = [
      { dst: ["A", "B"], count: 2 },
      { dst: ["B", "A"], count: 1 }, // the same set, merged
      { dst: ["A", "B", "C"], count: 1 },
      { dst: ["C"], count: 4 },
    ];
    // order R, A, X, B, C: {A,B} waits for X's answer, A -> X -> B = 7 + 9 = 16 (x3);
    // {A,B,C}: B at 16, C at max(A -> C 50, B 16 + 15, X 7 + 42) = 50; {C} = 0 (x4): (48 + 50) / 8.
    expect(cdagCostMs(["R", "A", "X", "B", "C"], counts, latency)).toBe(12.25);
    // R before A, outside the span: nobody waits for it.
    expect(cdagCostMs(["R", "A", "B"], [{ dst: ["A", "B"], count: 1 }], latency)).toBe(10);
    expect(cdagCostMs(["A", "B"], [], latency)).toBe(0);
  });

  it("adds the client's leg from its origin to the lca, single-group multicasts included", () => {
    // From B to A (12), then A -> B (10); a multicast to C alone from X: 42.
    expect(cdagCostMs(["A", "B"], [{ dst: ["A", "B"], count: 1, origin: "B" }], latency)).toBe(22);
    expect(cdagCostMs(["C", "X"], [{ dst: ["C"], count: 1, origin: "X" }], latency)).toBe(42);
  });

  it("names the group a destination set has outside the order", () => {
    expect(() => cdagCostMs(["A", "B"], [{ dst: ["A", "Z"], count: 1 }], latency)).toThrow(/"Z" is not in/);
  });
});

describe("treeCostMs and treeLoads (ByzCast: from the lca down the tree edges)", () => {
  // R (auxiliary) -> X (auxiliary) -> A, B; R -> C.
  const t = tree(
    [
      ["R", "X"],
      ["X", "A"],
      ["X", "B"],
      ["R", "C"],
    ],
    ["R", "X"],
  );

  it("costs the longest path from the lca to a destination", () => {
    // {A,B}: lca X, max(lat(X,A), lat(X,B)) = max(6, 9) = 9.
    expect(treeCostMs(t, [{ dst: ["A", "B"], count: 1 }], latency)).toBe(9);
    // {A,C}: lca R, max(lat(R,X) + lat(X,A), lat(R,C)) = max(5 + 6, 21) = 21.
    expect(treeCostMs(t, [{ dst: ["A", "C"], count: 1 }], latency)).toBe(21);
    // {A,B,C}: lca R, max(11, 5 + 9, 21) = 21; weighted with two local multicasts: (9 + 21 + 0) / 4.
    expect(
      treeCostMs(
        t,
        [
          { dst: ["A", "B"], count: 1 },
          { dst: ["A", "B", "C"], count: 1 },
          { dst: ["C"], count: 2 },
        ],
        latency,
      ),
    ).toBe(7.5);
  });

  it("adds the client's leg from its origin to the lca", () => {
    // {A,B} from A: A -> X (7), then X -> B (9).
    expect(treeCostMs(t, [{ dst: ["A", "B"], count: 1, origin: "A" }], latency)).toBe(16);
  });

  it("a target may be an inner node: the path runs through it", () => {
    const chain = tree([
      ["A", "B"],
      ["B", "C"],
    ]);
    // {A,C}: lca A, A -> B -> C = 10 + 15; {B,C}: lca B, 15.
    expect(treeCostMs(chain, [{ dst: ["A", "C"], count: 1 }], latency)).toBe(25);
    expect(treeCostMs(chain, [{ dst: ["B", "C"], count: 1 }], latency)).toBe(15);
    expect(treeLoads(chain, [{ dst: ["A", "C"], count: 3 }])).toEqual(
      new Map([
        ["A", 3],
        ["B", 3],
        ["C", 3],
      ]),
    );
  });

  it("loads: the lca and every group on the way down order the multicast; groups above the lca do not", () => {
    const loads = treeLoads(t, [
      { dst: ["A", "B"], count: 5 },
      { dst: ["A", "C"], count: 2 },
      { dst: ["C"], count: 7 },
    ]);
    expect(loads).toEqual(
      new Map([
        ["R", 2],
        ["X", 7],
        ["A", 7],
        ["B", 5],
        ["C", 9],
      ]),
    );
  });

  it("rejects destinations that are not targets of the tree", () => {
    expect(() => treeCostMs(t, [{ dst: ["A", "X"], count: 1 }], latency)).toThrow(/auxiliary/);
    expect(() => treeLoads(t, [{ dst: ["Q"], count: 1 }])).toThrow(/"Q" is not in tree/);
  });
});
