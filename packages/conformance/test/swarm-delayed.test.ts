import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { DELAYED_SWARM_SEEDS, swarmFailures } from "../src/index.js";

// Liveness under delay: Raft-style groups whose messages are held back by up to seconds (with
// crashes and partitions as the seed draws them) must still elect, order and drain.
for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: swarm, delayed network`, () => {
    it(`drains each of ${DELAYED_SWARM_SEEDS} crash-mode configurations on a delayed network`, () => {
      const found = swarmFailures(protocol, DELAYED_SWARM_SEEDS, false, false, { mode: "crash" });
      expect(found, found.join("\n")).toEqual([]);
    });
  });
}
