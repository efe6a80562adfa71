import type { GroupId } from "@amcast/core";

/**
 * How many multicasts went to one destination set (a list of target groups), and from where:
 * `origin` is the group next to the clients that sent them, so their leg to the entry group is
 * the delay from `origin` to it (the protocols' latency models start with that leg). Without an
 * origin the client's leg counts 0.
 */
export interface DestinationCount {
  readonly dst: readonly GroupId[];
  readonly count: number;
  readonly origin?: GroupId;
}

/** One-way latency in ms between two groups (a === b: the intra-group delay, a client's leg to its own group). */
export type GroupLatencyMs = (from: GroupId, to: GroupId) => number;

/**
 * The ILP (after the local search, whose overlay is its cut-off), the exhaustive search (small
 * instances only), or the local search alone (fast on large instances; no proof of optimality).
 */
export const SOLVER_CHOICES = ["ilp", "exhaustive", "local-search"] as const;
export type SolverChoice = (typeof SOLVER_CHOICES)[number];

export type OptimizeMethod = SolverChoice | "fallback";

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
  /**
   * Run the local search before the ILP (default true): its tree becomes the ILP's cut-off, and
   * the answer when the ILP does not beat it in time. Off, the ILP starts from the current tree
   * alone (for studying the ILP; large trees then usually fall back).
   */
  readonly localSearch?: boolean;
}

export interface OptimizeResult<O> {
  /** The proposed overlay (=== current when no change is worth it). */
  readonly overlay: O;
  readonly changed: boolean;
  /**
   * Mean predicted latency (ms) of the workload's multicasts on the current overlay, by the
   * protocol's own latency model (client's leg included), single-group multicasts included.
   */
  readonly currentCostMs: number;
  /** The same for the best overlay found (the current one's when nothing better was found). */
  readonly bestCostMs: number;
  /**
   * Which search found the best overlay: the ILP, the exhaustive search, the tree local search
   * (its tree is the ILP's cut-off, and the answer when the ILP does not beat it in time), or
   * none ("fallback": the current overlay stays because no search gave an answer).
   */
  readonly method: OptimizeMethod;
  /** The solver proved the best overlay found optimal (exhaustive: always true). */
  readonly optimal: boolean;
  /** One line on why: gain below the threshold, timeout, load limit, ... (for logs). */
  readonly reason: string;
}
