import type { ControllerReport } from "@amcast/system";
import type { HostStats } from "./host.js";
import type { NodeAddress } from "./nodes.js";

/**
 * The control channel between the network runner and the nodes it starts (Node's IPC channel of
 * `child_process.fork`). Nodes started by hand have none and run from their deployment file.
 *
 * runner -> node: `peers` (where every replica listens, once all listen; to a restarted replica,
 * where the live ones listen and which nodes are down), `start` (client hosts: run the workload),
 * `status` (asks for a `status` answer), `crashed` (a node was killed for a crash fault: stop
 * talking to it), `recovered` (a killed replica was restarted from its data directory: talk to it
 * again, at its new address), `partition` (the peers a fault plan's partitions cut this node
 * from, from now on), `finish` (client hosts: start no more multicasts, done once those in flight
 * complete), `stop` (write the trace out, close, answer `stopped`, exit).
 * node -> runner: `listening` (the port it got), `connected` (its links are up), `progress` and
 * `done` (client hosts), `status`, `stopped`, `fatal` (it cannot go on; it exits next).
 */
export type RunnerMessage =
  | {
      readonly type: "peers";
      readonly addresses: Record<string, NodeAddress>;
      /** Nodes killed for a crash fault and not restarted (a restarted replica's peers). */
      readonly down?: readonly string[];
    }
  | { readonly type: "start" }
  | { readonly type: "status" }
  /** `node` was killed (a crash fault): drop the link to it until it is `recovered`. */
  | { readonly type: "crashed"; readonly node: string }
  /** `node` was restarted and listens at `address`: the link to it is up again. */
  | { readonly type: "recovered"; readonly node: string; readonly address: NodeAddress }
  /** From now on the links to exactly `peers` are cut (empty: every link healed). */
  | { readonly type: "partition"; readonly peers: readonly string[] }
  | { readonly type: "finish" }
  | { readonly type: "stop" };

export interface NodeStatus {
  /** Nothing queued on its links, and its processes idle (when they tell). */
  readonly quiet: boolean;
  readonly messageEvents: number;
  readonly deliveries: number;
  readonly multicasts: number;
  readonly completed: number;
  /** A replica: the replica its group's orderer believes leads, if any. */
  readonly leader?: string;
  /** A replica that keeps checkpointed state: the log position of its latest checkpoint (0: none yet). */
  readonly checkpoint?: number;
  /** Messages its transport held so far because a partition cut their link. */
  readonly heldByPartition: number;
  /** A client host: the multicasts it started so far to each group (those it started any to). */
  readonly multicastsTo?: Readonly<Record<string, number>>;
}

export type NodeMessage =
  | { readonly type: "listening"; readonly port: number }
  | { readonly type: "connected" }
  | { readonly type: "progress"; readonly multicasts: number; readonly completed: number }
  | { readonly type: "done" }
  | { readonly type: "status"; readonly status: NodeStatus }
  /** `controller`: from the client host that ran the reconfiguration controller, what it did. */
  | { readonly type: "stopped"; readonly stats: HostStats; readonly controller?: ControllerReport }
  | { readonly type: "fatal"; readonly message: string };

/** Environment variable carrying the run's start instant (process.hrtime.bigint(), in ns). */
export const START_NS_ENV = "AMCAST_START_NS";
