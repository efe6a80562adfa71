import { assert } from "@amcast/core";

/**
 * Directed graphs over dense integer nodes, stored as CSR (offsets + targets) in typed arrays, with
 * an integer label per edge (the process that ordered it, or -1). Every algorithm here is
 * iterative: order graphs reach millions of nodes, far past the call stack's depth.
 */
export interface Digraph {
  readonly nodeCount: number;
  /** Edges of node v are offsets[v] .. offsets[v + 1] - 1. */
  readonly offsets: Int32Array;
  readonly targets: Int32Array;
  readonly labels: Int32Array;
}

/** A growable list of labelled edges, appended to before the graph is frozen into CSR. */
export class EdgeList {
  private sources: Int32Array;
  private targets: Int32Array;
  private labels: Int32Array;
  private count = 0;

  /** `capacity`: the expected number of edges, so that big graphs are not copied while growing. */
  constructor(capacity = 16) {
    this.sources = new Int32Array(Math.max(capacity, 16));
    this.targets = new Int32Array(Math.max(capacity, 16));
    this.labels = new Int32Array(Math.max(capacity, 16));
  }

  get length(): number {
    return this.count;
  }

  add(source: number, target: number, label: number): void {
    if (this.count === this.sources.length) this.grow();
    this.sources[this.count] = source;
    this.targets[this.count] = target;
    this.labels[this.count] = label;
    this.count += 1;
  }

  /** Freezes the edges into CSR; edges of one node keep their insertion order. */
  toDigraph(nodeCount: number): Digraph {
    const offsets = new Int32Array(nodeCount + 1);
    for (let edge = 0; edge < this.count; edge += 1) {
      const source = this.sources[edge] as number;
      assert(source >= 0 && source < nodeCount, () => `edge source ${source} outside 0..${nodeCount - 1}`);
      offsets[source + 1] = (offsets[source + 1] as number) + 1;
    }
    for (let node = 0; node < nodeCount; node += 1) {
      offsets[node + 1] = (offsets[node + 1] as number) + (offsets[node] as number);
    }
    const targets = new Int32Array(this.count);
    const labels = new Int32Array(this.count);
    const fill = offsets.slice(0, nodeCount);
    for (let edge = 0; edge < this.count; edge += 1) {
      const source = this.sources[edge] as number;
      const slot = fill[source] as number;
      targets[slot] = this.targets[edge] as number;
      labels[slot] = this.labels[edge] as number;
      fill[source] = slot + 1;
    }
    return { nodeCount, offsets, targets, labels };
  }

  private grow(): void {
    const capacity = this.sources.length * 2;
    const sources = new Int32Array(capacity);
    const targets = new Int32Array(capacity);
    const labels = new Int32Array(capacity);
    sources.set(this.sources);
    targets.set(this.targets);
    labels.set(this.labels);
    this.sources = sources;
    this.targets = targets;
    this.labels = labels;
  }
}

export interface Components {
  /** Per node: its strongly connected component's number. */
  readonly componentOf: Int32Array;
  /** The components that contain a cycle (more than one node, or a self-loop), as node lists. */
  readonly cyclic: readonly (readonly number[])[];
}

/** Tarjan's strongly connected components with an explicit call stack. */
export function stronglyConnectedComponents(graph: Digraph): Components {
  const { nodeCount, offsets, targets } = graph;
  const order = new Int32Array(nodeCount).fill(-1); // discovery index, -1 = unvisited
  const low = new Int32Array(nodeCount);
  const onStack = new Uint8Array(nodeCount);
  const componentStack = new Int32Array(nodeCount);
  let componentStackSize = 0;
  // The explicit recursion: the node being explored and the next edge to look at.
  const callNode = new Int32Array(nodeCount);
  const callEdge = new Int32Array(nodeCount);
  let depth = 0;
  const componentOf = new Int32Array(nodeCount).fill(-1);
  const cyclic: number[][] = [];
  let nextOrder = 0;
  let componentCount = 0;

  for (let root = 0; root < nodeCount; root += 1) {
    if (order[root] !== -1) continue;
    order[root] = nextOrder;
    low[root] = nextOrder;
    nextOrder += 1;
    componentStack[componentStackSize++] = root;
    onStack[root] = 1;
    callNode[0] = root;
    callEdge[0] = offsets[root] as number;
    depth = 1;

    while (depth > 0) {
      const node = callNode[depth - 1] as number;
      let edge = callEdge[depth - 1] as number;
      const end = offsets[node + 1] as number;
      let descended = false;
      while (edge < end) {
        const target = targets[edge] as number;
        edge += 1;
        if (order[target] === -1) {
          callEdge[depth - 1] = edge;
          order[target] = nextOrder;
          low[target] = nextOrder;
          nextOrder += 1;
          componentStack[componentStackSize++] = target;
          onStack[target] = 1;
          callNode[depth] = target;
          callEdge[depth] = offsets[target] as number;
          depth += 1;
          descended = true;
          break;
        }
        if (onStack[target] === 1 && (order[target] as number) < (low[node] as number)) {
          low[node] = order[target] as number;
        }
      }
      if (descended) continue;

      // All edges of `node` explored: close its component if it is the root of one.
      if (low[node] === order[node]) {
        const component = componentCount;
        componentCount += 1;
        let size = 0;
        let member: number;
        do {
          member = componentStack[--componentStackSize] as number;
          onStack[member] = 0;
          componentOf[member] = component;
          size += 1;
        } while (member !== node);
        if (size > 1 || hasSelfLoop(graph, node)) {
          cyclic.push(Array.from(componentStack.subarray(componentStackSize, componentStackSize + size)));
        }
      }
      depth -= 1;
      if (depth > 0) {
        const parent = callNode[depth - 1] as number;
        if ((low[node] as number) < (low[parent] as number)) low[parent] = low[node] as number;
      }
    }
  }
  return { componentOf, cyclic };
}

