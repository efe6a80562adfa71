import { PROTOCOLS, protocolByName } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { CHAINED_FLEXCAST_SWARM_SEEDS, SWARM_SEEDS, swarmFailures } from "../src/index.js";

// The swarm is split over three files so the test runner spreads them over its workers.
for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: swarm`, () => {
    it(`holds every property on ${SWARM_SEEDS} random configurations`, () => {
      const found = swarmFailures(protocol, SWARM_SEEDS, false);
      expect(found, found.join("\n")).toEqual([]);
    });
  });
}

describe("flexcast with chained notifications: swarm", () => {
  it(`holds every property on ${CHAINED_FLEXCAST_SWARM_SEEDS} random configurations`, () => {
    const flexcast = protocolByName("flexcast", "test", "protocol");
    const found = swarmFailures(flexcast, CHAINED_FLEXCAST_SWARM_SEEDS, false, false, null, {
      notifications: "chain",
    });
    expect(found, found.join("\n")).toEqual([]);
  });
});
