import { PROTOCOLS, runScenario } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { judge, PROPERTY_CASES } from "../src/index.js";

/** Seeds each named case runs with; the linearizable variant (real-time order owed) runs with one. */
const CASE_SEEDS = [1, 2];
const LINEARIZABLE_SEEDS = [1];

for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: shared property suite`, () => {
    for (const linearizable of [false, true]) {
      for (const propertyCase of PROPERTY_CASES) {
        for (const mode of propertyCase.modes) {
          const title = `${linearizable ? "linearizable, " : ""}${mode}: ${propertyCase.name}`;
          it(title, () => {
            for (const seed of linearizable ? LINEARIZABLE_SEEDS : CASE_SEEDS) {
              const outcome = runScenario({ ...propertyCase.scenario(protocol, mode, seed), linearizable });
              expect(outcome.metrics.multicasts).toBeGreaterThan(0);
              if (linearizable) expect(outcome.check?.checked).toContain("real-time-order");
              const replay = `pnpm --filter @amcast/conformance exec vitest run -t "${protocol.name}: shared property suite ${title}"`;
              expect(judge(outcome, propertyCase.live(mode), `${replay} (seed ${seed})`)).toEqual([]);
            }
          });
        }
      }
    }

    it("is deterministic: the same seed gives the same trace", () => {
      const traceOf = (seed: number): string => {
        const events: unknown[] = [];
        const base = PROPERTY_CASES[3];
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
