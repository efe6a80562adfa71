import type {
  ClientId,
  DestinationSet,
  GroupId,
  MessageId,
  Multicast,
  Overlay,
  ProtocolDefinition,
} from "@amcast/core";
import {
  CdagOverlay,
  compareIds,
  describeValue,
  destinationSet,
  InputError,
  listNames,
  parseOverlay,
  protocolContext,
  TreeOverlay,
} from "@amcast/core";
import type {
  ApplicationState,
  Application as GroupApplication,
  ReplicationMode,
  StateCodec,
} from "@amcast/group";
import { Membership, replicaCount } from "@amcast/group";
import { linearizable } from "@amcast/linearizable";
import type { ProtocolName } from "@amcast/protocols";
import { protocolByName } from "@amcast/protocols";
import { STATE_CODEC } from "@amcast/storage";
import { WHOLE_STATE } from "./snapshot.js";

/** A delivered message as the application sees it. */
export interface Message<P = unknown> {
  /** Unique per message: `<client>:<sequence number>`. */
  readonly id: MessageId;
  readonly client: ClientId;
  /** The destination groups, sorted. */
  readonly dst: readonly GroupId[];
  readonly payload: P;
}

/**
 * The state machine of one replica of a group: called once per delivered message, in delivery
 * order, and its return value is the reply the client gets from this group. It must be
 * deterministic (the same messages in the same order give the same replies at every replica) and
 * synchronous; replies (and payloads, over the network) must be plain data: objects, arrays,
 * strings, numbers, booleans, null.
 */
export type Application<P = unknown, R = unknown> = (message: Message<P>) => R;

/**
 * An application whose state is explicit, so a replica can be checkpointed and rebuilt: from a
 * snapshot plus the messages after it, or from a snapshot fetched from its group. The state may be
 * split into partitions (key ranges, hash buckets): each is snapshotted, hashed and restored on its
 * own, so a recovering replica can fetch and verify them one at a time (see `snapshotApplication`).
 */
export interface StatefulApplication<P = unknown, R = unknown> {
  /** Executes one delivered message, as an `Application` does. */
  apply(message: Message<P>): R;
  /**
   * The names of the partitions the state is split into, the same at every replica with the same
   * state (a fixed set is simplest). Absent: one partition, `WHOLE_STATE`.
   */
  partitions?(): readonly string[];
  /**
   * One partition's state as plain data (objects, arrays, strings, numbers, booleans, null). Equal
   * states must give equal data at every replica: sort what a Map or Set holds.
   */
  snapshot(partition: string): unknown;
  /**
   * Replaces one partition's state with what `snapshot` returned (at any replica). A whole snapshot
   * is restored partition by partition into an application whose other partitions are empty.
   */
  restore(partition: string, state: unknown): void;
}

/** What a replica runs: a function of each message, or an application with explicit state. */
export type ReplicaApplication<P = unknown, R = unknown> = Application<P, R> | StatefulApplication<P, R>;

/** What every destination group answered, by group. */
export type Replies<R = unknown> = Readonly<Record<GroupId, R>>;

/** A client of the service. */
export interface Client<P = unknown, R = unknown> {
  /** The client process's id (message ids start with it). */
  readonly id: ClientId;
  /**
   * Atomically multicasts `payload` to `destinations` (one group or several): every destination
   * group delivers it, in an order consistent with every other multicast. Resolves with each
   * group's reply once all destination groups answered.
   */
  multicast(destinations: GroupId | Iterable<GroupId>, payload: P): Promise<Replies<R>>;
  /**
   * Now, in ms, on the clock of the client's trace: virtual time on the simulator, the client
   * host's clock on the network. What a service's history is timed with (docs/history.md).
   */
  nowMs(): number;
}

/** The protocol side of a service: which atomic multicast protocol, and how groups are replicated. */
export interface ServiceOptions {
  /** The atomic multicast protocol (default "skeen"). */
  readonly protocol?: ProtocolName | ProtocolDefinition<unknown>;
  /**
   * The overlay, as an overlay document (README, "Topologies, overlays and experiments"), for
   * protocols that need one. Default: FlexCast orders the groups as given; ByzCast puts the first
   * group at the root of a tree whose other groups are its children.
   */
  readonly overlay?: unknown;
  /**
   * The protocol's parameters, checked by the protocol (e.g. `{ sequencer: "eu" }` for the
   * fixed sequencer); default: none, the protocol's defaults.
   */
  readonly params?: unknown;
  /** How each group is replicated (default "solo"): 1, 2f+1 (crash) or 3f+1 (byzantine) replicas. */
  readonly mode?: ReplicationMode;
  /** Faulty replicas tolerated per group in crash and byzantine mode (default 1). */
  readonly f?: number;
  /** Real-time order on top of atomic multicast (the ACK barrier of @amcast/linearizable). */
  readonly linearizable?: boolean;
}

export interface ResolvedService {
  readonly protocol: ProtocolDefinition<unknown>;
  readonly overlay: Overlay | null;
  /** The protocol's parameters as given (checked); the group layer parses them at every process. */
  readonly params: unknown;
  readonly mode: ReplicationMode;
  readonly f: number;
  readonly membership: Membership;
}

