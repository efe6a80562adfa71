import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { RECONFIG_SWARM_SEEDS, swarmFailures } from "../src/index.js";

for (const protocol of PROTOCOLS.filter((candidate) => candidate.overlayKind !== null)) {
  describe(`${protocol.name}: swarm with random reconfigurations`, () => {
    it(`holds every property across random overlay changes on ${RECONFIG_SWARM_SEEDS} random configurations`, () => {
      const found = swarmFailures(protocol, RECONFIG_SWARM_SEEDS, false, true);
      expect(found, found.join("\n")).toEqual([]);
    });

    it(`linearizable: real-time order holds across overlay changes on ${RECONFIG_SWARM_SEEDS} random configurations`, () => {
      const found = swarmFailures(protocol, RECONFIG_SWARM_SEEDS, true, true);
      expect(found, found.join("\n")).toEqual([]);
    });
  });
}
