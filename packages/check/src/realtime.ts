import type { TraceId } from "@amcast/core";
import { assert } from "@amcast/core";
import { CycleFinder, type CycleStep, EdgeList, stronglyConnectedComponents } from "./graph.js";
import type { RunModel } from "./model.js";
import { addDeliveryOrderEdges, deliveryOrderEdgeCount, orderEdgeWitness, orderReason } from "./order.js";
import { showCycle, showId, showTimes, type ViolationSink } from "./violations.js";

const REAL_TIME = -1;

/**
 * Real-time order: m precedes m' when the earliest delivery of m (at any non-Byzantine process)
 * happens strictly before the multicast of m'. Together with delivery order this must be acyclic.
 *
 * The real-time relation can have a quadratic number of pairs, so it is encoded with a chain of
 * barrier nodes (as Elle does): walking events in time order, each batch of messages first
 * delivered since the last multicast gets a barrier b with m -> b for each, and previous barrier
 * -> b; a multicast m' gets latest barrier -> m'. Paths m -> b ... b' -> m' exist exactly when m
 * was first delivered strictly before m' was multicast. Barriers are numbered after the messages.
 */
export function checkRealTimeOrder(model: RunModel, sink: ViolationSink): void {
  const messageCount = model.messageIds.length;
  const { firstTime, firstProc } = firstDeliveries(model);

  const delivered: number[] = [];
  const multicast: number[] = [];
  const multicastTime = new Float64Array(messageCount);
  for (let message = 0; message < messageCount; message += 1) {
    if (firstProc[message] !== -1) delivered.push(message);
    const event = model.multicastOf[message];
    if (event !== undefined) {
      multicast.push(message);
      multicastTime[message] = event.t;
    }
  }
  sortByTime(delivered, firstTime);
  sortByTime(multicast, multicastTime);

  // Real-time edges: one into a barrier per delivered message, one out per multicast, one per link
  // of the barrier chain (at most one barrier per multicast).
  const edges = new EdgeList(deliveryOrderEdgeCount(model) + delivered.length + 2 * multicast.length);
  addDeliveryOrderEdges(model, edges);
  let barrierCount = 0;
  let barrier = -1;
  let next = 0;
  for (const message of multicast) {
    const t = multicastTime[message] as number;
    // Strictly earlier only: a delivery at the same instant as a multicast does not precede it.
    if (next < delivered.length && (firstTime[delivered[next] as number] as number) < t) {
      const opened = messageCount + barrierCount;
      barrierCount += 1;
      if (barrier !== -1) edges.add(barrier, opened, REAL_TIME);
      while (next < delivered.length && (firstTime[delivered[next] as number] as number) < t) {
        edges.add(delivered[next] as number, opened, REAL_TIME);
        next += 1;
      }
      barrier = opened;
    }
    if (barrier !== -1) edges.add(barrier, message, REAL_TIME);
  }

  const graph = edges.toDigraph(messageCount + barrierCount);
  const { componentOf, cyclic } = stronglyConnectedComponents(graph);
  const finder = new CycleFinder(graph, componentOf, messageCount);
  // Only components holding a barrier: the others are delivery-order cycles, acyclic-order's job.
  // The search starts at the component's earliest barrier, so the cycle has a real-time edge.
  const starts: number[] = [];
  for (const nodes of cyclic) {
    let earliestBarrier = Number.POSITIVE_INFINITY;
    for (const node of nodes) if (node >= messageCount && node < earliestBarrier) earliestBarrier = node;
    if (earliestBarrier !== Number.POSITIVE_INFINITY) starts.push(earliestBarrier);
  }
  starts.sort((a, b) => a - b);
  const context: CycleContext = { model, firstTime, firstProc, multicastTime };
  for (const start of starts) {
    const steps = collapse(model, finder.shortestCycleThrough(start));
    const text = showCycle(
      steps.length,
      (edge) => model.messageIds[(steps[edge] as CycleStep).from] as TraceId,
      (edge) => describeStep(context, steps[edge] as CycleStep).reason,
    );
    const witness = { cycle: steps.map((step) => describeStep(context, step).witness) };
    if (!sink.add("real-time-order", text, witness)) return;
  }
}

