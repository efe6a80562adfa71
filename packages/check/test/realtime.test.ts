import type { TraceEvent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { type CheckReport, checkRun, type Property } from "../src/index.js";
import { deliver, members, multicast } from "./trace.js";

function of(report: CheckReport, property: Property): string[] {
  return report.violations
    .filter((violation) => violation.property === property)
    .map((violation) => violation.message);
}

describe("real-time order", () => {
  it("holds when messages multicast after a delivery are delivered after it", () => {
    const events: TraceEvent[] = [
      ...members({ P0: ["P0"], P1: ["P1"] }),
      multicast("a", "c1", ["P0", "P1"], 1),
      deliver("a", "P0", "P0", 3),
      deliver("a", "P1", "P1", 4),
      multicast("b", "c2", ["P1"], 5),
      deliver("b", "P1", "P1", 6),
    ];
    const report = checkRun(events, { realTime: true });
    expect(report.violations).toEqual([]);
  });

  it("reports the linearizable-multicast anomaly that acyclic order accepts", () => {
    // r to {P0,P1}; P0 delivers r then w0; w1 is multicast to P1 after P0 delivered r, but P1
    // delivers w1 before r: r precedes w1 in real time, and w1 precedes r at P1.
    const events: TraceEvent[] = [
      ...members({ P0: ["P0"], P1: ["P1"] }),
      multicast("r", "c1", ["P0", "P1"], 1),
      deliver("r", "P0", "P0", 10),
      multicast("w0", "c2", ["P0"], 11),
      deliver("w0", "P0", "P0", 12),
      { ev: "complete", id: "w0", client: "c2", t: 12.5 },
      multicast("w1", "c3", ["P1"], 13),
      deliver("w1", "P1", "P1", 14),
      deliver("r", "P1", "P1", 20),
    ];
    const withoutRealTime = checkRun(events);
    expect(withoutRealTime.violations).toEqual([]);

    const report = checkRun(events, { realTime: true });
    expect(of(report, "acyclic-order")).toEqual([]);
    expect(of(report, "real-time-order")).toEqual([
      "real-time-order: cycle r -> w1 -> r (r delivered at t=10 (by P0) before w1 multicast at t=13; " +
        "P1 delivered w1 before r)",
    ]);
    expect(report.violations[0]?.witness).toEqual({
      cycle: [
        { kind: "real-time", from: "r", to: "w1", deliveredBy: "P0", deliveredAt: 10, multicastAt: 13 },
        { kind: "order", from: "w1", to: "r", proc: "P1" },
      ],
    });
  });

  it("does not order a delivery before a multicast at the same instant", () => {
    const events: TraceEvent[] = [
      ...members({ P0: ["P0"], P1: ["P1"] }),
      multicast("a", "c1", ["P0", "P1"], 1),
      deliver("a", "P0", "P0", 5),
      multicast("b", "c2", ["P1"], 5),
      deliver("b", "P1", "P1", 6),
      deliver("a", "P1", "P1", 7),
    ];
    expect(checkRun(events, { realTime: true }).violations).toEqual([]);

    const later = events.map((event) =>
      event.ev === "multicast" && event.id === "b" ? { ...event, t: 5.001 } : event,
    );
    expect(of(checkRun(later, { realTime: true }), "real-time-order")).toHaveLength(1);
  });

  it("shows times to three decimals, unless that would hide which came first", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("a", "c1", ["g1", "g2"], 1),
      deliver("a", "g1/0", "g1", 2.00004),
      multicast("b", "c2", ["g2"], 2.00009),
      deliver("b", "g2/0", "g2", 3.1234567),
      deliver("a", "g2/0", "g2", 4),
      deliver("a", "g1/0", "g1", 5.5555555),
    ];
    const report = checkRun(events, { realTime: true });
    expect(of(report, "real-time-order")).toEqual([
      "real-time-order: cycle a -> b -> a (a delivered at t=2.00004 (by g1/0) before b multicast at t=2.00009; " +
        "g2/0 delivered b before a)",
    ]);
    expect(of(report, "integrity")).toEqual(["integrity: g1/0 delivered a twice (t=2 and t=5.556)"]);
  });

  it("reports a message delivered before it was multicast", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"] }),
      deliver("m", "g1/0", "g1", 2),
      multicast("m", "c1", ["g1"], 3),
    ];
    expect(of(checkRun(events, { realTime: true }), "real-time-order")).toEqual([
      "real-time-order: cycle m -> m (m delivered at t=2 (by g1/0) before m multicast at t=3)",
    ]);
  });

  it("uses the earliest delivery at any process, through a chain of barriers", () => {
    // a is first delivered at t=2; b, c, d are multicast at 3, 4, 5 (one barrier each); d is
    // delivered before a at g2/0, so the cycle goes a -> d by real time across the barriers.
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("a", "c1", ["g1", "g2"], 1),
      deliver("a", "g1/0", "g1", 2),
      multicast("b", "c2", ["g1"], 3),
      deliver("b", "g1/0", "g1", 3.5),
      multicast("c", "c3", ["g1"], 4),
      deliver("c", "g1/0", "g1", 4.5),
      multicast("d", "c4", ["g2"], 5),
      deliver("d", "g2/0", "g2", 6),
      deliver("a", "g2/0", "g2", 7),
    ];
    expect(of(checkRun(events, { realTime: true }), "real-time-order")).toEqual([
      "real-time-order: cycle a -> d -> a (a delivered at t=2 (by g1/0) before d multicast at t=5; " +
        "g2/0 delivered d before a)",
    ]);
  });

  it("leaves a cycle of delivery order alone to acyclic order", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("m1", "c1", ["g1", "g2"], 1),
      multicast("m2", "c2", ["g1", "g2"], 1),
      deliver("m1", "g1/0", "g1", 2),
      deliver("m2", "g1/0", "g1", 3),
      deliver("m2", "g2/0", "g2", 2),
      deliver("m1", "g2/0", "g2", 3),
      multicast("m3", "c3", ["g1"], 4),
      deliver("m3", "g1/0", "g1", 5),
    ];
    const report = checkRun(events, { realTime: true });
    expect(of(report, "acyclic-order")).toHaveLength(1);
    expect(of(report, "real-time-order")).toEqual([]);
  });

  it("ignores deliveries by Byzantine processes for the earliest delivery", () => {
    const events: TraceEvent[] = [
      ...members({ P0: ["P0", "P0b"], P1: ["P1"] }),
      { ev: "fault", proc: "P0b", kind: "byzantine", t: 0 },
      multicast("r", "c1", ["P0", "P1"], 1),
      deliver("r", "P0b", "P0", 2),
      multicast("w1", "c3", ["P1"], 13),
      deliver("w1", "P1", "P1", 14),
      deliver("r", "P1", "P1", 20),
      deliver("r", "P0", "P0", 21),
    ];
    expect(checkRun(events, { realTime: true }).violations).toEqual([]);
  });
});
