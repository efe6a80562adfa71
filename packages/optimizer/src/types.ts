import type { GroupId } from "@amcast/core";

/** How many multicasts went to one destination set (a sorted list of target groups). */
export interface DestinationCount {
  readonly dst: readonly GroupId[];
  readonly count: number;
}

/** One-way latency in ms between two groups (a === b: the intra-group delay). */
export type GroupLatencyMs = (from: GroupId, to: GroupId) => number;

export type SolverChoice = "ilp" | "exhaustive";

export interface OptimizeOptions {
  /** Default "ilp". */
  readonly solver?: SolverChoice;
  /**
   * Passed to javascript-lp-solver's own `timeout` (ms). The solver checks it between
   * branch-and-bound nodes only, so one long LP relaxation can overrun it. On timeout the best
   * incumbent is used (`optimal: false`); without one, the current overlay stays (`method:
   * "fallback"`). Ignored by the exhaustive search.
   */
  readonly timeLimitMs?: number;
  /**
   * Hysteresis: a change is proposed only when (current - best) / current >= this. Default 0.05.
   * (A tree that breaks `loadLimit` is replaced by any tree that keeps it, whatever the gain.)
   */
  readonly minGainFraction?: number;
}

export interface TreeOptimizeOptions extends OptimizeOptions {
  /** The most multicasts (by count) a group may order. Default: no limit. */
  readonly loadLimit?: number;
}

export interface OptimizeResult<O> {
  /** The proposed overlay (=== current when no change is worth it). */
  readonly overlay: O;
  readonly changed: boolean;
  /** Frequency-weighted mean predicted latency of the current overlay. */
  readonly currentCostMs: number;
  /** The same for the best overlay found (the current one's when nothing better was found). */
  readonly bestCostMs: number;
  readonly method: SolverChoice | "fallback";
  /** The solver proved the best overlay found optimal (exhaustive: always true). */
  readonly optimal: boolean;
  /** One line on why: gain below the threshold, timeout, load limit, ... (for logs). */
  readonly reason: string;
}
