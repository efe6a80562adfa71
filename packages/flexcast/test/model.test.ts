import { CdagOverlay } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { flexcast, flexcastLatencyMs, flexcastSpanLatencyMs } from "../src/index.js";

const uniform = (betweenMs: number, insideMs: number) => ({
  clientToGroupMs: () => insideMs,
  groupToGroupMs: (from: string, to: string) => (from === to ? insideMs : betweenMs),
});

describe("FlexCast latency model", () => {
  it("is the client's leg for a single destination", () => {
    const overlay = new CdagOverlay("o", ["a", "b"]);
    expect(flexcastLatencyMs(["b"], overlay, uniform(100, 5))).toBe(5);
  });

  it("waits for the notified group between two destinations", () => {
    // The prototype's 3-group scenario: a pair two groups apart costs two hops, adjacent one.
    const overlay = new CdagOverlay("o", ["Canada", "Virginia", "SaoPaulo"]);
    expect(flexcastLatencyMs(["Canada", "SaoPaulo"], overlay, uniform(100, 5))).toBe(205);
    expect(flexcastLatencyMs(["SaoPaulo", "Virginia"], overlay, uniform(100, 5))).toBe(105);
  });

  it("lets a notified group notify once, on its first notification", () => {
    // a < t1 < t2 < t3 < b, 100 ms apart. t2 hears from a at 100 and from t1 at 200: it answers
    // both, but notifies t3 at 100 only. So t3 answers last at 200 (from t1), and b hears last
    // from t2 and t3 at 300, not at 400 as a longest path through every group would say.
    const overlay = new CdagOverlay("o", ["a", "t1", "t2", "t3", "b"]);
    expect(flexcastLatencyMs(["a", "b"], overlay, uniform(100, 0))).toBe(300);
    // With t2 a destination, it notifies t3 when it delivers (at 200): b then waits until 400.
    expect(flexcastLatencyMs(["a", "t2", "b"], overlay, uniform(100, 0))).toBe(400);
  });

  it("takes a notified group's first notification from whoever reaches it first", () => {
    // a -> t1 -> t2 is shorter than a -> t2 (no triangle inequality): t2 notifies t3 at 20.
    const delays: Record<string, number> = { "a>t1": 10, "t1>t2": 10, "a>t2": 100, "t2>t3": 10 };
    const delay = (from: string, to: string) => delays[`${from}>${to}`] ?? 50;
    const span = ["a", "t1", "t2", "t3", "b"];
    // t3: from a 50, t1 10 + 50 = 60, t2 20 + 10 = 30 -> answers last at 60; b: t2's answers
    // at 100 + 50, t3's at 60 + 50: 150.
    expect(flexcastSpanLatencyMs(span, (g) => g === "a" || g === "b", 0, delay)).toBe(150);
  });

  it("with chained notifications, adds up each chain's hops (rule 8)", () => {
    // a < t1 < t2 < t3 < b, 100 ms apart: a's chain reaches t1 at 100, t2 at 200, t3 at 300, b at 400.
    const overlay = new CdagOverlay("o", ["a", "t1", "t2", "t3", "b"]);
    expect(flexcastLatencyMs(["a", "b"], overlay, uniform(100, 0), "chain")).toBe(400);
    // t2 a destination: it delivers at 200 (a's chain through t1), its own chain reaches t3 at 300
    // and b at 400; a's chain leaves t3 at 200 for b (300).
    expect(flexcastLatencyMs(["a", "t2", "b"], overlay, uniform(100, 0), "chain")).toBe(400);
    // Adjacent destinations notify nobody: the same as direct.
    expect(flexcastLatencyMs(["a", "t1"], overlay, uniform(100, 5), "chain")).toBe(105);
    // Where the direct pattern is slower: t2 hears a's direct notification late (a -> t2 is 300),
    // the chain reaches it through t1 at 20 and b at 30, before a's copy (50).
    const delays: Record<string, number> = { "a>t1": 10, "t1>t2": 10, "a>t2": 300, "t2>b": 10 };
    const delay = (from: string, to: string) => delays[`${from}>${to}`] ?? 50;
    const span = ["a", "t1", "t2", "b"];
    const endpoints = (g: string) => g === "a" || g === "b";
    expect(flexcastSpanLatencyMs(span, endpoints, 0, delay, "chain")).toBe(50);
    expect(flexcastSpanLatencyMs(span, endpoints, 0, delay)).toBe(310);
  });

  it("is what the protocol definition reports", () => {
    const overlay = new CdagOverlay("o", ["a", "t1", "t2", "t3", "b"]);
    const latency = uniform(100, 0);
    expect(
      flexcast.modelLatencyMs?.(["a", "b"], { groups: overlay.order, overlay, params: undefined }, latency),
    ).toBe(flexcastLatencyMs(["a", "b"], overlay, latency));
    const chained = { groups: overlay.order, overlay, params: { notifications: "chain" as const } };
    expect(flexcast.modelLatencyMs?.(["a", "b"], chained, latency)).toBe(400);
  });
});
