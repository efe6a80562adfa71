/**
 * A small linear-model builder and the call into javascript-lp-solver 1.0.3 (pinned): its JSON
 * model, its `Model`/tableau, its best-first branch and bound with its own `timeout`. Four things
 * are added around it, each because of something the solver does not do:
 *
 * 1. `optimal`. On timeout the solver returns its incumbent without saying whether the search had
 *    finished. `solveIlp` watches the branch and bound through two tableau methods:
 *    `addCutConstraints(cuts)` starts the LP of every node evaluated (a fresh `cuts` array per
 *    node; once more, with the best node's array, to restore the incumbent at the end), and
 *    `getMostFractionalVar()` is called when a node branches, both children being queued with the
 *    node's LP value as their bound. The queue is best-first and a child's bound is never below
 *    its parent's, so the nodes taken from it are those with the smallest bounds: the children
 *    never evaluated are those with the largest, and the smallest of them bounds the optimum from
 *    below. The incumbent is optimal when that bound is not below it (or every child was
 *    evaluated).
 * 2. Phase 1. The solver's phase 1 (which also re-solves every node after its branching bounds
 *    are added) is a dual simplex, but after a stall it switches to a "Bland's rule" that ignores
 *    the ratio test and can wander for ever; its cycle detector only catches cycles of length 1.
 *    `dualPhase1` is the same dual simplex without that switch.
 * 3. Perturbation (`PERTURBATION_MAX`): breaks the ties that make the dual simplex cycle.
 * 4. Budgets: a pivot budget per LP (a cycling LP ends the solve with status "stalled") and a
 *    size limit (`MAX_TABLEAU_CELLS`): the tableau is dense and an LP cannot be interrupted, only
 *    the branch and bound between nodes, so a model too large is not attempted.
 */
import solver from "javascript-lp-solver";

export interface Bound {
  readonly min?: number;
  readonly max?: number;
  readonly equal?: number;
}

interface VariableSpec {
  readonly name: string;
  objective: number;
  readonly integer: boolean;
}

export interface ModelStats {
  readonly variables: number;
  readonly integerVariables: number;
  /** Constraints as written (an equality counts once), variable bounds included. */
  readonly constraints: number;
}

export class LinearModel {
  private readonly variables: VariableSpec[] = [];
  private readonly constraints: { terms: Map<number, number>; bound: Bound }[] = [];

  /** A variable >= 0; binary when `integer` (0 or 1), otherwise continuous up to `upper`. */
  addVariable(name: string, options: { objective?: number; integer?: boolean; upper?: number } = {}): number {
    const index = this.variables.length;
    this.variables.push({ name, objective: options.objective ?? 0, integer: options.integer ?? false });
    if (options.upper !== undefined && !options.integer)
      this.addConstraint([[index, 1]], { max: options.upper });
    return index;
  }

  addConstraint(terms: readonly (readonly [number, number])[], bound: Bound): void {
    const merged = new Map<number, number>();
    for (const [variable, coefficient] of terms)
      merged.set(variable, (merged.get(variable) ?? 0) + coefficient);
    for (const [variable, coefficient] of merged) if (coefficient === 0) merged.delete(variable);
    this.constraints.push({ terms: merged, bound });
  }

  /** Adds `coefficient` to the variable's objective coefficient. */
  setObjective(variable: number, coefficient: number): void {
    (this.variables[variable] as VariableSpec).objective += coefficient;
  }

  /** The objective as terms (variable, coefficient), zero coefficients left out. */
  objectiveTerms(): [number, number][] {
    const terms: [number, number][] = [];
    this.variables.forEach((variable, index) => {
      if (variable.objective !== 0) terms.push([index, variable.objective]);
    });
    return terms;
  }

  stats(): ModelStats {
    return {
      variables: this.variables.length,
      integerVariables: this.variables.filter((variable) => variable.integer).length,
      constraints: this.constraints.length,
    };
  }

