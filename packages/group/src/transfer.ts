import type { ProcessId } from "@amcast/core";
import type { ReplicaCheckpoint, SealedState, StateCodec, StateManifest } from "./snapshot.js";

/**
 * State transfer inside a group: messages between the replicas of one group (the `state`
 * envelope), each bounded by what it carries (one manifest, or one chunk of a partition).
 *
 * - `manifest-request` / `manifest`: a replica's latest checkpoint: its position and manifest
 *   (null: none yet).
 * - `partition-request` / `partition`: one partition of the checkpoint at `position` (null: the
 *   server no longer holds that checkpoint). A partition larger than `TRANSFER_CHUNK_BYTES`
 *   travels in chunks of that size, each asked for by its `offset` (absent: 0), so no message
 *   outgrows a network frame however large the partition; the whole partition is verified
 *   against its hash once its last chunk arrived.
 */
export type TransferMessage =
  | { readonly type: "manifest-request" }
  | { readonly type: "manifest"; readonly position: number; readonly manifest: StateManifest | null }
  | {
      readonly type: "partition-request";
      readonly position: number;
      readonly name: string;
      readonly offset?: number;
    }
  | {
      readonly type: "partition";
      readonly position: number;
      readonly name: string;
      readonly offset?: number;
      readonly bytes: Uint8Array | null;
    };

/**
 * The most bytes of a partition one `partition` message carries: well below the network
 * runtime's frame limit (4 MiB), so a chunk and its envelope always fit.
 */
export const TRANSFER_CHUNK_BYTES = 1 << 20;

/** Modelled header bytes of a transfer message; a manifest entry costs its name, hash and size. */
const HEADER_BYTES = 24;
const MANIFEST_ENTRY_BYTES = 48;

/** A checkpoint to fetch as vouched for: its position and root (crash mode: the leader's word). */
export interface TrustedCheckpoint {
  readonly position: number;
  readonly root: string;
}

export interface FetchHost {
  readonly self: ProcessId;
  /** The group's other replicas. */
  readonly peers: readonly ProcessId[];
  send(to: ProcessId, message: TransferMessage, bytes: number, label: string): void;
  now(): number;
}

export interface FetchOptions {
  /** Replicas that must report the same (position, root) before it is trusted: f+1 (Byzantine). */
  readonly vouchesNeeded: number;
  /** Partition requests outstanding per source. */
  readonly inFlightPerSource: number;
  /** A request unanswered this long (ticks) goes to another source. */
  readonly requestTimeoutTicks: number;
}

/** Answers a peer's transfer request from this replica's latest checkpoint. */
export function serveTransfer(
  checkpoint: ReplicaCheckpoint | undefined,
  from: ProcessId,
  message: TransferMessage,
  send: FetchHost["send"],
): void {
  if (message.type === "manifest-request") {
    const manifest = checkpoint?.state.manifest ?? null;
    send(
      from,
      { type: "manifest", position: checkpoint?.position ?? 0, manifest },
      HEADER_BYTES + MANIFEST_ENTRY_BYTES * (manifest?.partitions.length ?? 0),
      "state.manifest",
    );
  } else if (message.type === "partition-request" && typeof message.name === "string") {
    const offset = message.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) return;
    const whole =
      checkpoint !== undefined && checkpoint.position === message.position
        ? (checkpoint.state.partitions.get(message.name) ?? null)
        : null;
    // A partition that fits one chunk goes whole (the same message as before chunks existed).
    const bytes =
      whole === null || whole.length <= TRANSFER_CHUNK_BYTES
        ? whole
        : whole.subarray(offset, offset + TRANSFER_CHUNK_BYTES);
    send(
      from,
      {
        type: "partition",
        position: message.position,
        name: message.name,
        ...(offset === 0 ? {} : { offset }),
        bytes,
      },
      HEADER_BYTES + message.name.length + (bytes?.length ?? 0),
      "state.partition",
    );
  }
}

/**
 * Fetches a checkpoint from the group, driven by messages and the group's ticks only (so it runs
 * the same on the simulator and on real processes):
 *
 * 1. asks every other replica for its manifest; trusts the (position, root) vouched for — by the
 *    leader (crash mode), by 2f+1 signed checkpoint messages (Byzantine mode, a stable
 *    checkpoint) — or, in Byzantine mode, the newest one `vouchesNeeded` (f+1) replicas report
 *    alike, so one of them is correct; above the position this replica already holds;
 * 2. fetches the partitions in parallel, spread over the replicas that hold that checkpoint, each
 *    verified against the trusted manifest on arrival;
 * 3. a partition that does not match marks its server faulty (never asked again) and is fetched
 *    from another; one unanswered for `requestTimeoutTicks` goes to another server (the slow one
 *    is asked again only when no other is left); with no server left, it starts over from 1.
 *
 * Starting over happens whenever the group checkpoints on faster than the fetch completes (every
 * server has dropped the checkpoint being fetched). The newer checkpoint keeps only the partitions
 * already received that it holds unchanged (same hash); every other one is fetched again, so the
 * checkpoint returned is one checkpoint whole, never partitions of two.
 */
