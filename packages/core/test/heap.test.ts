import { describe, expect, it } from "vitest";
import { BinaryHeap, Prng } from "../src/index.js";

describe("BinaryHeap", () => {
  it("pops in order, breaking ties by insertion sequence", () => {
    const heap = new BinaryHeap<{ t: number; seq: number }>(
      (a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq),
    );
    const prng = new Prng(1);
    const pushed: { t: number; seq: number }[] = [];
    for (let seq = 0; seq < 5000; seq += 1) {
      const item = { t: prng.int(100), seq };
      pushed.push(item);
      heap.push(item);
    }
    const popped: { t: number; seq: number }[] = [];
    while (heap.size > 0) popped.push(heap.pop());
    expect(popped).toEqual([...pushed].sort((a, b) => a.t - b.t || a.seq - b.seq));
    expect(heap.peek()).toBeUndefined();
    expect(() => heap.pop()).toThrow(/empty/);
  });
});
