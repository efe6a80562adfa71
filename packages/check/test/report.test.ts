import type { TraceEvent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import {
  checkRun,
  checkTrace,
  formatReport,
  formatReportByProcess,
  violationProcesses,
} from "../src/index.js";
import { deliver, fault, members, multicast } from "./trace.js";

describe("formatReport", () => {
  it("summarizes a run where everything holds", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"] }),
      { ...multicast("m", "c1", ["g1"], 1), run: "seed-1" },
      { ...deliver("m", "g1/0", "g1", 2), run: "seed-1" },
    ];
    expect(formatReport(checkRun(events.slice(1), { realTime: true }))).toBe(
      "run seed-1: all 6 properties hold (1 multicasts, 1 deliveries)\n" +
        "  note: no member events; membership inferred from deliveries",
    );
    expect(formatReport(checkRun(events))).toBe(
      "run (unlabelled): all 5 properties hold (1 multicasts, 1 deliveries)",
    );
  });

  it("lists each violation and says what was skipped and truncated", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0", "g1/1"] }),
      fault("g1/1", "crash", 0),
      multicast("a", "c1", ["g1"], 1),
      multicast("b", "c1", ["g1"], 1),
      deliver("a", "g1/0", "g1", 2),
      deliver("a", "g1/0", "g1", 3),
      deliver("a", "g1/0", "g1", 4),
    ];
    const report = checkRun(events, { liveness: false, maxViolationsPerProperty: 1 });
    expect(formatReport(report)).toBe(
      [
        "run (unlabelled): FAILED: 1 violation of 1 of 3 properties (2 multicasts, 3 deliveries, 1 of 2 processes faulty)",
        "  note: validity and agreement not owed, not checked",
        "  integrity: g1/0 delivered a twice (t=2 and t=3)",
        "  (more violations of integrity were found but not kept)",
      ].join("\n"),
    );
  });

  it("formats every run of a trace", () => {
    const events: TraceEvent[] = [
      { ...multicast("m", "c1", ["g1"], 1), run: "x" },
      { ...multicast("m", "c1", ["g1"], 1), run: "y" },
      { ...deliver("m", "g1/0", "g1", 1), run: "y" },
    ];
    expect(checkTrace(events).map(formatReport)).toEqual([
      "run x: FAILED: 1 violation of 1 of 5 properties (1 multicasts, 0 deliveries)\n" +
        "  note: no member events; membership inferred from deliveries\n" +
        "  validity: no process of group g1 is known, so none delivered m multicast by c1 to [g1]",
      "run y: all 5 properties hold (1 multicasts, 1 deliveries)\n" +
        "  note: no member events; membership inferred from deliveries",
    ]);
  });

  it("names the run it is given, whatever its events say", () => {
    const events: TraceEvent[] = [multicast("m", "c1", ["g1"], 1), deliver("m", "g1/0", "g1", 2)];
    expect(formatReport(checkRun(events, { run: "swarm/skeen/seed-3" }))).toMatch(
      /^run swarm\/skeen\/seed-3: all 5 properties hold/,
    );
  });

  it("groups violations by the processes they are about, most first, a few shown each", () => {
    // g1/0 and g2/0 deliver a and b in opposite orders (a cycle); g1/1 misses both and delivers x,
    // which nobody multicast, twice.
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0", "g1/1"], g2: ["g2/0"] }),
      multicast("a", "c1", ["g1", "g2"], 1),
      multicast("b", "c1", ["g1", "g2"], 1),
      deliver("a", "g1/0", "g1", 2),
      deliver("b", "g1/0", "g1", 3),
      deliver("b", "g2/0", "g2", 2),
      deliver("a", "g2/0", "g2", 3),
      deliver("x", "g1/1", "g1", 4),
      deliver("x", "g1/1", "g1", 5),
    ];
    const report = checkRun(events, { run: "r" });
    expect(
      report.violations
        .map((violation) => violationProcesses(violation).map(String).sort().join(" & "))
        .sort(),
    ).toEqual(["g1/0 & g1/1", "g1/0 & g2/0", "g1/0 & g2/0", ...Array(6).fill("g1/1")]);
    const text = formatReportByProcess(report, 2);
    expect(text.split("\n").filter((line) => !line.startsWith("    "))).toEqual([
      "run r: FAILED: 9 violations of 5 of 5 properties (2 multicasts, 6 deliveries)",
      "  at g1/1 (6):",
      "  at g1/0 & g2/0 (2):",
      "  at g1/0 & g1/1 (1):",
    ]);
    expect(text).toContain("    ... 4 more");
    expect(text).toContain("    acyclic-order: cycle");
  });
});