export class StateFetch {
  /** Servers caught serving a partition that did not match its hash. */
  readonly faulty = new Set<ProcessId>();
  bytesReceived = 0;
  private manifests = new Map<ProcessId, { position: number; manifest: StateManifest }>();
  private trustedManifest: StateManifest | undefined;
  private trustedPosition = 0;
  private sources: ProcessId[] = [];
  /** Partitions received and verified, with the hash they were verified against. */
  private readonly received = new Map<string, { readonly bytes: Uint8Array; readonly hash: string }>();
  private pending: string[] = [];
  /** Per partition being fetched: its source, when its last chunk was asked for, the chunks so far. */
  private readonly inFlight = new Map<
    string,
    { source: ProcessId; sentAt: number; offset: number; chunks: Uint8Array[] }
  >();
  private readonly slow = new Set<ProcessId>();
  private turn = 0;
  private askedAt = 0;

  constructor(
    private readonly host: FetchHost,
    private readonly codec: StateCodec,
    private readonly options: FetchOptions,
    /** Only checkpoints above this position are worth fetching. */
    private readonly abovePosition: number,
    private readonly trusted: TrustedCheckpoint | undefined,
  ) {
    this.askManifests();
  }

  /** The checkpoint being fetched, once one is trusted. */
  get target(): TrustedCheckpoint | undefined {
    return this.trustedManifest === undefined
      ? this.trusted
      : { position: this.trustedPosition, root: this.trustedManifest.root };
  }

  /** Handles a transfer message; returns the whole verified checkpoint once the last partition arrived. */
  onMessage(from: ProcessId, message: TransferMessage): ReplicaCheckpoint | undefined {
    if (this.faulty.has(from) || !this.host.peers.includes(from)) return undefined;
    if (message.type === "manifest") this.onManifest(from, message.position, message.manifest);
    else if (message.type === "partition") return this.onPartition(from, message);
    return undefined;
  }

  tick(): void {
    const now = this.host.now();
    if (this.trustedManifest === undefined) {
      if (now - this.askedAt >= this.options.requestTimeoutTicks) this.askManifests();
      return;
    }
    for (const [name, request] of this.inFlight) {
      if (now - request.sentAt < this.options.requestTimeoutTicks) continue;
      this.inFlight.delete(name);
      this.slow.add(request.source);
      this.pending.push(name);
    }
    this.pump();
  }

  private askManifests(): void {
    this.askedAt = this.host.now();
    for (const peer of this.host.peers)
      if (!this.faulty.has(peer))
        this.host.send(peer, { type: "manifest-request" }, HEADER_BYTES, "state.manifest-request");
  }

  private onManifest(from: ProcessId, position: number, manifest: StateManifest | null): void {
    if (manifest === null || !Number.isSafeInteger(position) || position <= this.abovePosition) return;
    if (typeof manifest !== "object" || !Array.isArray(manifest.partitions)) return;
    if (!this.codec.manifestMatches(manifest, manifest.root)) return;
    if (this.trustedManifest !== undefined) {
      // A late server of the checkpoint being fetched joins the sources.
      if (position === this.trustedPosition && manifest.root === this.trustedManifest.root) {
        if (!this.sources.includes(from)) this.sources.push(from);
        this.pump();
      }
      return;
    }
    this.manifests.set(from, { position, manifest });
    const chosen = this.chooseTrusted();
    if (chosen === undefined) return;
    this.trustedManifest = chosen.manifest;
    this.trustedPosition = chosen.position;
    // After a start over: what was received for an older checkpoint stays only where this one
    // holds the very same partition (same hash); the rest is that older checkpoint's state.
    const hashes = new Map(chosen.manifest.partitions.map((entry) => [entry.name, entry.hash]));
    for (const [name, held] of this.received) if (hashes.get(name) !== held.hash) this.received.delete(name);
    this.sources = [...this.manifests]
      .filter(
        ([, reported]) =>
          reported.position === chosen.position && reported.manifest.root === chosen.manifest.root,
      )
      .map(([peer]) => peer);
    // Never empty: `group/order` holds the position, so it differs from any older checkpoint's.
    this.pending = chosen.manifest.partitions
      .map((entry) => entry.name)
      .filter((name) => !this.received.has(name));
    this.pump();
  }

