import type { OptimizeMethod, OptimizeOptions, OptimizeResult, SolverChoice } from "./types.js";
import { SOLVER_CHOICES } from "./types.js";

export const DEFAULT_MIN_GAIN_FRACTION = 0.05;

export interface CheckedOptions {
  readonly solver: SolverChoice;
  readonly timeLimitMs: number | undefined;
  readonly minGainFraction: number;
}

export function checkOptions(options: OptimizeOptions): CheckedOptions {
  const solver = options.solver ?? "ilp";
  if (!SOLVER_CHOICES.includes(solver))
    throw new Error(
      `solver is ${SOLVER_CHOICES.map((choice) => `"${choice}"`).join(", ")}; got ${JSON.stringify(solver)}`,
    );
  const minGainFraction = options.minGainFraction ?? DEFAULT_MIN_GAIN_FRACTION;
  if (!Number.isFinite(minGainFraction) || minGainFraction < 0 || minGainFraction >= 1)
    throw new Error(`minGainFraction must be in [0, 1), got ${minGainFraction}`);
  const timeLimitMs = options.timeLimitMs;
  if (timeLimitMs !== undefined && !(Number.isFinite(timeLimitMs) && timeLimitMs > 0))
    throw new Error(`timeLimitMs must be a number > 0, got ${timeLimitMs}`);
  return { solver, timeLimitMs, minGainFraction };
}

/** What a search found: the best overlay and its cost, or nothing (timeout, infeasible). */
export interface SearchOutcome<O> {
  readonly best: { readonly overlay: O; readonly costMs: number } | null;
  readonly method: OptimizeMethod;
  readonly optimal: boolean;
  /** Why there is no best overlay (when `best` is null). */
  readonly note: string;
}

/**
 * Hysteresis: the best overlay replaces the current one only when it is better by at least
 * `minGainFraction` of the current cost, unless the current one is infeasible (breaks a load
 * limit) and the best one is not, in which case any feasible overlay is better.
 */
export function decide<O>(
  current: O,
  currentCostMs: number,
  outcome: SearchOutcome<O>,
  minGainFraction: number,
  currentFeasible = true,
): OptimizeResult<O> {
  const { best, method, optimal } = outcome;
  if (best === null) {
    return {
      overlay: current,
      changed: false,
      currentCostMs,
      bestCostMs: currentCostMs,
      method,
      optimal,
      reason: outcome.note,
    };
  }
  const base = { currentCostMs, bestCostMs: best.costMs, method, optimal };
  if (best.overlay === current)
    return { ...base, overlay: current, changed: false, reason: "no better overlay" };
  if (!currentFeasible)
    return {
      ...base,
      overlay: best.overlay,
      changed: true,
      reason: "the current overlay breaks the load limit",
    };
  const gain = currentCostMs > 0 ? (currentCostMs - best.costMs) / currentCostMs : 0;
  // A better cost by rounding alone (two orders of equal cost summed differently) is no gain.
  const better = best.costMs < currentCostMs - 1e-9 * Math.max(1, currentCostMs);
  if (better && gain >= minGainFraction)
    return { ...base, overlay: best.overlay, changed: true, reason: `gain ${formatPercent(gain)}` };
  const reason = better
    ? `gain ${formatPercent(gain)} is below the threshold ${formatPercent(minGainFraction)}`
    : "no better overlay";
  return { ...base, overlay: current, changed: false, reason };
}

function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}
