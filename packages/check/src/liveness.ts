import type { MulticastEvent, TraceId } from "@amcast/core";
import { isCorrect, type RunModel } from "./model.js";
import { showId, showIds, showTime, type ViolationSink } from "./violations.js";

/**
 * Validity (every message of a correct client reaches every correct process of every destination
 * group) and uniform agreement (a message delivered by any non-Byzantine process, crashed ones
 * included, reaches the same processes). Both ask for deliveries that must have happened, so both
 * only apply to runs that ended on their own.
 */
export function checkDeliveryObligations(model: RunModel, sink: ViolationSink): void {
  const messageCount = model.messageIds.length;
  const { offsets, procs, times } = deliveriesByMessage(model);
  // deliveredAt[proc] === message + 1 when proc delivered the message being checked.
  const deliveredAt = new Int32Array(model.processIds.length);

  for (let message = 0; message < messageCount; message += 1) {
    const multicast = model.multicastOf[message];
    // A message never multicast has no known destinations; integrity reports it.
    if (multicast === undefined) continue;
    const start = offsets[message] as number;
    const end = offsets[message + 1] as number;
    const checkValidity = !model.faultyClients.has(multicast.client) && !sink.isFull("validity");
    const checkAgreement = end > start && !sink.isFull("agreement");
    if (!checkValidity && !checkAgreement) continue;

    for (let entry = start; entry < end; entry += 1) deliveredAt[procs[entry] as number] = message + 1;
    const deliverer = start < end ? (procs[start] as number) : -1;
    const deliveredTime = start < end ? (times[start] as number) : 0;

    for (
      let slot = model.dstOffsets[message] as number;
      slot < (model.dstOffsets[message + 1] as number);
      slot += 1
    ) {
      const group = model.dstGroups[slot] as number;
      const members = model.membersOf[group] as readonly number[];
      const groupId = model.groupIds[group] as TraceId;
      if (members.length === 0) {
        // A destination group nobody belongs to cannot deliver: say so rather than pass vacuously.
        if (checkValidity) {
          const text = `no process of group ${showId(groupId)} is known, so none delivered ${describe(multicast)}`;
          sink.add("validity", text, { id: multicast.id, group: groupId, proc: null, dst: multicast.dst });
        }
        if (checkAgreement) {
          const text =
            `no process of group ${showId(groupId)} is known, so none delivered ${describe(multicast)}, ` +
            `which ${describeDeliverer(model, deliverer, deliveredTime)}`;
          sink.add(
            "agreement",
            text,
            agreementWitness(model, multicast, groupId, null, deliverer, deliveredTime),
          );
        }
        continue;
      }
      for (const proc of members) {
        if (deliveredAt[proc] === message + 1 || !isCorrect(model, proc)) continue;
        const procId = model.processIds[proc] as TraceId;
        const missing = `${showId(procId)} (group ${showId(groupId)}) never delivered ${describe(multicast)}`;
        if (checkValidity) {
          sink.add("validity", missing, {
            id: multicast.id,
            proc: procId,
            group: groupId,
            dst: multicast.dst,
          });
        }
        if (checkAgreement) {
          const text = `${missing}, which ${describeDeliverer(model, deliverer, deliveredTime)}`;
          sink.add(
            "agreement",
            text,
            agreementWitness(model, multicast, groupId, procId, deliverer, deliveredTime),
          );
        }
      }
    }
  }
}

/** For each message, the non-Byzantine processes that delivered it and when (CSR layout). */
function deliveriesByMessage(model: RunModel): {
  offsets: Int32Array;
  procs: Int32Array;
  times: Float64Array;
} {
  const messageCount = model.messageIds.length;
  const offsets = new Int32Array(messageCount + 1);
  for (const sequence of model.sequenceOf) {
    for (const message of sequence) offsets[message + 1] = (offsets[message + 1] as number) + 1;
  }
  for (let message = 0; message < messageCount; message += 1) {
    offsets[message + 1] = (offsets[message + 1] as number) + (offsets[message] as number);
  }
  const total = offsets[messageCount] as number;
  const procs = new Int32Array(total);
  const times = new Float64Array(total);
  const fill = offsets.slice(0, messageCount);
  model.sequenceOf.forEach((sequence, proc) => {
    const sequenceTimes = model.sequenceTimesOf[proc] as Float64Array;
    for (let position = 0; position < sequence.length; position += 1) {
      const message = sequence[position] as number;
      const slot = fill[message] as number;
      procs[slot] = proc;
      times[slot] = sequenceTimes[position] as number;
      fill[message] = slot + 1;
    }
  });
  return { offsets, procs, times };
}

function describe(multicast: MulticastEvent): string {
  return `${showId(multicast.id)} multicast by ${showId(multicast.client)} to ${showIds(multicast.dst)}`;
}

function describeDeliverer(model: RunModel, proc: number, t: number): string {
  const procId = model.processIds[proc] as TraceId;
  const state = model.crashed[proc] === 1 ? " (a process that crashed)" : "";
  return `${showId(procId)}${state} delivered at t=${showTime(t)}`;
}

function agreementWitness(
  model: RunModel,
  multicast: MulticastEvent,
  group: TraceId,
  proc: TraceId | null,
  deliverer: number,
  t: number,
): unknown {
  return {
    id: multicast.id,
    proc,
    group,
    dst: multicast.dst,
    deliveredBy: model.processIds[deliverer],
    deliveredAt: t,
  };
}
