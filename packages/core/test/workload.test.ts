import { describe, expect, it } from "vitest";
import { DestinationChooser, Prng, topologyFromMatrix } from "../src/index.js";

const topology = topologyFromMatrix("line", {
  regions: ["a", "b", "c", "d", "e"],
  latencyMs: [0, 1, 2, 3, 4].map((from) => [0, 1, 2, 3, 4].map((to) => 1 + 10 * Math.abs(from - to))),
});

describe("locality workload", () => {
  it("sends the configured share to the home group alone", () => {
    const chooser = new DestinationChooser(
      { localPercent: 80, globalSizes: [2, 3], globalChoice: "nearest" },
      topology,
      topology.groupIds,
      "c",
    );
    const prng = new Prng(1);
    let local = 0;
    const sizes = new Set<number>();
    let withoutHome = 0;
    for (let i = 0; i < 10_000; i += 1) {
      const dst = chooser.next(prng);
      if (!dst.includes("c")) withoutHome += 1;
      if (dst.length === 1) local += 1;
      sizes.add(dst.length);
    }
    expect(withoutHome).toBe(0);
    expect([...sizes].sort()).toEqual([1, 2, 3]);
    expect(local).toBeGreaterThan(7700);
    expect(local).toBeLessThan(8300);
  });

  it("draws global destinations among the nearest groups, or uniformly", () => {
    const prng = new Prng(2);
    const nearest = new DestinationChooser(
      { localPercent: 0, globalSizes: [2], globalChoice: "nearest" },
      topology,
      topology.groupIds,
      "a",
    );
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i += 1) seen.add(nearest.next(prng).join(","));
    // From a, the two nearest others are b and c; a pair takes one of them.
    expect([...seen].sort()).toEqual(["a,b", "a,c"]);
    const uniform = new DestinationChooser(
      { localPercent: 0, globalSizes: [2], globalChoice: "uniform" },
      topology,
      topology.groupIds,
      "a",
    );
    seen.clear();
    for (let i = 0; i < 1000; i += 1) seen.add(uniform.next(prng).join(","));
    expect(seen.size).toBe(4);
  });

  it("draws global multicasts from the home group's destination table, by weight", () => {
    const destinationTable = new Map([
      [
        "c",
        [
          { dst: ["c", "a"], weight: 90 },
          { dst: ["c", "e"], weight: 10 },
          { dst: ["b", "c", "d"], weight: 0 },
        ],
      ],
    ]);
    const chooser = new DestinationChooser(
      { localPercent: 50, globalSizes: [], globalChoice: "table", destinationTable },
      topology,
      topology.groupIds,
      "c",
    );
    const prng = new Prng(2);
    const seen = new Map<string, number>();
    for (let i = 0; i < 10_000; i += 1) {
      const key = chooser.next(prng).join(",");
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    expect([...seen.keys()].sort()).toEqual(["a,c", "c", "c,e"]);
    expect(seen.get("c")).toBeGreaterThan(4700);
    expect(seen.get("c")).toBeLessThan(5300);
    const ratio = (seen.get("a,c") ?? 0) / (seen.get("c,e") ?? 1);
    expect(ratio).toBeGreaterThan(7.5);
    expect(ratio).toBeLessThan(11);
    expect(
      () =>
        new DestinationChooser(
          { localPercent: 50, globalSizes: [], globalChoice: "table", destinationTable },
          topology,
          topology.groupIds,
          "a",
        ),
    ).toThrow(/no sets for home group a/);
  });
});
