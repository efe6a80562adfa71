import type { TraceId } from "@amcast/core";
import { describeValue, InputError } from "@amcast/core";

/**
 * Client histories: what a service's clients saw, as JSON Lines (docs/history.md). One `invoke`
 * when a client calls an operation and one `complete` when the call returns, times on the same
 * clock as the run's trace. The linearizability checker reads only this.
 */
interface HistoryBase {
  /** The operation's id, unique within the run: it pairs the two events. */
  readonly op: TraceId;
  readonly client: TraceId;
  readonly t: number;
  readonly run?: string;
}

/** A client calls operation `f` with `args` (what both mean is the service model's vocabulary). */
export interface InvokeEvent extends HistoryBase {
  readonly ev: "invoke";
  readonly f: string;
  readonly args: unknown;
}

/**
 * How a call ended: `ok` with its `result`; `fail`: it certainly did not take effect (the checker
 * drops it); `unknown`: it may or may not have taken effect, e.g. it timed out (the checker lets it
 * take effect at any point after its invocation, or never). An invocation without a `complete`
 * counts as `unknown`.
 */
export type Outcome = "ok" | "fail" | "unknown";

export interface CompleteEvent extends HistoryBase {
  readonly ev: "complete";
  /** Absent means "ok". */
  readonly outcome?: Outcome;
  /** The result of an `ok` call (null when the operation returns nothing). */
  readonly result?: unknown;
  /** What went wrong, for `fail` and `unknown`. */
  readonly error?: string;
}

export type HistoryEvent = InvokeEvent | CompleteEvent;

/** One operation of a history: its call, its return and their positions in the history. */
export interface HistoryOperation {
  readonly id: TraceId;
  readonly client: TraceId;
  readonly f: string;
  readonly args: unknown;
  readonly outcome: Outcome;
  /** The result when `outcome` is "ok"; undefined otherwise. */
  readonly result: unknown;
  readonly invokeMs: number;
  /** Infinity when the call never returned (or its outcome is unknown). */
  readonly completeMs: number;
  /** Position of the invoke event among the run's events (the order things happened). */
  readonly invokeIndex: number;
  /** Position of the complete event; Infinity when its outcome is unknown. */
  readonly completeIndex: number;
}

/** One JSON Lines line (without the newline) for an event. */
export function formatHistoryLine(event: HistoryEvent): string {
  return JSON.stringify(event);
}

/** Parses a JSON Lines history; `source` names the file in errors. Blank lines are skipped. */
export function parseHistory(text: string, source: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index += 1) {
    const line = (lines[index] ?? "").trim();
    if (line === "") continue;
    events.push(parseHistoryLine(line, `${source}:${index + 1}`));
  }
  return events;
}

/** Parses and validates one line; `where` is "file:line" for errors. */
export function parseHistoryLine(line: string, where: string): HistoryEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InputError(where, "", `expected one JSON object per line, got ${describeValue(line)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InputError(where, "", `expected a JSON object, got ${describeValue(value)}`);
  const record = value as Record<string, unknown>;
  if (record.ev !== "invoke" && record.ev !== "complete")
    throw new InputError(where, "ev", `expected invoke or complete, got ${describeValue(record.ev)}`);
  for (const field of ["op", "client"]) {
    const id = record[field];
    if (typeof id !== "string" && !(typeof id === "number" && Number.isFinite(id)))
      throw new InputError(where, field, `expected a string or number id, got ${describeValue(id)}`);
  }
  if (typeof record.t !== "number" || !Number.isFinite(record.t))
    throw new InputError(where, "t", `expected a finite number, got ${describeValue(record.t)}`);
  if (record.run !== undefined && typeof record.run !== "string")
    throw new InputError(where, "run", `expected a string, got ${describeValue(record.run)}`);
  if (record.ev === "invoke") {
    if (typeof record.f !== "string" || record.f === "")
      throw new InputError(where, "f", `expected the operation's name, got ${describeValue(record.f)}`);
    if (!("args" in record))
      throw new InputError(where, "args", "is missing (expected the operation's arguments)");
    return record as unknown as InvokeEvent;
  }
  const outcome = record.outcome ?? "ok";
  if (outcome !== "ok" && outcome !== "fail" && outcome !== "unknown")
    throw new InputError(where, "outcome", `expected ok, fail or unknown, got ${describeValue(outcome)}`);
  if (outcome === "ok" && !("result" in record))
    throw new InputError(where, "result", "is missing (an ok call has a result, null if none)");
  if (record.error !== undefined && typeof record.error !== "string")
    throw new InputError(where, "error", `expected a string, got ${describeValue(record.error)}`);
  return record as unknown as CompleteEvent;
}

/**
 * The operations of one run, paired by id, in invocation order. Events are taken in the order
 * they happened: by time, equal times in the order given (a writer records them as they
 * happen). `source` names the history in errors: an operation invoked twice, completed twice,
 * or completed without (or before) its invocation is rejected.
 */
export function historyOperations(events: readonly HistoryEvent[], source: string): HistoryOperation[] {
  const order = events.map((event, index) => ({ event, index }));
  order.sort((a, b) => a.event.t - b.event.t || a.index - b.index);
  const invoked = new Map<TraceId, { event: InvokeEvent; index: number }>();
  const completed = new Map<TraceId, { event: CompleteEvent; index: number }>();
  order.forEach(({ event, index: line }, index) => {
    const where = `${source} event ${line + 1}`;
    if (event.ev === "invoke") {
      if (invoked.has(event.op))
        throw new InputError(where, "op", `operation ${describeValue(event.op)} is invoked twice`);
      invoked.set(event.op, { event, index });
      return;
    }
    const call = invoked.get(event.op);
    if (call === undefined)
      throw new InputError(
        where,
        "op",
        `operation ${describeValue(event.op)} completes before it is invoked`,
      );
    if (completed.has(event.op))
      throw new InputError(where, "op", `operation ${describeValue(event.op)} completes twice`);
    if (call.event.client !== event.client)
      throw new InputError(
        where,
        "client",
        `operation ${describeValue(event.op)} was invoked by ${describeValue(call.event.client)}`,
      );
    completed.set(event.op, { event, index });
  });
  const operations: HistoryOperation[] = [];
  for (const [id, { event: call, index }] of invoked) {
    const done = completed.get(id);
    const outcome: Outcome = done === undefined ? "unknown" : (done.event.outcome ?? "ok");
    const known = outcome !== "unknown" && done !== undefined;
    operations.push({
      id,
      client: call.client,
      f: call.f,
      args: call.args,
      outcome,
      result: outcome === "ok" ? done?.event.result : undefined,
      invokeMs: call.t,
      completeMs: known ? done.event.t : Number.POSITIVE_INFINITY,
      invokeIndex: index,
      completeIndex: known ? done.index : Number.POSITIVE_INFINITY,
    });
  }
  operations.sort((a, b) => a.invokeIndex - b.invokeIndex);
  return operations;
}
