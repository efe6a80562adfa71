import type { TraceId } from "@amcast/core";
import type { HistoryEvent, HistoryOperation } from "./history.js";
import { historyOperations } from "./history.js";
import { showTime } from "./violations.js";
import type { Model, SearchBudget, SearchOperation, SearchResult, SearchVerdict } from "./wgl.js";
import { searchLinearization } from "./wgl.js";

/** An operation's input and output (undefined: unknown) as a model sees it. */
export interface ModelCall<I, O> {
  readonly input: I;
  readonly output: O | undefined;
}

/** Operations (indices into the calls given) that touch a part of the state no other part touches. */
export interface Part {
  /** What the part is, for reports: "keys a, b". */
  label: string;
  readonly operations: number[];
}

/** A model that can read histories and split them into independent parts. */
export interface HistoryModel<S, I, O> extends Model<S, I, O> {
  /** Reads an invocation's `f` and `args`; bad ones throw an InputError naming `where`. */
  readInput(f: string, args: unknown, where: string): I;
  /** Reads an ok call's `result`. */
  readOutput(input: I, result: unknown, where: string): O;
  /**
   * P-compositionality: groups of operations that touch disjoint parts of the state. The history
   * is linearizable if and only if each group is (linearizability is local), and small groups
   * are far cheaper to search than the whole.
   */
  partition(calls: readonly ModelCall<I, O>[]): Part[];
  /**
   * For each call, the calls whose effects its result shows (a read of a value, the writes of
   * that value). A witness keeps the writes its reads saw, so it never shrinks to a read of a
   * value nobody wrote.
   */
  readsFrom(calls: readonly ModelCall<I, O>[]): readonly (readonly number[])[];
  /**
   * Weaker forms of a call that read several things: what it would say if it had read less (a
   * range read as reads of the keys it covers, a read of several keys without one of them). A
   * history that still fails with a weaker call failed with the original too; a witness shrinks
   * by them. `context`: the calls of the witness so far.
   */
  weaken(call: ModelCall<I, O>, context: readonly ModelCall<I, O>[]): ModelCall<I, O>[];
}

export interface LinearizabilityOptions {
  /** Configurations memoised per search before the answer is "unknown" (default 5,000,000). */
  readonly statesMax?: number;
  /** Wall time for the whole check, read from `now` (purity: the caller owns the clock). */
  readonly timeMs?: number;
  readonly now?: () => number;
  /** Look for a minimal witness on a violation (default true). */
  readonly witness?: boolean;
  /** Names the history in errors. */
  readonly source?: string;
}

export interface WitnessOperation {
  readonly id: TraceId;
  readonly client: TraceId;
  /** The operation and its result, as the model writes them. */
  readonly text: string;
  /** When only part of what it read matters: that part, as a weaker operation. */
  readonly needs: string | null;
  /** The call the witness holds (the weaker one, if any), in the model's vocabulary. */
  readonly input: unknown;
  /** Its result; undefined when unknown. */
  readonly output: unknown;
  readonly invokeMs: number;
  /** Infinity: never returned (or its outcome is unknown). */
  readonly completeMs: number;
}

/**
 * Operations that cannot be ordered: each one kept is needed (without any one, and the reads of
 * what it wrote, an order exists). `prefix` is a longest legal order of some of them; none of the
 * others can come next, each for the reason given.
 */
export interface Witness {
  readonly part: string;
  readonly operations: readonly WitnessOperation[];
  /** Real-time order among them: `before` returned before `after` was invoked. */
  readonly realTime: readonly { readonly before: TraceId; readonly after: TraceId }[];
  readonly prefix: readonly TraceId[];
  /** Why each other one cannot come next: an operation it must follow, or the model's reason. */
  readonly blocked: readonly {
    readonly id: TraceId;
    readonly waitsFor: TraceId | null;
    readonly reason: string;
  }[];
  /** False when the budget ran out before the witness was shrunk to a minimal one. */
  readonly minimal: boolean;
}

export interface LinearizabilityReport {
  readonly run: string | undefined;
  readonly model: string;
  readonly verdict: SearchVerdict;
  /** Operations in the history. */
  readonly operations: number;
  /** Dropped before the search: failed calls, and reads whose result is unknown. */
  readonly dropped: number;
  readonly parts: number;
  readonly largestPart: number;
  /** Configurations memoised over every search. */
  readonly states: number;
  /** Parts whose search ran out of budget. */
  readonly undecided: readonly {
    readonly part: string;
    readonly operations: number;
    readonly exhausted: string;
  }[];
  readonly witness: Witness | null;
}

const DEFAULT_STATES_MAX = 5_000_000;
/** Each search while shrinking a witness gets at most this many configurations. */
const WITNESS_STATES_MAX = 200_000;
/** Rounds of removing operations and weakening reads while shrinking a witness. */
const WITNESS_ROUNDS_MAX = 4;

