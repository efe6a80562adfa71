import type { TraceEvent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import {
  type CheckReport,
  checkRun,
  checkTrace,
  DEFAULT_MAX_VIOLATIONS,
  formatReport,
  type Property,
} from "../src/index.js";
import { deliver, fault, members, multicast } from "./trace.js";

function of(report: CheckReport, property: Property): string[] {
  return report.violations
    .filter((violation) => violation.property === property)
    .map((violation) => violation.message);
}

const groups = members({ g1: ["g1/0", "g1/1", "g1/2"], g2: ["g2/0", "g2/1", "g2/2"] });

describe("Byzantine processes", () => {
  it("have their deliveries ignored and no obligations", () => {
    const events: TraceEvent[] = [
      ...groups,
      fault("g1/2", "byzantine", 0),
      multicast("a", "c1", ["g1"], 1),
      multicast("b", "c1", ["g1", "g2"], 1),
      deliver("a", "g1/0", "g1", 2),
      deliver("a", "g1/1", "g1", 2),
      deliver("b", "g1/0", "g1", 3),
      deliver("b", "g1/1", "g1", 3),
      deliver("b", "g2/0", "g2", 3),
      deliver("b", "g2/1", "g2", 3),
      deliver("b", "g2/2", "g2", 3),
      // The Byzantine replica delivers out of order, twice, a message never sent, and skips a.
      deliver("b", "g1/2", "g1", 1),
      deliver("b", "g1/2", "g1", 2),
      deliver("forged", "g1/2", "g2", 3),
    ];
    const report = checkRun(events, { realTime: true });
    expect(report.violations).toEqual([]);
    expect(report.counts.faultyProcesses).toBe(1);
    expect(report.counts.deliveries).toBe(10);
  });
});

describe("crashed processes", () => {
  it("oblige correct processes by what they delivered (uniform agreement)", () => {
    const events: TraceEvent[] = [
      ...groups,
      // c1 is faulty, so validity does not apply: only agreement can catch the lost message.
      fault("c1", "crash", 1),
      fault("g1/0", "crash", 5),
      multicast("m", "c1", ["g1", "g2"], 1),
      deliver("m", "g1/0", "g1", 4),
    ];
    const report = checkRun(events);
    expect(of(report, "validity")).toEqual([]);
    expect(of(report, "agreement")).toEqual([
      "agreement: g1/1 (group g1) never delivered m multicast by c1 to [g1,g2], which g1/0 (a process that crashed) delivered at t=4",
      "agreement: g1/2 (group g1) never delivered m multicast by c1 to [g1,g2], which g1/0 (a process that crashed) delivered at t=4",
      "agreement: g2/0 (group g2) never delivered m multicast by c1 to [g1,g2], which g1/0 (a process that crashed) delivered at t=4",
      "agreement: g2/1 (group g2) never delivered m multicast by c1 to [g1,g2], which g1/0 (a process that crashed) delivered at t=4",
      "agreement: g2/2 (group g2) never delivered m multicast by c1 to [g1,g2], which g1/0 (a process that crashed) delivered at t=4",
    ]);
  });

  it("are not reported when they never deliver, even after recovering", () => {
    const events: TraceEvent[] = [
      ...groups,
      fault("g2/2", "crash", 1),
      fault("g2/2", "recover", 2),
      multicast("m", "c1", ["g1", "g2"], 1),
      ...["g1/0", "g1/1", "g1/2"].map((proc) => deliver("m", proc, "g1", 3)),
      ...["g2/0", "g2/1"].map((proc) => deliver("m", proc, "g2", 3)),
    ];
    const report = checkRun(events);
    expect(report.violations).toEqual([]);
    expect(report.counts.faultyProcesses).toBe(1);
  });

  it("still count for order: a crashed process's conflicting order is reported", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0", "g1/1"] }),
      fault("g1/1", "crash", 9),
      multicast("a", "c1", ["g1"], 1),
      multicast("b", "c1", ["g1"], 1),
      deliver("a", "g1/0", "g1", 2),
      deliver("b", "g1/0", "g1", 3),
      deliver("b", "g1/1", "g1", 2),
      deliver("a", "g1/1", "g1", 3),
    ];
    const report = checkRun(events);
    expect(of(report, "prefix-order")).toHaveLength(1);
    expect(of(report, "acyclic-order")).toHaveLength(1);
  });
});

describe("faulty clients", () => {
  it("are not owed validity", () => {
    const events: TraceEvent[] = [...groups, fault("c1", "crash", 1), multicast("m", "c1", ["g1"], 0)];
    expect(checkRun(events).violations).toEqual([]);
  });
});

