import { protocolByName, runScenario, swarmCase } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { judge } from "../src/index.js";

/**
 * A crash-mode replica restarted from its journal of decided positions must, as leader, still
 * catch up a follower that lacks those positions. Found by the swarm (`pnpm run swarm --protocol
 * skeen --mode crash --seed 193`): g6/3 crashed (journal) before g6 decided anything, g6/2
 * crashed (journal) after position 5 and, restarted, became g6's leader. Its journal's
 * positions, executed again, had been taken as a checkpoint at each position (Raft `install`):
 * its log started at 6 and no checkpoint covered 1..5 yet, so g6/3, back with an empty log, was
 * sent nothing, and the run never settled. The same cause stalled `--protocol flexcast --seed
 * 355` (a correct replica of g0 never delivered) and `--protocol byzcast --seed 495`.
 */
describe("a crash-mode leader restarted from its journal", () => {
  for (const [name, seed] of [
    ["skeen", 193],
    ["flexcast", 355],
  ] as const)
    it(`sends its journal's positions to a follower that lacks them: the run drains (${name}, crash swarm seed ${seed})`, () => {
      const protocol = protocolByName(name, "test", "protocol");
      const { scenario } = swarmCase(protocol, seed, {
        crashes: true,
        realTime: false,
        linearizable: false,
        reconfigure: false,
        delayedNetwork: false,
        modes: ["crash"],
      });
      expect(scenario.mode).toBe("crash");
      const outcome = runScenario(scenario);
      const problems = judge(outcome, true, `pnpm run swarm --protocol ${name} --mode crash --seed ${seed}`);
      expect(problems, problems.join("\n")).toEqual([]);
      expect(outcome.sim.stoppedBy).toBe("drained");
    });
});
