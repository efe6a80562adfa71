import type { TraceEvent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { type CheckReport, checkRun, type Property } from "../src/index.js";
import { deliver, member, members, multicast } from "./trace.js";

function of(report: CheckReport, property: Property): string[] {
  return report.violations
    .filter((violation) => violation.property === property)
    .map((violation) => violation.message);
}

function witnessesOf(report: CheckReport, property: Property): unknown[] {
  return report.violations
    .filter((violation) => violation.property === property)
    .map((violation) => violation.witness);
}

const twoGroups = members({ g1: ["g1/0", "g1/1"], g2: ["g2/0", "g2/1"] });

/** c1:1 to g1, c1:2 to both, c2:1 to g2: every process delivers its messages in one global order. */
const correct: TraceEvent[] = [
  ...twoGroups,
  multicast("c1:1", "c1", ["g1"], 1),
  multicast("c1:2", "c1", ["g1", "g2"], 2),
  multicast("c2:1", "c2", ["g2"], 3),
  deliver("c1:1", "g1/0", "g1", 5),
  deliver("c1:1", "g1/1", "g1", 6),
  deliver("c1:2", "g1/0", "g1", 7),
  deliver("c1:2", "g1/1", "g1", 8),
  deliver("c1:2", "g2/0", "g2", 7),
  deliver("c1:2", "g2/1", "g2", 9),
  deliver("c2:1", "g2/0", "g2", 10),
  deliver("c2:1", "g2/1", "g2", 11),
];

describe("a correct run", () => {
  it("satisfies every property", () => {
    const report = checkRun(correct, { realTime: true });
    expect(report.violations).toEqual([]);
    expect(report.checked).toEqual([
      "integrity",
      "validity",
      "agreement",
      "prefix-order",
      "acyclic-order",
      "real-time-order",
    ]);
    expect(report.counts).toEqual({ multicasts: 3, deliveries: 8, processes: 4, faultyProcesses: 0 });
    expect(report.membershipInferred).toBe(false);
    expect(report.truncated).toBe(false);
  });

  it("leaves real-time order out unless asked", () => {
    expect(checkRun(correct).checked).not.toContain("real-time-order");
  });
});

describe("integrity", () => {
  it("holds when each process delivers each addressed message once", () => {
    expect(of(checkRun(correct), "integrity")).toEqual([]);
  });

  it("reports a message delivered twice by one process", () => {
    const report = checkRun([...correct, deliver("c1:1", "g1/0", "g1", 12)]);
    expect(of(report, "integrity")).toEqual(["integrity: g1/0 delivered c1:1 twice (t=5 and t=12)"]);
    expect(witnessesOf(report, "integrity")).toEqual([
      { kind: "duplicate", proc: "g1/0", id: "c1:1", times: [5, 12] },
    ]);
  });

  it("reports a message that was never multicast", () => {
    const report = checkRun([...correct, deliver("ghost", "g2/0", "g2", 12)]);
    expect(of(report, "integrity")).toEqual([
      "integrity: g2/0 delivered ghost at t=12, but it was never multicast",
    ]);
  });

  it("reports a delivery by a process whose group is not a destination", () => {
    const report = checkRun([...correct, deliver("c2:1", "g1/0", "g1", 12)]);
    expect(of(report, "integrity")).toEqual([
      "integrity: g1/0 (group g1) delivered c2:1 at t=12, but it was multicast to [g2]",
    ]);
  });

  it("reports a process that changes group", () => {
    const report = checkRun([...correct, deliver("c2:1", "g1/1", "g2", 12)]);
    expect(of(report, "integrity")).toContain(
      "integrity: g1/1 reported group g2 when delivering c2:1 at t=12, but its group is g1",
    );
  });

  it("reports one id multicast twice with different destinations", () => {
    const report = checkRun([...correct, multicast("c1:1", "c1", ["g2"], 4)]);
    expect(of(report, "integrity")).toEqual([
      "integrity: c1:1 was multicast twice differently: by c1 to [g1] at t=1, then by c1 to [g2] at t=4",
    ]);
  });

  it("accepts a repeated identical multicast event", () => {
    expect(checkRun([...correct, multicast("c1:1", "c1", ["g1"], 4)]).violations).toEqual([]);
  });
});

describe("validity", () => {
  it("holds when every correct destination process delivers", () => {
    expect(of(checkRun(correct), "validity")).toEqual([]);
  });

  it("names the process that never delivered a correct client's message", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("c1:4", "c1", ["g1", "g2"], 1),
      deliver("c1:4", "g1/0", "g1", 2),
    ];
    const report = checkRun(events);
    expect(of(report, "validity")).toEqual([
      "validity: g2/0 (group g2) never delivered c1:4 multicast by c1 to [g1,g2]",
    ]);
    expect(witnessesOf(report, "validity")).toEqual([
      { id: "c1:4", proc: "g2/0", group: "g2", dst: ["g1", "g2"] },
    ]);
  });

  it("reports a message nobody delivered (agreement has nothing to say)", () => {
    const report = checkRun([...members({ g1: ["g1/0"] }), multicast("m", "c1", ["g1"], 1)]);
    expect(of(report, "validity")).toEqual([
      "validity: g1/0 (group g1) never delivered m multicast by c1 to [g1]",
    ]);
    expect(of(report, "agreement")).toEqual([]);
  });

  it("reports a destination group with no known process", () => {
    const report = checkRun([...members({ g1: ["g1/0"] }), multicast("m", "c1", ["g9"], 1)]);
    expect(of(report, "validity")).toEqual([
      "validity: no process of group g9 is known, so none delivered m multicast by c1 to [g9]",
    ]);
  });
});

