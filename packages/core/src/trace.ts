import { describeValue, InputError } from "./errors.js";
import type { DestinationSet, GroupId, MessageId, ProcessId } from "./ids.js";

/**
 * Trace events: what every run can write as JSON Lines, one object per line. Times are in ms
 * (virtual time in the simulator, a monotonic clock in the runtime). Checkers and plots read only
 * this format, so it is kept stable; docs/trace.md documents it.
 *
 * Ids are JSON strings or numbers, used consistently within a run. When a file holds several
 * runs, every event carries `run`, the run's label.
 */
export type TraceId = string | number;

interface TraceBase {
  readonly t: number;
  readonly run?: string;
}

export interface MulticastEvent extends TraceBase {
  readonly ev: "multicast";
  readonly id: TraceId;
  readonly client: TraceId;
  readonly dst: readonly TraceId[];
}
export interface DeliverEvent extends TraceBase {
  readonly ev: "deliver";
  readonly id: TraceId;
  readonly group: TraceId;
  readonly proc: TraceId;
}
export interface CompleteEvent extends TraceBase {
  readonly ev: "complete";
  readonly id: TraceId;
  readonly client: TraceId;
}
/**
 * `amnesia`: the process came back from a crash with its memory lost (it starts empty);
 * `install`: a replica installed a checkpoint fetched from its group, so its deliveries before it
 * came in that state. After either, oracles read the process's deliveries as a new incarnation
 * whose sequence is a window of its group's (it is not held to deliver what came before).
 */
export type FaultKind = "crash" | "recover" | "byzantine" | "amnesia" | "install";
const FAULT_KINDS: readonly FaultKind[] = ["crash", "recover", "byzantine", "amnesia", "install"];
export interface FaultEvent extends TraceBase {
  readonly ev: "fault";
  readonly proc: TraceId;
  readonly kind: FaultKind;
}
export interface ViewEvent extends TraceBase {
  readonly ev: "view";
  readonly group: TraceId;
  readonly view: number;
}
export interface SendEvent extends TraceBase {
  readonly ev: "send";
  readonly from: TraceId;
  readonly to: TraceId;
  readonly kind: string;
  readonly id?: TraceId;
  /**
   * A send that carries several protocol messages (`stream-batch`): the multicast each carried
   * message is about, one entry per such message (so a multicast appears as often as messages
   * about it ride along).
   */
  readonly ids?: readonly TraceId[];
  readonly bytes?: number;
  /** When the message reaches `to` (the simulator knows; the network runtime leaves it out). */
  readonly arriveT?: number;
}
/** Declares that `proc` is a replica of `group`, so checkers know processes that deliver nothing. */
export interface MemberEvent extends TraceBase {
  readonly ev: "member";
  readonly group: TraceId;
  readonly proc: TraceId;
}

/** Why a run ended. */
export type StopReason =
  /** Every client finished its workload and nothing is left in flight. */
  | "drained"
  /** The run's time limit came first. */
  | "time-limit"
  /** Nothing is left to happen but clients still wait: something was lost or is stuck. */
  | "stalled"
  /** Stopped from outside (Ctrl-C) before it ended. */
  | "interrupted";

export const STOP_REASONS: readonly StopReason[] = ["drained", "time-limit", "stalled", "interrupted"];

/**
 * How a run ended and what it owes, written last by the driver so that a checker reading the trace
 * alone judges it as the driver did: `owes` lists the properties whose violation fails the run,
 * `counts` those checked only to be counted (real-time order in a plain run), `expected` marks a
 * time limit the experiment declared as its planned end.
 */
export interface StopEvent extends TraceBase {
  readonly ev: "stop";
  readonly reason: StopReason;
  readonly owes?: readonly string[];
  readonly counts?: readonly string[];
  readonly expected?: boolean;
  /**
   * Which runtime wrote the run: the network runtime writes `"net"`; absent means the simulator
   * (its traces predate the field and stay byte-identical).
   */
  readonly runtime?: TraceRuntime;
}

/** The runtimes that write traces. */
export type TraceRuntime = "sim" | "net";
export const TRACE_RUNTIMES: readonly TraceRuntime[] = ["sim", "net"];

export type TraceEvent =
  | MulticastEvent
  | DeliverEvent
  | CompleteEvent
  | FaultEvent
  | ViewEvent
  | SendEvent
  | MemberEvent
  | StopEvent;

export type TraceEventKind = TraceEvent["ev"];

/**
 * Where a driver reports a run's events as they happen, one method per kind, with plain
 * arguments. A consumer that only folds events (run metrics) implements it and no event object is
 * ever built; `traceEventSink` builds the `TraceEvent` objects for those that keep, check or write
 * the trace. Arguments are what the events carry, in the same order.
 */
