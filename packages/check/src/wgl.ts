import { assert, lowerBound, mix32 } from "@amcast/core";

/**
 * The sequential specification of a service: what each operation does to the state and which
 * results it may return. The checker asks it nothing else, so any service can be checked.
 */
export interface Model<S, I, O> {
  readonly name: string;
  init(): S;
  /**
   * The state after `input` returns `output` in `state`, or undefined if it cannot return that
   * there. `output` undefined means unknown: the call may have returned anything (its effect is
   * then the one it has in `state`). States are values: never change one, return a new one.
   */
  step(state: S, input: I, output: O | undefined): S | undefined;
  hash(state: S): number;
  equal(a: S, b: S): boolean;
  /** Operations that never change the state: with an unknown result they constrain nothing. */
  readOnly(input: I): boolean;
  /** "put(k, "v")", "get(k) -> "v"": one operation and its result (undefined: unknown) for reports. */
  describe(input: I, output: O | undefined): string;
  /** Why `input` cannot return `output` in `state` (step returned undefined), for reports. */
  explain(state: S, input: I, output: O | undefined): string;
  /** Optional pruning for one search over `calls` (in call order); see `Pruner`. */
  pruner?(calls: readonly { readonly input: I; readonly output: O | undefined }[]): Pruner<S>;
}

/**
 * Lets a search give up on a configuration early: told which operations are placed, it says
 * whether a read that cannot return its result now never will, whatever the operations not yet
 * placed do (a key-value read of a value whose every writer is placed and overwritten). Without
 * it, the search finds out only when that read's return comes, after trying every order of the
 * writes in between.
 */
export interface Pruner<S> {
  placed(op: number): void;
  unplaced(op: number): void;
  hopeless(state: S, op: number): boolean;
}

/** One operation as the search sees it: positions are indices in the history's event order. */
export interface SearchOperation<I, O> {
  readonly input: I;
  /** Undefined: the result is unknown (the operation may never have taken effect). */
  readonly output: O | undefined;
  readonly callAt: number;
  /** Infinity: the operation never returned; it may take effect at any time after its call. */
  readonly returnAt: number;
}

/** When a search gives up: after this many memoised configurations or at `deadlineMs` on `now`. */
export interface SearchBudget {
  readonly statesMax: number;
  readonly deadlineMs: number;
  readonly now: (() => number) | undefined;
}

export type SearchVerdict = "linearizable" | "violation" | "unknown";

export interface SearchResult {
  readonly verdict: SearchVerdict;
  /** Configurations (linearized set, state) memoised. */
  readonly states: number;
  /** Why the verdict is "unknown": the budget that ran out. */
  readonly exhausted?: "states" | "time";
  /**
   * With `trackDeepest`: the longest sequence of operations (indices) the search could order
   * legally; on a violation, no operation can follow it.
   */
  readonly deepest?: readonly number[];
}

/** Iterations between two looks at the clock. */
const CLOCK_EVERY = 4096;

/**
 * A memoised configuration: the linearized set, exactly, and the model state. The set is every
 * operation up to `max` (in call order) but the `holes`: few, since what is left unlinearized
 * below the latest linearized call is what was still running then.
 */
interface Memo<S> {
  readonly max: number;
  readonly holes: Int32Array;
  readonly state: S;
  /** Another configuration with the same hash key. */
  readonly next: Memo<S> | undefined;
}

/** The holes of the (many) configurations that have none. */
const NO_HOLES = new Int32Array(0);

/**
 * Is there a total order of `operations`, consistent with real time (an operation that returned
 * before another was called comes first), in which every operation returns what it returned when
 * applied to the model from its initial state?
 *
 * The Wing–Gong search with Lowe's memoisation: the calls and returns form a doubly linked list
 * in history order. The calls before the first return left in the list may go next; the search
 * linearizes one the model accepts (lifting its call and return out of the list) and goes on,
 * and backs out of its latest choice when none of them can go. Reads that may go next and are
 * legal are placed at once (`takeReads`); the others are tried in order of their returns
 * (`candidatesHere`); the model's pruner may declare a configuration hopeless early. A
 * configuration — the set of linearized operations and the model state — is explored once: the
 * set is hashed incrementally (a random word per operation, XORed) and stored exactly (the
 * highest linearized operation and the unlinearized ones below it), so a hash collision costs a
 * comparison, never a wrong answer.
 */
