import { describe, expect, it } from "vitest";
import { lowerBound, upperBound } from "../src/index.js";

describe("lowerBound and upperBound", () => {
  it("find where a value goes in a sorted array, before or after its equals", () => {
    const sorted = [1, 3, 3, 3, 7];
    expect([0, 1, 2, 3, 4, 7, 8].map((value) => lowerBound(sorted, value))).toEqual([0, 0, 1, 1, 4, 4, 5]);
    expect([0, 1, 2, 3, 4, 7, 8].map((value) => upperBound(sorted, value))).toEqual([0, 1, 1, 4, 4, 5, 5]);
    expect(lowerBound([], 5)).toBe(0);
    expect(upperBound(Int32Array.from([2, 4]), 3)).toBe(1);
  });

  it("order strings by UTF-16 code units, as range reads do", () => {
    const keys = ["", "a", "a/1", "b", "s0/0000"];
    expect(lowerBound(keys, "a/")).toBe(2);
    expect(upperBound(keys, "a")).toBe(2);
    expect(lowerBound(keys, "z")).toBe(5);
  });
});
