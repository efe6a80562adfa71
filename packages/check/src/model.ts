import type { DeliverEvent, MulticastEvent, TraceEvent, TraceId } from "@amcast/core";
import { assert } from "@amcast/core";

/**
 * The indexes every oracle reads, built in one pass over one run's events. Messages, groups and
 * processes get dense indices (first-appearance order) so the checks can use typed arrays instead
 * of maps: a run can hold a million events.
 */
export interface RunModel {
  readonly run: string | undefined;

  /** Every message id that was multicast or delivered, by dense index. */
  readonly messageIds: readonly TraceId[];
  readonly messageIndex: ReadonlyMap<TraceId, number>;
  /** Per message: its (first) multicast event; undefined for ids that were only delivered. */
  readonly multicastOf: readonly (MulticastEvent | undefined)[];
  /**
   * The group indices of message m's destination set are dstGroups[dstOffsets[m] .. dstOffsets[m + 1] - 1]
   * (none for ids that were only delivered).
   */
  readonly dstOffsets: Int32Array;
  readonly dstGroups: Int32Array;
  /** Distinct multicast messages. */
  readonly multicastCount: number;
  /** A second multicast of an id with another client or destination set (first one wins). */
  readonly conflictingMulticasts: readonly MulticastConflict[];

  /** Every group named by a member, deliver or multicast event. */
  readonly groupIds: readonly TraceId[];
  readonly groupIndex: ReadonlyMap<TraceId, number>;
  /** Per group: its replicas (process indices), from member events or inferred from deliveries. */
  readonly membersOf: readonly (readonly number[])[];
  /** True when the run has no member events and membership came from deliver events. */
  readonly membershipInferred: boolean;

  /** Replicas: processes named by member or deliver events. */
  readonly processIds: readonly TraceId[];
  /** Per process: its group index (first member event, else first deliver event). */
  readonly groupOf: Int32Array;
  /** Per process: 1 when a byzantine fault marks it (its deliveries are then ignored). */
  readonly byzantine: Uint8Array;
  /** Per process: 1 when it ever crashed, even if it recovered later (it is then not correct). */
  readonly crashed: Uint8Array;
  /**
   * Per process: 1 for a later incarnation of a replica (after an `amnesia` or `install` fault
   * event; its id is the replica's with `~n`): its deliveries are a window of its group's
   * sequence, not a prefix, and it counts as crashed.
   */
  readonly joinedLate: Uint8Array;
  /** A second member event placing a process in another group. */
  readonly conflictingMembers: readonly MemberConflict[];

  /** Per process: its deliver events sorted by t, file order kept for equal t. */
  readonly deliveriesOf: readonly (readonly DeliverEvent[])[];
  /** Per process: the message index of each entry of `deliveriesOf` (saves a map lookup each). */
  readonly deliveredMessagesOf: readonly Int32Array[];
  /**
   * Per process: its delivery sequence as message indices, only the first delivery of each message
   * (a repeat is an integrity violation; counting it again would also fake order cycles). Empty for
   * Byzantine processes, whose deliveries no property reads.
   */
  readonly sequenceOf: readonly Int32Array[];
  /** Per process: the delivery time of each entry of `sequenceOf`. */
  readonly sequenceTimesOf: readonly Float64Array[];

  /** Clients with any fault event: validity does not hold them to anything. */
  readonly faultyClients: ReadonlySet<TraceId>;
  /** All deliver events of the run, Byzantine processes' included. */
  readonly deliveryCount: number;
}

export interface MulticastConflict {
  readonly first: MulticastEvent;
  readonly other: MulticastEvent;
}

export interface MemberConflict {
  readonly proc: TraceId;
  readonly group: TraceId;
  readonly otherGroup: TraceId;
}

// Fault bits per process id; any entry at all (even "recover" alone) makes a client faulty.
const CRASH = 1;
const BYZANTINE = 2;

