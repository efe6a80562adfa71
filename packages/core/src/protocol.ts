import type { DestinationSet, GroupId, MessageId, Multicast } from "./ids.js";
import type { JsonFields } from "./json.js";
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
 *
 * There is no timer input. Time would have to reach every replica of a group at the same point of
 * its input sequence, so a timeout is an ordered input like any other, which the group layer does
 * not offer; a protocol makes progress on requests and peer messages alone (FlexCast collects its
 * history every N deliveries, not every N ms). Heartbeats, elections and client retries run on
 * driver ticks below this contract, in the group layer.
 */
export type GroupInput<M> =
  | {
      readonly kind: "request";
      readonly message: Multicast;
      /** The overlay view the client addressed the request under (0 until it learns another). */
      readonly view?: number;
    }
  | { readonly kind: "peer"; readonly from: GroupId; readonly body: M };

/**
 * What a step may produce. Outputs are emitted in the order given; sends to one group keep that
 * order. `deliver` hands a message to the local application, which executes it and answers the
 * client; a group delivers each message at most once.
 *
 * For reconfigurable protocols:
 * - `deliver` may carry the `result` the client gets (a control message the protocol answers
 *   itself, such as a statistics request), instead of the application's, and ask the replica to
 *   add the delays it observed (`withDelays`);
 * - `redirect` refuses a request the group took earlier (in this step or in an earlier one: a
 *   request may wait inside the logic, for a view the group has not installed, and be refused on
 *   the peer input that installs a later one) and neither delivered nor refused since. It tells
 *   the client that sent `message` under view `requestView` (the request input's `view`, 0 when
 *   absent) to send it again under overlay view `view` (`overlay` in its JSON form): the request
 *   reached a group after the overlay changed. Clients count refusals per version of a request,
 *   so `requestView` must be the one the request was taken with;
 * - `view` says this group installed overlay view `view` (drivers write a `view` trace event).
 */
export type GroupOutput<M> =
  | { readonly kind: "send"; readonly to: GroupId; readonly body: M }
  | {
      readonly kind: "deliver";
      readonly message: Multicast;
      readonly result?: unknown;
      /**
       * The replica adds to its answer the delays it observed from every group since it last did
       * (`ObservedDelay`; each replica's own, outside the result clients vote on): the answer to
       * a statistics request.
       */
      readonly withDelays?: true;
    }
  | {
      readonly kind: "redirect";
      readonly message: Multicast;
      /** The view the refused request was addressed under (its request input's `view`). */
      readonly requestView: number;
      readonly view: number;
      readonly overlay: unknown;
    }
  | { readonly kind: "view"; readonly view: number };

/**
 * Where a group's logic hands its outputs as it makes them (`GroupLogic.stepInto`): the same
 * outputs in the same order as `step` returns, a `send` or a plain `deliver` by its fields, so a
 * step allocates no output object or array for them.
 */
export interface GroupOutputSink<M> {
  /** A `send` output. */
  send(to: GroupId, body: M): void;
  /** A `deliver` output without `result` or `withDelays`. */
  deliver(message: Multicast): void;
  /** Any output as an object. */
  output(output: GroupOutput<M>): void;
}

/**
 * A sink that collects a step's outputs into an array (`take`): how a logic with `stepInto`
 * answers `step`, so both ways in run the same code.
 */
export class GroupOutputCollector<M> implements GroupOutputSink<M> {
  private outputs: GroupOutput<M>[] = [];

  send(to: GroupId, body: M): void {
    this.outputs.push({ kind: "send", to, body });
  }

  deliver(message: Multicast): void {
    this.outputs.push({ kind: "deliver", message });
  }

  output(output: GroupOutput<M>): void {
    this.outputs.push(output);
  }

  /** The outputs collected since the last call, in order; the collector starts empty again. */
  take(): readonly GroupOutput<M>[] {
    if (this.outputs.length === 0) return NO_GROUP_OUTPUTS as readonly GroupOutput<M>[];
    const outputs = this.outputs;
    this.outputs = [];
    return outputs;
  }
}

const NO_GROUP_OUTPUTS: readonly GroupOutput<never>[] = [];

export interface GroupLogic<M> {
  step(input: GroupInput<M>): readonly GroupOutput<M>[];
  /**
   * The same step as `step`, its outputs handed to `sink` as they are made (same outputs, same
   * order). Optional: the group layer uses it when present, `step` otherwise. The caller may
   * reuse `input` once the call returns: a logic keeps its fields, never the input object.
   */
  stepInto?(input: GroupInput<M>, sink: GroupOutputSink<M>): void;
  /**
   * The logic's whole state as plain data (objects, arrays, strings, numbers, booleans, null):
   * equal state gives equal data, so sort what a Map or Set holds. A replica checkpoints it with
   * the rest of its state, and a replica that lost its memory is rebuilt from it (`restore` on a
   * fresh instance from `createGroup`), after which both take the same steps on the same inputs.
   * Absent: the protocol cannot checkpoint, and its replicas cannot recover by state transfer.
   */
  snapshot?(): unknown;
  /** Puts back what `snapshot` returned, on a fresh instance that took no step yet. */
  restore?(state: unknown): void;
  /**
   * The requests the logic took and holds back unordered (admission control), handed over and
   * forgotten: the caller moved on to another instance (a new overlay view) and sends their
   * clients there. Absent: the logic never holds a request back.
   */
  takeHeldRequests?(): readonly Multicast[];
}

