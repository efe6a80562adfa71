import { DirectedGraph } from "graphology";
import { hasCycle, topologicalSort } from "graphology-dag";
import { assert } from "./assert.js";
import { describeValue, InputError, listNames } from "./errors.js";
import type { DestinationSet, GroupId } from "./ids.js";
import { compareIds } from "./ids.js";
import { JsonFields } from "./json.js";
import type { Topology } from "./topology.js";

export type OverlayKind = "cdag" | "tree";
export const OVERLAY_KINDS: readonly OverlayKind[] = ["cdag", "tree"];

/**
 * A complete DAG (FlexCast): a total order of the groups; every group links to every later one,
 * and all group-to-group traffic flows down the order (FlexCast's bounded history sends one
 * notice back up). The lca of a message is its destination with the smallest position.
 */
export class CdagOverlay {
  readonly kind = "cdag";
  readonly name: string;
  readonly order: readonly GroupId[];
  private readonly positions: ReadonlyMap<GroupId, number>;

  constructor(name: string, order: readonly GroupId[]) {
    this.name = name;
    this.order = order;
    this.positions = new Map(order.map((group, index) => [group, index]));
    assert(this.positions.size === order.length, "a C-DAG lists each group once");
  }

  get groups(): readonly GroupId[] {
    return this.order;
  }

  hasGroup(group: GroupId): boolean {
    return this.positions.has(group);
  }

  position(group: GroupId): number {
    const position = this.positions.get(group);
    // Not `assert(cond, () => ...)`: the closure would capture `group`, and every call (several per
    // multicast) would allocate its context.
    if (position === undefined) assert(false, `group ${group} is not in C-DAG ${this.name}`);
    return position;
  }

  /** True when `a` comes before `b` in the order (a is an ancestor of b). */
  isBefore(a: GroupId, b: GroupId): boolean {
    return this.position(a) < this.position(b);
  }

  /** `groups` sorted by position in the order. */
  sortByPosition(groups: readonly GroupId[]): GroupId[] {
    return [...groups].sort((a, b) => this.position(a) - this.position(b));
  }

  /** The destination that comes first in the order. */
  lca(dst: DestinationSet): GroupId {
    assert(dst.length > 0, "lca of an empty destination set");
    let best = dst[0] as GroupId;
    let bestPosition = this.position(best);
    for (let index = 1; index < dst.length; index += 1) {
      const group = dst[index] as GroupId;
      const position = this.position(group);
      if (position < bestPosition) {
        best = group;
        bestPosition = position;
      }
    }
    return best;
  }
}

export type GroupRole = "target" | "auxiliary";

/**
 * A rooted tree of groups (ByzCast). Target groups hold data and deliver; auxiliary groups only
 * order and forward. `reach(x)` is the set of target groups in x's subtree (x included when it is a
 * target); the lca of a destination set is the deepest group whose reach contains it.
 */
export class TreeOverlay {
  readonly kind = "tree";
  readonly name: string;
  readonly root: GroupId;
  /** Every group, parents before children (a topological order), ties by id. */
  readonly groups: readonly GroupId[];
  readonly targets: readonly GroupId[];
  private readonly roles: ReadonlyMap<GroupId, GroupRole>;
  private readonly parents: ReadonlyMap<GroupId, GroupId>;
  private readonly childLists: ReadonlyMap<GroupId, readonly GroupId[]>;
  private readonly depths: ReadonlyMap<GroupId, number>;
  private readonly reaches: ReadonlyMap<GroupId, ReadonlySet<GroupId>>;

