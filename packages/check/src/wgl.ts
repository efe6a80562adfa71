import { assert } from "@amcast/core";

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
}

/** 32-bit avalanche mix (murmur3's finaliser), for per-operation Zobrist words. */
function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Is there a total order of `operations`, consistent with real time (an operation that returned
 * before another was called comes first), in which every operation returns what it returned when
 * applied to the model from its initial state?
 *
 * The Wing–Gong search with Lowe's memoisation: the calls and returns form a doubly linked list
 * in history order; the search walks it, linearizes a call when the model accepts it (lifting the
 * call and its return out of the list), and backtracks when it meets a return whose operation is
 * not linearized yet. A configuration — the set of linearized operations and the model state — is
 * explored once: the set is hashed incrementally (a random word per operation, XORed) and stored
 * exactly (the first operation not linearized, plus the few above it that are), so a hash
 * collision costs a comparison, never a wrong answer.
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
  const linearized = new Uint8Array(n);
  let setLo = 0;
  let setHi = 0;
  /** The highest linearized operation, and the unlinearized ones below it, in order. */
  let maxLinearized = -1;
  const holes: number[] = [];

  /** Marks `op` linearized in the set's representations (hash, holes, max). */
  const addToSet = (op: number): void => {
    linearized[op] = 1;
    setLo ^= zobristLo[op] as number;
    setHi ^= zobristHi[op] as number;
    if (op > maxLinearized) {
      for (let index = maxLinearized + 1; index < op; index += 1) holes.push(index);
      maxLinearized = op;
    } else holes.splice(holeIndex(op), 1);
  };
  /** Undoes `addToSet(op)`; `previousMax` is the max before it. */
  const removeFromSet = (op: number, previousMax: number): void => {
    linearized[op] = 0;
    setLo ^= zobristLo[op] as number;
    setHi ^= zobristHi[op] as number;
    if (op === maxLinearized && previousMax < op) {
      holes.length -= op - previousMax - 1;
      maxLinearized = previousMax;
    } else holes.splice(holeIndex(op), 0, op);
  };
  const holeIndex = (op: number): number => {
    let lo = 0;
    let hi = holes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((holes[mid] as number) < op) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const memo = new Map<number, Memo<S>[]>();
  let states = 0;
  /** Memoises the current set with `state`; false if that configuration was seen before. */
  const remember = (state: S): boolean => {
    const stateHash = model.hash(state) | 0;
    const key =
      ((setHi ^ Math.imul(stateHash, 0x9e37_79b1)) & 0x1f_ffff) * 0x1_0000_0000 + ((setLo ^ stateHash) >>> 0);
    let bucket = memo.get(key);
    if (bucket === undefined) {
      bucket = [];
      memo.set(key, bucket);
    } else {
      for (const seen of bucket)
        if (
          seen.max === maxLinearized &&
          seen.holes.length === holes.length &&
          seen.holes.every((value, index) => value === holes[index]) &&
          model.equal(seen.state, state)
        )
          return false;
    }
    bucket.push({ max: maxLinearized, holes: Int32Array.from(holes), state });
    states += 1;
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
        if (after === undefined) illegalIn[op] = state;
        else {
          if (!tryPush(op, after, true)) return false;
          scan = next[head] as number;
          continue;
        }
      }
      scan = next[scan] as number;
    }
    return true;
  };

  /** Undoes choices up to the latest one that has alternatives; the entry to try next, or -1. */
  const backtrack = (): number => {
    for (;;) {
      if (depth === 0) return -1;
      depth -= 1;
      const op = stackOps[depth] as number;
      state = stackStates[depth] as S;
      removeFromSet(op, stackMax[depth] as number);
      unlift(op);
      if (stackForced[depth] === 0) return next[2 * op] as number;
    }
  };

  const violation = (): SearchResult => ({
    verdict: "violation",
    states,
    ...(trackDeepest ? { deepest } : {}),
  });
  let entry = takeReads() ? (next[head] as number) : -1;
  let iterations = 0;
  const now = budget.now;
  for (;;) {
    if (entry < 0) return violation();
    if (entry === tail) break;
    if (states > budget.statesMax) return { verdict: "unknown", states, exhausted: "states" };
    iterations += 1;
    // The first iteration looks too, so a search started past the deadline stops at once.
    if ((iterations & (CLOCK_EVERY - 1)) === 1 && now !== undefined && now() > budget.deadlineMs)
      return { verdict: "unknown", states, exhausted: "time" };
    if ((entry & 1) === 1) {
      // An operation returned before any order could place it: undo the latest choice.
      entry = backtrack();
      continue;
    }
    const op = entry >> 1;
    // A read that could go here was taken already (takeReads); it cannot, in this state.
    const operation = operations[op] as SearchOperation<I, O>;
    const after = readOnly[op] === 1 ? undefined : model.step(state, operation.input, operation.output);
    if (after === undefined || !tryPush(op, after, false)) {
      entry = next[entry] as number;
      continue;
    }
    entry = takeReads() ? (next[head] as number) : backtrack();
  }
  return { verdict: "linearizable", states, ...(trackDeepest ? { deepest } : {}) };
}