  /** The model in javascript-lp-solver's JSON format (variables `v<i>`, constraints `k<i>`). */
  toJson(timeLimitMs: number | undefined): SolverModelJson {
    const variables: Record<string, Record<string, number>> = {};
    const binaries: Record<string, 1> = {};
    this.variables.forEach((variable, index) => {
      const entry: Record<string, number> = {};
      entry[OBJECTIVE] = variable.objective + perturbation(index);
      variables[`v${index}`] = entry;
      if (variable.integer) binaries[`v${index}`] = 1;
    });
    const constraints: Record<string, Bound> = {};
    this.constraints.forEach((constraint, index) => {
      const name = `k${index}`;
      constraints[name] = constraint.bound;
      for (const [variable, coefficient] of constraint.terms)
        (variables[`v${variable}`] as Record<string, number>)[name] = coefficient;
    });
    return {
      optimize: OBJECTIVE,
      opType: "min",
      constraints,
      variables,
      binaries,
      ...(timeLimitMs === undefined ? {} : { options: { timeout: timeLimitMs } }),
    };
  }

  get variableCount(): number {
    return this.variables.length;
  }
}

const OBJECTIVE = "objective";

/**
 * Every variable's objective coefficient gets a tiny, distinct positive term (at most this). Most
 * variables of these models cost nothing, so the LPs are massively dual degenerate and the dual
 * simplex cycles on ties; the terms break them. They add at most PERTURBATION_MAX x (sum of the
 * variables) to the objective (objectives here are in ms: well below a microsecond for these
 * models). Every overlay the ILP returns is costed again exactly, so reported costs carry no
 * perturbation; "optimal" means optimal for the perturbed objective, i.e. within that margin.
 */
export const PERTURBATION_MAX = 2e-7;

function perturbation(index: number): number {
  return (PERTURBATION_MAX / 2) * (1 + ((index * 7919) % 997) / 997);
}

export interface SolverModelJson {
  readonly optimize: string;
  readonly opType: "min";
  readonly constraints: Record<string, Bound>;
  readonly variables: Record<string, Record<string, number>>;
  readonly binaries: Record<string, 1>;
  readonly options?: { readonly timeout: number };
}

export type IlpStatus =
  /** An integral solution, proved optimal. */
  | "optimal"
  /** An integral solution; the search stopped (timeout) before proving it optimal. */
  | "incumbent"
  /** The search finished without an integral solution: there is none. */
  | "infeasible"
  /** The search stopped (timeout) without an integral solution. */
  | "no-solution"
  /** An LP relaxation went over its pivot budget (the solver cycling): no answer. */
  | "stalled"
  /** Not attempted: the model's dense tableau would exceed `MAX_TABLEAU_CELLS`. */
  | "too-large";

export interface IlpOutcome {
  readonly status: IlpStatus;
  /** Variable values (0 for those the solver does not report); empty without a solution. */
  readonly values: readonly number[];
  readonly objective: number;
  /** Branch-and-bound nodes whose LP was solved. */
  readonly nodes: number;
}

/**
 * The solver keeps a dense tableau (rows x columns of float64) and cannot be interrupted inside
 * an LP relaxation, only between branch-and-bound nodes. Past this many cells a single LP takes
 * longer than any sensible time limit (and hundreds of MB), so the model is not attempted.
 */
export const MAX_TABLEAU_CELLS = 3_000_000;

export function tableauCells(stats: ModelStats): number {
  // One row per constraint and per binary's upper bound; one column per variable.
  return (stats.constraints + stats.integerVariables) * (stats.variables + 1);
}

export function tooLarge(model: LinearModel): string {
  const stats = model.stats();
  return `the ILP (${stats.variables} variables, ${stats.constraints} constraints: ${tableauCells(stats)} tableau cells) is beyond javascript-lp-solver's reach (${MAX_TABLEAU_CELLS} cells)`;
}

