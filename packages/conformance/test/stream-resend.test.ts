import { protocolByName, runScenario, swarmCase } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { judge } from "../src/index.js";

/**
 * A group without a leader for a while must still get every stream item sent to it meanwhile.
 * Found by the swarm (`pnpm run swarm --protocol flexcast --mode crash --seed 103`): g2's leader
 * g2/3 crashed at 243 ms, and partitions kept g2 without a leader until g2/2 won at 1.64 s. The
 * other groups' leaders sent their items to g2/3 meanwhile (lost with it). g2/2 then asked every
 * group for its stream from the first item g2 had not taken (`resend` from item 0), but g7's
 * leader g7/3 kept only items 3..42 of its stream to g2: the last 256 items it made, one budget
 * for all destinations, had been filled by the 282 items it made to every group meanwhile. g2
 * waited forever for item 0 (c3:0's message), and g5 for g2 (FlexCast): 238 multicasts were
 * never delivered. Each stream now keeps its own last items.
 */
describe("a crash-mode group without a leader while its senders make items to other groups", () => {
  it("gets every item from its new leader's resend: the run drains (flexcast, crash swarm seed 103)", () => {
    const flexcast = protocolByName("flexcast", "test", "protocol");
    const { scenario } = swarmCase(flexcast, 103, {
      crashes: true,
      realTime: false,
      linearizable: false,
      reconfigure: false,
      delayedNetwork: false,
      modes: ["crash"],
    });
    expect(scenario.mode).toBe("crash");
    const outcome = runScenario(scenario);
    const problems = judge(outcome, true, "pnpm run swarm --protocol flexcast --mode crash --seed 103");
    expect(problems, problems.join("\n")).toEqual([]);
    expect(outcome.sim.stoppedBy).toBe("drained");
  });
});

/**
 * A crash-mode leader back from a crash that kept its memory must send again what it sent to
 * leaders replaced meanwhile. Found by the swarm (`pnpm run swarm --protocol skeen --mode crash
 * --seed 245`): g6's leader g6/1 sent g6's proposal for c2:3 to g5's leader g5/1, which had
 * crashed; g5/2, elected next, asked every group for its stream while g6/1 was down and g6
 * elected no other leader, so no one answered. g6/1 came back still leading, asked the other
 * groups for their streams, but never sent its own again: g5 waited for the proposal forever
 * (c2:3 and the later multicasts to g5 were never delivered there). Back and still leading, it
 * now acts as a new leader: sends its kept items again and says it leads.
 */
describe("a crash-mode leader back from a crash that kept its memory", () => {
  it("sends its stream items again: the run drains (skeen, crash swarm seed 245)", () => {
    const skeen = protocolByName("skeen", "test", "protocol");
    const { scenario } = swarmCase(skeen, 245, {
      crashes: true,
      realTime: false,
      linearizable: false,
      reconfigure: false,
      delayedNetwork: false,
      modes: ["crash"],
    });
    expect(scenario.mode).toBe("crash");
    const outcome = runScenario(scenario);
    const problems = judge(outcome, true, "pnpm run swarm --protocol skeen --mode crash --seed 245");
    expect(problems, problems.join("\n")).toEqual([]);
    expect(outcome.sim.stoppedBy).toBe("drained");
  });
});
