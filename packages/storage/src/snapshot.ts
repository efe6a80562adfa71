import { createHash } from "node:crypto";

/**
 * A snapshot of a replica's state, split into named partitions. Each partition is hashed on its
 * own and the hashes are folded into one root (a binary Merkle tree), so a replica that trusts a
 * root — vouched for by f+1 replicas, or by a leader's certificate — can check a manifest once and
 * then every partition on arrival, one at a time, from whichever replica served it: a corrupt
 * partition is detected alone and fetched again elsewhere, without downloading the rest.
 */
export interface Snapshot {
  readonly manifest: SnapshotManifest;
  /** Every partition's bytes, by name (the names of the manifest). */
  readonly partitions: ReadonlyMap<string, Uint8Array>;
}

/** What a snapshot holds, without the data: the partitions' names, sizes and hashes, and the root. */
export interface SnapshotManifest {
  /** The Merkle root over the partition hashes, in manifest order (hex SHA-256). */
  readonly root: string;
  /** Sorted by name, names unique. */
  readonly partitions: readonly PartitionEntry[];
}

export interface PartitionEntry {
  readonly name: string;
  /** Hex SHA-256 of the name and the bytes (`partitionHash`). */
  readonly hash: string;
  readonly bytes: number;
}

/** A snapshot or manifest that does not check out; says which part and why. */
export class SnapshotError extends Error {
  override readonly name = "SnapshotError";
  constructor(
    message: string,
    /** The partitions whose bytes did not match their hash (empty when the manifest itself is bad). */
    readonly badPartitions: readonly string[] = [],
  ) {
    super(message);
  }
}

// Domain separation: a leaf can never be mistaken for an inner node or the empty tree.
const LEAF_TAG = Buffer.from([0]);
const NODE_TAG = Buffer.from([1]);
const EMPTY_TAG = Buffer.from([2]);

/** The hash of one partition: SHA-256 over its name (length-prefixed) and its bytes, hex. */
export function partitionHash(name: string, bytes: Uint8Array): string {
  const nameBytes = Buffer.from(name, "utf8");
  const nameLength = Buffer.alloc(4);
  nameLength.writeUInt32LE(nameBytes.length);
  return createHash("sha256")
    .update(LEAF_TAG)
    .update(nameLength)
    .update(nameBytes)
    .update(bytes)
    .digest("hex");
}

/**
 * The Merkle root over partition hashes (hex), in the order given: pairs are hashed level by level
 * and an odd last node moves up unchanged.
 */
export function snapshotRoot(hashes: readonly string[]): string {
  if (hashes.length === 0) return createHash("sha256").update(EMPTY_TAG).digest("hex");
  let level: Buffer[] = hashes.map((hash) => Buffer.from(hash, "hex"));
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let index = 0; index < level.length; index += 2) {
      const left = level[index] as Buffer;
      const right = level[index + 1];
      next.push(
        right === undefined
          ? left
          : createHash("sha256").update(NODE_TAG).update(left).update(right).digest(),
      );
    }
    level = next;
  }
  return (level[0] as Buffer).toString("hex");
}

/** A snapshot of `partitions` (name → bytes, in any order; names unique). */
export function buildSnapshot(partitions: Iterable<readonly [string, Uint8Array]>): Snapshot {
  const byName = new Map<string, Uint8Array>();
  for (const [name, bytes] of partitions) {
    if (byName.has(name)) throw new SnapshotError(`partition ${JSON.stringify(name)} is listed twice`);
    byName.set(name, bytes);
  }
  const names = [...byName.keys()].sort(compareNames);
  const entries = names.map((name) => {
    const bytes = byName.get(name) as Uint8Array;
    return { name, hash: partitionHash(name, bytes), bytes: bytes.length };
  });
  const manifest = { root: snapshotRoot(entries.map((entry) => entry.hash)), partitions: entries };
  return { manifest, partitions: new Map(names.map((name) => [name, byName.get(name) as Uint8Array])) };
}

/**
 * Checks that `manifest` is well formed and that its partition hashes fold into `trustedRoot`
 * (default: the manifest's own root, which checks only its consistency). Throws SnapshotError.
 */
