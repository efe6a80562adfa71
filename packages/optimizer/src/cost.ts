/**
 * What the optimiser minimises: the protocols' own latency models (`flexcastLatencyMs` of
 * @amcast/flexcast, `byzcastLatencyMs` of @amcast/byzcast — what their `modelLatencyMs` reports),
 * the time from a client's multicast to the last destination's delivery on a latency matrix, the
 * client's leg from its origin included; averaged over a workload, single-group multicasts
 * included (their cost is the client's leg alone, the same on every overlay). So the predicted
 * mean is the quantity a run measures, and predicted and measured gains compare.
 *
 * These functions evaluate each destination count with the protocol's function itself; the
 * searches evaluate many overlays with the same functions over group indices (the generic
 * `flexcastSpanLatencyMs` and `byzcastTreeLatencyMs`), and the tests check both agree.
 */
import { byzcastLatencyMs, byzcastTreeLatencyMs } from "@amcast/byzcast";
import type { GroupId, LatencyModel, TreeOverlay } from "@amcast/core";
import { CdagOverlay, describeValue } from "@amcast/core";
import { flexcastLatencyMs } from "@amcast/flexcast";
import type { DestinationCount, GroupLatencyMs } from "./types.js";
import { aggregate, checkGroups } from "./workload.js";

/** The latency model of a client next to `origin` (no origin: a leg of 0). */
function latencyFrom(origin: GroupId | undefined, latencyMs: GroupLatencyMs): LatencyModel {
  return {
    clientToGroupMs: (group) => (origin === undefined ? 0 : latencyMs(origin, group)),
    groupToGroupMs: (from, to) => latencyMs(from, to),
  };
}

function meanOver(counts: readonly DestinationCount[], costMs: (count: DestinationCount) => number): number {
  let sum = 0;
  let total = 0;
  for (const entry of counts) {
    if (entry.count === 0) continue;
    sum += entry.count * costMs(entry);
    total += entry.count;
  }
  return total === 0 ? 0 : sum / total;
}

/** Mean FlexCast latency of a workload on the C-DAG with this order (`flexcastLatencyMs`). */
export function cdagCostMs(
  order: readonly GroupId[],
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
): number {
  const position = new Map(order.map((group, index) => [group, index]));
  if (position.size !== order.length) throw new Error("a C-DAG order lists each group once");
  checkGroups(aggregate(counts), (group) => position.has(group), "the C-DAG order");
  const overlay = new CdagOverlay("cost", order);
  return meanOver(counts, ({ dst, origin }) =>
    flexcastLatencyMs([...new Set(dst)], overlay, latencyFrom(origin, latencyMs)),
  );
}

/** Mean ByzCast latency of a workload on a tree (`byzcastLatencyMs`). */
export function treeCostMs(
  tree: TreeOverlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
): number {
  checkTargets(tree, counts);
  return meanOver(counts, ({ dst, origin }) =>
    byzcastLatencyMs([...new Set(dst)], tree, latencyFrom(origin, latencyMs)),
  );
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
  checkTargets(tree, counts);
  const workload = aggregate(counts);
  const loads = new Map<GroupId, number>(tree.groups.map((group) => [group, 0]));
  for (const set of [...workload.single, ...workload.multi]) {
    const lca = tree.lca(set.dst);
    const onPath = new Set<GroupId>([lca]);
    for (const destination of set.dst)
      for (let group = destination; group !== lca; group = tree.parent(group) as GroupId) onPath.add(group);
    for (const group of onPath) loads.set(group, (loads.get(group) ?? 0) + set.count);
  }
  return loads;
}

function checkTargets(tree: TreeOverlay, counts: readonly DestinationCount[]): void {
  const workload = aggregate(counts);
  checkGroups(workload, (group) => tree.hasGroup(group), `tree ${tree.name}`);
  for (const set of [...workload.multi, ...workload.single])
    for (const group of set.dst)
      if (!tree.isTarget(group))
        throw new Error(`destination group ${describeValue(group)} is auxiliary in tree ${tree.name}`);
}

/**
 * A tree as arrays over group indices, for the searches: `parent[v]` (-1 at the root). Computes
 * the same cost (with `byzcastTreeLatencyMs`) and loads as `treeCostMs` / `treeLoads` without
 * building an overlay.
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

  /**
   * The ByzCast model of a multicast to `members`: `legs[g]` is the client's leg if g is the
   * entry group (the lca); `lat[u][v]` the delay from group u to group v.
   */
  setCost(members: readonly number[], lat: readonly (readonly number[])[], legs: readonly number[]): number {
    const lca = this.lca(members);
    return byzcastTreeLatencyMs(
      lca,
      members,
      (v) => {
        const p = this.parent[v] as number;
        return p < 0 ? null : p;
      },
      legs[lca] as number,
      (u, v) => lat[u]?.[v] as number,
    );
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
