import { REPLICATION_MODES } from "@amcast/group";
import { DEFAULT_NET_OPTIONS } from "@amcast/runtime";
import { describe, expect, it } from "vitest";
import type { ParityCase } from "../src/parity.js";
import {
  compareSides,
  fullParityMatrix,
  notComparedBecause,
  PARITY_TEST_CASES,
  PARITY_TOLERANCE,
  parityScenario,
  runParity,
  simulatedSide,
} from "../src/parity.js";

/**
 * Parity: the same specs on the simulator and on real processes (one OS process per replica, the
 * WAN's delays injected in the transport) — every protocol, every replication mode, plain and
 * linearizable, in seven cases (see PARITY_TEST_CASES for what they cover). Both runtimes must owe and check the same properties and pass them, multicast and
 * deliver the same messages, and agree on latency quantiles p10 to p90 within PARITY_TOLERANCE.
 * `amcast parity --full` runs every combination and prints the table.
 */
const label = (parity: ParityCase): string => parityScenario(parity).label;

describe("the same run on both runtimes", () => {
  for (const parity of PARITY_TEST_CASES) {
    it(`${label(parity)}: same properties, same deliveries, same latencies`, {
      timeout: 180_000,
    }, async () => {
      const result = await runParity(parity, { ...DEFAULT_NET_OPTIONS, timeLimitMs: 120_000 });
      const { sim, net } = result;
      // The variant is carried: a linearizable run owes real-time order on both runtimes.
      expect(net.outcome.check?.owed.includes("real-time-order")).toBe(parity.linearizable);
      expect(net.outcome.spec.linearizable).toBe(parity.linearizable);
      expect(net.delivered.size).toBe(sim.multicasts.size);
      const because = notComparedBecause(result);
      if (because !== null)
        console.log(
          `${result.label}: ${because}: quantiles not compared, latencies held to the message pattern only`,
        );
      expect(result.problems).toEqual([]);
    });
  }
});

describe("the cases", () => {
  it("run every registered protocol, mode and variant", () => {
    const names = (cases: readonly ParityCase[]): string[] =>
      [...new Set(cases.map((parity) => parity.protocol.name))].sort();
    expect(names(PARITY_TEST_CASES)).toEqual(names(fullParityMatrix()));
    expect(new Set(PARITY_TEST_CASES.map((parity) => parity.mode))).toEqual(new Set(REPLICATION_MODES));
    expect(new Set(PARITY_TEST_CASES.map((parity) => parity.linearizable))).toEqual(new Set([false, true]));
  });
});

describe("the comparison catches the runtimes drifting apart", () => {
  it("a run whose linearizable flag was dropped on one side: different properties, faster globals", () => {
    // Both sides on the simulator (cheap): the plain run stands for a network runtime that
    // dropped the flag, as it once did.
    const parity = PARITY_TEST_CASES.find((candidate) => candidate.linearizable && candidate.mode === "solo");
    if (parity === undefined) throw new Error("a solo linearizable case");
    const lin = simulatedSide(parityScenario(parity));
    const plain = simulatedSide(parityScenario({ ...parity, linearizable: false }));
    const problems = compareSides(lin, plain, PARITY_TOLERANCE, true);
    expect(problems.some((problem) => problem.startsWith("properties owed:"))).toBe(true);
    expect(problems.some((problem) => /^p50: simulator [\d.]+ ms, network [\d.]+ ms/.test(problem))).toBe(
      true,
    );
    expect(compareSides(lin, lin, PARITY_TOLERANCE, true)).toEqual([]);
  });
});
