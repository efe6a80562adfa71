import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { LINEARIZABLE_SEEDS, swarmFailures } from "./swarm-seeds.js";

for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: swarm, linearizable`, () => {
    it(`holds every property, real-time order included, on ${LINEARIZABLE_SEEDS} random configurations`, () => {
      const found = swarmFailures(protocol, LINEARIZABLE_SEEDS, true);
      expect(found, found.join("\n")).toEqual([]);
    });
  });
}