interface Prepared<I, O> {
  readonly call: ModelCall<I, O>;
  readonly operation: HistoryOperation;
  /** When a witness weakened the call: what the history says. */
  readonly original?: ModelCall<I, O>;
}

/**
 * Checks that a history (one run's events) is linearizable with respect to `model`: splits it
 * into independent parts (P-compositionality), searches each with the Wing–Gong–Lowe algorithm,
 * and on a violation shrinks the failing part to a minimal witness. Answers "unknown" when a
 * budget (configurations per search, wall time through `now`) runs out first.
 */
export function checkLinearizability<S, I, O>(
  events: readonly HistoryEvent[],
  model: HistoryModel<S, I, O>,
  options: LinearizabilityOptions = {},
): LinearizabilityReport {
  const source = options.source ?? "history";
  const operations = historyOperations(events, source);
  const now = options.now;
  const budget: SearchBudget = {
    statesMax: options.statesMax ?? DEFAULT_STATES_MAX,
    deadlineMs:
      options.timeMs === undefined || now === undefined ? Number.POSITIVE_INFINITY : now() + options.timeMs,
    now,
  };
  const prepared: Prepared<I, O>[] = [];
  for (const operation of operations) {
    if (operation.outcome === "fail") continue;
    const where = `${source} operation ${String(operation.id)}`;
    const input = model.readInput(operation.f, operation.args, where);
    if (operation.outcome === "unknown") {
      // A read that may never have happened constrains nothing.
      if (!model.readOnly(input)) prepared.push({ call: { input, output: undefined }, operation });
      continue;
    }
    prepared.push({ call: { input, output: model.readOutput(input, operation.result, where) }, operation });
  }
  const parts = model.partition(prepared.map((entry) => entry.call));
  // Small parts first: a violation there is found, and shrunk, fastest.
  parts.sort((a, b) => a.operations.length - b.operations.length);
  let states = 0;
  const undecided: { part: string; operations: number; exhausted: string }[] = [];
  let witness: Witness | null = null;
  let violated = false;
  for (const part of parts) {
    const members = part.operations.map((index) => prepared[index] as Prepared<I, O>);
    const result = searchLinearization(model, members.map(searchOperation), budget);
    states += result.states;
    if (result.verdict === "unknown") {
      undecided.push({ part: part.label, operations: members.length, exhausted: result.exhausted ?? "" });
      if (result.exhausted === "time") break;
      continue;
    }
    if (result.verdict === "violation") {
      violated = true;
      if (options.witness !== false) witness = findWitness(model, part.label, members, budget);
      break;
    }
  }
  return {
    run: events[0]?.run,
    model: model.name,
    verdict: violated ? "violation" : undecided.length > 0 ? "unknown" : "linearizable",
    operations: operations.length,
    dropped: operations.length - prepared.length,
    parts: parts.length,
    largestPart: parts.reduce((largest, part) => Math.max(largest, part.operations.length), 0),
    states,
    undecided,
    witness,
  };
}

function searchOperation<I, O>({ call, operation }: Prepared<I, O>): SearchOperation<I, O> {
  return {
    input: call.input,
    output: call.output,
    callAt: operation.invokeIndex,
    returnAt: call.output === undefined ? Number.POSITIVE_INFINITY : operation.completeIndex,
  };
}

/**
 * The part as it stood at position `cut` of the history: the operations invoked before it, those
 * that had not returned yet with an unknown result (reads among them dropped).
 */
function prefixAt<I, O>(
  model: Model<unknown, I, O>,
  members: readonly Prepared<I, O>[],
  cut: number,
): Prepared<I, O>[] {
  const prefix: Prepared<I, O>[] = [];
  for (const member of members) {
    if (member.operation.invokeIndex >= cut) break;
    if (member.operation.completeIndex <= cut || member.call.output === undefined) {
      prefix.push(member);
      continue;
    }
    if (model.readOnly(member.call.input)) continue;
    prefix.push({ call: { input: member.call.input, output: undefined }, operation: member.operation });
  }
  return prefix;
}

/**
 * Shrinks a failing part to a minimal witness: the shortest failing prefix (linearizability is
 * closed under prefixes, so a binary search finds it), then removing operations — halves, then
 * quarters, down to single ones, each with the reads that saw it — while the rest still fails.
 */
