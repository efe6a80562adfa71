/**
 * Local search over C-DAG orders. It gives the C-DAG ILP its cut-off (the branch and bound only
 * looks for orders better than this one), and it is the answer when the ILP cannot beat it within
 * the time limit or is beyond the solver, which is where a dozen groups and more end up.
 *
 * Iterated descent over the relevant groups' order: apply the best improving move until none
 * improves, then kick the best order found so far with a few random moves and descend again,
 * `LOCAL_ROUNDS` times, within `EVALUATIONS_MAX` orders costed. A move takes one group out and
 * puts it back at another position. The
 * cost is FlexCast's model (`orderCostMs`). Randomness comes from a `Prng` with a fixed seed: the
 * search is deterministic.
 */
import { Prng } from "@amcast/core";
import type { CdagProblem } from "./cdag-problem.js";
import { orderCostMs } from "./cdag-problem.js";

/** Kicks after the first descent. */
const LOCAL_ROUNDS = 16;
/** Random moves per kick. */
const KICK_MOVES = 3;
/** Descent steps per round, per group (each step strictly improves, so this is a safety net). */
const DESCENT_STEPS_PER_GROUP = 8;
/**
 * Orders costed at most (each costs every set's span): a bound on the search's time on large
 * workloads, where it stops with the best order so far. Deterministic, unlike a clock.
 */
const EVALUATIONS_MAX = 2000;
const SEED = 11;

export interface OrderSearchResult {
  /** The relevant groups in the best order found. */
  readonly order: readonly number[];
  readonly costMs: number;
  /** Orders costed. */
  readonly evaluations: number;
}

const better = (a: number, b: number): boolean => a < b - 1e-9 * Math.max(1, Math.abs(b));

/** `order` with the group at `from` moved to `to`. */
function moved(order: readonly number[], from: number, to: number): number[] {
  const next = [...order];
  const [group] = next.splice(from, 1);
  next.splice(to, 0, group as number);
  return next;
}

export function localSearchOrder(problem: CdagProblem, start: readonly number[]): OrderSearchResult {
  const k = start.length;
  const random = new Prng(SEED, "cdag-local-search");
  let evaluations = 0;
  const cost = (order: readonly number[]): number => {
    evaluations++;
    return orderCostMs(problem, order);
  };
  const spent = (): boolean => evaluations >= EVALUATIONS_MAX;

  const descend = (from: readonly number[], fromCost: number): { order: number[]; costMs: number } => {
    let order = [...from];
    let current = fromCost;
    for (let step = 0; step < DESCENT_STEPS_PER_GROUP * k && !spent(); step++) {
      let best: { order: number[]; costMs: number } | null = null;
      for (let i = 0; i < k; i++)
        for (let j = 0; j < k; j++) {
          // Moving i to i + 1 is the same as moving i + 1 to i: each adjacent swap once.
          if (j === i || j === i - 1) continue;
          const next = moved(order, i, j);
          const nextCost = cost(next);
          if (better(nextCost, best === null ? current : best.costMs))
            best = { order: next, costMs: nextCost };
        }
      if (best === null) break;
      order = best.order;
      current = best.costMs;
    }
    return { order, costMs: current };
  };

  let best = descend(start, cost(start));
  if (k > 2)
    for (let round = 0; round < LOCAL_ROUNDS && !spent(); round++) {
      let kicked = [...best.order];
      for (let move = 0; move < KICK_MOVES; move++) {
        const from = random.int(k);
        let to = random.int(k - 1);
        if (to >= from) to++;
        kicked = moved(kicked, from, to);
      }
      const found = descend(kicked, cost(kicked));
      if (better(found.costMs, best.costMs)) best = found;
    }
  return { order: best.order, costMs: best.costMs, evaluations };
}