function hasSelfLoop(graph: Digraph, node: number): boolean {
  for (let edge = graph.offsets[node] as number; edge < (graph.offsets[node + 1] as number); edge += 1) {
    if (graph.targets[edge] === node) return true;
  }
  return false;
}

/** One edge of a cycle, with the edge's label. */
export interface CycleStep {
  readonly from: number;
  readonly to: number;
  readonly label: number;
}

const UNREACHED = 0x7fffffff;

/**
 * Finds short cycles inside one strongly connected component. Edges leaving nodes numbered
 * `freeFrom` or above cost nothing: those are helper nodes (real-time barriers) whose paths the
 * report collapses into one edge, so the cycle that is shortest once collapsed is the one wanted.
 * Scratch arrays are allocated once and reset after each search, so many searches stay cheap.
 */
export class CycleFinder {
  private readonly distance: Int32Array;
  private readonly parentEdge: Int32Array;
  private readonly parentNode: Int32Array;
  private readonly done: Uint8Array;

  constructor(
    private readonly graph: Digraph,
    private readonly componentOf: Int32Array,
    private readonly freeFrom: number,
  ) {
    this.distance = new Int32Array(graph.nodeCount).fill(UNREACHED);
    this.parentEdge = new Int32Array(graph.nodeCount);
    this.parentNode = new Int32Array(graph.nodeCount);
    this.done = new Uint8Array(graph.nodeCount);
  }

  /** A cycle through `source` of least cost (0-1 BFS restricted to its component), from `source` on. */
  shortestCycleThrough(source: number): CycleStep[] {
    const { offsets, targets } = this.graph;
    const component = this.componentOf[source] as number;
    const touched: number[] = [source];
    this.distance[source] = 0;
    let bestCost = UNREACHED;
    let bestEdge = -1;
    let bestFrom = -1;
    let layer: number[] = [source];
    let cost = 0;
    while (layer.length > 0 && bestCost > cost) {
      const nextLayer: number[] = [];
      // `layer` grows while it is scanned: zero-cost edges keep their target at the same cost.
      for (let index = 0; index < layer.length; index += 1) {
        const node = layer[index] as number;
        if (this.done[node] === 1 || this.distance[node] !== cost) continue;
        this.done[node] = 1;
        const step = node < this.freeFrom ? 1 : 0;
        for (let edge = offsets[node] as number; edge < (offsets[node + 1] as number); edge += 1) {
          const target = targets[edge] as number;
          if (this.componentOf[target] !== component) continue;
          if (target === source) {
            if (cost + step < bestCost) {
              bestCost = cost + step;
              bestEdge = edge;
              bestFrom = node;
            }
            continue;
          }
          const reached = cost + step;
          if (reached >= (this.distance[target] as number)) continue;
          if (this.distance[target] === UNREACHED) touched.push(target);
          this.distance[target] = reached;
          this.parentEdge[target] = edge;
          this.parentNode[target] = node;
          (step === 0 ? layer : nextLayer).push(target);
        }
      }
      layer = nextLayer;
      cost += 1;
    }
    assert(bestEdge !== -1, "a node of a cyclic component lies on a cycle");

    const steps: CycleStep[] = [{ from: bestFrom, to: source, label: this.graph.labels[bestEdge] as number }];
    for (let node = bestFrom; node !== source; node = this.parentNode[node] as number) {
      const edge = this.parentEdge[node] as number;
      steps.push({
        from: this.parentNode[node] as number,
        to: node,
        label: this.graph.labels[edge] as number,
      });
    }
    steps.reverse();

    for (const node of touched) {
      this.distance[node] = UNREACHED;
      this.done[node] = 0;
    }
    return steps;
  }
}
