/**
 * The cost models the optimiser minimises: the predicted group-to-group latency of a multicast on
 * an overlay, and its frequency-weighted mean over a workload.
 *
 * Both models count only the one-way delays between groups along the protocol's critical path.
 * They leave out the client's leg to the entry group and the ordering work inside groups: the
 * optimiser compares overlays on what the overlay decides, with nothing but a group-to-group
 * latency function. A multicast to a single group therefore costs 0 on every overlay (it crosses
 * no link between groups), rather than the intra-group delay: that delay is the same on every
 * overlay, and leaving it out makes the relative gain used for hysteresis the gain on the
 * multicasts an overlay can change, whatever share of the workload stays local.
 */
import type { GroupId, TreeOverlay } from "@amcast/core";
import { describeValue } from "@amcast/core";
import type { DestinationCount, GroupLatencyMs } from "./types.js";
import { aggregate, checkGroups } from "./workload.js";

/**
 * FlexCast on a C-DAG: a multicast goes to its first destination in the order, which orders it
 * and forwards it down the order to the other destinations; a destination may deliver only once
 * every destination above it has ordered the message and told it so. With the destinations
 * `members` sorted by the order, destination g can act at
 *   t(first) = 0,  t(g) = max over destinations h above g of t(h) + latency(h, g),
 * i.e. the longest path through the destinations, in order, from the first one; the multicast is
 * done when the last one acts. Delays are >= 0, so that is t(last) = max t. For two destinations
 * it is latency(a, b); for three, max(latency(a, c), latency(a, b) + latency(b, c)).
 *
 * `lat[i][j]` is the one-way delay from members[i]'s group to members[j]'s.
 */
export function orderedSetCost(members: readonly number[], lat: readonly (readonly number[])[]): number {
  const times: number[] = [];
  let last = 0;
  for (let j = 0; j < members.length; j++) {
    let time = 0;
    const to = members[j] as number;
    for (let i = 0; i < j; i++) {
      const through = (times[i] as number) + (lat[members[i] as number]?.[to] as number);
      if (through > time) time = through;
    }
    times.push(time);
    if (time > last) last = time;
  }
  return last;
}

/** Mean FlexCast cost of a workload on the C-DAG with this order (see `orderedSetCost`). */
export function cdagCostMs(
  order: readonly GroupId[],
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
): number {
  const position = new Map(order.map((group, index) => [group, index]));
  if (position.size !== order.length) throw new Error("a C-DAG order lists each group once");
  const workload = aggregate(counts);
  checkGroups(workload, (group) => position.has(group), "the C-DAG order");
  if (workload.total === 0) return 0;
  let sum = 0;
  for (const set of workload.multi) {
    const sorted = [...set.dst].sort((a, b) => (position.get(a) as number) - (position.get(b) as number));
    const lat = sorted.map((from) => sorted.map((to) => latencyMs(from, to)));
    sum +=
      set.count *
      orderedSetCost(
        Array.from(sorted, (_, index) => index),
        lat,
      );
  }
  return sum / workload.total;
}

/**
 * ByzCast on a tree: a multicast goes to lca(D), the deepest group whose subtree holds every
 * destination; that group orders it and forwards it down the tree edges toward the destinations,
 * each group on the way ordering and forwarding it in turn. A destination delivers once the
 * message has come down the path from the lca, so
 *   cost(D) = max over d in D of the sum of latency(parent, child) along the path lca -> d.
 */
export function treeCostMs(
  tree: TreeOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
): number {
  const workload = aggregate(counts);
  checkTargets(tree, workload.multi, workload.single.keys());
  if (workload.total === 0) return 0;
  let sum = 0;
  for (const set of workload.multi) {
    const lca = tree.lca(set.dst);
    let worst = 0;
    for (const destination of set.dst) {
      let length = 0;
      for (let group = destination; group !== lca; ) {
        const parent = tree.parent(group) as GroupId;
        length += latencyMs(parent, group);
        group = parent;
      }
      if (length > worst) worst = length;
    }
    sum += set.count * worst;
  }
  return sum / workload.total;
}

