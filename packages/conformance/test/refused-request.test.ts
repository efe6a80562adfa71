import { protocolByName, runScenario, swarmCase } from "@amcast/experiment";
import { describe, expect, it } from "vitest";
import { judge } from "../src/index.js";

/**
 * A request a group ordered and refused (a redirect to a newer view) must not stay useful at a
 * replica that holds a copy of it in its pool but skipped its execution by installing a
 * checkpoint past it. Found by the swarm (`pnpm run swarm --protocol flexcast --reconfigure
 * --mode byzantine --seed 212`): g1/6, restarted with amnesia, pooled c1:3 sent under view 2;
 * g1 refused it, and refused it again when g1/6 forwarded it, while g1/6 caught up by state
 * transfer. Its pool kept the copy (the client table had forgotten the request, so it looked
 * unexecuted), g1/6 suspected the correct primary alone and waited in a view change nobody joined:
 * the run never drained. With the f+1 replies chosen per executed position the same happens in
 * `pnpm run swarm --protocol flexcast --reconfigure --seed 20` (g3/4 and ctl:1; among the
 * reconfiguring swarm's seeds).
 */
describe("a refused request pooled at a replica that skipped its execution", () => {
  it("is dropped there: the run drains (Byzantine mode, flexcast, reconfiguring swarm seed 212)", () => {
    const flexcast = protocolByName("flexcast", "test", "protocol");
    const { scenario } = swarmCase(flexcast, 212, {
      crashes: true,
      realTime: false,
      linearizable: false,
      reconfigure: true,
      delayedNetwork: false,
      modes: ["byzantine"],
    });
    expect(scenario.mode).toBe("byzantine");
    const outcome = runScenario(scenario);
    const problems = judge(
      outcome,
      true,
      "pnpm run swarm --protocol flexcast --reconfigure --mode byzantine --seed 212",
    );
    expect(problems, problems.join("\n")).toEqual([]);
    expect(outcome.sim.stoppedBy).toBe("drained");
  });
});
