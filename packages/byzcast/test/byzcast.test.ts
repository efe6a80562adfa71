import type { GroupOutput, Multicast } from "@amcast/core";
import { parseOverlay, type TreeOverlay } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { ByzcastMessage } from "../src/index.js";
import { ByzcastGroup, byzcast } from "../src/index.js";

/** root -> { west -> { a, b }, c }; west is auxiliary, root too. */
const tree = parseOverlay(
  {
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
  },
  "tree.json",
) as TreeOverlay;
const context = { groups: tree.groups, overlay: tree, params: undefined };
const group = (id: string) => new ByzcastGroup({ ...context, group: id });
const message = (id: string, dst: string[]): Multicast => ({ id, client: "c0", dst, payloadBytes: 0 });
const transcript = (outputs: readonly GroupOutput<ByzcastMessage>[]): string[] =>
  outputs.map((output) =>
    output.kind === "deliver"
      ? `deliver ${output.message.id}`
      : output.kind === "send"
        ? `forward ${output.body.message.id} -> ${output.to}`
        : output.kind,
  );

describe("ByzCast group logic", () => {
  it("sends a client's message to the lowest common ancestor of its destinations", () => {
    expect(byzcast.entryGroups(["a"], context)).toEqual(["a"]);
    expect(byzcast.entryGroups(["a", "b"], context)).toEqual(["west"]);
    expect(byzcast.entryGroups(["a", "c"], context)).toEqual(["root"]);
  });

  it("forwards down toward the destinations only, then the targets deliver", () => {
    const m = message("m", ["a", "c"]);
    expect(transcript(group("root").step({ kind: "request", message: m }))).toEqual([
      "forward m -> c",
      "forward m -> west",
    ]);
    expect(
      transcript(group("west").step({ kind: "peer", from: "root", body: { type: "forward", message: m } })),
    ).toEqual(["forward m -> a"]);
    expect(
      transcript(group("a").step({ kind: "peer", from: "west", body: { type: "forward", message: m } })),
    ).toEqual(["deliver m"]);
    expect(
      transcript(group("c").step({ kind: "peer", from: "root", body: { type: "forward", message: m } })),
    ).toEqual(["deliver m"]);
  });

  it("keeps the parent's order: a child handles forwarded messages in the order its parent sent them", () => {
    const west = group("west");
    const first = message("m1", ["a", "b"]);
    const second = message("m2", ["a", "b"]);
    expect(transcript(west.step({ kind: "request", message: first }))).toEqual([
      "forward m1 -> a",
      "forward m1 -> b",
    ]);
    expect(transcript(west.step({ kind: "request", message: second }))).toEqual([
      "forward m2 -> a",
      "forward m2 -> b",
    ]);
  });

  it("refuses what the layer below must never hand it", () => {
    expect(() => group("west").step({ kind: "request", message: message("x", ["a", "c"]) })).toThrow(
      /not the lca/,
    );
    expect(() =>
      group("a").step({
        kind: "peer",
        from: "root",
        body: { type: "forward", message: message("x", ["a"]) },
      }),
    ).toThrow(/not its parent/);
  });

  it("models the pattern: client to the lca, then down the tree", () => {
    const latency = {
      clientToGroupMs: (g: string) => ({ root: 50, west: 10, a: 2, c: 80 })[g] ?? 0,
      groupToGroupMs: () => 5,
    };
    expect(byzcast.modelLatencyMs?.(["a"], context, latency)).toBe(2);
    // root (50) -> west (5) -> a (5) = 60; root -> c = 55.
    expect(byzcast.modelLatencyMs?.(["a", "c"], context, latency)).toBe(60);
  });
});