  /**
   * The checkpoint to fetch: the vouched-for one (the leader's; a stable checkpoint's root), or
   * else the newest that enough replicas report alike.
   */
  private chooseTrusted(): { position: number; manifest: StateManifest } | undefined {
    if (this.trusted !== undefined) {
      for (const reported of this.manifests.values())
        if (reported.position === this.trusted.position && reported.manifest.root === this.trusted.root)
          return reported;
      // Crash mode takes the leader's word only (every manifest would count as its own vouch).
      if (this.options.vouchesNeeded <= 1) return undefined;
    }
    const vouches = new Map<string, { count: number; position: number; manifest: StateManifest }>();
    let best: { position: number; manifest: StateManifest } | undefined;
    for (const reported of this.manifests.values()) {
      const key = `${reported.position}|${reported.manifest.root}`;
      const tally = vouches.get(key) ?? { count: 0, ...reported };
      tally.count += 1;
      vouches.set(key, tally);
      if (tally.count >= this.options.vouchesNeeded && (best === undefined || tally.position > best.position))
        best = tally;
    }
    return best;
  }

  private onPartition(
    from: ProcessId,
    message: Extract<TransferMessage, { type: "partition" }>,
  ): ReplicaCheckpoint | undefined {
    const request = this.inFlight.get(message.name);
    const manifest = this.trustedManifest;
    if (
      manifest === undefined ||
      request === undefined ||
      request.source !== from ||
      message.position !== this.trustedPosition ||
      (message.offset ?? 0) !== request.offset
    )
      return undefined;
    this.inFlight.delete(message.name);
    const entry = manifest.partitions.find((candidate) => candidate.name === message.name);
    const size = entry?.bytes ?? 0;
    const expected =
      size <= TRANSFER_CHUNK_BYTES ? size : Math.min(TRANSFER_CHUNK_BYTES, size - request.offset);
    if (message.bytes === null) {
      // The server moved on to a newer checkpoint: it is no source of this one any more.
      this.dropSource(from);
      this.pending.push(message.name);
    } else if (!(message.bytes instanceof Uint8Array) || message.bytes.length !== expected) {
      this.refuse(from, message.name);
    } else if (request.offset + expected < size) {
      // More chunks to come, from the same server (the hash covers the whole partition).
      this.bytesReceived += expected;
      const next = { ...request, sentAt: this.host.now(), offset: request.offset + expected };
      next.chunks.push(message.bytes);
      this.inFlight.set(message.name, next);
      this.askChunk(from, message.name, next.offset);
      return undefined;
    } else {
      const bytes =
        request.chunks.length === 0 ? message.bytes : concatenate([...request.chunks, message.bytes], size);
      if (entry === undefined || !this.codec.partitionMatches(manifest, message.name, bytes))
        this.refuse(from, message.name);
      else {
        this.bytesReceived += expected;
        this.received.set(message.name, { bytes, hash: entry.hash });
        this.slow.delete(from);
      }
    }
    if (this.received.size === manifest.partitions.length)
      return {
        position: this.trustedPosition,
        state: {
          manifest,
          partitions: new Map([...this.received].map(([name, held]) => [name, held.bytes])),
        },
      };
    this.pump();
    return undefined;
  }

  /** A server that sent what the trusted manifest does not hold: faulty, never asked again. */
  private refuse(source: ProcessId, name: string): void {
    this.faulty.add(source);
    this.dropSource(source);
    this.pending.push(name);
  }

  private askChunk(source: ProcessId, name: string, offset: number): void {
    this.host.send(
      source,
      {
        type: "partition-request",
        position: this.trustedPosition,
        name,
        ...(offset === 0 ? {} : { offset }),
      },
      HEADER_BYTES + name.length,
      "state.partition-request",
    );
  }

  private dropSource(source: ProcessId): void {
    this.sources = this.sources.filter((candidate) => candidate !== source);
  }

  /** Sends pending partition requests, round-robin over the sources with room, slow ones last. */
  private pump(): void {
    if (this.sources.length === 0 && this.pending.length > 0) {
      // Nobody left who serves this checkpoint: start over (a newer one may be vouched for by now).
      // Answers still under way are for this checkpoint's position: they will be ignored.
      this.trustedManifest = undefined;
      this.manifests = new Map();
      this.inFlight.clear();
      this.askManifests();
      return;
    }
    while (this.pending.length > 0) {
      const source = this.pickSource();
      if (source === undefined) return;
      const name = this.pending.shift() as string;
      this.inFlight.set(name, { source, sentAt: this.host.now(), offset: 0, chunks: [] });
      this.askChunk(source, name, 0);
    }
  }

  private pickSource(): ProcessId | undefined {
    const load = new Map<ProcessId, number>();
    for (const request of this.inFlight.values())
      load.set(request.source, (load.get(request.source) ?? 0) + 1);
    const open = this.sources.filter((source) => (load.get(source) ?? 0) < this.options.inFlightPerSource);
    const fast = open.filter((source) => !this.slow.has(source));
    const candidates = fast.length > 0 ? fast : open;
    if (candidates.length === 0) return undefined;
    this.turn = (this.turn + 1) % candidates.length;
    return candidates[this.turn];
  }
}

function concatenate(chunks: readonly Uint8Array[], size: number): Uint8Array {
  const whole = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.length;
  }
  return whole;
}

export function stateBytes(state: SealedState): number {
  let bytes = 0;
  for (const partition of state.partitions.values()) bytes += partition.length;
  return bytes;
}