function findWitness<S, I, O>(
  model: HistoryModel<S, I, O>,
  label: string,
  members: readonly Prepared<I, O>[],
  budget: SearchBudget,
): Witness {
  const shrinkBudget: SearchBudget = { ...budget, statesMax: Math.min(budget.statesMax, WITNESS_STATES_MAX) };
  let minimal = true;
  const fails = (candidate: readonly Prepared<I, O>[]): boolean => {
    const result = searchLinearization(model, candidate.map(searchOperation), shrinkBudget);
    if (result.verdict === "unknown") minimal = false;
    return result.verdict === "violation";
  };
  // A search fails at a return: cut the history at each return, and find the first that fails.
  const cuts = members
    .map((member) =>
      member.call.output === undefined ? Number.POSITIVE_INFINITY : member.operation.completeIndex,
    )
    .filter((cut) => Number.isFinite(cut))
    .sort((a, b) => a - b);
  // Galloping first: a violation is usually early in a long history, and a prefix costs its length.
  let lo = 0;
  let hi = cuts.length - 1;
  for (let probe = 0, step = 1; probe < hi; probe = Math.min(hi, probe + step), step *= 2) {
    if (fails(prefixAt(model, members, cuts[probe] as number))) {
      hi = probe;
      break;
    }
    lo = probe + 1;
  }
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (fails(prefixAt(model, members, cuts[mid] as number))) hi = mid;
    else lo = mid + 1;
  }
  let kept = cuts.length === 0 ? [...members] : prefixAt(model, members, cuts[hi] as number);
  const outOfTime = (): boolean => budget.now !== undefined && budget.now() > budget.deadlineMs;
  /** Removes operations (with the reads of what they wrote) while the rest still fails. */
  const removePass = (): void => {
    for (let chunk = Math.ceil(kept.length / 2); chunk >= 1; chunk = chunk === 1 ? 0 : Math.ceil(chunk / 2)) {
      for (let start = 0; start < kept.length; ) {
        const removed = withReaders(model, kept, start, Math.min(kept.length, start + chunk));
        const rest = kept.filter((_, index) => !removed.has(index));
        if (rest.length < kept.length && fails(rest)) kept = rest;
        else start += chunk;
        if (outOfTime()) {
          minimal = false;
          return;
        }
      }
    }
  };
  /** Replaces reads by weaker ones (fewer keys) while the history still fails; true if any was. */
  const weakenPass = (): boolean => {
    let weakened = false;
    for (let index = 0; index < kept.length; index += 1) {
      for (let changed = true; changed && !outOfTime(); ) {
        changed = false;
        const entry = kept[index] as Prepared<I, O>;
        if (entry.call.output === undefined) break;
        for (const call of model.weaken(
          entry.call,
          kept.map((other) => other.call),
        )) {
          const trial = kept.slice();
          trial[index] = { call, operation: entry.operation, original: entry.original ?? entry.call };
          if (fails(trial)) {
            kept = trial;
            changed = true;
            weakened = true;
            break;
          }
        }
      }
    }
    return weakened;
  };
  // Weaker reads free the writes of what they no longer read: remove again after each round.
  for (let round = 0; round < WITNESS_ROUNDS_MAX; round += 1) {
    removePass();
    if (outOfTime() || !weakenPass()) break;
  }
  return describeWitness(model, label, kept, shrinkBudget, minimal);
}

/** Indices [from, to) of `kept` and, transitively, every operation that read what they wrote. */
function withReaders<S, I, O>(
  model: HistoryModel<S, I, O>,
  kept: readonly Prepared<I, O>[],
  from: number,
  to: number,
): Set<number> {
  const sources = model.readsFrom(kept.map((entry) => entry.call));
  const readers = kept.map(() => [] as number[]);
  sources.forEach((writers, reader) => {
    for (const writer of writers) (readers[writer] as number[]).push(reader);
  });
  const removed = new Set<number>();
  const pending: number[] = [];
  for (let index = from; index < to; index += 1) pending.push(index);
  while (pending.length > 0) {
    const index = pending.pop() as number;
    if (removed.has(index)) continue;
    removed.add(index);
    for (const reader of readers[index] as number[]) pending.push(reader);
  }
  return removed;
}

