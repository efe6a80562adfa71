/**
 * The best C-DAG order for a workload by FlexCast's own latency model (`flexcastSpanLatencyMs`:
 * the client's leg to the lca, then the destinations and the notified groups between them).
 *
 * Only the order of the groups that some set of two or more groups addresses (the "relevant"
 * groups) is searched; every other group goes after them, outside every set's span, where it
 * notifies nobody. (On a matrix without the triangle inequality a group between two destinations
 * could, rarely, relay a notification sooner than the lca sends it; the search does not exploit
 * that.)
 *
 * Searches: the exhaustive one (every order of up to 9 relevant groups); the ILP (cdag-ilp.ts),
 * after a local search (cdag-local.ts) whose order is its cut-off and the answer when the ILP
 * does not beat it in time or is beyond the solver. Either way the answer is costed by the model.
 */
import type { GroupId } from "@amcast/core";
import { CdagOverlay } from "@amcast/core";
import {
  buildCdagIlp,
  CDAG_ORDER_VARIABLES_MAX_SET,
  cdagIlpCellsEstimate,
  orderFromPairs,
} from "./cdag-ilp.js";
import { localSearchOrder } from "./cdag-local.js";
import type { CdagProblem } from "./cdag-problem.js";
import { cdagProblem, fullOrder, orderCostMs } from "./cdag-problem.js";
import type { CheckedOptions, SearchOutcome } from "./decide.js";
import { checkOptions, decide } from "./decide.js";
import type { ModelStats } from "./lp.js";
import { solveIlp, tooLarge } from "./lp.js";
import type { DestinationCount, GroupLatencyMs, OptimizeOptions, OptimizeResult } from "./types.js";
import { aggregate, checkGroups } from "./workload.js";

/**
 * The C-DAG ILP is attempted up to this many tableau cells (estimated before building it). One
 * LP relaxation of the exact model cannot be interrupted and takes about a second at this size
 * (6 groups, 19 sets) and minutes near the solver's `MAX_TABLEAU_CELLS`, so beyond it the local
 * search's order is the answer.
 */
export const CDAG_ILP_CELLS_MAX = 300_000;

/** The exhaustive search tries every order of the relevant groups: at most 9! = 362,880. */
export const CDAG_EXHAUSTIVE_MAX_GROUPS = 9;

function problemFor(current: CdagOverlay, counts: readonly DestinationCount[], latencyMs: GroupLatencyMs) {
  const workload = aggregate(counts);
  checkGroups(workload, (group) => current.hasGroup(group), `C-DAG ${current.name}`);
  return cdagProblem(current.order, workload, latencyMs);
}

function overlayOf(
  current: CdagOverlay,
  problem: CdagProblem,
  relevantOrder: readonly number[],
): CdagOverlay {
  return new CdagOverlay(
    current.name,
    fullOrder(problem, relevantOrder).map((g) => problem.groups[g] as GroupId),
  );
}

export function optimizeCdag(
  current: CdagOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  options: OptimizeOptions = {},
): OptimizeResult<CdagOverlay> {
  return optimizeCdagWith(current, counts, latencyMs, options, CDAG_ORDER_VARIABLES_MAX_SET, true);
}

/**
 * `optimizeCdag` with the ILP's tightening threshold and the local search exposed (tests cover
 * the ILP alone and both formulations).
 */
export function optimizeCdagWith(
  current: CdagOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  options: OptimizeOptions,
  orderVariablesMaxSet: number,
  localSearch: boolean,
): OptimizeResult<CdagOverlay> {
  const checked = checkOptions(options);
  const problem = problemFor(current, counts, latencyMs);
  const currentCostMs = orderCostMs(
    problem,
    problem.groups.map((_, g) => g),
  );
  const outcome =
    problem.sets.length === 0
      ? { best: null, method: checked.solver, optimal: true, note: "no multicast to two or more groups" }
      : checked.solver === "exhaustive"
        ? exhaustive(current, problem, currentCostMs)
        : checked.solver === "local-search"
          ? bestOf(
              current,
              problem,
              currentCostMs,
              localSearchOrder(problem, [...problem.relevant]),
              "local-search",
              false,
            )
          : ilp(current, problem, currentCostMs, checked, orderVariablesMaxSet, localSearch);
  return decide(current, currentCostMs, outcome, checked.minGainFraction);
}

