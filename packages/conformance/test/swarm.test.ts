import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { runSwarmSeed } from "../src/index.js";

/** Seeds per protocol in every `pnpm test`; `pnpm run swarm --seeds N` runs more. */
const SWARM_SEEDS = 200;

for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: swarm`, () => {
    it(`holds every property on ${SWARM_SEEDS} random configurations`, () => {
      const failures: string[] = [];
      for (let seed = 0; seed < SWARM_SEEDS; seed += 1) {
        const { description, problems } = runSwarmSeed(protocol, seed);
        if (problems.length > 0) failures.push(`seed ${seed} (${description}):\n  ${problems.join("\n  ")}`);
      }
      expect(failures, failures.join("\n")).toEqual([]);
    });
  });
}
