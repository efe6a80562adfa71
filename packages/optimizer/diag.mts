import { optimizeTree, treeLoads } from "./src/index.js";
import { randomTree } from "./test/instances.js";

let binding = 0,
  total = 0;
const t0 = performance.now();
let worst = 0;
const times: string[] = [];
for (let seed = 101; seed <= 124; seed++) {
  const { current, counts, latency } = randomTree(seed, { singleMax: 5, hub: true, groups: 5 });
  const free = optimizeTree(current, counts, latency, { minGainFraction: 0, solver: "exhaustive" });
  const freeMax = Math.max(...treeLoads(free.overlay, counts).values());
  let minFeasible = freeMax;
  for (let L = 0; L < freeMax; L++) {
    const e = optimizeTree(current, counts, latency, { loadLimit: L, solver: "exhaustive" });
    if (!/no tree/.test(e.reason)) {
      minFeasible = L;
      break;
    }
  }
  const loadLimit = freeMax > minFeasible ? minFeasible + (seed % (freeMax - minFeasible)) : freeMax;
  const t = performance.now();
  const r = optimizeTree(current, counts, latency, { minGainFraction: 0, loadLimit });
  const dt = performance.now() - t;
  worst = Math.max(worst, dt);
  times.push(`${seed}:${dt.toFixed(0)}`);
  const e = optimizeTree(current, counts, latency, { minGainFraction: 0, loadLimit, solver: "exhaustive" });
  total++;
  if (e.changed && e.bestCostMs > free.bestCostMs + 1e-9) {
    binding++;
    times.push("B");
  }
  if (Math.abs(r.bestCostMs - e.bestCostMs) > 1e-6 || r.changed !== e.changed || !r.optimal)
    console.log("DISAGREE", seed, r, e.reason);
}
console.log(
  { binding, total, ms: (performance.now() - t0).toFixed(0), worst: worst.toFixed(0) },
  times.join(" "),
);
