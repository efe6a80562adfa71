import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { runSwarmSeed } from "../src/index.js";

/** Seeds per protocol in every `pnpm test`; `pnpm run swarm --seeds N` runs more. */
const SWARM_SEEDS = 200;
/** Seeds per protocol for the linearizable variants (with real-time order checked). */
const LINEARIZABLE_SEEDS = 70;

function failures(protocolIndex: number, seeds: number, linearizable: boolean): string[] {
  const protocol = PROTOCOLS[protocolIndex];
  if (protocol === undefined) return ["no such protocol"];
  const found: string[] = [];
  for (let seed = 0; seed < seeds; seed += 1) {
    const { description, problems } = runSwarmSeed(protocol, seed, linearizable);
    if (problems.length > 0) found.push(`seed ${seed} (${description}):\n  ${problems.join("\n  ")}`);
  }
  return found;
}

PROTOCOLS.forEach((protocol, index) => {
  describe(`${protocol.name}: swarm`, () => {
    it(`holds every property on ${SWARM_SEEDS} random configurations`, () => {
      const found = failures(index, SWARM_SEEDS, false);
      expect(found, found.join("\n")).toEqual([]);
    });

    it(`linearizable: holds every property, real-time order included, on ${LINEARIZABLE_SEEDS} random configurations`, () => {
      const found = failures(index, LINEARIZABLE_SEEDS, true);
      expect(found, found.join("\n")).toEqual([]);
    });
  });
});