export function solveIlp(model: LinearModel, timeLimitMs: number | undefined): IlpOutcome {
  const stats = model.stats();
  if (tableauCells(stats) > MAX_TABLEAU_CELLS)
    return { status: "too-large", values: [], objective: Number.NaN, nodes: 0 };
  const json = model.toJson(timeLimitMs);
  const instance = new solver.Model(PRECISION, undefined).loadJson(json);
  const tableau = instance.tableau;

  // Watch the branch and bound (see the file comment).
  const childBounds: number[] = [];
  const seenCuts = new WeakSet<object>();
  let evaluated = 0;
  let pivots = 0;
  const addCutConstraints = tableau.addCutConstraints.bind(tableau);
  const getMostFractionalVar = tableau.getMostFractionalVar.bind(tableau);
  const pivot = tableau.pivot.bind(tableau);
  tableau.addCutConstraints = (cuts) => {
    if (!seenCuts.has(cuts)) {
      seenCuts.add(cuts);
      evaluated++;
    }
    pivots = 0;
    addCutConstraints(cuts);
  };
  tableau.getMostFractionalVar = () => {
    childBounds.push(tableau.evaluation, tableau.evaluation);
    return getMostFractionalVar();
  };
  // The solver's phase 1 can cycle forever on degenerate LPs (its cycle detector only catches
  // cycles of length 1): give every LP a pivot budget and give up when one exceeds it.
  const budget = PIVOTS_PER_SIZE * (stats.variables + stats.constraints) + 1000;
  tableau.pivot = (row, column) => {
    if (++pivots > budget) throw new Stalled();
    pivot(row, column);
  };

  tableau.phase1 = () => dualPhase1(tableau);

  let result: SolveResultLike;
  try {
    result = solver.Solve(instance) as SolveResultLike;
  } catch (error) {
    if (error instanceof Stalled)
      return { status: "stalled", values: [], objective: Number.NaN, nodes: evaluated };
    throw error;
  }
  const integral = result.isIntegral === true && result.feasible === true;
  // The root is evaluated without being anybody's child. No node at all: either presolve found
  // the model infeasible, or the time was up before the root.
  const evaluatedChildren = Math.max(0, evaluated - 1);
  let complete =
    evaluated === 0
      ? instance.presolveResult?.isInfeasible === true
      : childBounds.length <= evaluatedChildren;
  if (!complete && integral) {
    childBounds.sort((a, b) => a - b);
    const lowerBound = childBounds[evaluatedChildren] as number;
    complete = lowerBound >= result.result - 1e-9 * Math.max(1, Math.abs(result.result));
  }
  if (!integral) {
    return {
      status: complete ? "infeasible" : "no-solution",
      values: [],
      objective: Number.NaN,
      nodes: evaluated,
    };
  }
  const values: number[] = [];
  for (let index = 0; index < model.variableCount; index++) {
    const value = result[`v${index}`];
    values.push(typeof value === "number" ? value : 0);
  }
  return { status: complete ? "optimal" : "incumbent", values, objective: result.result, nodes: evaluated };
}

const PRECISION = 1e-9;

/** Pivot budget of one LP relaxation, per variable and constraint of the model. */
const PIVOTS_PER_SIZE = 20;

class Stalled extends Error {}

interface SolveResultLike {
  readonly feasible: boolean;
  readonly result: number;
  readonly isIntegral?: boolean;
  readonly [variable: string]: number | boolean | undefined;
}

type TableauLike = InstanceType<typeof solver.Model>["tableau"];

/**
 * Phase 1 as the solver does it (a dual simplex: the row with the most negative value leaves, the
 * column with the smallest ratio of reduced cost to coefficient enters), without its switch to
 * "Bland's rule" after a stall, which picks columns regardless of the ratio and can wander for
 * ever. Degenerate cycling is left to the perturbation and the pivot budget. (The solver's phase 1
 * also handles unrestricted variables; these models have none.)
 */
function dualPhase1(tableau: TableauLike): number {
  const matrix = tableau.matrix;
  const width = tableau.width;
  const lastRow = tableau.height - 1;
  const lastColumn = width - 1;
  const rhsColumn = tableau.rhsColumn;
  const precision = tableau.precision;
  let iterations = 0;
  for (;;) {
    let leaving = 0;
    let most = -precision;
    for (let r = 1; r <= lastRow; r++) {
      const value = matrix[r * width + rhsColumn] as number;
      if (value < most) {
        most = value;
        leaving = r;
      }
    }
    if (leaving === 0) {
      tableau.feasible = true;
      return iterations;
    }
    let entering = 0;
    let best = Number.NEGATIVE_INFINITY;
    const offset = leaving * width;
    for (let c = 1; c <= lastColumn; c++) {
      const coefficient = matrix[offset + c] as number;
      if (coefficient < -precision) {
        const quotient = -(matrix[c] as number) / coefficient;
        if (quotient > best) {
          best = quotient;
          entering = c;
        }
      }
    }
    if (entering === 0) {
      tableau.feasible = false;
      return iterations;
    }
    tableau.pivot(leaving, entering);
    iterations++;
  }
}
