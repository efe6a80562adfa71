import type { ProtocolDefinition, TraceEvent } from "@amcast/core";
import { CdagOverlay, Topology } from "@amcast/core";
import { flexcast } from "@amcast/flexcast";
import { describe, expect, it } from "vitest";
import type { MessageSample } from "../src/index.js";
import { MetricsCollector, pairedComparison } from "../src/index.js";

/** `count` multicasts of `client` to `dst` started from `fromMs` on, every 10 ms, each taking `latencyMs` (+ a wobble). */
function run(
  client: string,
  dst: string[],
  fromMs: number,
  count: number,
  latencyMs: number,
): MessageSample[] {
  return Array.from({ length: count }, (_, index) => ({
    multicastMs: fromMs + 10 * index,
    latencyMs: latencyMs + (index % 2 === 0 ? 1 : -1),
    kind: dst.length === 1 ? "local" : `global-${dst.length}`,
    client,
    dst,
    modelMs: latencyMs,
  }));
}

describe("before/after comparison of a view", () => {
  it("sees no gain when only who is still running changed", () => {
    // A near client finishes before the view; the far one keeps its latency: the plain means go
    // from 55 to 100 ms, the workload that ran in both windows did not change at all.
    const samples = [
      ...run("near", ["a", "b"], 0, 10, 10),
      ...run("far", ["a", "c"], 0, 10, 100),
      ...run("far", ["a", "c"], 1000, 10, 100),
    ];
    const compared = pairedComparison(samples, 0, 500, 1000, 2000);
    expect(compared).not.toBeNull();
    expect(compared?.beforeMs).toBeCloseTo(100, 6);
    expect(compared?.afterMs).toBeCloseTo(100, 6);
    expect(compared?.gainPercent).toBeCloseTo(0, 6);
    expect(compared?.comparedFraction).toBeCloseTo(0.5, 6);
    expect(compared?.afterModelMs).toBeCloseTo(100, 6);
  });

  it("weights each (client, destination set) by how often it ran before", () => {
    const samples = [
      ...run("c0", ["a", "b"], 0, 30, 100),
      ...run("c1", ["a", "c"], 0, 10, 200),
      // After: both 20% faster, c1 now far more often than before (its weight stays 10).
      ...run("c0", ["a", "b"], 1000, 6, 80),
      ...run("c1", ["a", "c"], 1000, 40, 160),
    ];
    const compared = pairedComparison(samples, 0, 500, 1000, 2000);
    expect(compared?.beforeMs).toBeCloseTo((30 * 100 + 10 * 200) / 40, 1);
    expect(compared?.afterMs).toBeCloseTo((30 * 80 + 10 * 160) / 40, 1);
    expect(compared?.gainPercent).toBeCloseTo(20, 0);
    expect(compared?.comparedFraction).toBe(1);
    expect(compared?.noisePercent).toBeLessThan(1);
  });

  it("tells a loss beyond noise from noise, and needs a common (client, set)", () => {
    const worse = pairedComparison(
      [...run("c0", ["a", "b"], 0, 20, 100), ...run("c0", ["a", "b"], 1000, 20, 130)],
      0,
      500,
      1000,
      2000,
    );
    expect(worse?.gainPercent).toBeCloseTo(-30, 0);
    expect(worse?.gainPercent ?? 0).toBeLessThan(-(worse?.noisePercent ?? 100));
    const disjoint = [...run("c0", ["a", "b"], 0, 5, 100), ...run("c1", ["a", "b"], 1000, 5, 100)];
    expect(pairedComparison(disjoint, 0, 500, 1000, 2000)).toBeNull();
  });
});

describe("latency model per overlay view", () => {
  it("follows the view every group has installed when a multicast starts", () => {
    // a, b, c in a line, 10 ms apart (20 ms a-c), 1 ms inside; the client sits at a.
    const groups = ["a", "b", "c"];
    const delay = [
      [1, 10, 20],
      [10, 1, 10],
      [20, 10, 1],
    ];
    const topology = new Topology(
      "line",
      { regions: groups, latencyMs: delay },
      groups.map((id) => ({ id, region: id })),
      [{ region: "a", count: 1 }],
    );
    const overlays = new Map([[1, new CdagOverlay("v1", ["a", "c", "b"])]]);
    const metrics = new MetricsCollector(
      topology,
      new Map([["c0", "a"]]),
      flexcast as ProtocolDefinition<unknown>,
      { groups, overlay: new CdagOverlay("v0", ["a", "b", "c"]), params: undefined },
      true,
      new Set(),
      (view) => overlays.get(view),
    );
    const multicast = (id: string, t: number): TraceEvent[] => [
      { ev: "multicast", id, client: "c0", dst: ["a", "b"], t },
      { ev: "deliver", id, group: "a", proc: "a/0", t: t + 1 },
      { ev: "deliver", id, group: "b", proc: "b/0", t: t + 50 },
      { ev: "complete", id, client: "c0", t: t + 60 },
    ];
    const events: TraceEvent[] = [
      ...multicast("c0:0", 0),
      { ev: "view", group: "a", view: 1, t: 100 },
      { ev: "view", group: "b", view: 1, t: 100 },
      // c has not installed view 1 yet: still view 0's model.
      ...multicast("c0:1", 200),
      { ev: "view", group: "c", view: 1, t: 300 },
      ...multicast("c0:2", 400),
    ];
    for (const event of events) metrics.onEvent(event);
    // View 0 (a>b>c): the client's leg, then a -> b: 1 + 10 = 11 ms. View 1 (a>c>b): c sits
    // between a and b and is notified; b waits for its answer: 1 + 20 + 10 = 31 ms.
    const { samples, latency } = metrics.finish();
    expect(samples.map((sample) => sample.modelMs)).toEqual([11, 11, 31]);
    expect(samples.map((sample) => sample.client)).toEqual(["c0", "c0", "c0"]);
    expect(latency.meanModelMs).toBeCloseTo(53 / 3, 9);
  });
});
