import type { TraceId } from "@amcast/core";
import { CycleFinder, type CycleStep, EdgeList, stronglyConnectedComponents } from "./graph.js";
import type { RunModel } from "./model.js";
import { showCycle, showId, type ViolationSink } from "./violations.js";

/**
 * Adds the delivery-order edges: a -> b whenever a non-Byzantine process delivers a immediately
 * before b, labelled with that process. Consecutive pairs suffice: a longer path in one process's
 * sequence is a chain of them.
 */
export function addDeliveryOrderEdges(model: RunModel, edges: EdgeList): void {
  model.sequenceOf.forEach((sequence, proc) => {
    for (let position = 1; position < sequence.length; position += 1) {
      edges.add(sequence[position - 1] as number, sequence[position] as number, proc);
    }
  });
}

/** How many edges `addDeliveryOrderEdges` adds. */
export function deliveryOrderEdgeCount(model: RunModel): number {
  let count = 0;
  for (const sequence of model.sequenceOf) count += Math.max(sequence.length - 1, 0);
  return count;
}

/** Acyclic order: the delivery-order graph over messages has no cycle. */
export function checkAcyclicOrder(model: RunModel, sink: ViolationSink): void {
  const edges = new EdgeList(deliveryOrderEdgeCount(model));
  addDeliveryOrderEdges(model, edges);
  const graph = edges.toDigraph(model.messageIds.length);
  const { componentOf, cyclic } = stronglyConnectedComponents(graph);
  const finder = new CycleFinder(graph, componentOf, graph.nodeCount);
  // One cycle per component, starting at its first message so reports read in trace order.
  const starts = cyclic.map(leastOf).sort((a, b) => a - b);
  for (const start of starts) {
    const steps = finder.shortestCycleThrough(start);
    const text = showCycle(
      steps.length,
      (edge) => model.messageIds[(steps[edge] as CycleStep).from] as TraceId,
      (edge) => orderReason(model, steps[edge] as CycleStep),
    );
    const witness = { cycle: steps.map((step) => orderEdgeWitness(model, step)) };
    if (!sink.add("acyclic-order", text, witness)) return;
  }
}

/** The least node of a component (a loop: spreading a huge component into Math.min would overflow). */
export function leastOf(nodes: readonly number[]): number {
  let least = Number.POSITIVE_INFINITY;
  for (const node of nodes) if (node < least) least = node;
  return least;
}

/** "p delivered a before b" for a delivery-order edge. */
export function orderReason(model: RunModel, step: CycleStep): string {
  const proc = model.processIds[step.label] as TraceId;
  const from = model.messageIds[step.from] as TraceId;
  const to = model.messageIds[step.to] as TraceId;
  return `${showId(proc)} delivered ${showId(from)} before ${showId(to)}`;
}

export function orderEdgeWitness(
  model: RunModel,
  step: CycleStep,
): { kind: "order"; from: TraceId; to: TraceId; proc: TraceId } {
  return {
    kind: "order",
    from: model.messageIds[step.from] as TraceId,
    to: model.messageIds[step.to] as TraceId,
    proc: model.processIds[step.label] as TraceId,
  };
}