/**
 * What a protocol knows about the system it runs in: the same at every group and every client of
 * a run, on both runtimes. Entry groups, group logic and the latency model all receive it.
 */
export interface ProtocolContext<P = unknown> {
  /**
   * Every group of the system (every group with replicas), in canonical order: the overlay's
   * groups (a tree's auxiliary groups included) or, without an overlay, the topology's groups.
   */
  readonly groups: readonly GroupId[];
  /** The overlay: the run's, or under reconfiguration the current view's. Null for flat protocols. */
  readonly overlay: Overlay | null;
  /** The protocol's parameters as its `parseParams` returned them (undefined when it has none). */
  readonly params: P;
}

/** What a group's logic is created with: the context, and which group it is. */
export interface GroupConfig<P = unknown> extends ProtocolContext<P> {
  readonly group: GroupId;
  /**
   * Under reconfiguration: whether a request changes the overlay view, after which this instance
   * orders no request (a logic that holds requests back releases none after it; the caller takes
   * the rest with `GroupLogic.takeHeldRequests`). Absent: no request does.
   */
  readonly changesView?: (message: Multicast) => boolean;
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

/**
 * One-way delays in ms, as a latency model sees them: `clientToGroupMs(g)` is the delay from the
 * client that multicasts the message (from its region, as the topology places it) to group g;
 * `groupToGroupMs(a, b)` the delay from group a to group b. Neither includes processing or
 * queueing. A model adds up the hops of the protocol's message pattern with them.
 */
export interface LatencyModel {
  clientToGroupMs(group: GroupId): number;
  groupToGroupMs(from: GroupId, to: GroupId): number;
}

/** The system a protocol's parameters are checked against (the context before the parameters). */
export type ParamsSystem = Omit<ProtocolContext, "params">;

/** What every protocol defines, with or without an overlay. */
interface ProtocolBase<M, P> {
  readonly name: string;
  /** Overlay kind the protocol needs; null when it works on a flat set of groups. */
  readonly overlayKind: OverlayKind | null;
  /**
   * Checks the `params` of an experiment's protocol entry (or of a service) and returns them in
   * the form the protocol uses, defaults filled in. `params` is positioned at the entry's
   * `params` field: read fields with it (`params.optionalString("sequencer")`) and throw
   * `params.error(field, problem)`, so a bad value is reported with its file, field and value.
   * Fields left unread are refused as unknown. Absent: the protocol takes no parameters (an
   * empty object or none at all is accepted). Pure and deterministic: every replica and client
   * of a run, on either runtime, parses the same document into the same parameters.
   */
  parseParams?(params: JsonFields, system: ParamsSystem): P;
  /**
   * Groups a client sends a new multicast to (Skeen: every destination; overlays: the lca; a
   * fixed sequencer: the sequencer group, a destination or not).
   */
  entryGroups(dst: DestinationSet, context: ProtocolContext<P>): readonly GroupId[];
  createGroup(config: GroupConfig<P>): GroupLogic<M>;
  /** Kind, multicast id and modelled size of a protocol message, for traces and statistics. Mandatory. */
  describe(body: M): WireDescription;
  /**
   * The protocol's failure-free, contention-free latency in ms from the multicast to the last
   * destination's delivery, as its message pattern implies (no processing cost, no queueing),
   * from the delays of `latency` (see `LatencyModel`: `clientToGroupMs` is measured from the
   * multicasting client). Experiments report measured latency over it ("model x"), which shows
   * what queueing, contention and replication add. Optional: without it the column stays empty.
   */
  modelLatencyMs?(dst: DestinationSet, context: ProtocolContext<P>, latency: LatencyModel): number;
  /**
   * True when the group logic decides itself whether a request reached the right entry group
   * (and redirects it otherwise), as a reconfigurable protocol does: its entry groups change with
   * the overlay view, so the replica's check against the initial overlay would be wrong.
   */
  readonly checksEntry?: boolean;
}

/** A protocol on a flat set of groups (Skeen, a fixed sequencer). */
export interface FlatProtocolDefinition<M = unknown, P = unknown> extends ProtocolBase<M, P> {
  readonly overlayKind: null;
  /** The multicast a protocol message carries, when it carries one. */
  carried?(body: M): Multicast | undefined;
}

/** A protocol on an overlay (FlexCast on a C-DAG, ByzCast on a tree). */
export interface OverlayProtocolDefinition<M = unknown, P = unknown> extends ProtocolBase<M, P> {
  readonly overlayKind: OverlayKind;
  /**
   * The multicast a protocol message carries, when it carries one. Mandatory for overlay
   * protocols: reconfiguration (@amcast/reconfig) runs every overlay protocol, and a group that
   * only forwards the VIEW control message installs the new view when it forwards it.
   */
  carried(body: M): Multicast | undefined;
}

/**
 * A protocol as the rest of the system sees it: a factory of group logic plus the few facts a
 * client and a driver need. Everything here is pure. `M` is the protocol's message type, `P` the
 * type of its parsed parameters.
 */
export type ProtocolDefinition<M = unknown, P = unknown> =
  | FlatProtocolDefinition<M, P>
  | OverlayProtocolDefinition<M, P>;
