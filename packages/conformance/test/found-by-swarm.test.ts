import { protocolByName, runScenario, swarmCase } from "@amcast/experiment";
import type { ReplicationMode } from "@amcast/group";
import { describe, expect, it } from "vitest";
import { judge } from "../src/index.js";

/**
 * Liveness bugs the swarm found, each replayed from its seed: every run must pass its checks and
 * drain (a run stopped by its time limit is not a pass). The comment of each case says what went
 * wrong before its fix.
 */
interface FoundCase {
  readonly protocol: "skeen" | "flexcast" | "byzcast";
  readonly seed: number;
  readonly mode: ReplicationMode;
  readonly reconfigure: boolean;
  readonly what: string;
}

const CASES: readonly FoundCase[] = [
  /*
   * A request a group ordered and refused (a redirect to a newer view) must not stay useful at a
   * replica that holds a copy of it in its pool but skipped its execution by installing a
   * checkpoint past it: g1/6, restarted with amnesia, pooled c1:3 sent under view 2; g1 refused
   * it, and refused it again when g1/6 forwarded it, while g1/6 caught up by state transfer. Its
   * pool kept the copy (the client table had forgotten the request, so it looked unexecuted),
   * g1/6 suspected the correct primary alone and waited in a view change nobody joined. With the
   * f+1 replies chosen per executed position the same happens with `--protocol flexcast
   * --reconfigure --seed 20` (g3/4 and ctl:1; among the reconfiguring swarm's seeds).
   */
  {
    protocol: "flexcast",
    seed: 212,
    mode: "byzantine",
    reconfigure: true,
    what: "a refused request pooled at a replica that skipped its execution is dropped there",
  },
  /*
   * g2's leader g2/3 crashed at 243 ms, and partitions kept g2 without a leader until g2/2 won at
   * 1.64 s. The other groups' leaders sent their items to g2/3 meanwhile (lost with it). g2/2
   * then asked every group for its stream from the first item g2 had not taken, but g7's leader
   * kept only items 3..42 of its stream to g2: the last 256 items it made, one budget for all
   * destinations, had been filled by the 282 items it made to every group meanwhile. g2 waited
   * forever for item 0, and g5 for g2. Each stream now keeps its own last items.
   */
  {
    protocol: "flexcast",
    seed: 103,
    mode: "crash",
    reconfigure: false,
    what: "a group without a leader while its senders make items to other groups gets every item from its new leader's resend",
  },
  /*
   * g6's leader g6/1 sent g6's proposal for c2:3 to g5's leader g5/1, which had crashed; g5/2,
   * elected next, asked every group for its stream while g6/1 was down and g6 elected no other
   * leader, so no one answered. g6/1 came back still leading, asked the other groups for their
   * streams, but never sent its own again: g5 waited for the proposal forever. Back and still
   * leading, it now acts as a new leader: sends its kept items again and says it leads.
   */
  {
    protocol: "skeen",
    seed: 245,
    mode: "crash",
    reconfigure: false,
    what: "a leader back from a crash that kept its memory sends its stream items again",
  },
  /*
   * g6/3 crashed (journal) before g6 decided anything, g6/2 crashed (journal) after position 5
   * and, restarted, became g6's leader. Its journal's positions, executed again, had been taken
   * as a checkpoint at each position (Raft `install`): its log started at 6 and no checkpoint
   * covered 1..5 yet, so g6/3, back with an empty log, was sent nothing. The same cause stalled
   * flexcast seed 355 (a correct replica of g0 never delivered) and byzcast seed 495.
   */
  {
    protocol: "skeen",
    seed: 193,
    mode: "crash",
    reconfigure: false,
    what: "a leader restarted from its journal sends its journal's positions to a follower that lacks them",
  },
  {
    protocol: "flexcast",
    seed: 355,
    mode: "crash",
    reconfigure: false,
    what: "a leader restarted from its journal sends its journal's positions to a follower that lacks them",
  },
];

describe("liveness bugs the swarm found", () => {
  for (const found of CASES) {
    const flags = `--protocol ${found.protocol}${found.reconfigure ? " --reconfigure" : ""} --mode ${found.mode} --seed ${found.seed}`;
    it(`${found.what}: the run drains (${flags})`, () => {
      const protocol = protocolByName(found.protocol, "test", "protocol");
      const { scenario } = swarmCase(protocol, found.seed, {
        crashes: true,
        realTime: false,
        linearizable: false,
        reconfigure: found.reconfigure,
        delayedNetwork: false,
        modes: [found.mode],
      });
      expect(scenario.mode).toBe(found.mode);
      const outcome = runScenario(scenario);
      const problems = judge(outcome, true, `pnpm run swarm ${flags}`);
      expect(problems, problems.join("\n")).toEqual([]);
      expect(outcome.sim.stoppedBy).toBe("drained");
    });
  }
});
