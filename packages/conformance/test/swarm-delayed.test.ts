import { PROTOCOLS } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { DELAYED_SWARM_SEEDS, swarmFailures } from "../src/index.js";

// Liveness under delay: replicated groups whose messages are held back by up to seconds (with
// crashes, partitions and, in Byzantine mode, Byzantine replicas as the seed draws them) must
// still elect or change view, order and drain.
for (const protocol of PROTOCOLS) {
  describe(`${protocol.name}: swarm, delayed network`, () => {
    for (const mode of ["crash", "byzantine"] as const) {
      it(`drains each of ${DELAYED_SWARM_SEEDS} ${mode}-mode configurations on a delayed network`, () => {
        const found = swarmFailures(protocol, DELAYED_SWARM_SEEDS, false, false, { mode });
        expect(found, found.join("\n")).toEqual([]);
      });
    }
  });
}
