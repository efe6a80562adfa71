import type { TraceId } from "@amcast/core";
import type { RunModel } from "./model.js";
import { showId, type ViolationSink } from "./violations.js";

/**
 * Prefix order: for any two non-Byzantine processes, their delivery sequences projected onto the
 * messages addressed to both their groups are prefix-related (one is a prefix of the other).
 *
 * Comparing every pair of processes would be quadratic, so each group gets a reference: its
 * longest sequence. If every process of a group is a prefix of the reference, the processes are
 * pairwise prefix-related, and so are their projections, each a prefix of the reference's. Two
 * groups then only need their references' projections compared. A process that is not a prefix of
 * its reference is reported and also compared with the other groups' references, so the witnesses
 * of a broken group are complete against every reference, though not against every process.
 */
export function checkPrefixOrder(model: RunModel, sink: ViolationSink): void {
  const groupCount = model.groupIds.length;
  const reference = new Int32Array(groupCount).fill(-1);
  for (let proc = 0; proc < model.processIds.length; proc += 1) {
    if (model.byzantine[proc] === 1 || model.joinedLate[proc] === 1) continue;
    const group = model.groupOf[proc] as number;
    const current = reference[group] as number;
    if (current === -1 || lengthOf(model, proc) > lengthOf(model, current)) reference[group] = proc;
  }

  const divergent: number[] = [];
  for (let proc = 0; proc < model.processIds.length; proc += 1) {
    const other = reference[model.groupOf[proc] as number] as number;
    if (model.byzantine[proc] === 1 || other === proc) continue;
    const sequence = model.sequenceOf[proc] as Int32Array;
    let otherSequence = model.sequenceOf[other] as Int32Array;
    if (model.joinedLate[proc] === 1) {
      // A later incarnation (its state came from a checkpoint, or it restarted empty) delivers a
      // window of its group's sequence: compared from where its first delivery stands there. One
      // the reference never delivered cannot be placed (the incarnation is ahead of it).
      if (other === -1 || sequence.length === 0) continue;
      const start = otherSequence.indexOf(sequence[0] as number);
      if (start === -1) continue;
      otherSequence = otherSequence.subarray(start);
    }
    const position = firstDifference(sequence, otherSequence);
    if (position === -1) continue;
    // Other groups' projections start at their beginning: a later incarnation is not compared with them.
    if (model.joinedLate[proc] === 0) divergent.push(proc);
    if (!report(model, sink, { proc, other, sequence, otherSequence, position, sameGroup: true })) return;
  }

  // projections[g].get(h): the deliveries of g's reference addressed to both g and h, in order.
  const projections: (Map<number, number[]> | undefined)[] = [];
  for (let group = 0; group < groupCount; group += 1) {
    const proc = reference[group] as number;
    projections.push(proc === -1 ? undefined : project(model, proc));
  }
  for (let group = 0; group < groupCount; group += 1) {
    for (const [otherGroup, sequence] of projections[group] ?? []) {
      if (otherGroup <= group) continue;
      const otherSequence = projections[otherGroup]?.get(group);
      if (otherSequence === undefined) continue;
      const position = firstDifference(sequence, otherSequence);
      if (position === -1) continue;
      const proc = reference[group] as number;
      const other = reference[otherGroup] as number;
      if (!report(model, sink, { proc, other, sequence, otherSequence, position, sameGroup: false })) return;
    }
  }
  for (const proc of divergent) {
    const group = model.groupOf[proc] as number;
    for (const [otherGroup, sequence] of project(model, proc)) {
      const otherSequence = projections[otherGroup]?.get(group);
      if (otherSequence === undefined) continue;
      const position = firstDifference(sequence, otherSequence);
      if (position === -1) continue;
      const other = reference[otherGroup] as number;
      if (!report(model, sink, { proc, other, sequence, otherSequence, position, sameGroup: false })) return;
    }
  }
}

function lengthOf(model: RunModel, proc: number): number {
  return (model.sequenceOf[proc] as Int32Array).length;
}

/**
 * A process's deliveries split by the other group they are also addressed to: entry h holds, in
 * order, the delivered messages addressed to both the process's group and h.
 */
function project(model: RunModel, proc: number): Map<number, number[]> {
  const { dstOffsets, dstGroups } = model;
  const group = model.groupOf[proc] as number;
  const byGroup = new Map<number, number[]>();
  for (const message of model.sequenceOf[proc] as Int32Array) {
    const start = dstOffsets[message] as number;
    const end = dstOffsets[message + 1] as number;
    // Local messages (one destination) are by far the most common and belong to no projection.
    if (end - start < 2) continue;
    let addressed = false;
    for (let slot = start; slot < end && !addressed; slot += 1) addressed = dstGroups[slot] === group;
    if (!addressed) continue;
    for (let slot = start; slot < end; slot += 1) {
      const other = dstGroups[slot] as number;
      if (other === group) continue;
      let projection = byGroup.get(other);
      if (projection === undefined) {
        projection = [];
        byGroup.set(other, projection);
      }
      projection.push(message);
    }
  }
  return byGroup;
}

/** The first position where two sequences differ, or -1 when one is a prefix of the other. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const length = Math.min(a.length, b.length);
  for (let position = 0; position < length; position += 1) {
    if (a[position] !== b[position]) return position;
  }
  return -1;
}

/** Two processes whose (projected) sequences differ at `position`. */
interface Divergence {
  readonly proc: number;
  readonly other: number;
  readonly sequence: ArrayLike<number>;
  readonly otherSequence: ArrayLike<number>;
  readonly position: number;
  /** Same group: full sequences were compared; otherwise projections onto both groups. */
  readonly sameGroup: boolean;
}

function report(model: RunModel, sink: ViolationSink, divergence: Divergence): boolean {
  const { proc, other, sequence, otherSequence, position, sameGroup } = divergence;
  const nameA = model.processIds[proc] as TraceId;
  const nameB = model.processIds[other] as TraceId;
  const groupA = model.groupIds[model.groupOf[proc] as number] as TraceId;
  const groupB = model.groupIds[model.groupOf[other] as number] as TraceId;
  const idA = model.messageIds[sequence[position] as number] as TraceId;
  const idB = model.messageIds[otherSequence[position] as number] as TraceId;
  const what = sameGroup
    ? `${showId(nameA)} and ${showId(nameB)} (group ${showId(groupA)}) diverge at delivery index ${position}`
    : `${showId(nameA)} (group ${showId(groupA)}) and ${showId(nameB)} (group ${showId(groupB)}) diverge at ` +
      `index ${position} of their deliveries addressed to both groups`;
  const text = `${what}: ${showId(nameA)} delivered ${showId(idA)}, ${showId(nameB)} delivered ${showId(idB)}`;
  return sink.add("prefix-order", text, {
    procs: [nameA, nameB],
    groups: [groupA, groupB],
    position,
    ids: [idA, idB],
  });
}
