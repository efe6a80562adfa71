/**
 * What an optimiser run costs the event loop of the process that asks for it: the largest
 * event-loop delay while the reconfiguration controller's optimiser solves one request, in the
 * caller's thread (`solveRequest`, what the simulator does) and in an `OptimizerThread` (what a
 * client host of the network runtime does).
 *
 *   pnpm run build
 *   pnpm exec tsx scripts/optimizer-thread-lag.ts [--runs 5]
 *
 * The request: the 16-group ByzCast three-level tree (overlays/aws-12-tree-three-level.json on
 * aws-12-byzcast.topology.json) under the quickstart-like locality of
 * scripts/optimizer-solve-times.ts (every target alone 1080 times, with each of its 2 nearest 30
 * times, with both 20 times), solver "ilp" (local search, then the ILP), time limit 5 s.
 */
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { TreeOverlay } from "../packages/core/dist/index.js";
import { parseOverlay, parseTopology } from "../packages/core/dist/index.js";
import type { DestinationCount } from "../packages/optimizer/dist/index.js";
import { optimizeRequest, solveRequest } from "../packages/optimizer/dist/index.js";
import { OptimizerThread } from "../packages/system/dist/index.js";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" } } });
const runs = Number(values.runs);
const root = new URL("..", import.meta.url).pathname;
const read = (name: string): string => readFileSync(`${root}overlays/${name}`, "utf8");

const topology = parseTopology(
  JSON.parse(read("aws-12-byzcast.topology.json")),
  "aws-12-byzcast.topology.json",
  read,
);
const tree = parseOverlay(
  JSON.parse(read("aws-12-tree-three-level.json")),
  "aws-12-tree-three-level.json",
) as TreeOverlay;
const latencyMs = (from: string, to: string): number => topology.groupToGroupMs(from, to);
const counts: DestinationCount[] = tree.targets.flatMap((home) => {
  const [first, second] = tree.targets
    .filter((other) => other !== home)
    .sort((a, b) => latencyMs(home, a) - latencyMs(home, b));
  return [
    { dst: [home], count: 1080, origin: home },
    { dst: [home, first as string], count: 30, origin: home },
    { dst: [home, second as string], count: 30, origin: home },
    { dst: [home, first as string, second as string], count: 20, origin: home },
  ];
});
const request = optimizeRequest(tree, counts, latencyMs, {
  solver: "ilp",
  timeLimitMs: 5000,
  minGainFraction: 0,
});
const thread = new OptimizerThread();
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One solve with a 1 ms timer running: the solve's time and the largest event-loop delay (ms). */
async function measure(where: "caller" | "thread"): Promise<Sample> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const timer = setInterval(() => {}, 1);
  delay.enable();
  await pause(50);
  let solveMs: number;
  if (where === "caller") {
    const started = performance.now();
    solveRequest(request);
    solveMs = performance.now() - started;
  } else solveMs = (await thread.solve(request)).solveMs;
  await pause(50);
  delay.disable();
  clearInterval(timer);
  return { solveMs, lagMs: delay.max / 1e6 };
}

type Sample = { solveMs: number; lagMs: number };
const results: Record<"caller" | "thread", Sample[]> = { caller: [], thread: [] };
for (let i = 0; i < runs; i++)
  for (const where of ["caller", "thread"] as const) results[where].push(await measure(where));
await thread.close();
console.log(
  `optimiser runs on a 16-group tree (${runs} each, alternating): solve ms, largest event-loop delay ms`,
);
for (const where of ["caller", "thread"] as const) {
  const cells = results[where].map(({ solveMs, lagMs }) => `${solveMs.toFixed(0)}/${lagMs.toFixed(1)}`);
  console.log(
    `${where === "caller" ? "in the caller's thread" : "in an OptimizerThread "}: ${cells.join("  ")}`,
  );
}