export interface TraceSink {
  member(group: GroupId, proc: ProcessId, t: number): void;
  multicast(id: MessageId, client: ProcessId, dst: DestinationSet, t: number): void;
  deliver(id: MessageId, group: GroupId, proc: ProcessId, t: number): void;
  complete(id: MessageId, client: ProcessId, t: number): void;
  fault(proc: ProcessId, kind: FaultKind, t: number): void;
  view(group: GroupId, view: number, t: number): void;
  send(
    from: ProcessId,
    to: ProcessId,
    kind: string,
    id: MessageId | undefined,
    bytes: number,
    t: number,
    /** When the message arrives, where the driver knows it when it sends (the simulator). */
    arriveT?: number,
    /** What a batch carries: the multicast of each carried message (see `SendEvent.ids`). */
    ids?: readonly MessageId[],
  ): void;
}

/** A sink that hands every event to `onEvent` as a `TraceEvent` object (fields in trace order). */
export function traceEventSink(onEvent: (event: TraceEvent) => void): TraceSink {
  return {
    member: (group, proc, t) => onEvent({ ev: "member", group, proc, t }),
    multicast: (id, client, dst, t) => onEvent({ ev: "multicast", id, client, dst, t }),
    deliver: (id, group, proc, t) => onEvent({ ev: "deliver", id, group, proc, t }),
    complete: (id, client, t) => onEvent({ ev: "complete", id, client, t }),
    fault: (proc, kind, t) => onEvent({ ev: "fault", proc, kind, t }),
    view: (group, view, t) => onEvent({ ev: "view", group, view, t }),
    send: (from, to, kind, id, bytes, t, arriveT, ids) => {
      const event: TraceEvent =
        ids !== undefined
          ? id === undefined
            ? { ev: "send", from, to, kind, ids, bytes, t }
            : { ev: "send", from, to, kind, id, ids, bytes, t }
          : id === undefined
            ? { ev: "send", from, to, kind, bytes, t }
            : { ev: "send", from, to, kind, id, bytes, t };
      onEvent(arriveT === undefined ? event : { ...event, arriveT });
    },
  };
}

/** One sink that reports every event to `first`, then to `second`. */
export function bothSinks(first: TraceSink, second: TraceSink): TraceSink {
  return {
    member: (group, proc, t) => {
      first.member(group, proc, t);
      second.member(group, proc, t);
    },
    multicast: (id, client, dst, t) => {
      first.multicast(id, client, dst, t);
      second.multicast(id, client, dst, t);
    },
    deliver: (id, group, proc, t) => {
      first.deliver(id, group, proc, t);
      second.deliver(id, group, proc, t);
    },
    complete: (id, client, t) => {
      first.complete(id, client, t);
      second.complete(id, client, t);
    },
    fault: (proc, kind, t) => {
      first.fault(proc, kind, t);
      second.fault(proc, kind, t);
    },
    view: (group, view, t) => {
      first.view(group, view, t);
      second.view(group, view, t);
    },
    send: (from, to, kind, id, bytes, t, arriveT, ids) => {
      first.send(from, to, kind, id, bytes, t, arriveT, ids);
      second.send(from, to, kind, id, bytes, t, arriveT, ids);
    },
  };
}

/** Hands `event` to the sink method of its kind (the other way round from `traceEventSink`). */
export function replayTraceEvent(event: TraceEvent, sink: TraceSink): void {
  switch (event.ev) {
    case "member":
      sink.member(String(event.group), String(event.proc), event.t);
      break;
    case "multicast":
      sink.multicast(String(event.id), String(event.client), event.dst.map(String), event.t);
      break;
    case "deliver":
      sink.deliver(String(event.id), String(event.group), String(event.proc), event.t);
      break;
    case "complete":
      sink.complete(String(event.id), String(event.client), event.t);
      break;
    case "fault":
      sink.fault(String(event.proc), event.kind, event.t);
      break;
    case "view":
      sink.view(String(event.group), event.view, event.t);
      break;
    case "send":
      sink.send(
        String(event.from),
        String(event.to),
        event.kind,
        event.id === undefined ? undefined : String(event.id),
        event.bytes ?? 0,
        event.t,
        event.arriveT,
        event.ids?.map(String),
      );
      break;
    case "stop":
      // The driver's own record of how the run ended: nothing a sink folds.
      break;
  }
}

/** One JSON Lines line (without the newline) for an event. */
export function formatTraceLine(event: TraceEvent): string {
  return JSON.stringify(event);
}

/** Parses a JSON Lines trace; `source` names the file in errors. Blank lines are skipped. */
export function parseTrace(text: string, source: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index += 1) {
    const line = (lines[index] ?? "").trim();
    if (line === "") continue;
    events.push(parseTraceLine(line, `${source}:${index + 1}`));
  }
  return events;
}

