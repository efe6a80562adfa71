import { PROTOCOLS, runScenario } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { CASE_SEEDS, LINEARIZABLE_CASE_SEEDS, PROPERTY_CASES, runPropertyCase } from "../src/index.js";

for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: shared property suite`, () => {
    for (const linearizable of [false, true]) {
      for (const propertyCase of PROPERTY_CASES) {
        for (const mode of propertyCase.modes) {
          it(`${linearizable ? "linearizable, " : ""}${mode}: ${propertyCase.name}`, () => {
            for (const seed of linearizable ? LINEARIZABLE_CASE_SEEDS : CASE_SEEDS) {
              const { outcome, problems } = runPropertyCase(protocol, propertyCase, mode, seed, linearizable);
              expect(problems, problems.join("\n")).toEqual([]);
              expect(outcome?.metrics.multicasts).toBeGreaterThan(0);
            }
          });
        }
      }
    }

    it("is deterministic: the same seed gives the same trace", () => {
      const traceOf = (seed: number): string => {
        const events: unknown[] = [];
        const base = PROPERTY_CASES.find((candidate) => candidate.id === "reorder");
        if (base === undefined) throw new Error("the suite has a reordering case");
        runScenario({
          ...base.scenario(protocol, "byzantine", seed),
          onTrace: (event) => events.push(event),
        });
        return JSON.stringify(events);
      };
      expect(traceOf(5)).toBe(traceOf(5));
      expect(traceOf(5)).not.toBe(traceOf(6));
    });
  });
}
