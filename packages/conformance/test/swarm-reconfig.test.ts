import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { RECONFIG_SWARM_FOUND_SEEDS, RECONFIG_SWARM_SEEDS, swarmFailures, swarmSeeds } from "../src/index.js";

const seeds = swarmSeeds(RECONFIG_SWARM_SEEDS, RECONFIG_SWARM_FOUND_SEEDS);

for (const protocol of PROTOCOLS.filter((candidate) => candidate.overlayKind !== null)) {
  describe(`${protocol.name}: swarm with random reconfigurations`, () => {
    it(`holds every property across random overlay changes on ${seeds.length} random configurations`, () => {
      const found = swarmFailures(protocol, seeds, false, true);
      expect(found, found.join("\n")).toEqual([]);
    });

    it(`linearizable: real-time order holds across overlay changes on ${seeds.length} random configurations`, () => {
      const found = swarmFailures(protocol, seeds, true, true);
      expect(found, found.join("\n")).toEqual([]);
    });
  });
}
