import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { SWARM_SEEDS, swarmFailures } from "../src/index.js";

// The swarm is split over three files so the test runner spreads them over its workers.
for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: swarm`, () => {
    it(`holds every property on ${SWARM_SEEDS} random configurations`, () => {
      const found = swarmFailures(protocol, SWARM_SEEDS, false);
      expect(found, found.join("\n")).toEqual([]);
    });
  });
}