export function searchLinearization<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly SearchOperation<I, O>[],
  budget: SearchBudget,
  trackDeepest = false,
): SearchResult {
  const n = operations.length;
  for (let index = 1; index < n; index += 1)
    assert(
      (operations[index - 1] as SearchOperation<I, O>).callAt <
        (operations[index] as SearchOperation<I, O>).callAt,
      "operations are given in call order",
    );
  if (n === 0) return { verdict: "linearizable", states: 0, ...(trackDeepest ? { deepest: [] } : {}) };

  // Entries 2i (call of i) and 2i + 1 (return of i); head and tail sentinels after them.
  const head = 2 * n;
  const tail = 2 * n + 1;
  const next = new Int32Array(2 * n + 2);
  const prev = new Int32Array(2 * n + 2);
  const entries: number[] = [];
  for (let op = 0; op < n; op += 1) entries.push(2 * op, 2 * op + 1);
  const positionOf = (entry: number): number => {
    const operation = operations[entry >> 1] as SearchOperation<I, O>;
    return (entry & 1) === 0 ? operation.callAt : operation.returnAt;
  };
  // Returns that never happened go last, in call order; a call precedes its own return.
  entries.sort((a, b) => {
    const pa = positionOf(a);
    const pb = positionOf(b);
    if (pa !== pb) return pa < pb ? -1 : 1;
    return a - b;
  });
  let last = head;
  for (const entry of entries) {
    next[last] = entry;
    prev[entry] = last;
    last = entry;
  }
  next[last] = tail;
  prev[tail] = last;

  const zobristLo = new Int32Array(n);
  const zobristHi = new Int32Array(n);
  for (let op = 0; op < n; op += 1) {
    zobristLo[op] = mix32(op * 2 + 0x2545_f491);
    zobristHi[op] = mix32(op * 2 + 1 + 0x9e37_79b9);
  }
  let setLo = 0;
  let setHi = 0;
  /** The highest linearized operation, and the unlinearized ones below it, in order. */
  let maxLinearized = -1;
  const holes: number[] = [];

  const pruner = model.pruner?.(operations);
  /** Marks `op` linearized in the set's representations (hash, holes, max). */
  const addToSet = (op: number): void => {
    pruner?.placed(op);
    setLo ^= zobristLo[op] as number;
    setHi ^= zobristHi[op] as number;
    if (op > maxLinearized) {
      for (let index = maxLinearized + 1; index < op; index += 1) holes.push(index);
      maxLinearized = op;
    } else holes.splice(lowerBound(holes, op), 1);
  };
  /** Undoes `addToSet(op)`; `previousMax` is the max before it. */
  const removeFromSet = (op: number, previousMax: number): void => {
    pruner?.unplaced(op);
    setLo ^= zobristLo[op] as number;
    setHi ^= zobristHi[op] as number;
    if (op === maxLinearized && previousMax < op) {
      holes.length -= op - previousMax - 1;
      maxLinearized = previousMax;
    } else holes.splice(lowerBound(holes, op), 0, op);
  };

  const memo = new Map<number, Memo<S>>();
  let states = 0;
  /** Memoises the current set with `state`; false if that configuration was seen before. */
  const remember = (state: S): boolean => {
    const stateHash = model.hash(state) | 0;
    const key =
      ((setHi ^ Math.imul(stateHash, 0x9e37_79b1)) & 0x1f_ffff) * 0x1_0000_0000 + ((setLo ^ stateHash) >>> 0);
    const first = memo.get(key);
    for (let seen = first; seen !== undefined; seen = seen.next)
      if (seen.max === maxLinearized && sameHoles(seen.holes) && model.equal(seen.state, state)) return false;
    memo.set(key, {
      max: maxLinearized,
      holes: holes.length === 0 ? NO_HOLES : Int32Array.from(holes),
      state,
      next: first,
    });
    states += 1;
    return true;
  };
  const sameHoles = (seen: Int32Array): boolean => {
    if (seen.length !== holes.length) return false;
    for (let index = 0; index < seen.length; index += 1) if (seen[index] !== holes[index]) return false;
    return true;
  };

  const lift = (op: number): void => {
    const call = 2 * op;
    const ret = call + 1;
    next[prev[call] as number] = next[call] as number;
    prev[next[call] as number] = prev[call] as number;
    next[prev[ret] as number] = next[ret] as number;
    prev[next[ret] as number] = prev[ret] as number;
  };
  const unlift = (op: number): void => {
    const call = 2 * op;
    const ret = call + 1;
    prev[next[ret] as number] = ret;
    next[prev[ret] as number] = ret;
    prev[next[call] as number] = call;
    next[prev[call] as number] = call;
  };

  const readOnly = new Uint8Array(n);
  for (let op = 0; op < n; op += 1)
    readOnly[op] = model.readOnly((operations[op] as SearchOperation<I, O>).input) ? 1 : 0;
  /** The state each read was last found illegal in. */
  const illegalIn: (S | undefined)[] = new Array(n).fill(undefined);
  const stackOps = new Int32Array(n);
  const stackStates: S[] = [];
  const stackMax = new Int32Array(n);
  /** Whether the operation at each depth was a read taken without alternatives (see `takeReads`). */
  const stackForced = new Uint8Array(n);
  let depth = 0;
  let deepest: number[] = [];
  let state = model.init();

  /**
   * Tries to linearize `op` into `after`: false, with nothing changed, if that configuration was
   * explored before.
   */
  const tryPush = (op: number, after: S, forced: boolean): boolean => {
    const previousMax = maxLinearized;
    addToSet(op);
    if (!remember(after)) {
      removeFromSet(op, previousMax);
      return false;
    }
    stackOps[depth] = op;
    stackStates[depth] = state;
    stackMax[depth] = previousMax;
    stackForced[depth] = forced ? 1 : 0;
    depth += 1;
    if (trackDeepest && depth > deepest.length) deepest = Array.from(stackOps.subarray(0, depth));
    state = after;
    lift(op);
    return true;
  };

  /**
   * Partial-order reduction: a read that may go next (no operation left returned before its
   * call) and is legal in the current state can be placed right now without losing any
   * linearization — it changes no state, and nothing left has to precede it. So such reads are
   * taken at once, and never tried elsewhere: if what follows fails, so does the configuration
   * before them. Returns false when a configuration it reaches was explored (and failed) before.
   */
  const takeReads = (): boolean => {
    let scan = next[head] as number;
    while (scan !== tail && (scan & 1) === 0) {
      const op = scan >> 1;
      // A read found illegal in this very state (taking other reads keeps it) stays illegal.
      if (readOnly[op] === 1 && illegalIn[op] !== state) {
        const operation = operations[op] as SearchOperation<I, O>;
        const after = model.step(state, operation.input, operation.output);
        if (after === undefined) {
          // A read that can never be placed any more dooms this configuration now.
          if (pruner?.hopeless(state, op) === true) return false;
          illegalIn[op] = state;
        } else {
          if (!tryPush(op, after, true)) return false;
          scan = next[head] as number;
          continue;
        }
      }
      scan = next[scan] as number;
    }
    return true;
  };

  /**
   * The operations that may go next and change the state: calls before the first return left in
   * the list, reads excepted (takeReads placed the legal ones), in order of their returns. The
   * one that must be placed soonest is tried first (Lowe's just-in-time idea): a write is not
   * placed before a read that returned before the write did — the guess that sends an
   * earliest-call-first search into long backtracking.
   */
  const candidatesHere = (): Int32Array => {
    let count = 0;
    for (let scan = next[head] as number; scan !== tail && (scan & 1) === 0; scan = next[scan] as number)
      if (readOnly[scan >> 1] === 0) count += 1;
    const candidates = new Int32Array(count);
    count = 0;
    for (let scan = next[head] as number; scan !== tail && (scan & 1) === 0; scan = next[scan] as number)
      if (readOnly[scan >> 1] === 0) {
        candidates[count] = scan >> 1;
        count += 1;
      }
    return candidates.sort(
      (a, b) =>
        (operations[a] as SearchOperation<I, O>).returnAt -
          (operations[b] as SearchOperation<I, O>).returnAt || a - b,
    );
  };
  /** Per choice on the stack: the candidates it was taken from, and its index among them. */
  const stackCandidates: (Int32Array | undefined)[] = [];
  const stackIndex = new Int32Array(n);
  let candidates: Int32Array = NO_HOLES;
  let index = 0;

  /** Undoes choices up to the latest one with untried alternatives; false if there is none. */
  const backtrack = (): boolean => {
    for (;;) {
      if (depth === 0) return false;
      depth -= 1;
      const op = stackOps[depth] as number;
      state = stackStates[depth] as S;
      removeFromSet(op, stackMax[depth] as number);
      unlift(op);
      if (stackForced[depth] === 0) {
        candidates = stackCandidates[depth] as Int32Array;
        index = (stackIndex[depth] as number) + 1;
        return true;
      }
    }
  };

  const violation = (): SearchResult => ({
    verdict: "violation",
    states,
    ...(trackDeepest ? { deepest } : {}),
  });
  if (takeReads()) candidates = candidatesHere();
  else return violation();
  let iterations = 0;
  const now = budget.now;
  while (depth < n) {
    if (states > budget.statesMax) return { verdict: "unknown", states, exhausted: "states" };
    iterations += 1;
    // The first iteration looks too, so a search started past the deadline stops at once.
    if ((iterations & (CLOCK_EVERY - 1)) === 1 && now !== undefined && now() > budget.deadlineMs)
      return { verdict: "unknown", states, exhausted: "time" };
    if (index >= candidates.length) {
      // No candidate left: the first operation to return cannot be placed in any order tried.
      if (!backtrack()) return violation();
      continue;
    }
    const op = candidates[index] as number;
    const operation = operations[op] as SearchOperation<I, O>;
    const after = model.step(state, operation.input, operation.output);
    if (after === undefined) {
      index += 1;
      continue;
    }
    const from = candidates;
    const at = index;
    if (!tryPush(op, after, false)) {
      index += 1;
      continue;
    }
    stackCandidates[depth - 1] = from;
    stackIndex[depth - 1] = at;
    if (takeReads()) {
      candidates = candidatesHere();
      index = 0;
    } else if (!backtrack()) return violation();
  }
  return { verdict: "linearizable", states, ...(trackDeepest ? { deepest } : {}) };
}
