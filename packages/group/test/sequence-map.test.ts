import { Prng } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { SequenceMap } from "../src/sequence-map.js";

describe("SequenceMap", () => {
  it("answers like a Map under random inserts and deletes, keys ascending", () => {
    for (const slotsMax of [1, 8, 64]) {
      const prng = new Prng(slotsMax).derive("sequence-map");
      const table = new SequenceMap<string>(slotsMax);
      const reference = new Map<number, string>();
      let next = 2 ** 40; // above 2^32: `&` must still index by the low bits
      for (let step = 0; step < 4_000; step += 1) {
        const draw = prng.float();
        if (draw < 0.45) {
          table.set(next, `v${next}`);
          reference.set(next, `v${next}`);
          next += 1 + (prng.float() < 0.05 ? prng.int(200) : 0);
        } else if (draw < 0.9 && reference.size > 0) {
          // Mostly the oldest (in-order completion), sometimes any.
          const keys = [...reference.keys()];
          const key = prng.float() < 0.7 ? (keys[0] as number) : (keys[prng.int(keys.length)] as number);
          expect(table.delete(key)).toBe(true);
          reference.delete(key);
        } else if (draw < 0.95) {
          const key = next - 1 - prng.int(300);
          expect(table.get(key)).toBe(reference.get(key));
          expect(table.has(key)).toBe(reference.has(key));
          if (reference.has(key)) {
            table.set(key, "again");
            reference.set(key, "again");
          }
        } else {
          const floor = next - prng.int(400);
          table.deleteBelow(floor);
          for (const key of reference.keys()) if (key < floor) reference.delete(key);
        }
        expect(table.size).toBe(reference.size);
        // `some` sees every value, overflowed ones too.
        const probe = `v${next - 1 - prng.int(50)}`;
        expect(table.some((value) => value === probe)).toBe([...reference.values()].includes(probe));
        expect(table.some(() => true)).toBe(reference.size > 0);
      }
      expect(table.entries()).toEqual([...reference].sort((a, b) => a[0] - b[0]));
      expect(table.delete(-5)).toBe(false);
    }
  });

  it("removes a range below a floor one by one when it is given where keys start", () => {
    const table = new SequenceMap<number>(1024);
    for (let key = 100; key < 140; key += 1) table.set(key, key);
    table.deleteBelow(120, 100);
    expect(table.entries().map(([key]) => key)).toEqual(Array.from({ length: 20 }, (_, i) => 120 + i));
    table.deleteBelow(10_000, 120);
    expect(table.size).toBe(0);
  });
});
