import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { LINEARIZABLE_SWARM_SEEDS, swarmFailures } from "../src/index.js";

for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: swarm, linearizable`, () => {
    it(`holds every property, real-time order included, on ${LINEARIZABLE_SWARM_SEEDS} random configurations`, () => {
      const found = swarmFailures(protocol, LINEARIZABLE_SWARM_SEEDS, true);
      expect(found, found.join("\n")).toEqual([]);
    });
  });
}
