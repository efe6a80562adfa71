import { describe, expect, it } from "vitest";
import type { TreeOverlay } from "../src/index.js";
import {
  CdagOverlay,
  checkOverlayAgainstTopology,
  parseOverlay,
  parseTopology,
  runGroups,
  Topology,
  targetGroups,
  topologyFromMatrix,
} from "../src/index.js";
import { expectInputError } from "./helpers.js";

const topology = topologyFromMatrix("t", {
  regions: ["a", "b", "c"],
  latencyMs: [
    [1, 1, 1],
    [1, 1, 1],
    [1, 1, 1],
  ],
});

describe("C-DAG overlays", () => {
  it("order groups, find the lca and sort by position", () => {
    const overlay = parseOverlay({ kind: "cdag", name: "o", order: ["c", "a", "b"] }, "o.json");
    expect(overlay.kind).toBe("cdag");
    const cdag = overlay as CdagOverlay;
    expect(cdag.lca(["a", "b", "c"])).toBe("c");
    expect(cdag.lca(["a", "b"])).toBe("a");
    expect(cdag.sortByPosition(["a", "b", "c"])).toEqual(["c", "a", "b"]);
    expect(cdag.isBefore("c", "b")).toBe(true);
    checkOverlayAgainstTopology(cdag, topology, "o.json");
  });

  it("reject an order that does not list every group exactly once", () => {
    expectInputError(
      () => parseOverlay({ kind: "cdag", name: "o", order: ["a", "b", "a"] }, "o.json"),
      /o\.json: order\[2\]: group "a" is listed twice \(also at order\[0\]\)/,
    );
    expectInputError(
      () => checkOverlayAgainstTopology(new CdagOverlay("o", ["a", "b"]), topology, "o.json"),
      /o\.json: order: group "c" of topology t is missing: a C-DAG lists every target group exactly once/,
    );
    expectInputError(
      () => checkOverlayAgainstTopology(new CdagOverlay("o", ["a", "b", "c", "d"]), topology, "o.json"),
      /group "d" is not a group of topology t \(known: a, b or c\)/,
    );
    expectInputError(
      () => parseOverlay({ kind: "dag", name: "o", order: [] }, "o.json"),
      /kind: expected one of cdag or tree, got "dag"/,
    );
  });
});

const TREE = {
  kind: "tree",
  name: "three-level",
  groups: [
    { id: "root", role: "auxiliary" },
    { id: "west", role: "auxiliary" },
    { id: "a", role: "target" },
    { id: "b", role: "target" },
    { id: "c", role: "target" },
  ],
  edges: [
    ["root", "west"],
    ["west", "a"],
    ["west", "b"],
    ["root", "c"],
  ],
};

describe("tree overlays", () => {
  it("compute reach, depth, lca and forwarding children", () => {
    const tree = parseOverlay(TREE, "t.json") as TreeOverlay;
    expect(tree.root).toBe("root");
    expect([...tree.reach("west")].sort()).toEqual(["a", "b"]);
    expect([...tree.reach("root")].sort()).toEqual(["a", "b", "c"]);
    expect(tree.depth("a")).toBe(2);
    expect(tree.lca(["a"])).toBe("a");
    expect(tree.lca(["a", "b"])).toBe("west");
    expect(tree.lca(["a", "c"])).toBe("root");
    expect(tree.childrenToward("root", ["a"])).toEqual(["west"]);
    expect(tree.childrenToward("root", ["a", "c"])).toEqual(["c", "west"]);
    expect(tree.targets).toEqual(["a", "b", "c"]);
    expect(tree.groups[0]).toBe("root");
  });

  it("reject cycles, two parents, unreachable groups and auxiliary leaves, naming the group", () => {
    expectInputError(
      () => parseOverlay({ ...TREE, edges: [...TREE.edges, ["c", "west"]] }, "t.json"),
      /edges\[4\]: group "west" has two parents \("root" and "c"\)/,
    );
    expectInputError(
      () =>
        parseOverlay(
          {
            kind: "tree",
            name: "x",
            groups: [
              { id: "r", role: "target" },
              { id: "p", role: "auxiliary" },
              { id: "q", role: "target" },
            ],
            edges: [
              ["p", "q"],
              ["q", "p"],
            ],
          },
          "t.json",
        ),
      /edges: the edges form a cycle through group "(p|q)"/,
    );
    expectInputError(
      () => parseOverlay({ ...TREE, edges: TREE.edges.filter(([, child]) => child !== "c") }, "t.json"),
      /group "c" is unreachable from the root "root"/,
    );
    expectInputError(
      () =>
        parseOverlay(
          {
            ...TREE,
            groups: [...TREE.groups, { id: "aux", role: "auxiliary" }],
            edges: [...TREE.edges, ["root", "aux"]],
          },
          "t.json",
        ),
      /auxiliary group "aux" has no children/,
    );
    expectInputError(
      () => parseOverlay({ ...TREE, edges: [["root", "zz"]] }, "t.json"),
      /edges\[0\]: group "zz" is not in groups/,
    );
  });

  it("must hold every group of the topology", () => {
    const tree = parseOverlay(TREE, "t.json");
    const small = topologyFromMatrix("small", {
      regions: ["a", "b"],
      latencyMs: [
        [1, 1],
        [1, 1],
      ],
    });
    expectInputError(
      () => checkOverlayAgainstTopology(tree, small, "t.json"),
      /group "root" is not a group of topology small/,
    );
  });
});