/** Builds the indexes for the events of one run (the caller splits files by `run`). */
export function buildRunModel(events: readonly TraceEvent[], run: string | undefined): RunModel {
  const messageIds: TraceId[] = [];
  const messageIndex = new Map<TraceId, number>();
  const multicastOf: (MulticastEvent | undefined)[] = [];
  const conflictingMulticasts: MulticastConflict[] = [];
  let multicastCount = 0;

  const groupIds: TraceId[] = [];
  const groupIndex = new Map<TraceId, number>();

  const processIds: TraceId[] = [];
  const processIndex = new Map<TraceId, number>();
  // Per process: group from its first member event, and from its first deliver event.
  const memberGroup: number[] = [];
  const deliverGroup: number[] = [];
  const deliveriesOf: DeliverEvent[][] = [];
  const deliveredMessagesOf: number[][] = [];
  const conflictingMembers: MemberConflict[] = [];

  const faults = new Map<TraceId, number>();
  /** Incarnation of each replica that lost or replaced its state (`amnesia`, `install`). */
  const incarnations = new Map<TraceId, number>();
  const lateIds = new Set<TraceId>();
  let hasMemberEvents = false;
  let deliveryCount = 0;

  const internMessage = (id: TraceId): number => {
    let index = messageIndex.get(id);
    if (index === undefined) {
      index = messageIds.length;
      messageIndex.set(id, index);
      messageIds.push(id);
      multicastOf.push(undefined);
    }
    return index;
  };
  const internGroup = (id: TraceId): number => {
    let index = groupIndex.get(id);
    if (index === undefined) {
      index = groupIds.length;
      groupIndex.set(id, index);
      groupIds.push(id);
    }
    return index;
  };
  const internProcess = (id: TraceId): number => {
    let index = processIndex.get(id);
    if (index === undefined) {
      index = processIds.length;
      processIndex.set(id, index);
      processIds.push(id);
      memberGroup.push(-1);
      deliverGroup.push(-1);
      deliveriesOf.push([]);
      deliveredMessagesOf.push([]);
    }
    return index;
  };

  for (const event of events) {
    switch (event.ev) {
      case "multicast": {
        const message = internMessage(event.id);
        const first = multicastOf[message];
        if (first === undefined) {
          multicastOf[message] = event;
          multicastCount += 1;
          for (const group of event.dst) internGroup(group);
        } else if (!sameMulticast(first, event)) {
          // A client may log a retry of the same multicast; only a different one is an error.
          conflictingMulticasts.push({ first, other: event });
        }
        break;
      }
      case "deliver": {
        deliveryCount += 1;
        const message = internMessage(event.id);
        const group = internGroup(event.group);
        const incarnation = incarnations.get(event.proc);
        const procId = incarnation === undefined ? event.proc : `${event.proc}~${incarnation}`;
        const proc = internProcess(procId);
        if (deliverGroup[proc] === -1) deliverGroup[proc] = group;
        (deliveriesOf[proc] as DeliverEvent[]).push(event);
        (deliveredMessagesOf[proc] as number[]).push(message);
        break;
      }
      case "member": {
        hasMemberEvents = true;
        const group = internGroup(event.group);
        const proc = internProcess(event.proc);
        const known = memberGroup[proc] as number;
        if (known === -1) memberGroup[proc] = group;
        else if (known !== group) {
          conflictingMembers.push({
            proc: event.proc,
            group: groupIds[known] as TraceId,
            otherGroup: event.group,
          });
        }
        break;
      }
      case "fault": {
        const restarted = event.kind === "amnesia" || event.kind === "install";
        const bits =
          (event.kind === "crash" || restarted ? CRASH : 0) | (event.kind === "byzantine" ? BYZANTINE : 0);
        faults.set(event.proc, (faults.get(event.proc) ?? 0) | bits);
        if (restarted) {
          const incarnation = (incarnations.get(event.proc) ?? 0) + 1;
          incarnations.set(event.proc, incarnation);
          const later = `${event.proc}~${incarnation}`;
          lateIds.add(later);
          faults.set(later, (faults.get(event.proc) ?? 0) | CRASH);
        }
        break;
      }
      case "complete":
      case "view":
      case "send":
      case "stop":
        break;
    }
  }

  const processCount = processIds.length;
  const groupOf = new Int32Array(processCount);
  const byzantine = new Uint8Array(processCount);
  const crashed = new Uint8Array(processCount);
  const joinedLate = new Uint8Array(processCount);
  const membersOf: number[][] = groupIds.map(() => []);
  for (let proc = 0; proc < processCount; proc += 1) {
    const member = memberGroup[proc] as number;
    const group = member !== -1 ? member : (deliverGroup[proc] as number);
    assert(group !== -1, "every process comes from a member or deliver event, both name a group");
    groupOf[proc] = group;
    // With member events, a process that delivers without being declared still joins the group it
    // reports: it evidently is a replica there, so it is held to that group's obligations.
    (membersOf[group] as number[]).push(proc);
    const bits = faults.get(processIds[proc] as TraceId) ?? 0;
    byzantine[proc] = bits & BYZANTINE ? 1 : 0;
    crashed[proc] = bits & CRASH ? 1 : 0;
    joinedLate[proc] = lateIds.has(processIds[proc] as TraceId) ? 1 : 0;
  }

  // Destination groups of every message in one flat array (CSR): a typed array per message would
  // cost an allocation for each of hundreds of thousands of messages.
  const faultyClients = new Set<TraceId>();
  const dstOffsets = new Int32Array(messageIds.length + 1);
  for (let message = 0; message < messageIds.length; message += 1) {
    dstOffsets[message + 1] = (dstOffsets[message] as number) + (multicastOf[message]?.dst.length ?? 0);
  }
  const dstGroups = new Int32Array(dstOffsets[messageIds.length] as number);
  for (let message = 0; message < messageIds.length; message += 1) {
    const multicast = multicastOf[message];
    if (multicast === undefined) continue;
    let slot = dstOffsets[message] as number;
    for (const group of multicast.dst) {
      dstGroups[slot] = groupIndex.get(group) as number;
      slot += 1;
    }
    if (faults.has(multicast.client)) faultyClients.add(multicast.client);
  }

  const sorted = deliveriesOf.map((deliveries, proc) =>
    sortByTime(deliveries, deliveredMessagesOf[proc] as number[]),
  );
  const { sequenceOf, sequenceTimesOf } = buildSequences(sorted, byzantine, messageIds.length);

  return {
    run,
    messageIds,
    messageIndex,
    multicastOf,
    dstOffsets,
    dstGroups,
    multicastCount,
    conflictingMulticasts,
    groupIds,
    groupIndex,
    membersOf,
    membershipInferred: !hasMemberEvents,
    processIds,
    groupOf,
    byzantine,
    crashed,
    joinedLate,
    conflictingMembers,
    deliveriesOf: sorted.map((entry) => entry.deliveries),
    deliveredMessagesOf: sorted.map((entry) => entry.messages),
    sequenceOf,
    sequenceTimesOf,
    faultyClients,
    deliveryCount,
  };
}

