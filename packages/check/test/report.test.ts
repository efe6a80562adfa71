import type { TraceEvent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { checkRun, checkTrace, formatReport } from "../src/index.js";
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
});
