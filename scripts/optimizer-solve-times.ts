/**
 * Solve times of the overlay optimiser (@amcast/optimizer) on AWS instances of 6, 12 and 16 groups.
 *
 *   pnpm exec turbo run build --filter=@amcast/optimizer
 *   pnpm exec tsx scripts/optimizer-solve-times.ts [--time-limit-ms 20000]
 *
 * Latencies: the one-way delays between the 12 AWS regions (overlays/aws-12-regions-ms.csv), read
 * through core's topology loader; a group's delays are its region's. Instances:
 *   - 6 groups: Frankfurt, Paris, Canada, Virginia, SaoPaulo, Mumbai (the FlexCast prototype's
 *     6-region set); 12: one group per region; 16: the 12 plus a second group in Virginia,
 *     Frankfurt, Tokyo and California (two groups in a region are the region's intra delay apart).
 *   - C-DAG: the current order is the prototype's first order (overlays/aws-12-cdag-o1.json),
 *     restricted to the groups, each second group right after its region's first.
 *   - tree: 6 groups = an auxiliary root in Virginia above 5 targets (the 6-region set without
 *     Mumbai); 8 = an auxiliary root above 7 targets (that set, Tokyo, California); 12 = an
 *     auxiliary root above 11 targets (the 12 regions without Sydney); 16 = the ByzCast
 *     three-level tree (overlays/aws-12-tree-three-level.json: 4 auxiliary groups, 12 targets).
 *   - workload, after the quickstart's locality workload (90% local, global sets of 2 or 3 among
 *     the nearest groups): every target alone 1080 times, with each of its 2 nearest targets 30
 *     times, with each pair of its 3 nearest 20 times (identical sets merged by the optimiser).
 *   - tree, 12 groups: also the FlexCast prototype's ByzCast T1 (overlays/aws-12-tree-prototype-t1.json,
 *     every group a target).
 * Every instance runs the local search alone, and the ILP with the time limit after it (its order
 * or tree is the ILP's cut-off, and the answer when the ILP does not beat it in time); trees also
 * run the ILP alone (from the current tree); the exhaustive search runs where it accepts the
 * instance (C-DAG: at most 9 groups in sets, tree: at most 7 groups). Solve times are wall clock
 * of one run each, in this process (the controller's optimiser thread runs the same code).
 * Hysteresis is off (minGainFraction 0), so "best" is the best overlay found whatever the gain.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { GroupPlacement, Topology, TreeOverlay } from "../packages/core/dist/index.js";
import { CdagOverlay, parseOverlay, parseTopology } from "../packages/core/dist/index.js";
import type {
  DestinationCount,
  GroupLatencyMs,
  OptimizeResult,
  SolverChoice,
} from "../packages/optimizer/dist/index.js";
import { cdagIlpStats, optimizeCdag, optimizeTree, treeIlpStats } from "../packages/optimizer/dist/index.js";

const { values } = parseArgs({ options: { "time-limit-ms": { type: "string", default: "20000" } } });
const timeLimitMs = Number(values["time-limit-ms"]);

const root = new URL("..", import.meta.url).pathname;
const read = (name: string): string => readFileSync(`${root}overlays/${name}`, "utf8");

const SIX = ["Frankfurt", "Paris", "Canada", "Virginia", "SaoPaulo", "Mumbai"];
const TWINS = ["Virginia", "Frankfurt", "Tokyo", "California"];

function topology(groups: readonly GroupPlacement[], auxiliary: readonly GroupPlacement[] = []): Topology {
  const doc = {
    kind: "topology",
    name: "optimizer-solve-times",
    latencyCsv: "aws-12-regions-ms.csv",
    groups: groups.map(({ id, region }) => ({ id, region })),
    auxiliaryGroups: auxiliary.map(({ id, region }) => ({ id, region })),
  };
  return parseTopology(doc, "optimizer-solve-times topology", read);
}

const latencyOf =
  (top: Topology): GroupLatencyMs =>
  (from, to) =>
    top.groupToGroupMs(from, to);

function locality(targets: readonly string[], latency: GroupLatencyMs): DestinationCount[] {
  const counts: DestinationCount[] = [];
  for (const home of targets) {
    counts.push({ dst: [home], count: 1080, origin: home });
    const near = targets
      .filter((other) => other !== home)
      .sort((a, b) => latency(home, a) - latency(home, b) || (a < b ? -1 : 1));
    for (const other of near.slice(0, 2)) counts.push({ dst: [home, other], count: 30, origin: home });
    const three = near.slice(0, 3);
    for (let i = 0; i < three.length; i++)
      for (let j = i + 1; j < three.length; j++)
        counts.push({ dst: [home, three[i] as string, three[j] as string], count: 20, origin: home });
  }
  return counts;
}

interface Row {
  readonly groups: number;
  readonly overlay: string;
  readonly model: string;
  readonly solver: SolverChoice | "ilp alone";
  readonly ms: number;
  readonly result: OptimizeResult<unknown>;
}

const rows: Row[] = [];
const print = (row: Row): void => {
  rows.push(row);
  process.stderr.write(
    `done: ${row.groups} groups ${row.overlay} ${row.solver} in ${row.ms.toFixed(0)} ms\n`,
  );
};

function run<O>(solve: () => OptimizeResult<O>): { ms: number; result: OptimizeResult<O> } {
  const start = performance.now();
  const result = solve();
  return { ms: performance.now() - start, result };
}

// --- C-DAG ---
const o1 = (parseOverlay(JSON.parse(read("aws-12-cdag-o1.json")), "aws-12-cdag-o1.json") as CdagOverlay)
  .order;
const cdagInstances: { groups: GroupPlacement[] }[] = [
  { groups: o1.filter((region) => SIX.includes(region)).map((region) => ({ id: region, region })) },
  { groups: o1.map((region) => ({ id: region, region })) },
  {
    groups: o1.flatMap((region) =>
      TWINS.includes(region)
        ? [
            { id: region, region },
            { id: `${region}-2`, region },
          ]
        : [{ id: region, region }],
    ),
  },
];
for (const { groups } of cdagInstances) {
  const top = topology(groups);
  const latency = latencyOf(top);
  const order = groups.map((group) => group.id);
  const current = new CdagOverlay(`aws-${order.length}`, order);
  const counts = locality(order, latency);
  const stats = cdagIlpStats(current, counts, latency);
  const model = `${stats.variables} vars (${stats.integerVariables} binary), ${stats.constraints} constraints, ${stats.sets} sets`;
  for (const solver of ["local-search", "ilp", "exhaustive"] as const) {
    if (solver === "exhaustive" && stats.relevantGroups > 9) continue;
    const { ms, result } = run(() =>
      optimizeCdag(current, counts, latency, { solver, timeLimitMs, minGainFraction: 0 }),
    );
    print({ groups: order.length, overlay: "cdag", model, solver, ms, result });
  }
}

// --- trees ---
const twoLevel = (targets: readonly string[]): { top: Topology; tree: TreeOverlay } => {
  const top = topology(
    targets.map((region) => ({ id: region, region })),
    [{ id: "root", region: "Virginia" }],
  );
  const tree = parseOverlay(
    {
      kind: "tree",
      name: `two-level-${targets.length + 1}`,
      groups: [{ id: "root", role: "auxiliary" }, ...targets.map((id) => ({ id, role: "target" }))],
      edges: targets.map((id) => ["root", id]),
    },
    "two-level tree",
  ) as TreeOverlay;
  return { top, tree };
};
const allRegions = o1;
const treeInstances: { top: Topology; tree: TreeOverlay }[] = [
  twoLevel(SIX.filter((region) => region !== "Mumbai")),
  twoLevel([...SIX.filter((region) => region !== "Mumbai"), "Tokyo", "California"]),
  twoLevel(allRegions.filter((region) => region !== "Sydney")),
  {
    top: parseTopology(JSON.parse(read("aws-12.topology.json")), "aws-12.topology.json", read),
    tree: parseOverlay(
      JSON.parse(read("aws-12-tree-prototype-t1.json")),
      "aws-12-tree-prototype-t1.json",
    ) as TreeOverlay,
  },
  {
    top: parseTopology(
      JSON.parse(read("aws-12-byzcast.topology.json")),
      "aws-12-byzcast.topology.json",
      read,
    ),
    tree: parseOverlay(
      JSON.parse(read("aws-12-tree-three-level.json")),
      "aws-12-tree-three-level.json",
    ) as TreeOverlay,
  },
];
for (const { top, tree } of treeInstances) {
  const latency = latencyOf(top);
  const counts = locality(tree.targets, latency);
  const stats = treeIlpStats(tree, counts, latency);
  const model = `${stats.variables} vars (${stats.integerVariables} binary), ${stats.constraints} constraints, ${stats.sets} sets`;
  for (const solver of ["local-search", "ilp", "ilp alone", "exhaustive"] as const) {
    if (solver === "exhaustive" && tree.groups.length > 7) continue;
    const { ms, result } = run(() =>
      optimizeTree(tree, counts, latency, {
        solver: solver === "ilp alone" ? "ilp" : solver,
        localSearch: solver !== "ilp alone",
        timeLimitMs,
        minGainFraction: 0,
      }),
    );
    print({
      groups: tree.groups.length,
      overlay: `tree ${tree.name} (${tree.groups.length - tree.targets.length} aux)`,
      model,
      solver,
      ms,
      result,
    });
  }
}

// --- table ---
const header = [
  "groups",
  "overlay",
  "solver",
  "solve ms",
  "cost current -> best (ms)",
  "changed",
  "method",
  "optimal",
  "ILP size",
  "note",
];
const table = rows.map((row) => [
  String(row.groups),
  row.overlay,
  row.solver,
  row.ms.toFixed(0),
  `${row.result.currentCostMs.toFixed(3)} -> ${row.result.bestCostMs.toFixed(3)}`,
  row.result.changed ? "yes" : "no",
  row.result.method,
  row.result.optimal ? "yes" : "no",
  row.solver.startsWith("ilp") ? row.model : "",
  row.result.method === "fallback" || !row.result.optimal ? row.result.reason : "",
]);
const widths = header.map((title, column) =>
  Math.max(title.length, ...table.map((line) => (line[column] as string).length)),
);
const line = (cells: readonly string[]): string =>
  cells
    .map((cell, column) => cell.padEnd(widths[column] as number))
    .join("  ")
    .trimEnd();
console.log(
  `optimizer solve times (javascript-lp-solver, time limit ${timeLimitMs} ms; mean predicted latency over all multicasts)`,
);
console.log(line(header));
for (const cells of table) console.log(line(cells));