interface SortedDeliveries {
  readonly deliveries: readonly DeliverEvent[];
  readonly messages: Int32Array;
}

/** One process's deliveries sorted by time, stably (file order for equal t), with their messages. */
function sortByTime(deliveries: DeliverEvent[], messages: number[]): SortedDeliveries {
  let sorted = true;
  for (let index = 1; index < deliveries.length && sorted; index += 1) {
    sorted = (deliveries[index] as DeliverEvent).t >= (deliveries[index - 1] as DeliverEvent).t;
  }
  if (sorted) return { deliveries, messages: Int32Array.from(messages) };
  const order = deliveries.map((_, index) => index);
  // Array#sort is stable, so equal times keep file order.
  order.sort((a, b) => (deliveries[a] as DeliverEvent).t - (deliveries[b] as DeliverEvent).t);
  return {
    deliveries: order.map((index) => deliveries[index] as DeliverEvent),
    messages: Int32Array.from(order, (index) => messages[index] as number),
  };
}

/** Each process's delivery sequence: the first delivery of each message, in time order. */
function buildSequences(
  sorted: readonly SortedDeliveries[],
  byzantine: Uint8Array,
  messageCount: number,
): { sequenceOf: Int32Array[]; sequenceTimesOf: Float64Array[] } {
  const sequenceOf: Int32Array[] = [];
  const sequenceTimesOf: Float64Array[] = [];
  // seenBy[message] === proc + 1 when proc already delivered message: one array serves all processes.
  const seenBy = new Int32Array(messageCount);
  sorted.forEach(({ deliveries, messages }, proc) => {
    if (byzantine[proc] === 1) {
      sequenceOf.push(new Int32Array(0));
      sequenceTimesOf.push(new Float64Array(0));
      return;
    }
    const sequence = new Int32Array(deliveries.length);
    const times = new Float64Array(deliveries.length);
    let length = 0;
    const stamp = proc + 1;
    for (let index = 0; index < deliveries.length; index += 1) {
      const message = messages[index] as number;
      if (seenBy[message] === stamp) continue;
      seenBy[message] = stamp;
      sequence[length] = message;
      times[length] = (deliveries[index] as DeliverEvent).t;
      length += 1;
    }
    sequenceOf.push(length === sequence.length ? sequence : sequence.slice(0, length));
    sequenceTimesOf.push(length === times.length ? times : times.slice(0, length));
  });
  return { sequenceOf, sequenceTimesOf };
}

function sameMulticast(a: MulticastEvent, b: MulticastEvent): boolean {
  if (a.client !== b.client || a.dst.length !== b.dst.length) return false;
  return a.dst.every((group) => b.dst.includes(group));
}

/** True when a process is correct: it neither crashed nor turned Byzantine. */
export function isCorrect(model: RunModel, proc: number): boolean {
  return model.crashed[proc] === 0 && model.byzantine[proc] === 0;
}