describe("uniform agreement", () => {
  it("holds when a delivered message reaches every correct destination process", () => {
    expect(of(checkRun(correct), "agreement")).toEqual([]);
  });

  it("reports a correct process missing a message another process delivered", () => {
    const events = correct.filter(
      (event) => !(event.ev === "deliver" && event.proc === "g2/1" && event.id === "c1:2"),
    );
    const report = checkRun(events);
    expect(of(report, "agreement")).toEqual([
      "agreement: g2/1 (group g2) never delivered c1:2 multicast by c1 to [g1,g2], which g1/0 delivered at t=7",
    ]);
    expect(witnessesOf(report, "agreement")).toEqual([
      { id: "c1:2", proc: "g2/1", group: "g2", dst: ["g1", "g2"], deliveredBy: "g1/0", deliveredAt: 7 },
    ]);
  });
});

describe("prefix order", () => {
  it("holds when one process of a group is behind another", () => {
    const events = correct.filter(
      (event) => !(event.ev === "deliver" && event.proc === "g2/1" && event.id === "c2:1"),
    );
    expect(of(checkRun(events, { liveness: false }), "prefix-order")).toEqual([]);
  });

  it("reports two processes of one group that diverge", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0", "g1/1"] }),
      multicast("a", "c1", ["g1"], 1),
      multicast("b", "c2", ["g1"], 1),
      deliver("a", "g1/0", "g1", 2),
      deliver("b", "g1/0", "g1", 3),
      deliver("b", "g1/1", "g1", 2),
      deliver("a", "g1/1", "g1", 3),
    ];
    const report = checkRun(events);
    expect(of(report, "prefix-order")).toEqual([
      "prefix-order: g1/1 and g1/0 (group g1) diverge at delivery index 0: g1/1 delivered b, g1/0 delivered a",
    ]);
    expect(witnessesOf(report, "prefix-order")).toEqual([
      { procs: ["g1/1", "g1/0"], groups: ["g1", "g1"], position: 0, ids: ["b", "a"] },
    ]);
  });

  it("compares processes of different groups only on messages addressed to both", () => {
    // g1 and g2 interleave their local messages differently; the shared ones agree.
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("x", "c1", ["g1", "g2"], 1),
      multicast("y", "c1", ["g1", "g2"], 1),
      multicast("l1", "c2", ["g1"], 1),
      multicast("l2", "c3", ["g2"], 1),
      deliver("l1", "g1/0", "g1", 2),
      deliver("x", "g1/0", "g1", 3),
      deliver("y", "g1/0", "g1", 4),
      deliver("x", "g2/0", "g2", 2),
      deliver("l2", "g2/0", "g2", 3),
      deliver("y", "g2/0", "g2", 4),
    ];
    expect(checkRun(events).violations).toEqual([]);
  });

  it("reports processes of different groups that order shared messages differently", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("x", "c1", ["g1", "g2"], 1),
      multicast("y", "c2", ["g1", "g2"], 1),
      multicast("l", "c3", ["g1"], 1),
      deliver("l", "g1/0", "g1", 2),
      deliver("x", "g1/0", "g1", 3),
      deliver("y", "g1/0", "g1", 4),
      deliver("y", "g2/0", "g2", 3),
      deliver("x", "g2/0", "g2", 4),
    ];
    const report = checkRun(events);
    expect(of(report, "prefix-order")).toEqual([
      "prefix-order: g1/0 (group g1) and g2/0 (group g2) diverge at index 0 of their deliveries addressed to both " +
        "groups: g1/0 delivered x, g2/0 delivered y",
    ]);
    expect(witnessesOf(report, "prefix-order")).toEqual([
      { procs: ["g1/0", "g2/0"], groups: ["g1", "g2"], position: 0, ids: ["x", "y"] },
    ]);
  });
});