/** Parses and validates one line; `where` is "file:line" for errors. */
export function parseTraceLine(line: string, where: string): TraceEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new InputError(where, "", `expected one JSON object per line, got ${describeValue(line)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(where, "", `expected a JSON object, got ${describeValue(value)}`);
  }
  const record = value as Record<string, unknown>;
  const fields = FIELDS[record.ev as TraceEventKind];
  if (fields === undefined) {
    throw new InputError(
      where,
      "ev",
      `expected one of ${Object.keys(FIELDS).join(", ")}, got ${describeValue(record.ev)}`,
    );
  }
  checkNumber(record, "t", where);
  if (record.run !== undefined && typeof record.run !== "string") {
    throw new InputError(where, "run", `expected a string, got ${describeValue(record.run)}`);
  }
  for (const [field, kind] of fields) {
    const present = record[field] !== undefined;
    if (!present && kind.endsWith("?")) continue;
    const base = kind.replace("?", "");
    if (base === "id") checkId(record, field, where);
    else if (base === "ids") checkIds(record, field, where);
    else if (base === "number") checkNumber(record, field, where);
    else if (base === "string") checkString(record, field, where);
    else if (base === "fault") checkFault(record, field, where);
    else if (base === "stop") checkStop(record, field, where);
    else if (base === "strings") checkStrings(record, field, where);
    else if (base === "boolean") checkBoolean(record, field, where);
    else if (base === "runtime") checkOneOf(record, field, where, TRACE_RUNTIMES);
  }
  return record as unknown as TraceEvent;
}

type FieldKind =
  | "id"
  | "id?"
  | "ids"
  | "ids?"
  | "number"
  | "number?"
  | "string"
  | "fault"
  | "stop"
  | "strings?"
  | "boolean?"
  | "runtime?";
const FIELDS: Record<TraceEventKind, readonly (readonly [string, FieldKind])[]> = {
  multicast: [
    ["id", "id"],
    ["client", "id"],
    ["dst", "ids"],
  ],
  deliver: [
    ["id", "id"],
    ["group", "id"],
    ["proc", "id"],
  ],
  complete: [
    ["id", "id"],
    ["client", "id"],
  ],
  fault: [
    ["proc", "id"],
    ["kind", "fault"],
  ],
  view: [
    ["group", "id"],
    ["view", "number"],
  ],
  send: [
    ["from", "id"],
    ["to", "id"],
    ["kind", "string"],
    ["id", "id?"],
    ["ids", "ids?"],
    ["bytes", "number?"],
    ["arriveT", "number?"],
  ],
  member: [
    ["group", "id"],
    ["proc", "id"],
  ],
  stop: [
    ["reason", "stop"],
    ["owes", "strings?"],
    ["counts", "strings?"],
    ["expected", "boolean?"],
    ["runtime", "runtime?"],
  ],
};

function isId(value: unknown): boolean {
  return typeof value === "string" || (typeof value === "number" && Number.isFinite(value));
}
function checkId(record: Record<string, unknown>, field: string, where: string): void {
  if (!isId(record[field])) {
    throw new InputError(where, field, `expected a string or number id, got ${describeValue(record[field])}`);
  }
}
function checkIds(record: Record<string, unknown>, field: string, where: string): void {
  const value = record[field];
  if (!Array.isArray(value) || value.length === 0 || !value.every(isId)) {
    throw new InputError(where, field, `expected a non-empty array of ids, got ${describeValue(value)}`);
  }
}
function checkNumber(record: Record<string, unknown>, field: string, where: string): void {
  const value = record[field];
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new InputError(where, field, `expected a finite number, got ${describeValue(value)}`);
  }
}
function checkString(record: Record<string, unknown>, field: string, where: string): void {
  if (typeof record[field] !== "string") {
    throw new InputError(where, field, `expected a string, got ${describeValue(record[field])}`);
  }
}
function checkFault(record: Record<string, unknown>, field: string, where: string): void {
  const value = record[field];
  if (!(FAULT_KINDS as readonly unknown[]).includes(value)) {
    const kinds = `${FAULT_KINDS.slice(0, -1).join(", ")} or ${FAULT_KINDS.at(-1)}`;
    throw new InputError(where, field, `expected ${kinds}, got ${describeValue(value)}`);
  }
}
function checkStop(record: Record<string, unknown>, field: string, where: string): void {
  const value = record[field];
  if (!(STOP_REASONS as readonly unknown[]).includes(value)) {
    throw new InputError(
      where,
      field,
      `expected one of ${STOP_REASONS.join(", ")}, got ${describeValue(value)}`,
    );
  }
}
function checkOneOf(
  record: Record<string, unknown>,
  field: string,
  where: string,
  allowed: readonly string[],
): void {
  const value = record[field];
  if (!(allowed as readonly unknown[]).includes(value)) {
    throw new InputError(where, field, `expected one of ${allowed.join(", ")}, got ${describeValue(value)}`);
  }
}
function checkStrings(record: Record<string, unknown>, field: string, where: string): void {
  const value = record[field];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new InputError(where, field, `expected an array of strings, got ${describeValue(value)}`);
  }
}
function checkBoolean(record: Record<string, unknown>, field: string, where: string): void {
  if (typeof record[field] !== "boolean") {
    throw new InputError(where, field, `expected true or false, got ${describeValue(record[field])}`);
  }
}