describe("liveness off", () => {
  const cut: TraceEvent[] = [
    ...groups,
    multicast("m", "c1", ["g1", "g2"], 1),
    multicast("n", "c1", ["g1"], 2),
    deliver("m", "g1/0", "g1", 3),
  ];

  it("skips validity and agreement", () => {
    const report = checkRun(cut, { liveness: false });
    expect(report.violations).toEqual([]);
    expect(report.checked).toEqual(["integrity", "prefix-order", "acyclic-order"]);
  });

  it("still checks safety", () => {
    const report = checkRun([...cut, deliver("n", "g2/0", "g2", 4)], { liveness: false });
    expect(report.violations.map((violation) => violation.property)).toEqual(["integrity"]);
  });

  it("is on by default", () => {
    const report = checkRun(cut);
    expect(of(report, "validity")).toHaveLength(2 + 3 + 3);
    expect(of(report, "agreement")).toHaveLength(2 + 3);
  });
});

describe("membership", () => {
  it("is inferred from deliveries when there are no member events", () => {
    const events: TraceEvent[] = [
      multicast("m", "c1", ["g1", "g2"], 1),
      deliver("m", "g1/0", "g1", 2),
      deliver("m", "g1/1", "g1", 3),
      deliver("m", "g2/0", "g2", 3),
    ];
    const report = checkRun(events);
    expect(report.membershipInferred).toBe(true);
    expect(report.violations).toEqual([]);
    expect(report.counts.processes).toBe(3);
  });

  it("obliges declared members that delivered nothing", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0", "g1/1"] }),
      multicast("m", "c1", ["g1"], 1),
      deliver("m", "g1/0", "g1", 2),
    ];
    const report = checkRun(events);
    expect(report.membershipInferred).toBe(false);
    expect(of(report, "validity")).toEqual([
      "validity: g1/1 (group g1) never delivered m multicast by c1 to [g1]",
    ]);
  });

  it("reports a process declared in two groups", () => {
    const events: TraceEvent[] = [...members({ g1: ["p"], g2: ["p"] })];
    expect(of(checkRun(events), "integrity")).toEqual([
      "integrity: p is declared a member of both g1 and g2",
    ]);
  });
});

describe("several runs", () => {
  it("are split by run label in first-appearance order, unlabelled events forming one run", () => {
    const events: TraceEvent[] = [
      { ...multicast("m", "c1", ["g1"], 1), run: "b" },
      { ...deliver("m", "g1/0", "g1", 2), run: "b" },
      { ...multicast("m", "c1", ["g1"], 1), run: "a" },
      multicast("x", "c1", ["g1"], 1),
      // In run a, m is delivered twice; in run b once: the runs must not mix.
      { ...deliver("m", "g1/0", "g1", 2), run: "a" },
      { ...deliver("m", "g1/0", "g1", 3), run: "a" },
      deliver("x", "g1/0", "g1", 3),
    ];
    const reports = checkTrace(events);
    expect(reports.map((report) => report.run)).toEqual(["b", "a", undefined]);
    expect(reports.map((report) => report.violations.length)).toEqual([0, 1, 0]);
    expect(reports[1]?.violations[0]?.message).toBe("integrity: g1/0 delivered m twice (t=2 and t=3)");
    expect(reports.map((report) => report.counts.deliveries)).toEqual([1, 2, 1]);
  });
});

describe("violation cap", () => {
  const events: TraceEvent[] = [
    ...members({ g1: ["g1/0"] }),
    ...Array.from({ length: 30 }, (_, index) => multicast(`m${index}`, "c1", ["g1"], index)),
  ];

  it("keeps at most maxViolationsPerProperty per property and says so", () => {
    const report = checkRun(events, { maxViolationsPerProperty: 3 });
    expect(report.violations).toHaveLength(3);
    expect(report.truncated).toBe(true);
    expect(report.truncatedProperties).toEqual(["validity"]);
  });

  it("defaults to DEFAULT_MAX_VIOLATIONS, and prints ten per property", () => {
    const many: TraceEvent[] = [
      ...members({ g1: ["g1/0"] }),
      ...Array.from({ length: DEFAULT_MAX_VIOLATIONS + 5 }, (_, index) =>
        multicast(`m${index}`, "c1", ["g1"], index),
      ),
    ];
    const report = checkRun(many);
    expect(report.violations).toHaveLength(DEFAULT_MAX_VIOLATIONS);
    expect(report.truncatedProperties).toEqual(["validity"]);
    const text = formatReport(report).split("\n");
    expect(text.filter((line) => line.startsWith("  validity:"))).toHaveLength(10);
    expect(text).toContain(`  ... ${DEFAULT_MAX_VIOLATIONS - 10} more violations of validity`);
  });

  it("is not truncated at exactly the cap", () => {
    const report = checkRun(events.slice(0, 1 + 3), { maxViolationsPerProperty: 3 });
    expect(report.violations).toHaveLength(3);
    expect(report.truncated).toBe(false);
  });

  it("rejects a negative or fractional cap", () => {
    expect(() => checkRun(events, { maxViolationsPerProperty: -1 })).toThrow(RangeError);
    expect(() => checkRun(events, { maxViolationsPerProperty: 1.5 })).toThrow(RangeError);
  });
});
