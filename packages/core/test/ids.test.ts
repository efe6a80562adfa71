import { describe, expect, it } from "vitest";
import { compareIds, destinationKey, destinationSet, sharedId } from "../src/index.js";

describe("destination sets", () => {
  it("are unique and sorted by code units", () => {
    expect(destinationSet(["b", "a", "b", "C"])).toEqual(["C", "a", "b"]);
    expect(destinationKey(destinationSet(["g2", "g10", "g1"]))).toBe("g1|g10|g2");
    expect(() => destinationSet([])).toThrow(/at least one/);
  });

  it("keep their text in their shared copy, whatever it looks like", () => {
    for (const id of ["c3", `c${3}`, "Tokyo/0", "12", "0", "__proto__", "constructor", "", "é/1", "a:b"])
      expect(sharedId(id)).toBe(id);
  });

  it("compare ids without locale", () => {
    expect(compareIds("a", "b")).toBe(-1);
    expect(compareIds("b", "a")).toBe(1);
    expect(compareIds("Z", "a")).toBe(-1);
    expect(compareIds("x", "x")).toBe(0);
  });
});