export function verifyManifest(manifest: SnapshotManifest, trustedRoot: string = manifest.root): void {
  const names = manifest.partitions.map((entry) => entry.name);
  for (let index = 1; index < names.length; index += 1)
    if (compareNames(names[index - 1] as string, names[index] as string) >= 0)
      throw new SnapshotError(
        `manifest partitions are not sorted and unique at ${JSON.stringify(names[index])}`,
      );
  const root = snapshotRoot(manifest.partitions.map((entry) => entry.hash));
  if (root !== manifest.root)
    throw new SnapshotError(`manifest root ${manifest.root} is not its hashes' root ${root}`);
  if (root !== trustedRoot)
    throw new SnapshotError(`manifest root ${root} is not the trusted root ${trustedRoot}`);
}

/** Whether `bytes` are partition `name` of a (verified) manifest. */
export function partitionMatches(manifest: SnapshotManifest, name: string, bytes: Uint8Array): boolean {
  const entry = manifest.partitions.find((candidate) => candidate.name === name);
  return entry !== undefined && entry.bytes === bytes.length && entry.hash === partitionHash(name, bytes);
}

/**
 * Verifies a whole snapshot against `trustedRoot` (default: its own root): the manifest, then every
 * partition. Throws SnapshotError naming every partition that does not match (and only those).
 */
export function verifySnapshot(snapshot: Snapshot, trustedRoot: string = snapshot.manifest.root): void {
  verifyManifest(snapshot.manifest, trustedRoot);
  const bad: string[] = [];
  for (const entry of snapshot.manifest.partitions) {
    const bytes = snapshot.partitions.get(entry.name);
    if (bytes === undefined || !partitionMatches(snapshot.manifest, entry.name, bytes)) bad.push(entry.name);
  }
  if (snapshot.partitions.size !== snapshot.manifest.partitions.length)
    throw new SnapshotError("the snapshot holds partitions its manifest does not list");
  if (bad.length > 0)
    throw new SnapshotError(
      `partition(s) ${bad.map((name) => JSON.stringify(name)).join(", ")} do not match their hash`,
      bad,
    );
}

const MAGIC = Buffer.from("AMCSNAP1", "ascii");

/**
 * The snapshot as one byte string (a checkpoint's contents): a magic, then per partition its name
 * and bytes, length-prefixed. The manifest is recomputed on decoding, so it cannot disagree.
 */
export function encodeSnapshot(snapshot: Snapshot): Buffer {
  const parts: Uint8Array[] = [MAGIC, u32(snapshot.manifest.partitions.length)];
  for (const entry of snapshot.manifest.partitions) {
    const name = Buffer.from(entry.name, "utf8");
    const bytes = snapshot.partitions.get(entry.name) as Uint8Array;
    parts.push(u32(name.length), name, u32(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

/** The inverse of `encodeSnapshot`; throws SnapshotError on malformed input. */
export function decodeSnapshot(encoded: Uint8Array): Snapshot {
  const buffer = Buffer.from(encoded.buffer, encoded.byteOffset, encoded.byteLength);
  if (buffer.length < MAGIC.length + 4 || !buffer.subarray(0, MAGIC.length).equals(MAGIC))
    throw new SnapshotError("not an encoded snapshot (bad magic)");
  let offset = MAGIC.length;
  const read = (what: string): Buffer => {
    if (offset + 4 > buffer.length) throw new SnapshotError(`encoded snapshot ends inside a ${what} length`);
    const length = buffer.readUInt32LE(offset);
    offset += 4;
    if (offset + length > buffer.length) throw new SnapshotError(`encoded snapshot ends inside a ${what}`);
    const bytes = buffer.subarray(offset, offset + length);
    offset += length;
    return bytes;
  };
  const count = buffer.readUInt32LE(offset);
  offset += 4;
  const partitions: [string, Uint8Array][] = [];
  for (let index = 0; index < count; index += 1) {
    const name = read("partition name").toString("utf8");
    partitions.push([name, read("partition")]);
  }
  if (offset !== buffer.length) throw new SnapshotError("encoded snapshot has trailing bytes");
  return buildSnapshot(partitions);
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

/** Partition names in code-unit order: the same at every replica, independent of locale. */
function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
