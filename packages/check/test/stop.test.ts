import type { StopEvent, TraceEvent } from "@amcast/core";
import { parseTrace } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { checkRun, failingViolations, formatReport } from "../src/index.js";
import { deliver, members, multicast } from "./trace.js";

/** g1 delivers a, never b; and a real-time cycle-free history. */
const undelivered: TraceEvent[] = [
  ...members({ g1: ["g1/0"] }),
  multicast("a", "c1", ["g1"], 1),
  multicast("b", "c1", ["g1"], 2),
  deliver("a", "g1/0", "g1", 3),
];
const delivered: TraceEvent[] = [...undelivered, deliver("b", "g1/0", "g1", 4)];

const ALL_BUT_REAL_TIME = ["integrity", "validity", "agreement", "prefix-order", "acyclic-order"];
const SAFETY = ["integrity", "prefix-order", "acyclic-order"];

function stop(reason: StopEvent["reason"], fields: Partial<StopEvent> = {}): StopEvent {
  return { ev: "stop", reason, t: 10, ...fields };
}

describe("the stop event: how a run ended and what it owes", () => {
  it("without one, a run owes every property but real-time order and is taken to have finished", () => {
    const report = checkRun(delivered);
    expect(report.owed).toEqual(ALL_BUT_REAL_TIME);
    expect(report.stop).toBeNull();
    expect(report.passed).toBe(true);
  });

  it("a drained run owes what its stop event lists", () => {
    const report = checkRun([
      ...delivered,
      stop("drained", { owes: [...ALL_BUT_REAL_TIME, "real-time-order"] }),
    ]);
    expect(report.owed).toContain("real-time-order");
    expect(report.passed).toBe(true);
  });

  it("a run stopped at a time limit it did not declare fails, even with nothing undelivered", () => {
    const cut = checkRun([...undelivered, stop("time-limit", { owes: ALL_BUT_REAL_TIME })]);
    expect(cut.passed).toBe(false);
    expect(failingViolations(cut).map((violation) => violation.property)).toEqual(["validity"]);
    const clean = checkRun([...delivered, stop("time-limit", { owes: ALL_BUT_REAL_TIME })]);
    expect(clean.violations).toEqual([]);
    expect(clean.passed).toBe(false);
    expect(formatReport(clean)).toContain("the run did not finish, so it does not pass");
  });

  it("a declared time limit owes no delivery, and the report says it was the planned end", () => {
    const report = checkRun([...undelivered, stop("time-limit", { owes: SAFETY, expected: true })]);
    expect(report.checked).toEqual(SAFETY);
    expect(report.passed).toBe(true);
    expect(formatReport(report)).toContain("stopped: time-limit at t=10 (the experiment's declared end)");
  });

  it("stalled and interrupted runs that owe delivery fail", () => {
    for (const reason of ["stalled", "interrupted"] as const)
      expect(checkRun([...delivered, stop(reason, { owes: ALL_BUT_REAL_TIME })]).passed).toBe(false);
  });

  it("counted properties are checked and reported, never failing the run", () => {
    // b is multicast after g1 delivered a, yet g2 delivers b before a: a real-time cycle.
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("a", "c1", ["g1", "g2"], 0),
      deliver("a", "g1/0", "g1", 1),
      multicast("b", "c2", ["g2"], 2),
      deliver("b", "g2/0", "g2", 3),
      deliver("a", "g2/0", "g2", 4),
      stop("drained", { owes: ALL_BUT_REAL_TIME, counts: ["real-time-order"] }),
    ];
    const plain = checkRun(events);
    expect(plain.checked).toContain("real-time-order");
    expect(plain.violations.map((violation) => violation.property)).toEqual(["real-time-order"]);
    expect(plain.passed).toBe(true);
    expect(formatReport(plain)).toMatch(/real-time-order \(counted, not owed\) broken 1x/);
    // Asking for real-time order makes it owed.
    expect(checkRun(events, { realTime: true }).passed).toBe(false);
  });

  it("options override the trace: no liveness, or liveness asked for", () => {
    const declared = [...undelivered, stop("time-limit", { owes: SAFETY, expected: true })];
    expect(checkRun(declared, { liveness: true }).passed).toBe(false);
    expect(checkRun([...undelivered, stop("drained")], { liveness: false }).passed).toBe(true);
  });

  it("is read from a trace file and rejects a malformed one", () => {
    const events = parseTrace(
      '{"ev":"stop","reason":"time-limit","t":5,"owes":["integrity"],"expected":true}\n',
      "f.jsonl",
    );
    expect(events[0]).toEqual({
      ev: "stop",
      reason: "time-limit",
      t: 5,
      owes: ["integrity"],
      expected: true,
    });
    expect(() => parseTrace('{"ev":"stop","reason":"tired","t":5}\n', "f.jsonl")).toThrow(/reason/);
    expect(() => parseTrace('{"ev":"stop","reason":"drained","t":5,"owes":"all"}\n', "f.jsonl")).toThrow(
      /owes/,
    );
  });
});
