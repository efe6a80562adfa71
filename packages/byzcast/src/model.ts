import type { DestinationSet, GroupId, LatencyModel, TreeOverlay } from "@amcast/core";

/**
 * ByzCast's latency model: the time from a client's multicast to the delivery at the last
 * destination, failure-free and contention-free, as the message pattern of byzcast.ts implies on
 * a latency matrix (no ordering cost, no queueing). The client sends to the lca of the
 * destinations, which forwards down the tree, each group on the way forwarding in turn:
 *   latency = client -> lca + max over destinations d of the delays along the tree path lca -> d.
 * It is the one latency model of the protocol: `modelLatencyMs` reports it next to measurements,
 * and the overlay optimiser minimises it.
 *
 * Generic over how a group is named (the optimiser evaluates trees over group indices with the
 * same code): `parent(g)` is g's parent, and every destination must have `lca` as an ancestor
 * (or be it).
 */
export function byzcastTreeLatencyMs<G>(
  lca: G,
  destinations: readonly G[],
  parent: (group: G) => G | null,
  clientToLcaMs: number,
  groupToGroupMs: (from: G, to: G) => number,
): number {
  let farthest = 0;
  for (const destination of destinations) {
    let length = 0;
    let group = destination;
    while (group !== lca) {
      const above = parent(group);
      if (above === null) throw new Error("a destination is not below the lca");
      length += groupToGroupMs(above, group);
      group = above;
    }
    if (length > farthest) farthest = length;
  }
  return clientToLcaMs + farthest;
}

/** The model (see `byzcastTreeLatencyMs`) for a multicast to `dst` on a tree overlay. */
export function byzcastLatencyMs(dst: DestinationSet, tree: TreeOverlay, latency: LatencyModel): number {
  const lca = tree.lca(dst);
  return byzcastTreeLatencyMs<GroupId>(
    lca,
    dst,
    (group) => tree.parent(group),
    latency.clientToGroupMs(lca),
    (from, to) => latency.groupToGroupMs(from, to),
  );
}
