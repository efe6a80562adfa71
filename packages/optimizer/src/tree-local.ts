/**
 * Local search over ByzCast trees. It gives the tree ILP its cut-off (the branch and bound only
 * looks for trees better than this one), and it is the answer when the ILP cannot beat it within
 * the time limit, which is where a tree of a dozen groups and more usually ends up.
 *
 * Iterated descent: apply the best improving move until none improves, then kick the best tree
 * found so far with a few random moves and descend again, `LOCAL_ROUNDS` times. Moves: hang a
 * group, with its subtree, below any group outside that subtree; make a group the root (the old
 * root then hangs below it). Trees are compared on excess load first (see `betterScore`), then on
 * cost. Randomness comes from a `Prng` with a fixed seed: the search is deterministic.
 */
import { Prng } from "@amcast/core";
import { IndexedTree } from "./cost.js";
import type { TreeProblem, TreeScore } from "./tree-problem.js";
import { betterScore, isValidTree, scoreTree } from "./tree-problem.js";

/** Kicks after the first descent. */
const LOCAL_ROUNDS = 24;
/** Random moves per kick. */
const KICK_MOVES = 3;
/** Descent steps per round, per group (each step strictly improves, so this is a safety net). */
const DESCENT_STEPS_PER_GROUP = 8;
const SEED = 7;

export interface LocalSearchResult {
  readonly parent: readonly number[];
  readonly score: TreeScore;
  /** Trees scored. */
  readonly evaluations: number;
}

export function localSearchTree(problem: TreeProblem, start: readonly number[]): LocalSearchResult {
  const n = start.length;
  const random = new Prng(SEED, "tree-local-search");
  let evaluations = 0;
  const score = (parent: readonly number[]): TreeScore => {
    evaluations++;
    return scoreTree(problem, new IndexedTree(parent));
  };

  /** Every valid neighbour of `parent`. */
  const neighbours = function* (parent: readonly number[]): Generator<number[]> {
    for (let v = 0; v < n; v++) {
      if ((parent[v] as number) < 0) continue;
      const inSubtree = subtreeOf(parent, v);
      for (let q = 0; q < n; q++) {
        if (inSubtree[q] || q === parent[v]) continue;
        const next = [...parent];
        next[v] = q;
        if (isValidTree(next, problem.target)) yield next;
      }
      // v becomes the root; the old root hangs below it.
      const next = [...parent];
      const root = parent.indexOf(-1);
      next[root] = v;
      next[v] = -1;
      if (isValidTree(next, problem.target)) yield next;
    }
  };

  const descend = (from: readonly number[], fromScore: TreeScore): { parent: number[]; score: TreeScore } => {
    let parent = [...from];
    let current = fromScore;
    for (let step = 0; step < DESCENT_STEPS_PER_GROUP * n; step++) {
      let best: { parent: number[]; score: TreeScore } | null = null;
      for (const next of neighbours(parent)) {
        const nextScore = score(next);
        if (betterScore(nextScore, best === null ? current : best.score))
          best = { parent: next, score: nextScore };
      }
      if (best === null) break;
      parent = best.parent;
      current = best.score;
    }
    return { parent, score: current };
  };

  let best = descend(start, score(start));
  for (let round = 0; round < LOCAL_ROUNDS; round++) {
    let kicked = [...best.parent];
    for (let move = 0; move < KICK_MOVES; move++) {
      const options = [...neighbours(kicked)];
      if (options.length === 0) break;
      kicked = options[random.int(options.length)] as number[];
    }
    const found = descend(kicked, score(kicked));
    if (betterScore(found.score, best.score)) best = found;
  }
  return { parent: best.parent, score: best.score, evaluations };
}

/** inSubtree[u]: u is v or below v. */
function subtreeOf(parent: readonly number[], v: number): boolean[] {
  const n = parent.length;
  const inSubtree: boolean[] = new Array(n).fill(false);
  for (let u = 0; u < n; u++) {
    let w = u;
    for (let steps = 0; w >= 0 && steps <= n; steps++) {
      if (w === v) {
        inSubtree[u] = true;
        break;
      }
      w = parent[w] as number;
    }
  }
  return inSubtree;
}
