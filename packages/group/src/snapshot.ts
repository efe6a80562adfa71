import type { ClientId, GroupId } from "@amcast/core";

/**
 * A replica's state in named partitions, for checkpoints and state transfer. The group layer is
 * pure, so bytes and hashes come from a codec the system passes in: `@amcast/storage`'s format
 * (msgpack partitions, SHA-256 per partition under a Merkle root) is the one every system uses.
 *
 * Partitions of one replica's snapshot (one root vouches for all of them):
 * - `group/order`: the log position the snapshot covers and what the orderer needs to continue
 *   after it (Raft: the term of that entry; PBFT: the digest chain);
 * - `group/replica`: the count of executed inputs;
 * - `group/clients`: the at-most-once table and its reply cache (`ClientRequests`);
 * - `group/streams`: the next item number of every outgoing stream, and per incoming stream the
 *   next expected item and the ordered copies counted toward later ones;
 * - `protocol`: the protocol's group logic (`GroupLogic.snapshot`);
 * - `app/<name>`: each partition of the application's state (`ApplicationState`).
 */
export interface StateCodec {
  /** Plain data to bytes: equal data gives equal bytes. */
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
  /** The manifest (partitions sorted by name, each hashed, under one root) and the bytes. */
  seal(partitions: Iterable<readonly [string, Uint8Array]>): SealedState;
  /** Whether `manifest` is well formed and its hashes fold into `root`. */
  manifestMatches(manifest: StateManifest, root: string): boolean;
  /** Whether `bytes` are partition `name` of `manifest` (size and hash). */
  partitionMatches(manifest: StateManifest, name: string, bytes: Uint8Array): boolean;
}

/** A snapshot's manifest: `@amcast/storage`'s `SnapshotManifest`. */
export interface StateManifest {
  readonly root: string;
  readonly partitions: readonly { readonly name: string; readonly hash: string; readonly bytes: number }[];
}

/** A sealed snapshot: `@amcast/storage`'s `Snapshot`. */
export interface SealedState {
  readonly manifest: StateManifest;
  readonly partitions: ReadonlyMap<string, Uint8Array>;
}

/**
 * An application whose state can be taken out and put back (what `@amcast/smr`'s
 * `StatefulApplication` offers): partitions, each as plain data.
 */
export interface ApplicationState {
  partitions(): readonly string[];
  snapshot(partition: string): unknown;
  restore(partition: string, state: unknown): void;
}

/** A checkpoint a replica holds: the position it covers and its sealed state. */
export interface ReplicaCheckpoint {
  readonly position: number;
  readonly state: SealedState;
}

/** The partition names of the group layer's own state. */
export const PARTITION = {
  order: "group/order",
  replica: "group/replica",
  clients: "group/clients",
  streams: "group/streams",
  protocol: "protocol",
} as const;
export const APPLICATION_PARTITION_PREFIX = "app/";

/** `group/order`: the position a snapshot covers and the orderer's mark there. */
export interface OrderState {
  readonly position: number;
  readonly mark: number | string;
}

/** `group/clients` (see ClientRequests): per client, its floor and executed sequence numbers with replies. */
export type ClientsState = readonly {
  readonly client: ClientId;
  readonly floor: number;
  readonly executed: readonly (readonly [number, unknown])[];
}[];

/** `group/streams` (see OutgoingStreams, IncomingStreams). */
export interface StreamsState {
  readonly outgoing: readonly (readonly [GroupId, number])[];
  readonly incoming: readonly {
    readonly from: GroupId;
    readonly next: number;
    readonly votes: readonly {
      readonly k: number;
      readonly voters: readonly string[];
      readonly byDigest: readonly (readonly [string, number, unknown])[];
    }[];
  }[];
}

/**
 * What a replica's disk keeps across a crash that loses its memory (`amnesia`): only what the
 * orderer needs so that it never contradicts what it said before (Raft: term and vote; PBFT: view,
 * the highest sequence number it voted on, its prepared certificates). Everything else comes back
 * from the group by state transfer.
 */
export type HardState = unknown;

/** Code-unit order, the same at every replica. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
