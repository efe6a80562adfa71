import type { DestinationSet, GroupId, MessageId, Multicast } from "./ids.js";
import type { Overlay, OverlayKind } from "./overlay.js";

/**
 * The one contract: a protocol is pure group logic.
 *
 * A `GroupLogic` is what ONE group does when its next input arrives: `step(input) -> outputs`.
 * It is synchronous and deterministic: no clocks, timers, randomness, sockets, files or async.
 * Feeding the same inputs in the same order to two instances yields the same outputs; the
 * replication layer (@amcast/group) relies on that to run one instance per replica, and the
 * simulator and the network runtime rely on it to run the very same object.
 *
 * What the layer below guarantees to the logic:
 * - every input is handed over exactly once, one at a time;
 * - `peer` inputs from one group arrive in the order that group emitted them (reliable FIFO
 *   group-to-group streams), and `from` is established by the layer below, never by the payload;
 * - `request` inputs are client multicasts addressed (by `ProtocolDefinition.entryGroups`) to
 *   this group; a client's retries are filtered out before they reach the logic.
 */
export type GroupInput<M> =
  | {
      readonly kind: "request";
      readonly message: Multicast;
      /** The overlay view the client addressed the request under (0 until it learns another). */
      readonly view?: number;
    }
  | { readonly kind: "peer"; readonly from: GroupId; readonly body: M }
  | { readonly kind: "tick" };

/**
 * What a step may produce. Outputs are emitted in the order given; sends to one group keep that
 * order. `deliver` hands a message to the local application, which executes it and answers the
 * client; a group delivers each message at most once.
 *
 * For reconfigurable protocols:
 * - `deliver` may carry the `result` the client gets (a control message the protocol answers
 *   itself, such as a statistics request), instead of the application's;
 * - `redirect` tells the client that sent `message` to send it again under overlay view `view`
 *   (`overlay` in its JSON form): the request reached a group after the overlay changed;
 * - `view` says this group installed overlay view `view` (drivers write a `view` trace event).
 */
export type GroupOutput<M> =
  | { readonly kind: "send"; readonly to: GroupId; readonly body: M }
  | { readonly kind: "deliver"; readonly message: Multicast; readonly result?: unknown }
  | {
      readonly kind: "redirect";
      readonly message: Multicast;
      readonly view: number;
      readonly overlay: unknown;
    }
  | { readonly kind: "view"; readonly view: number };

export interface GroupLogic<M> {
  step(input: GroupInput<M>): readonly GroupOutput<M>[];
}

/** Everything a group's logic may know about the system when it is created. */
export interface GroupConfig {
  readonly group: GroupId;
  /** Every group of the system, in canonical order. */
  readonly groups: readonly GroupId[];
  readonly overlay: Overlay | null;
}

/** How a protocol message is accounted for on the wire and in `send` trace events. */
export interface WireDescription {
  /** Short kind for traces and statistics, e.g. "propose". */
  readonly kind: string;
  /** The multicast the message is about, when there is one. */
  readonly id?: MessageId;
  /** Modelled encoded size in bytes (header, ids, timestamps, carried payload). */
  readonly bytes: number;
}

/** One-way delay in ms between two groups, or from a client to a group. */
export interface LatencyModel {
  clientToGroupMs(group: GroupId): number;
  groupToGroupMs(from: GroupId, to: GroupId): number;
}

/**
 * A protocol as the rest of the system sees it: a factory of group logic plus the few facts a
 * client and a driver need. Everything here is pure.
 */
export interface ProtocolDefinition<M = unknown> {
  readonly name: string;
  /** Overlay kind the protocol needs; null when it works on a flat set of groups. */
  readonly overlayKind: OverlayKind | null;
  /** Groups a client sends a new multicast to (Skeen: every destination; overlays: the lca). */
  entryGroups(dst: DestinationSet, overlay: Overlay | null): readonly GroupId[];
  createGroup(config: GroupConfig): GroupLogic<M>;
  describe(body: M): WireDescription;
  /**
   * The protocol's failure-free, contention-free latency in ms from the multicast to the last
   * destination's delivery, as its message pattern implies (no processing cost, no queueing).
   * Experiments compare measured latency against it to see what the simulator adds.
   */
  modelLatencyMs?(dst: DestinationSet, overlay: Overlay | null, latency: LatencyModel): number;
  /**
   * True when the group logic decides itself whether a request reached the right entry group
   * (and redirects it otherwise), as a reconfigurable protocol does: its entry groups change with
   * the overlay view, so the replica's check against the initial overlay would be wrong.
   */
  readonly checksEntry?: boolean;
  /** The multicast a protocol message carries, when it carries one (for reconfiguration). */
  carried?(body: M): Multicast | undefined;
}
