export { CDAG_EXHAUSTIVE_MAX_GROUPS, cdagIlpStats, optimizeCdag } from "./cdag.js";
export { cdagCostMs, treeCostMs, treeLoads } from "./cost.js";
export { DEFAULT_MIN_GAIN_FRACTION } from "./decide.js";
export type { ModelStats } from "./lp.js";
export type { OptimizeAnswer, OptimizeRequest } from "./request.js";
export { optimizeRequest, solveRequest } from "./request.js";
export { optimizeTree, TREE_EXHAUSTIVE_MAX_GROUPS, treeIlpStats } from "./tree.js";
export type {
  DestinationCount,
  GroupLatencyMs,
  OptimizeMethod,
  OptimizeOptions,
  OptimizeResult,
  SolverChoice,
  TreeOptimizeOptions,
} from "./types.js";
export { SOLVER_CHOICES } from "./types.js";