/**
 * The multicasts (by count) each group orders on a ByzCast tree: the lca of every multicast it is
 * on the way of, and every group on the paths from there down to the destinations (the
 * destinations included; a single-group multicast is ordered by its group alone). Every group of
 * the tree is in the map, with 0 when it orders nothing.
 */
export function treeLoads(
  tree: TreeOverlay,
  counts: readonly DestinationCount[],
): ReadonlyMap<GroupId, number> {
  const workload = aggregate(counts);
  checkTargets(tree, workload.multi, workload.single.keys());
  const loads = new Map<GroupId, number>(tree.groups.map((group) => [group, 0]));
  for (const [group, count] of workload.single) loads.set(group, (loads.get(group) ?? 0) + count);
  for (const set of workload.multi) {
    const lca = tree.lca(set.dst);
    const onPath = new Set<GroupId>([lca]);
    for (const destination of set.dst)
      for (let group = destination; group !== lca; group = tree.parent(group) as GroupId) onPath.add(group);
    for (const group of onPath) loads.set(group, (loads.get(group) ?? 0) + set.count);
  }
  return loads;
}

function checkTargets(
  tree: TreeOverlay,
  multi: readonly { readonly dst: readonly GroupId[] }[],
  singles: Iterable<GroupId>,
): void {
  const check = (group: GroupId): void => {
    if (!tree.hasGroup(group))
      throw new Error(`destination group ${describeValue(group)} is not in tree ${tree.name}`);
    if (!tree.isTarget(group))
      throw new Error(`destination group ${describeValue(group)} is auxiliary in tree ${tree.name}`);
  };
  for (const set of multi) for (const group of set.dst) check(group);
  for (const group of singles) check(group);
}

/**
 * A tree as arrays over group indices, for the searches: `parent[v]` (-1 at the root). Computes
 * the same cost and loads as `treeCostMs` / `treeLoads` without building an overlay.
 */
export class IndexedTree {
  readonly depth: number[];

  constructor(readonly parent: readonly number[]) {
    const depth: number[] = new Array(parent.length).fill(-1);
    const depthOf = (v: number): number => {
      const known = depth[v] as number;
      if (known >= 0) return known;
      const p = parent[v] as number;
      const d = p < 0 ? 0 : depthOf(p) + 1;
      depth[v] = d;
      return d;
    };
    for (let v = 0; v < parent.length; v++) depthOf(v);
    this.depth = depth;
  }

  lca(members: readonly number[]): number {
    let lca = members[0] as number;
    for (let k = 1; k < members.length; k++) {
      let a = lca;
      let b = members[k] as number;
      while ((this.depth[a] as number) > (this.depth[b] as number)) a = this.parent[a] as number;
      while ((this.depth[b] as number) > (this.depth[a] as number)) b = this.parent[b] as number;
      while (a !== b) {
        a = this.parent[a] as number;
        b = this.parent[b] as number;
      }
      lca = a;
    }
    return lca;
  }

  /** cost(D) of the ByzCast model; `lat[u][v]` is the delay from group u to group v. */
  setCost(members: readonly number[], lat: readonly (readonly number[])[]): number {
    const lca = this.lca(members);
    let worst = 0;
    for (const destination of members) {
      let length = 0;
      for (let v = destination; v !== lca; v = this.parent[v] as number)
        length += lat[this.parent[v] as number]?.[v] as number;
      if (length > worst) worst = length;
    }
    return worst;
  }

  /** Adds `count` to the load of every group that orders a multicast to `members`. */
  addLoad(members: readonly number[], count: number, loads: number[]): void {
    const lca = this.lca(members);
    const seen = new Set<number>([lca]);
    for (const destination of members)
      for (let v = destination; v !== lca; v = this.parent[v] as number) seen.add(v);
    for (const v of seen) loads[v] = (loads[v] as number) + count;
  }
}
