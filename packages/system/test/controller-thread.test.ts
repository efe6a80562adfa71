import type { GroupId } from "@amcast/core";
import { CdagOverlay, Prng } from "@amcast/core";
import { optimizeRequest, solveRequest } from "@amcast/optimizer";
import { afterEach, describe, expect, it } from "vitest";
import type { OffThreadSolver } from "../src/index.js";
import { DEFAULT_RECONFIG, OptimizerThread, ReconfigController } from "../src/index.js";

/** a-b 100 ms, a-c 10 ms, b-c 100 ms; every multicast goes to {a, c}: on a>b>c it waits for b. */
const latencyMs = (from: GroupId, to: GroupId): number => {
  if (from === to) return 1;
  const pair = [from, to].sort().join("");
  return pair === "ac" ? 10 : 100;
};
const STATS = { a: [{ dst: ["a", "c"], count: 100, client: "ca" }], b: [], c: [] };

function controller(offThread?: OffThreadSolver): ReconfigController {
  return new ReconfigController(
    { ...DEFAULT_RECONFIG, solver: "exhaustive", windowCollections: 1 },
    new CdagOverlay("a-b-c", ["a", "b", "c"]),
    ["a", "b", "c"],
    latencyMs,
    () => "a",
    new Prng(1),
    () => performance.now(),
    offThread,
  );
}

/** One STATS round: the controller sends STATS and gets the counts back. */
function statsRound(ctl: ReconfigController, nowMs: number): void {
  expect(ctl.payload()).toEqual({ control: "stats" });
  ctl.onComplete(STATS, nowMs);
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe("the controller's optimiser in a thread of its own", () => {
  const threads: OptimizerThread[] = [];
  afterEach(async () => {
    for (const thread of threads.splice(0)) await thread.close();
  });

  it("answers after the STATS round returns, with the view the controller's own thread would send", async () => {
    const inline = controller();
    statsRound(inline, 1000);
    const inlineView = inline.payload();
    expect(inlineView.control).toBe("view");

    const thread = new OptimizerThread();
    threads.push(thread);
    const ctl = controller(thread);
    statsRound(ctl, 1000);
    // The solve left the controller's thread: no answer yet, and the controller keeps collecting.
    expect(ctl.plans).toHaveLength(0);
    expect(thread.busy).toBe(true);
    statsRound(ctl, 2000); // no second solve while one is under way
    await until(() => ctl.plans.length > 0);
    expect(ctl.plans).toHaveLength(1);
    expect(ctl.plans[0]?.atMs).toBe(1000);
    expect(ctl.payload()).toEqual(inlineView);
    ctl.onComplete({}, 3000);
    expect(
      ctl.reconfigurations.map(({ view, decidedMs, installedMs }) => [view, decidedMs, installedMs]),
    ).toEqual([[1, 1000, 3000]]);
    expect(ctl.report().solverErrors).toEqual([]);
  });

  it("sends an answer that came while a STATS was in flight before planning again", async () => {
    const thread = new OptimizerThread();
    threads.push(thread);
    const ctl = controller(thread);
    statsRound(ctl, 1000);
    expect(ctl.payload()).toEqual({ control: "stats" }); // in flight while the thread solves
    await until(() => ctl.plans.length > 0);
    ctl.onComplete(STATS, 2000); // no second solve: the view is pending
    expect(thread.busy).toBe(false);
    expect(ctl.payload().control).toBe("view");
    expect(ctl.plans).toHaveLength(1);
  });

  it("solves one request at a time and gives the answer solveRequest gives", async () => {
    const thread = new OptimizerThread();
    threads.push(thread);
    const request = optimizeRequest(
      new CdagOverlay("a-b-c", ["a", "b", "c"]),
      [{ dst: ["a", "c"], count: 1, origin: "a" }],
      latencyMs,
      { solver: "ilp" },
    );
    const first = thread.solve(request);
    await expect(thread.solve(request)).rejects.toThrow(/one request at a time/);
    const { answer, solveMs } = await first;
    expect(answer).toEqual(solveRequest(request));
    expect(solveMs).toBeGreaterThanOrEqual(0);
    expect(thread.busy).toBe(false);
  });

  it("reports what the optimiser threw, and refuses requests once closed", async () => {
    const thread = new OptimizerThread();
    threads.push(thread);
    const bad = {
      ...optimizeRequest(new CdagOverlay("a-b", ["a", "b"]), [], latencyMs, {}),
      overlay: { kind: "x" },
    };
    await expect(thread.solve(bad)).rejects.toThrow(/the optimiser failed/);
    await thread.close();
    await expect(thread.solve(bad)).rejects.toThrow(/closed/);
  });
});
