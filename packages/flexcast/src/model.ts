import type { CdagOverlay, DestinationSet, GroupId, LatencyModel } from "@amcast/core";
import type { NotificationPattern } from "./flexcast.js";

/**
 * FlexCast's latency model: the time from a client's multicast to the delivery at the last
 * destination, failure-free and contention-free, as the message pattern of flexcast.ts implies
 * on a latency matrix (no processing cost, no queueing). It is the one latency model of the
 * protocol: `modelLatencyMs` reports it next to measurements, and the overlay optimiser
 * minimises it.
 *
 * The participants of a multicast are the groups of its *span*: the C-DAG order from the lca (its
 * first destination) to its last destination. Every group of the span that is no destination is
 * taken as notified (rule 4 of flexcast.ts). That is the most rule 4 asks for: it notifies a group
 * only when the emitter knows a message for it that precedes the multicast and that no flush
 * covers, which under a workload that keeps every group busy (and between flushes) is every
 * group of the span, and otherwise fewer. So the model is the pattern's upper bound: a measured
 * latency can fall below it (by far on orders where spans are long and few of their groups share
 * messages, such as aws-48-cdag-inter). Times, with the lca at the client's leg:
 *
 * - a destination d delivers once it heard from every participant above it: the lca's copy, each
 *   destination's acknowledgement, and each notified group's answers, so
 *     done(d) = max over participants a above d of done(a) + delay(a, d);
 * - a notified group t answers each notification as it arrives, so its last answer leaves at
 *     done(t) = max over participants a above t of emit(a) + delay(a, t),
 *   but it sends its own notifications only once, on its first answer (it delivers nothing
 *   meanwhile, so later rounds add nothing, rule 5): emit(t) = the same with min instead of max;
 * - a destination notifies when it delivers: emit(d) = done(d); the lca when it forwards:
 *   emit(lca) = done(lca) = the client's leg.
 *
 * The multicast's latency is done(last destination). Every time is the client's leg plus a term
 * that does not depend on it.
 *
 * With chained notifications (`pattern` "chain", rule 8 of flexcast.ts) each emitter's one
 * notification visits the notified groups below it in order, each passing it on as it arrives:
 * it reaches the first at emit(e) + delay(e, t1), the next at that + delay(t1, t2), and so on; a
 * destination d hears from the chain once, from its last notified group above d. done(d) is then
 * the max over the destinations a above d of done(a) + delay(a, d) and over the chains of those
 * emitters of their arrival at that last group plus its delay to d. The optimiser's search
 * (packages/optimizer) encodes the direct pattern only.
 *
 * `span` lists the participants in C-DAG order, lca first and last destination last;
 * `isDestination` says which are destinations (the first and the last are). Generic over how a
 * group is named, so the optimiser can evaluate orders over group indices with the same code.
 */
export function flexcastSpanLatencyMs<G>(
  span: readonly G[],
  isDestination: (group: G) => boolean,
  clientToLcaMs: number,
  groupToGroupMs: (from: G, to: G) => number,
  pattern: NotificationPattern = "direct",
): number {
  const count = span.length;
  if (count === 0) throw new Error("a FlexCast span holds at least the lca");
  if (pattern === "chain") return chainSpanLatencyMs(span, isDestination, clientToLcaMs, groupToGroupMs);
  const done = new Array<number>(count);
  const emit = new Array<number>(count);
  done[0] = clientToLcaMs;
  emit[0] = clientToLcaMs;
  for (let index = 1; index < count; index += 1) {
    const group = span[index] as G;
    if (isDestination(group)) {
      let at = 0;
      for (let above = 0; above < index; above += 1)
        at = Math.max(at, (done[above] as number) + groupToGroupMs(span[above] as G, group));
      done[index] = at;
      emit[index] = at;
      continue;
    }
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (let above = 0; above < index; above += 1) {
      const arrival = (emit[above] as number) + groupToGroupMs(span[above] as G, group);
      if (arrival < first) first = arrival;
      if (arrival > last) last = arrival;
    }
    done[index] = last;
    emit[index] = first;
  }
  return done[count - 1] as number;
}

/** `flexcastSpanLatencyMs` for chained notifications. */
function chainSpanLatencyMs<G>(
  span: readonly G[],
  isDestination: (group: G) => boolean,
  clientToLcaMs: number,
  groupToGroupMs: (from: G, to: G) => number,
): number {
  const count = span.length;
  const done = new Array<number>(count).fill(0);
  // reach[e][t]: when emitter e's chain reaches notified group t (span indices).
  const reach: number[][] = Array.from({ length: count }, () => new Array<number>(count).fill(0));
  done[0] = clientToLcaMs;
  const delay = (from: number, to: number): number => groupToGroupMs(span[from] as G, span[to] as G);
  for (let index = 1; index < count; index += 1) {
    const destination = isDestination(span[index] as G);
    let at = 0;
    for (let emitter = 0; emitter < index; emitter += 1) {
      if (!isDestination(span[emitter] as G)) continue;
      let hop = index - 1;
      while (hop > emitter && isDestination(span[hop] as G)) hop -= 1;
      // The chain's last stop above `index`, or the emitter itself when it notifies nobody above it.
      const from = hop === emitter ? (done[emitter] as number) : (reach[emitter]?.[hop] as number);
      const arrival = from + delay(hop, index);
      if (destination) {
        at = Math.max(at, arrival);
        if (hop !== emitter) at = Math.max(at, (done[emitter] as number) + delay(emitter, index));
      } else {
        (reach[emitter] as number[])[index] = arrival;
      }
    }
    done[index] = at;
  }
  return done[count - 1] as number;
}

/** The model (see `flexcastSpanLatencyMs`) for a multicast to `dst` on a C-DAG overlay. */
export function flexcastLatencyMs(
  dst: DestinationSet,
  overlay: CdagOverlay,
  latency: LatencyModel,
  pattern: NotificationPattern = "direct",
): number {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const group of dst) {
    const position = overlay.position(group);
    if (position < first) first = position;
    if (position > last) last = position;
  }
  const span = overlay.order.slice(first, last + 1);
  const lca = span[0] as GroupId;
  const destinations = new Set(dst);
  return flexcastSpanLatencyMs(
    span,
    (group) => destinations.has(group),
    latency.clientToGroupMs(lca),
    (from, to) => latency.groupToGroupMs(from, to),
    pattern,
  );
}