  constructor(
    name: string,
    roles: ReadonlyMap<GroupId, GroupRole>,
    edges: readonly (readonly [GroupId, GroupId])[],
  ) {
    this.name = name;
    this.roles = roles;
    const parents = new Map<GroupId, GroupId>();
    const children = new Map<GroupId, GroupId[]>();
    for (const group of roles.keys()) children.set(group, []);
    for (const [parent, child] of edges) {
      assert(!parents.has(child), () => `group ${child} has two parents`);
      parents.set(child, parent);
      children.get(parent)?.push(child);
    }
    for (const list of children.values()) list.sort(compareIds);
    const roots = [...roles.keys()].filter((group) => !parents.has(group));
    assert(roots.length === 1, "a tree has exactly one root");
    this.root = roots[0] as GroupId;
    this.parents = parents;
    this.childLists = children;

    const order: GroupId[] = [];
    const depths = new Map<GroupId, number>();
    const stack: GroupId[] = [this.root];
    depths.set(this.root, 0);
    while (stack.length > 0) {
      const group = stack.pop() as GroupId;
      order.push(group);
      for (const child of children.get(group) ?? []) {
        depths.set(child, (depths.get(group) ?? 0) + 1);
        stack.push(child);
      }
    }
    assert(order.length === roles.size, "every group is reachable from the root");
    this.groups = [...order].sort((a, b) => (depths.get(a) ?? 0) - (depths.get(b) ?? 0) || compareIds(a, b));
    this.depths = depths;
    this.targets = [...roles.entries()]
      .filter(([, role]) => role === "target")
      .map(([group]) => group)
      .sort(compareIds);

    // Reach sets bottom-up: children before parents.
    const reaches = new Map<GroupId, Set<GroupId>>();
    for (const group of [...order].reverse()) {
      const reach = new Set<GroupId>();
      if (roles.get(group) === "target") reach.add(group);
      for (const child of children.get(group) ?? [])
        for (const target of reaches.get(child) ?? []) reach.add(target);
      reaches.set(group, reach);
    }
    this.reaches = reaches;
  }

  hasGroup(group: GroupId): boolean {
    return this.roles.has(group);
  }

  role(group: GroupId): GroupRole {
    const role = this.roles.get(group);
    assert(role !== undefined, () => `group ${group} is not in tree ${this.name}`);
    return role;
  }

  isTarget(group: GroupId): boolean {
    return this.role(group) === "target";
  }

  parent(group: GroupId): GroupId | null {
    this.role(group);
    return this.parents.get(group) ?? null;
  }

  children(group: GroupId): readonly GroupId[] {
    const list = this.childLists.get(group);
    assert(list !== undefined, () => `group ${group} is not in tree ${this.name}`);
    return list;
  }

  depth(group: GroupId): number {
    const depth = this.depths.get(group);
    assert(depth !== undefined, () => `group ${group} is not in tree ${this.name}`);
    return depth;
  }

  reach(group: GroupId): ReadonlySet<GroupId> {
    const reach = this.reaches.get(group);
    assert(reach !== undefined, () => `group ${group} is not in tree ${this.name}`);
    return reach;
  }

  /** The deepest group whose reach contains every destination (a target's own lca is itself). */
  lca(dst: DestinationSet): GroupId {
    assert(dst.length > 0, "lca of an empty destination set");
    for (const group of dst) assert(this.isTarget(group), () => `destination ${group} is not a target group`);
    let lca = dst[0] as GroupId;
    for (const group of dst.slice(1)) lca = this.lcaOfPair(lca, group);
    return lca;
  }

  /** Children of `group` whose reach meets `dst`: where `group` forwards a message. */
  childrenToward(group: GroupId, dst: DestinationSet): GroupId[] {
    return this.children(group).filter((child) => {
      const reach = this.reach(child);
      return dst.some((target) => reach.has(target));
    });
  }

  private lcaOfPair(a: GroupId, b: GroupId): GroupId {
    let x = a;
    let y = b;
    while (this.depth(x) > this.depth(y)) x = this.parents.get(x) as GroupId;
    while (this.depth(y) > this.depth(x)) y = this.parents.get(y) as GroupId;
    while (x !== y) {
      x = this.parents.get(x) as GroupId;
      y = this.parents.get(y) as GroupId;
    }
    return x;
  }
}