describe("overlays and auxiliary groups", () => {
  const withRoot = new Topology(
    "with-root",
    {
      regions: ["a", "b"],
      latencyMs: [
        [1, 1],
        [1, 1],
      ],
    },
    [
      { id: "a", region: "a" },
      { id: "b", region: "b" },
      { id: "root", region: "a", role: "auxiliary" },
    ],
    [],
  );

  it("keep auxiliary groups out of workloads and C-DAGs, and in trees with their role", () => {
    expect(withRoot.targetGroupIds).toEqual(["a", "b"]);
    expect(targetGroups(null, withRoot)).toEqual(["a", "b"]);
    checkOverlayAgainstTopology(new CdagOverlay("o", ["b", "a"]), withRoot, "o.json");
    expectInputError(
      () => checkOverlayAgainstTopology(new CdagOverlay("o", ["b", "a", "root"]), withRoot, "o.json"),
      /group "root" is auxiliary in topology with-root; a C-DAG orders target groups only/,
    );
    const tree = parseOverlay(
      {
        kind: "tree",
        name: "t",
        groups: [
          { id: "root", role: "auxiliary" },
          { id: "a", role: "target" },
          { id: "b", role: "target" },
        ],
        edges: [
          ["root", "a"],
          ["root", "b"],
        ],
      },
      "t.json",
    );
    checkOverlayAgainstTopology(tree, withRoot, "t.json");
    expect(runGroups(tree, withRoot)).toEqual(["a", "b", "root"]);
    const wrongRole = parseOverlay(
      {
        kind: "tree",
        name: "t",
        groups: [
          { id: "root", role: "target" },
          { id: "a", role: "auxiliary" },
          { id: "b", role: "target" },
        ],
        edges: [
          ["a", "root"],
          ["a", "b"],
        ],
      },
      "t.json",
    );
    expectInputError(
      () => checkOverlayAgainstTopology(wrongRole, withRoot, "t.json"),
      /group "(root|a)" is (target|auxiliary) here but/,
    );
  });

  it("read auxiliary groups from a topology file", () => {
    const topology = parseTopology(
      {
        kind: "topology",
        name: "t",
        regions: ["x"],
        latencyMs: [[1]],
        groups: "one-per-region",
        auxiliaryGroups: [{ id: "root", region: "x" }],
      },
      "t.json",
      () => "",
    );
    expect(topology.groupIds).toEqual(["root", "x"]);
    expect(topology.targetGroupIds).toEqual(["x"]);
    expectInputError(
      () =>
        parseTopology(
          {
            kind: "topology",
            name: "t",
            regions: ["x"],
            latencyMs: [[1]],
            groups: "one-per-region",
            auxiliaryGroups: [{ id: "x", region: "x" }],
          },
          "t.json",
          () => "",
        ),
      /auxiliaryGroups\[0\]\.id: group "x" is listed twice/,
    );
  });
});
