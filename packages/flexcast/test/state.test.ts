import { decodePartition, encodePartition } from "@amcast/storage";
import { describe, expect, it } from "vitest";
import { decodeGraph, encodeGraph } from "../src/state.js";

class Node {
  next: Node | undefined = undefined;
  constructor(readonly name: string) {}
}

const CLASSES = { Node };

/** Encodes, takes the trip through the checkpoint codec (msgpack), decodes. */
function roundTrip(value: unknown): unknown {
  const graph = encodeGraph(value, CLASSES);
  return decodeGraph(decodePartition(encodePartition(graph)) as never, CLASSES);
}

describe("object-graph state codec", () => {
  it("keeps sharing, cycles, classes, Map and Set order, undefined and bytes", () => {
    const a = new Node("a");
    const b = new Node("b");
    a.next = b;
    b.next = a;
    const shared = { id: "m1", dst: [0, 2] };
    const state = {
      nodes: [a, b],
      byId: new Map<string, unknown>([
        ["z", shared],
        ["a", shared],
      ]),
      seen: new Set(["y", "x"]),
      missing: undefined,
      bytes: new Uint8Array([1, 2, 3]),
      big: Number.POSITIVE_INFINITY,
    };
    const copy = roundTrip(state) as typeof state;
    const [copyA, copyB] = copy.nodes as [Node, Node];
    expect(copyA).toBeInstanceOf(Node);
    expect(copyA.name).toBe("a");
    expect(copyA.next).toBe(copyB);
    expect(copyB.next).toBe(copyA);
    expect([...copy.byId.keys()]).toEqual(["z", "a"]);
    expect(copy.byId.get("z")).toBe(copy.byId.get("a"));
    expect(copy.byId.get("z")).not.toBe(shared);
    expect([...copy.seen]).toEqual(["y", "x"]);
    expect("missing" in copy && copy.missing === undefined).toBe(true);
    expect([...copy.bytes]).toEqual([1, 2, 3]);
    expect(copy.big).toBe(Number.POSITIVE_INFINITY);
    // Equal state, equal data.
    expect(encodePartition(encodeGraph(copy, CLASSES))).toEqual(encodePartition(encodeGraph(state, CLASSES)));
  });

  it("refuses what is not data, naming where it sits", () => {
    expect(() => encodeGraph({ pending: [{ callback: () => 1 }] }, CLASSES)).toThrow(
      /state holds a function at object 2 \(callback\): not data/,
    );
    class Stranger {}
    expect(() => encodeGraph({ cache: new Stranger() }, CLASSES)).toThrow(
      /instance of Stranger at object 1: not a known class/,
    );
  });
});