export type Overlay = CdagOverlay | TreeOverlay;

/** The JSON document of an overlay: what `parseOverlay` reads. */
export function overlayToJson(overlay: Overlay): Record<string, unknown> {
  if (overlay.kind === "cdag") return { kind: "cdag", name: overlay.name, order: [...overlay.order] };
  const edges: [GroupId, GroupId][] = [];
  for (const group of overlay.groups) {
    const parent = overlay.parent(group);
    if (parent !== null) edges.push([parent, group]);
  }
  return {
    kind: "tree",
    name: overlay.name,
    groups: overlay.groups.map((id) => ({ id, role: overlay.role(id) })),
    edges,
  };
}

/**
 * Reads an overlay document:
 * ```json
 * { "kind": "cdag", "name": "aws-12-o1", "order": ["Stockholm", "Frankfurt", ...] }
 * { "kind": "tree", "name": "aws-12-two-level",
 *   "groups": [{ "id": "root", "role": "auxiliary" }, { "id": "Tokyo", "role": "target" }],
 *   "edges": [["root", "Tokyo"]] }
 * ```
 * Structural errors (a group listed twice, a cycle, two parents, an unreachable group, an
 * auxiliary leaf) name the offending group. `checkOverlayAgainstTopology` then checks the groups.
 */
export function parseOverlay(value: unknown, source: string): Overlay {
  const doc = JsonFields.root(value, source);
  const kind = doc.choice("kind", OVERLAY_KINDS);
  const name = doc.string("name");
  const overlay = kind === "cdag" ? parseCdag(doc, name) : parseTree(doc, name);
  doc.optionalString("description");
  doc.done();
  return overlay;
}

function parseCdag(doc: JsonFields, name: string): CdagOverlay {
  const items = doc.array("order");
  const order = items.strings();
  const seen = new Map<string, number>();
  order.forEach((group, index) => {
    const first = seen.get(group);
    if (first !== undefined) {
      throw items.error(
        index,
        `group ${describeValue(group)} is listed twice (also at order[${first}]); a C-DAG lists every group exactly once`,
      );
    }
    seen.set(group, index);
  });
  return new CdagOverlay(name, order);
}

function parseTree(doc: JsonFields, name: string): TreeOverlay {
  const roles = new Map<GroupId, GroupRole>();
  for (const item of doc.array("groups").objects()) {
    const id = item.string("id");
    const role = item.choice<GroupRole>("role", ["target", "auxiliary"]);
    if (roles.has(id)) throw item.error("id", `group ${describeValue(id)} is listed twice`);
    roles.set(id, role);
    item.done();
  }
  const known = listNames([...roles.keys()]);
  const graph = new DirectedGraph();
  for (const group of roles.keys()) graph.addNode(group);
  const edges: [GroupId, GroupId][] = [];
  const edgeItems = doc.array("edges", true);
  const parentOf = new Map<GroupId, GroupId>();
  edgeItems.arrays().forEach((edge, index) => {
    const pair = edge.strings();
    const where = edgeItems.itemPath(index);
    if (pair.length !== 2)
      throw new InputError(doc.source, where, `expected [parent, child], got ${describeValue(pair)}`);
    const [parent, child] = pair as [string, string];
    for (const group of pair) {
      if (!roles.has(group))
        throw new InputError(
          doc.source,
          where,
          `group ${describeValue(group)} is not in groups (known: ${known})`,
        );
    }
    if (parent === child)
      throw new InputError(doc.source, where, `group ${describeValue(parent)} is its own parent`);
    const previous = parentOf.get(child);
    if (previous !== undefined) {
      throw new InputError(
        doc.source,
        where,
        `group ${describeValue(child)} has two parents (${describeValue(previous)} and ${describeValue(parent)})`,
      );
    }
    parentOf.set(child, parent);
    graph.addDirectedEdge(parent, child);
    edges.push([parent, child]);
  });
  if (hasCycle(graph)) {
    throw doc.error(
      "edges",
      `the edges form a cycle through group ${describeValue(findCycleGroup(parentOf))}`,
    );
  }
  const roots = topologicalSort(graph).filter((group) => !parentOf.has(group));
  if (roots.length !== 1) {
    const [root, ...others] = [...roots].sort(
      (a, b) => graph.outDegree(b) - graph.outDegree(a) || compareIds(a, b),
    );
    throw doc.error(
      "edges",
      `group ${describeValue(others[0])} is unreachable from the root ${describeValue(root)}: a tree has exactly one group without a parent`,
    );
  }
  for (const [group, role] of roles) {
    if (role === "auxiliary" && graph.outDegree(group) === 0) {
      throw doc.error(
        "groups",
        `auxiliary group ${describeValue(group)} has no children: an auxiliary group only orders and forwards`,
      );
    }
  }
  if (![...roles.values()].includes("target"))
    throw doc.error("groups", "a tree needs at least one target group");
  return new TreeOverlay(name, roles, edges);
}