function describeWitness<S, I, O>(
  model: HistoryModel<S, I, O>,
  label: string,
  kept: readonly Prepared<I, O>[],
  budget: SearchBudget,
  minimal: boolean,
): Witness {
  // Without the pruner: it gives up on an order as soon as some read can never return its value,
  // which is sound for the verdict but stops short of the longest legal order, so the report
  // would list operations that could come next. A witness is a few operations; the full search is cheap.
  const unpruned: Model<S, I, O> = Object.create(model, { pruner: { value: undefined } });
  const result: SearchResult = searchLinearization(unpruned, kept.map(searchOperation), budget, true);
  const prefix = result.deepest ?? [];
  let state = model.init();
  for (const index of prefix) {
    const entry = kept[index] as Prepared<I, O>;
    state = model.step(state, entry.call.input, entry.call.output) as S;
  }
  const placed = new Set(prefix);
  const blocked: { id: TraceId; waitsFor: TraceId | null; reason: string }[] = [];
  kept.forEach((entry, index) => {
    if (placed.has(index)) return;
    const first = kept.find(
      (other, otherIndex) =>
        otherIndex !== index &&
        !placed.has(otherIndex) &&
        other.operation.completeIndex < entry.operation.invokeIndex,
    );
    blocked.push(
      first !== undefined
        ? { id: entry.operation.id, waitsFor: first.operation.id, reason: "returned before it was invoked" }
        : {
            id: entry.operation.id,
            waitsFor: null,
            reason: model.explain(state, entry.call.input, entry.call.output),
          },
    );
  });
  const realTime: { before: TraceId; after: TraceId }[] = [];
  for (const before of kept)
    for (const after of kept)
      if (before.operation.completeIndex < after.operation.invokeIndex)
        realTime.push({ before: before.operation.id, after: after.operation.id });
  return {
    part: label,
    operations: kept.map(({ call, operation, original }) => ({
      id: operation.id,
      client: operation.client,
      text: model.describe((original ?? call).input, (original ?? call).output),
      needs: original === undefined ? null : model.describe(call.input, call.output),
      input: call.input,
      output: call.output,
      invokeMs: operation.invokeMs,
      completeMs: call.output === undefined ? Number.POSITIVE_INFINITY : operation.completeMs,
    })),
    realTime: transitiveReduction(realTime),
    prefix: prefix.map((index) => (kept[index] as Prepared<I, O>).operation.id),
    blocked,
    minimal,
  };
}

/** Drops edges implied by two others (a -> b -> c makes a -> c redundant). */
function transitiveReduction(
  edges: readonly { before: TraceId; after: TraceId }[],
): { before: TraceId; after: TraceId }[] {
  const successors = new Map<TraceId, Set<TraceId>>();
  for (const { before, after } of edges) {
    let set = successors.get(before);
    if (set === undefined) {
      set = new Set();
      successors.set(before, set);
    }
    set.add(after);
  }
  return edges.filter(({ before, after }) => {
    for (const middle of successors.get(before) ?? [])
      if (middle !== after && successors.get(middle)?.has(after) === true) return false;
    return true;
  });
}

/** A report as text: the verdict, the numbers, and the witness of a violation. */
export function formatLinearizabilityReport(report: LinearizabilityReport): string {
  const name = report.run === undefined ? "history" : `run ${report.run}`;
  const counts = `${report.operations} operations, ${report.parts} part${report.parts === 1 ? "" : "s"} (largest ${report.largestPart}), ${report.states} states`;
  const lines: string[] = [];
  if (report.verdict === "linearizable") lines.push(`${name}: linearizable (${counts})`);
  else if (report.verdict === "unknown") {
    lines.push(`${name}: unknown, the budget ran out (${counts})`);
    for (const part of report.undecided)
      lines.push(`  ${part.part}: ${part.operations} operations, out of ${part.exhausted}`);
  } else lines.push(`${name}: NOT linearizable (${counts})`);
  if (report.witness !== null) lines.push(formatWitness(report.witness));
  return lines.join("\n");
}

export function formatWitness(witness: Witness): string {
  const names = new Map(witness.operations.map((operation, index) => [operation.id, letter(index)]));
  const name = (id: TraceId): string => `${names.get(id) ?? "?"}`;
  const lines = [
    `  witness on ${witness.part}: these ${witness.operations.length} operations have no legal order${witness.minimal ? "" : " (not shrunk to a minimal set: budget)"}`,
  ];
  for (const operation of witness.operations) {
    const end = Number.isFinite(operation.completeMs) ? showTime(operation.completeMs) : "never";
    lines.push(
      `    ${name(operation.id)}  op ${String(operation.id)} by ${String(operation.client)}: ${operation.text}  [invoked ${showTime(operation.invokeMs)}, returned ${end}]`,
    );
    if (operation.needs !== null) lines.push(`        of which this matters: ${operation.needs}`);
  }
  if (witness.realTime.length > 0)
    lines.push(
      `    real time: ${witness.realTime.map(({ before, after }) => `${name(before)} before ${name(after)}`).join(", ")}`,
    );
  lines.push(
    `    longest legal order: ${witness.prefix.length === 0 ? "(none)" : witness.prefix.map(name).join(", ")}; then none can follow:`,
  );
  for (const { id, waitsFor, reason } of witness.blocked)
    lines.push(
      waitsFor === null
        ? `      ${name(id)} cannot return that there: ${reason}`
        : `      ${name(id)} must follow ${name(waitsFor)}, which ${reason}`,
    );
  return lines.join("\n");
}

/** a, b, ..., z, a1, b1, ... */
function letter(index: number): string {
  const base = String.fromCharCode(97 + (index % 26));
  return index < 26 ? base : `${base}${Math.floor(index / 26)}`;
}