interface CycleContext {
  readonly model: RunModel;
  readonly firstTime: Float64Array;
  readonly firstProc: Int32Array;
  readonly multicastTime: Float64Array;
}

/** The earliest delivery of each message at a non-Byzantine process (-1 when none). */
function firstDeliveries(model: RunModel): { firstTime: Float64Array; firstProc: Int32Array } {
  const messageCount = model.messageIds.length;
  const firstTime = new Float64Array(messageCount).fill(Number.POSITIVE_INFINITY);
  const firstProc = new Int32Array(messageCount).fill(-1);
  model.sequenceOf.forEach((sequence, proc) => {
    const times = model.sequenceTimesOf[proc] as Float64Array;
    for (let position = 0; position < sequence.length; position += 1) {
      const message = sequence[position] as number;
      const t = times[position] as number;
      if (t < (firstTime[message] as number)) {
        firstTime[message] = t;
        firstProc[message] = proc;
      }
    }
  });
  return { firstTime, firstProc };
}

/** Sorts messages by a time, stably (ties keep message order); skips the sort when already sorted. */
function sortByTime(messages: number[], time: Float64Array): void {
  for (let index = 1; index < messages.length; index += 1) {
    if ((time[messages[index] as number] as number) < (time[messages[index - 1] as number] as number)) {
      messages.sort((a, b) => (time[a] as number) - (time[b] as number) || a - b);
      return;
    }
  }
}

/**
 * Turns a cycle through barriers into message-to-message steps: a path m -> barriers -> m' becomes
 * one real-time step (label REAL_TIME) "m delivered at t1 before m' multicast at t2".
 */
function collapse(model: RunModel, steps: readonly CycleStep[]): CycleStep[] {
  const messageCount = model.messageIds.length;
  // Start at the message that enters the barriers, so the report opens with the real-time edge.
  const begin = steps.findIndex((step) => step.from < messageCount && step.to >= messageCount);
  assert(begin !== -1, "the cycle runs through a barrier, and barriers only chain forward from messages");
  const collapsed: CycleStep[] = [];
  let index = 0;
  while (index < steps.length) {
    const step = steps[(begin + index) % steps.length] as CycleStep;
    index += 1;
    if (step.to < messageCount) {
      collapsed.push(step);
      continue;
    }
    let to = step.to;
    while (to >= messageCount) {
      const inner = steps[(begin + index) % steps.length] as CycleStep;
      index += 1;
      to = inner.to;
    }
    collapsed.push({ from: step.from, to, label: REAL_TIME });
  }
  return collapsed;
}

/** Why a collapsed step is an edge, as text and as data. */
function describeStep(context: CycleContext, step: CycleStep): { reason: string; witness: unknown } {
  const { model, firstTime, firstProc, multicastTime } = context;
  if (step.label !== REAL_TIME)
    return { reason: orderReason(model, step), witness: orderEdgeWitness(model, step) };
  const fromId = model.messageIds[step.from] as TraceId;
  const toId = model.messageIds[step.to] as TraceId;
  const deliveredBy = model.processIds[firstProc[step.from] as number] as TraceId;
  const deliveredAt = firstTime[step.from] as number;
  const multicastAt = multicastTime[step.to] as number;
  const [shownDelivery, shownMulticast] = showTimes(deliveredAt, multicastAt);
  return {
    reason:
      `${showId(fromId)} delivered at t=${shownDelivery} (by ${showId(deliveredBy)}) before ` +
      `${showId(toId)} multicast at t=${shownMulticast}`,
    witness: { kind: "real-time", from: fromId, to: toId, deliveredBy, deliveredAt, multicastAt },
  };
}