/** Some group on a cycle of the parent relation (every node has at most one parent). */
function findCycleGroup(parentOf: ReadonlyMap<GroupId, GroupId>): GroupId {
  for (const start of [...parentOf.keys()].sort(compareIds)) {
    const visited = new Set<GroupId>();
    let group: GroupId | undefined = start;
    while (group !== undefined && !visited.has(group)) {
      visited.add(group);
      group = parentOf.get(group);
    }
    if (group !== undefined) return group;
  }
  assert(false, "a graph with a cycle has a group on it");
}

/**
 * Checks an overlay against a topology: a C-DAG lists every target group of the topology exactly
 * once (auxiliary groups have no place in it); a tree holds every target group of the topology and
 * any of its auxiliary groups, each in the role the topology gives it, and nothing else. (One
 * topology can place the auxiliary groups of several trees.)
 */
export function checkOverlayAgainstTopology(overlay: Overlay, topology: Topology, source: string): void {
  const field = overlay.kind === "cdag" ? "order" : "groups";
  for (const group of overlay.groups) {
    if (!topology.hasGroup(group)) {
      throw new InputError(
        source,
        field,
        `group ${describeValue(group)} is not a group of topology ${topology.name} (known: ${listNames(topology.groupIds)})`,
      );
    }
    if (overlay.kind === "cdag" && topology.isAuxiliary(group)) {
      throw new InputError(
        source,
        field,
        `group ${describeValue(group)} is auxiliary in topology ${topology.name}; a C-DAG orders target groups only`,
      );
    }
    if (
      overlay.kind === "tree" &&
      overlay.role(group) !== (topology.isAuxiliary(group) ? "auxiliary" : "target")
    ) {
      throw new InputError(
        source,
        field,
        `group ${describeValue(group)} is ${overlay.role(group)} here but ${topology.isAuxiliary(group) ? "auxiliary" : "a target"} in topology ${topology.name}`,
      );
    }
  }
  for (const group of topology.targetGroupIds) {
    if (!overlay.hasGroup(group)) {
      const what =
        overlay.kind === "cdag"
          ? "a C-DAG lists every target group exactly once"
          : "a tree holds every target group";
      throw new InputError(
        source,
        field,
        `group ${describeValue(group)} of topology ${topology.name} is missing: ${what}`,
      );
    }
  }
}

/** The groups a workload may address: a tree's target groups, or the topology's. */
export function targetGroups(overlay: Overlay | null, topology: Topology): readonly GroupId[] {
  if (overlay?.kind === "tree") return overlay.targets;
  return topology.targetGroupIds;
}

/** The groups a protocol run uses (and replicates): the overlay's, or the topology's targets. */
export function runGroups(overlay: Overlay | null, topology: Topology): readonly GroupId[] {
  return overlay === null ? topology.targetGroupIds : [...overlay.groups].sort(compareIds);
}
