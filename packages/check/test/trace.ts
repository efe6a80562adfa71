import type { DeliverEvent, FaultEvent, FaultKind, MemberEvent, MulticastEvent, TraceId } from "@amcast/core";

/** Small builders so hand-made traces read like the scenario they describe. */
export function multicast(id: TraceId, client: TraceId, dst: readonly TraceId[], t: number): MulticastEvent {
  return { ev: "multicast", id, client, dst, t };
}

export function deliver(id: TraceId, proc: TraceId, group: TraceId, t: number): DeliverEvent {
  return { ev: "deliver", id, group, proc, t };
}

export function member(group: TraceId, proc: TraceId): MemberEvent {
  return { ev: "member", group, proc, t: 0 };
}

export function fault(proc: TraceId, kind: FaultKind, t: number): FaultEvent {
  return { ev: "fault", proc, kind, t };
}

/** Member events for groups named like { g1: ["g1/0", "g1/1"] }. */
export function members(groups: Record<string, readonly string[]>): MemberEvent[] {
  return Object.entries(groups).flatMap(([group, procs]) => procs.map((proc) => member(group, proc)));
}