describe("prefix order of a diverging replica", () => {
  it("is also checked against the other groups", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0", "g1/1"], g2: ["g2/0"] }),
      multicast("x", "c1", ["g1", "g2"], 1),
      multicast("y", "c2", ["g1", "g2"], 1),
      deliver("x", "g1/0", "g1", 2),
      deliver("y", "g1/0", "g1", 3),
      deliver("y", "g1/1", "g1", 2),
      deliver("x", "g1/1", "g1", 3),
      deliver("x", "g2/0", "g2", 2),
      deliver("y", "g2/0", "g2", 3),
    ];
    expect(witnessesOf(checkRun(events), "prefix-order")).toEqual([
      { procs: ["g1/1", "g1/0"], groups: ["g1", "g1"], position: 0, ids: ["y", "x"] },
      { procs: ["g1/1", "g2/0"], groups: ["g1", "g2"], position: 0, ids: ["y", "x"] },
    ]);
  });
});

describe("acyclic order", () => {
  it("holds for consistent orders", () => {
    expect(of(checkRun(correct), "acyclic-order")).toEqual([]);
  });

  it("reports a two-message cycle with the processes that ordered each edge", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"] }),
      multicast("m1", "c1", ["g1", "g2"], 1),
      multicast("m2", "c2", ["g1", "g2"], 1),
      deliver("m1", "g1/0", "g1", 2),
      deliver("m2", "g1/0", "g1", 3),
      deliver("m2", "g2/0", "g2", 2),
      deliver("m1", "g2/0", "g2", 3),
    ];
    const report = checkRun(events);
    expect(of(report, "acyclic-order")).toEqual([
      "acyclic-order: cycle m1 -> m2 -> m1 (g1/0 delivered m1 before m2; g2/0 delivered m2 before m1)",
    ]);
    expect(witnessesOf(report, "acyclic-order")).toEqual([
      {
        cycle: [
          { kind: "order", from: "m1", to: "m2", proc: "g1/0" },
          { kind: "order", from: "m2", to: "m1", proc: "g2/0" },
        ],
      },
    ]);
  });

  it("finds a three-group cycle that no pairwise comparison sees", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0"], g2: ["g2/0"], g3: ["g3/0"] }),
      multicast("m1", "c1", ["g1", "g3"], 1),
      multicast("m2", "c2", ["g1", "g2"], 1),
      multicast("m3", "c3", ["g2", "g3"], 1),
      deliver("m1", "g1/0", "g1", 2),
      deliver("m2", "g1/0", "g1", 3),
      deliver("m2", "g2/0", "g2", 2),
      deliver("m3", "g2/0", "g2", 3),
      deliver("m3", "g3/0", "g3", 2),
      deliver("m1", "g3/0", "g3", 3),
    ];
    const report = checkRun(events);
    expect(of(report, "prefix-order")).toEqual([]);
    expect(of(report, "acyclic-order")).toEqual([
      "acyclic-order: cycle m1 -> m2 -> m3 -> m1 (g1/0 delivered m1 before m2; g2/0 delivered m2 before m3; " +
        "g3/0 delivered m3 before m1)",
    ]);
    expect(report.violations.map((violation) => violation.property)).toEqual(["acyclic-order"]);
  });

  it("finds a cycle of 200,000 messages without recursion", () => {
    const count = 200_000;
    const events: TraceEvent[] = [...members({ g1: ["g1/0"], g2: ["g2/0"] })];
    for (let index = 0; index < count; index += 1) {
      events.push(multicast(index, "c1", ["g1", "g2"], 0), deliver(index, "g1/0", "g1", index + 1));
    }
    // g2/0 delivers the last message first, closing the chain into one long cycle.
    events.push(deliver(count - 1, "g2/0", "g2", 1), deliver(0, "g2/0", "g2", 2));
    const report = checkRun(events, { liveness: false });
    const cycles = report.violations.filter((violation) => violation.property === "acyclic-order");
    expect(cycles).toHaveLength(1);
    const witness = cycles[0]?.witness as { cycle: unknown[] } | undefined;
    expect(witness?.cycle).toHaveLength(count);
    // The message shows the ends of the cycle only.
    expect(cycles[0]?.message).toMatch(
      /^acyclic-order: cycle of 200000 messages 0 -> 1 -> 2 -> 3 -> 4 -> 5 -> \.\.\. 199988 more \.\.\. -> 199994 -> /,
    );
    expect(cycles[0]?.message).toContain(
      "g1/0 delivered 199998 before 199999; g2/0 delivered 199999 before 0)",
    );
    expect(cycles[0]?.message.length).toBeLessThan(1000);
    // Big by design; a loaded machine running every package's tests at once can take a while.
  }, 60_000);

  it("ignores a repeated delivery instead of inventing a cycle", () => {
    const report = checkRun([...correct, deliver("c1:1", "g1/0", "g1", 12)]);
    expect(report.violations.map((violation) => violation.property)).toEqual(["integrity"]);
  });
});

describe("time order within a process", () => {
  it("sorts each process's deliveries by t, keeping file order for equal t", () => {
    const events: TraceEvent[] = [
      ...members({ g1: ["g1/0", "g1/1"] }),
      multicast("a", "c1", ["g1"], 1),
      multicast("b", "c1", ["g1"], 1),
      multicast("c", "c1", ["g1"], 1),
      deliver("c", "g1/0", "g1", 9),
      deliver("a", "g1/0", "g1", 4),
      deliver("b", "g1/0", "g1", 4),
      deliver("a", "g1/1", "g1", 2),
      deliver("b", "g1/1", "g1", 3),
      deliver("c", "g1/1", "g1", 5),
    ];
    expect(checkRun(events).violations).toEqual([]);
  });
});

describe("numeric ids", () => {
  it("keeps numbers and strings apart as given", () => {
    const events: TraceEvent[] = [
      member(1, 10),
      multicast(1, 7, [1], 1),
      deliver(1, 10, 1, 2),
      deliver("1", 10, 1, 3),
    ];
    expect(checkRun(events).violations.map((violation) => violation.message)).toEqual([
      "integrity: 10 delivered 1 at t=3, but it was never multicast",
    ]);
  });
});
