import type { Snapshot, SnapshotManifest } from "./snapshot.js";
import { buildSnapshot, partitionMatches, verifyManifest } from "./snapshot.js";

/** A replica that can serve its checkpoints to a recovering peer (over whatever link). */
export interface SnapshotSource {
  /** Names the source in results and errors (e.g. its process id). */
  readonly id: string;
  /** Its latest checkpoint: the log position it covers and its manifest. */
  manifest(): Promise<{ readonly position: number; readonly manifest: SnapshotManifest }>;
  /** One partition of its checkpoint at `position`. */
  partition(position: number, name: string): Promise<Uint8Array>;
}

export interface TransferOptions {
  readonly sources: readonly SnapshotSource[];
  /**
   * Sources that must report the same position and root before the root is trusted: f+1 with
   * Byzantine replicas (one of them is correct), 1 with crash faults only.
   */
  readonly vouchesNeeded: number;
  /** Partitions in flight at once (default: two per vouching source). */
  readonly inFlightMax?: number;
  /** Times one partition may be fetched before the transfer gives up (default 8). */
  readonly attemptsMax?: number;
  /**
   * A manifest or partition request unanswered this long counts as failed (default 10,000 ms): a
   * source that never answers cannot stall the transfer.
   */
  readonly requestTimeoutMs?: number;
}

export interface TransferResult {
  readonly position: number;
  /** Every partition verified against the trusted root. */
  readonly snapshot: Snapshot;
  /** Partition bytes received, the refused ones included. */
  readonly bytesReceived: number;
  /** Sources caught serving a partition that did not match the trusted manifest; ignored after that. */
  readonly faulty: readonly string[];
  /** Partitions each source served that were taken, by source id. */
  readonly servedBy: ReadonlyMap<string, number>;
}

/** A transfer that cannot complete; says why. */
export class TransferError extends Error {
  override readonly name = "TransferError";
}

/**
 * Fetches a checkpoint from a group: the newest (position, root) that `vouchesNeeded` sources
 * report alike is trusted, and its partitions come in parallel from the sources that vouched,
 * spread over them, each verified on arrival. A partition that does not match its hash marks its
 * source faulty (never asked again) and is fetched from another; one that fails to arrive is
 * fetched from another too, and its source is asked again only if no other is left. Nothing
 * unverified is returned.
 */
export async function fetchSnapshot(options: TransferOptions): Promise<TransferResult> {
  const { sources, vouchesNeeded } = options;
  if (!Number.isInteger(vouchesNeeded) || vouchesNeeded < 1)
    throw new RangeError(`vouchesNeeded: expected a whole number >= 1, got ${vouchesNeeded}`);
  const attemptsMax = options.attemptsMax ?? 8;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;

  // 1. The trusted root: the newest position with enough matching reports.
  const reports = await Promise.allSettled(
    sources.map((source) => withTimeout(source.manifest(), requestTimeoutMs, `${source.id}: manifest`)),
  );
  const byCheckpoint = new Map<
    string,
    { position: number; manifest: SnapshotManifest; sources: SnapshotSource[] }
  >();
  reports.forEach((report, index) => {
    if (report.status !== "fulfilled") return;
    const { position, manifest } = report.value;
    try {
      verifyManifest(manifest); // its hashes fold into the root it claims
    } catch {
      return;
    }
    const key = `${position}/${manifest.root}`;
    const entry = byCheckpoint.get(key) ?? { position, manifest, sources: [] };
    entry.sources.push(sources[index] as SnapshotSource);
    byCheckpoint.set(key, entry);
  });
  const trusted = [...byCheckpoint.values()]
    .filter((entry) => entry.sources.length >= vouchesNeeded)
    .sort((a, b) => b.position - a.position)[0];
  if (trusted === undefined)
    throw new TransferError(
      `no checkpoint is vouched for by ${vouchesNeeded} of ${sources.length} sources (${[...byCheckpoint.values()].map((entry) => `${entry.sources.length} at ${entry.position}`).join(", ") || "none answered"})`,
    );
  const { position, manifest } = trusted;

  // 2. The partitions, spread over the vouching sources, verified on arrival.
  const faulty = new Set<string>();
  const servedBy = new Map<string, number>();
  const received = new Map<string, Uint8Array>();
  const attempts = new Map<string, number>();
  const queue = manifest.partitions.map((entry) => entry.name);
  const inFlightMax = options.inFlightMax ?? 2 * trusted.sources.length;
  let bytesReceived = 0;
  let turn = 0;
  const usable = (): SnapshotSource[] => trusted.sources.filter((source) => !faulty.has(source.id));

  // Sources that failed or timed out once are asked again only when no other usable one is left.
  const failing = new Set<string>();
  const fetchOne = async (name: string): Promise<void> => {
    for (;;) {
      const tried = attempts.get(name) ?? 0;
      if (tried >= attemptsMax)
        throw new TransferError(`partition ${JSON.stringify(name)}: ${tried} attempts, none verified`);
      attempts.set(name, tried + 1);
      const candidates = usable();
      if (candidates.length === 0)
        throw new TransferError("every source that vouched for the checkpoint is faulty");
      const preferred = candidates.filter((source) => !failing.has(source.id));
      const pool = preferred.length > 0 ? preferred : candidates;
      const source = pool[turn % pool.length] as SnapshotSource;
      turn += 1;
      let bytes: Uint8Array;
      try {
        bytes = await withTimeout(
          source.partition(position, name),
          requestTimeoutMs,
          `${source.id}: partition ${name}`,
        );
      } catch {
        failing.add(source.id);
        continue;
      }
      bytesReceived += bytes.length;
      if (partitionMatches(manifest, name, bytes)) {
        received.set(name, bytes);
        servedBy.set(source.id, (servedBy.get(source.id) ?? 0) + 1);
        return;
      }
      faulty.add(source.id);
    }
  };

  const workers = Array.from({ length: Math.max(1, Math.min(inFlightMax, queue.length)) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) await fetchOne(name);
  });
  await Promise.all(workers);

  const snapshot = buildSnapshot(received);
  if (snapshot.manifest.root !== manifest.root)
    throw new TransferError(
      `assembled root ${snapshot.manifest.root} differs from the trusted ${manifest.root}`,
    );
  return { position, snapshot, bytesReceived, faulty: [...faulty].sort(), servedBy };
}

/** `promise`, or a rejection after `timeoutMs`; the timer never holds the process open. */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TransferError(`${what}: no answer in ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