/** The best of `candidate` and the current order as a search outcome. */
function bestOf(
  current: CdagOverlay,
  problem: CdagProblem,
  currentCostMs: number,
  candidate: { order: readonly number[]; costMs: number },
  method: SearchOutcome<CdagOverlay>["method"],
  optimal: boolean,
  note = "",
): SearchOutcome<CdagOverlay> {
  if (candidate.costMs >= currentCostMs)
    return { best: { overlay: current, costMs: currentCostMs }, method, optimal, note };
  return {
    best: { overlay: overlayOf(current, problem, candidate.order), costMs: candidate.costMs },
    method,
    optimal,
    note,
  };
}

function exhaustive(
  current: CdagOverlay,
  problem: CdagProblem,
  currentCostMs: number,
): SearchOutcome<CdagOverlay> {
  const n = problem.relevant.length;
  if (n > CDAG_EXHAUSTIVE_MAX_GROUPS)
    throw new Error(
      `exhaustive C-DAG search refuses ${n} groups (at most ${CDAG_EXHAUSTIVE_MAX_GROUPS}, ${n}! orders); use the ILP`,
    );
  // Heap's algorithm; strictly better orders only, so ties keep the first found.
  const perm = [...problem.relevant];
  let best = { order: [...perm], costMs: orderCostMs(problem, perm) };
  const c: number[] = new Array(n).fill(0);
  for (let i = 1; i < n; ) {
    if ((c[i] as number) < i) {
      const j = i % 2 === 0 ? 0 : (c[i] as number);
      [perm[j], perm[i]] = [perm[i] as number, perm[j] as number];
      const costMs = orderCostMs(problem, perm);
      if (costMs < best.costMs) best = { order: [...perm], costMs };
      c[i] = (c[i] as number) + 1;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
  return bestOf(current, problem, currentCostMs, best, "exhaustive", true);
}

/**
 * Local search first (its order is the cut-off), then the ILP for anything better, within the
 * time limit. The answer is the better of the two; it is optimal when the ILP finished its
 * search: with an integral solution, or infeasible under the cut-off (no order beats the known
 * one).
 */
function ilp(
  current: CdagOverlay,
  problem: CdagProblem,
  currentCostMs: number,
  options: CheckedOptions,
  orderVariablesMaxSet: number,
  localSearch: boolean,
): SearchOutcome<CdagOverlay> {
  const start = [...problem.relevant];
  const known = localSearch
    ? localSearchOrder(problem, start)
    : { order: start, costMs: orderCostMs(problem, start) };
  const knownMethod = localSearch ? "local-search" : "ilp";
  const knownOutcome = (note: string, proved: boolean): SearchOutcome<CdagOverlay> => {
    const outcome = bestOf(current, problem, currentCostMs, known, knownMethod, proved, note);
    // Unproven, the current order is no answer: the search gave none.
    if (!proved && outcome.best?.overlay === current)
      return { best: null, method: "fallback", optimal: false, note };
    return outcome;
  };
  if (cdagIlpCellsEstimate(problem) > CDAG_ILP_CELLS_MAX)
    return knownOutcome(
      `the ILP (about ${Math.round(cdagIlpCellsEstimate(problem))} tableau cells) is beyond what javascript-lp-solver solves in time (${CDAG_ILP_CELLS_MAX} cells)`,
      false,
    );
  const { model, pairs } = buildCdagIlp(problem, known.costMs, orderVariablesMaxSet);
  const outcome = solveIlp(model, options.timeLimitMs);
  if (outcome.status === "no-solution")
    return knownOutcome("the ILP timed out without a better order", false);
  if (outcome.status === "stalled") return knownOutcome("the LP solver stalled (cycling)", false);
  if (outcome.status === "too-large") return knownOutcome(tooLarge(model), false);
  // The cut-off admits the known order: infeasible means nothing is better.
  if (outcome.status === "infeasible") return knownOutcome("", true);
  const order = orderFromPairs(problem, pairs, outcome.values);
  const optimal = outcome.status === "optimal";
  if (order === null) return knownOutcome("the ILP solution is no order (numerical trouble)", false);
  const costMs = orderCostMs(problem, order);
  if (!(costMs < known.costMs)) return knownOutcome("", optimal);
  return bestOf(current, problem, currentCostMs, { order, costMs }, "ilp", optimal);
}

/** Variable, constraint and integer-variable counts of the C-DAG ILP for this instance. */
export function cdagIlpStats(
  current: CdagOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
): ModelStats & { readonly relevantGroups: number; readonly sets: number } {
  const problem = problemFor(current, counts, latencyMs);
  const { model } = buildCdagIlp(problem, orderCostMs(problem, problem.relevant));
  return { ...model.stats(), relevantGroups: problem.relevant.length, sets: problem.sets.length };
}
