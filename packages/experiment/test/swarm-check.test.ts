import type { Property } from "@amcast/check";
import { checkTrace, formatReport, PROPERTIES } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import { formatTraceLine, parseTrace } from "@amcast/core";
import { REPLICATION_MODES } from "@amcast/group";
import { describe, expect, it } from "vitest";
import { PROTOCOLS, runFailed, runScenario, swarmCase } from "../src/index.js";

/**
 * `amcast swarm` and `amcast check` agree on every trace: a swarm run judged in process and its
 * trace file judged by the checker alone reach the same verdict, with the same violation counts
 * per property and the same report. Seeds cover crashes of solo groups (no delivery owed),
 * replicated groups, Byzantine replicas, linearizable runs (real-time order owed) and plain
 * runs that count real-time order.
 */
/** A few seeds, and 17: a solo group crashes and the run stalls, which owes no delivery. */
const SEEDS = [0, 1, 2, 3, 4, 17];

function counts(violations: readonly { property: Property }[]): Record<string, number> {
  return Object.fromEntries(
    PROPERTIES.map((property) => [
      property,
      violations.filter((violation) => violation.property === property).length,
    ]),
  );
}

describe("swarm and check agree on every trace", () => {
  for (const protocol of PROTOCOLS) {
    // A plain run that counts real-time order checks everything a plain run checks, and more.
    for (const variant of ["real-time", "linearizable"] as const) {
      it(`${protocol.name}, ${variant}: seeds ${SEEDS.join(", ")}`, () => {
        let failedSeeds = 0;
        for (const seed of SEEDS) {
          const lines: string[] = [];
          const { scenario } = swarmCase(protocol, seed, {
            crashes: true,
            realTime: variant === "real-time",
            linearizable: variant === "linearizable",
            modes: REPLICATION_MODES,
            onTrace: (event: TraceEvent) => lines.push(formatTraceLine(event)),
          });
          const outcome = runScenario(scenario);
          const inProcess = outcome.check;
          if (inProcess === null) throw new Error("the swarm checks every run");
          const [fromFile, ...others] = checkTrace(
            parseTrace(`${lines.join("\n")}\n`, `swarm-${seed}.jsonl`),
          );
          expect(others).toEqual([]);
          if (fromFile === undefined) throw new Error("one run in the trace");
          const where = `${protocol.name} ${variant} seed ${seed}`;
          expect(fromFile.passed, where).toBe(inProcess.passed);
          expect(runFailed(outcome), where).toBe(!fromFile.passed);
          expect(counts(fromFile.violations), where).toEqual(counts(inProcess.violations));
          expect(fromFile.owed, where).toEqual(inProcess.owed);
          // The same report; the swarm's trace names no run, the swarm names it after its seed.
          expect(formatReport({ ...fromFile, run: inProcess.run }), where).toBe(formatReport(inProcess));
          if (!fromFile.passed) failedSeeds += 1;
        }
        // The swarm's seeds pass (the conformance suite runs hundreds of them).
        expect(failedSeeds).toBe(0);
      });
    }
  }
});