/** Protocol, overlay and membership of a service of `groups`; `source` names the caller in errors. */
export function resolveService(
  groups: readonly GroupId[],
  options: ServiceOptions,
  source: string,
): ResolvedService {
  if (groups.length === 0) throw new InputError(source, "groups", "a service has at least one group");
  if (new Set(groups).size !== groups.length) throw new InputError(source, "groups", "lists a group twice");
  for (const group of groups)
    if (typeof group !== "string" || group === "" || group.includes("/") || group.includes(":"))
      throw new InputError(
        source,
        "groups",
        `group id ${describeValue(group)} must be a non-empty string without "/" or ":"`,
      );
  const named = options.protocol ?? "skeen";
  let protocol = typeof named === "string" ? protocolByName(named, source, "protocol") : named;
  const overlay = resolveOverlay(protocol, groups, options.overlay, source);
  const sorted = [...groups].sort(compareIds);
  protocolContext(protocol, options.params, { groups: sorted, overlay }, source, "params");
  if (options.linearizable === true) protocol = linearizable(protocol) as ProtocolDefinition<unknown>;
  const mode = options.mode ?? "solo";
  if (mode !== "solo" && mode !== "crash" && mode !== "byzantine")
    throw new InputError(
      source,
      "mode",
      `expected "solo", "crash" or "byzantine", got ${describeValue(mode)}`,
    );
  const f = mode === "solo" ? 0 : (options.f ?? 1);
  if (!Number.isInteger(f) || f < (mode === "solo" ? 0 : 1))
    throw new InputError(source, "f", `expected a whole number >= 1, got ${describeValue(options.f)}`);
  return {
    protocol,
    overlay,
    params: options.params,
    mode,
    f,
    membership: Membership.uniform(sorted, replicaCount(mode, f)),
  };
}

function resolveOverlay(
  protocol: ProtocolDefinition<unknown>,
  groups: readonly GroupId[],
  doc: unknown,
  source: string,
): Overlay | null {
  if (protocol.overlayKind === null) {
    if (doc !== undefined)
      throw new InputError(source, "overlay", `protocol ${protocol.name} takes no overlay`);
    return null;
  }
  let overlay: Overlay;
  if (doc !== undefined) overlay = parseOverlay(doc, `${source} overlay`);
  else if (protocol.overlayKind === "cdag") overlay = new CdagOverlay("service", groups);
  else {
    const [root, ...children] = groups as [GroupId, ...GroupId[]];
    overlay = new TreeOverlay(
      "service",
      new Map(groups.map((group) => [group, "target" as const])),
      children.map((child) => [root, child] as const),
    );
  }
  if (overlay.kind !== protocol.overlayKind)
    throw new InputError(
      source,
      "overlay",
      `protocol ${protocol.name} needs a ${protocol.overlayKind} overlay`,
    );
  const missing = overlay.groups.filter((group) => !groups.includes(group));
  const extra = groups.filter((group) => !overlay.hasGroup(group));
  if (missing.length > 0 || extra.length > 0)
    throw new InputError(
      source,
      "overlay",
      `must hold exactly the service's groups${missing.length > 0 ? `; not groups: ${missing.join(", ")}` : ""}${extra.length > 0 ? `; missing: ${extra.join(", ")}` : ""}`,
    );
  return overlay;
}

/** The groups a client may address: a tree's target groups, or every group. */
export function addressableGroups(service: ResolvedService): readonly GroupId[] {
  return service.overlay?.kind === "tree" ? service.overlay.targets : service.membership.groups;
}

/** The canonical destination set of a `multicast` call, checked against the service's groups. */
export function destinationsOf(
  destinations: GroupId | Iterable<GroupId>,
  service: ResolvedService,
): DestinationSet {
  const list = typeof destinations === "string" ? [destinations] : [...destinations];
  if (list.length === 0) throw new InputError("multicast", "destinations", "name at least one group");
  const allowed = addressableGroups(service);
  for (const group of list)
    if (!allowed.includes(group))
      throw new InputError(
        "multicast",
        "destinations",
        `${describeValue(group)} is not a group of the service (groups: ${listNames(allowed)})`,
      );
  return destinationSet(list);
}

/** The group layer's application callback for a user's application. */
export function groupApplication<P, R>(application: ReplicaApplication<P, R>): GroupApplication {
  const apply: Application<P, R> =
    typeof application === "function" ? application : (message) => application.apply(message);
  return (message: Multicast) =>
    apply({
      id: message.id,
      client: message.client,
      dst: message.dst,
      payload: message.payload as P,
    });
}

/**
 * What the group layer needs to checkpoint a replica running `application`: the state codec
 * (`@amcast/storage`'s format, so replicas checkpoint, truncate their logs and can fetch a
 * checkpoint from their group) and, for a `StatefulApplication`, its partitions, which then
 * travel in every checkpoint as `app/<name>` (a replica that lost its memory gets its
 * application's state back by state transfer).
 */
export function groupState<P, R>(
  application: ReplicaApplication<P, R>,
): { readonly codec: StateCodec; readonly state?: ApplicationState } {
  if (typeof application === "function") return { codec: STATE_CODEC };
  return {
    codec: STATE_CODEC,
    state: {
      partitions: () => application.partitions?.() ?? [WHOLE_STATE],
      snapshot: (partition) => application.snapshot(partition),
      restore: (partition, state) => application.restore(partition, state),
    },
  };
}
