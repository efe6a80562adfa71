import { createHash } from "node:crypto";
import type { ProcessId } from "@amcast/core";
import { assert, compareIds } from "@amcast/core";

/**
 * A node is one OS process of a cluster: a replica (hosting exactly one replica process) or a
 * client host (hosting the logic of several clients). Links, keys and authentication are per
 * ordered pair of nodes; a node may send only as the processes it hosts.
 */
export type NodeId = string;
export type NodeRole = "replica" | "clients";

export interface NodeSpec {
  readonly id: NodeId;
  readonly role: NodeRole;
  /** The logical processes (ProcessLogic ids) this node runs. */
  readonly processes: readonly ProcessId[];
}

export interface NodeAddress {
  readonly host: string;
  readonly port: number;
}

/** Longest node or process id, in UTF-8 bytes (the handshake stores it with a 16-bit length). */
export const ID_BYTES_MAX = 1024;

export function checkId(id: string, what: string): void {
  assert(id.length > 0, () => `${what} id is empty`);
  assert(!id.includes("\u0000"), () => `${what} id ${JSON.stringify(id)} contains a NUL character`);
  assert(
    Buffer.byteLength(id) <= ID_BYTES_MAX,
    () => `${what} id ${JSON.stringify(id.slice(0, 40))}... is over ${ID_BYTES_MAX} bytes`,
  );
}

/**
 * Every node and process of a cluster, with small integer indices for processes: frames name a
 * message's sender and receiver by index. Both ends of a link must hold the same table; the
 * handshake compares `digest`s and refuses a peer whose table differs.
 */
export class NodeTable {
  readonly nodes: readonly NodeSpec[];
  readonly digest: Buffer;
  private readonly nodeById = new Map<NodeId, NodeSpec>();
  private readonly processIds: ProcessId[] = [];
  private readonly processIndexById = new Map<ProcessId, number>();
  /** Node of each process, by process index. */
  private readonly nodeOfIndex: NodeSpec[] = [];

  constructor(nodes: readonly NodeSpec[]) {
    this.nodes = [...nodes].sort((a, b) => compareIds(a.id, b.id));
    for (const node of this.nodes) {
      checkId(node.id, "node");
      assert(!this.nodeById.has(node.id), () => `node ${node.id} is listed twice`);
      assert(
        node.role !== "replica" || node.processes.length === 1,
        () => `replica node ${node.id} hosts one process`,
      );
      this.nodeById.set(node.id, node);
      for (const process of node.processes) {
        checkId(process, "process");
        assert(!this.processIndexById.has(process), () => `process ${process} is hosted twice`);
        this.processIndexById.set(process, this.processIds.length);
        this.processIds.push(process);
        this.nodeOfIndex.push(node);
      }
    }
    const canonical = JSON.stringify(this.nodes.map((node) => [node.id, node.role, node.processes]));
    this.digest = createHash("sha256").update(canonical).digest();
  }

  node(id: NodeId): NodeSpec | undefined {
    return this.nodeById.get(id);
  }

  processIndex(id: ProcessId): number | undefined {
    return this.processIndexById.get(id);
  }

  processId(index: number): ProcessId | undefined {
    return this.processIds[index];
  }

  /** The node hosting the process with this index. */
  nodeOfProcess(index: number): NodeSpec | undefined {
    return this.nodeOfIndex[index];
  }

  get processCount(): number {
    return this.processIds.length;
  }

  /**
   * Whether `a` opens the connection to `b`. Client hosts dial replicas (a replica never waits on
   * a client host that may be gone); between replicas the smaller id dials; client hosts never
   * talk to each other.
   */
  dials(a: NodeSpec, b: NodeSpec): boolean {
    if (a.role === "clients") return b.role === "replica";
    if (b.role === "clients") return false;
    return compareIds(a.id, b.id) < 0;
  }

  /** Whether `a` and `b` ever exchange messages (client hosts do not talk to each other). */
  linked(a: NodeSpec, b: NodeSpec): boolean {
    return a.id !== b.id && (a.role === "replica" || b.role === "replica");
  }
}
