import type { DeliverEvent, TraceId } from "@amcast/core";
import type { RunModel } from "./model.js";
import { showId, showIds, showTime, type ViolationSink } from "./violations.js";

/**
 * Integrity: every non-Byzantine process delivers each message at most once, only messages that
 * were multicast, only messages addressed to its group, and always reports the same group.
 */
export function checkIntegrity(model: RunModel, sink: ViolationSink): void {
  for (const { first, other } of model.conflictingMulticasts) {
    const message =
      `${showId(first.id)} was multicast twice differently: by ${showId(first.client)} to ${showIds(first.dst)} ` +
      `at t=${showTime(first.t)}, then by ${showId(other.client)} to ${showIds(other.dst)} at t=${showTime(other.t)}`;
    if (!sink.add("integrity", message, { kind: "conflicting-multicast", first, other })) return;
  }
  for (const { proc, group, otherGroup } of model.conflictingMembers) {
    const message = `${showId(proc)} is declared a member of both ${showId(group)} and ${showId(otherGroup)}`;
    if (!sink.add("integrity", message, { kind: "conflicting-member", proc, groups: [group, otherGroup] }))
      return;
  }

  const messageCount = model.messageIds.length;
  // deliveredBy[message] === proc + 1 when proc already delivered message; firstTime says when.
  const deliveredBy = new Int32Array(messageCount);
  const firstTime = new Float64Array(messageCount);
  for (let proc = 0; proc < model.processIds.length; proc += 1) {
    if (model.byzantine[proc] === 1) continue;
    const procId = model.processIds[proc] as TraceId;
    const groupId = model.groupIds[model.groupOf[proc] as number] as TraceId;
    const stamp = proc + 1;
    let reportedGroupChange = false;
    const deliveries = model.deliveriesOf[proc] as readonly DeliverEvent[];
    const messages = model.deliveredMessagesOf[proc] as Int32Array;
    for (let index = 0; index < deliveries.length; index += 1) {
      const delivery = deliveries[index] as DeliverEvent;
      const message = messages[index] as number;
      const id = delivery.id;
      if (delivery.group !== groupId && !reportedGroupChange) {
        // One report per process: a process that moved groups would otherwise flood the report.
        reportedGroupChange = true;
        const text =
          `${showId(procId)} reported group ${showId(delivery.group)} when delivering ${showId(id)} at ` +
          `t=${showTime(delivery.t)}, but its group is ${showId(groupId)}`;
        const witness = {
          kind: "group-changed",
          proc: procId,
          group: groupId,
          reported: delivery.group,
          id,
          t: delivery.t,
        };
        if (!sink.add("integrity", text, witness)) return;
      }
      if (deliveredBy[message] === stamp) {
        const first = firstTime[message] as number;
        const text = `${showId(procId)} delivered ${showId(id)} twice (t=${showTime(first)} and t=${showTime(delivery.t)})`;
        const witness = { kind: "duplicate", proc: procId, id, times: [first, delivery.t] };
        if (!sink.add("integrity", text, witness)) return;
        continue;
      }
      deliveredBy[message] = stamp;
      firstTime[message] = delivery.t;
      const multicast = model.multicastOf[message];
      if (multicast === undefined) {
        const text = `${showId(procId)} delivered ${showId(id)} at t=${showTime(delivery.t)}, but it was never multicast`;
        if (!sink.add("integrity", text, { kind: "not-multicast", proc: procId, id, t: delivery.t })) return;
      } else if (!multicast.dst.includes(delivery.group)) {
        const text =
          `${showId(procId)} (group ${showId(delivery.group)}) delivered ${showId(id)} at t=${showTime(delivery.t)}, ` +
          `but it was multicast to ${showIds(multicast.dst)}`;
        const witness = {
          kind: "not-addressed",
          proc: procId,
          group: delivery.group,
          id,
          dst: multicast.dst,
        };
        if (!sink.add("integrity", text, witness)) return;
      }
    }
  }
}
