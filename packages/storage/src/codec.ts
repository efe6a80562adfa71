import { Packr } from "msgpackr";
import type { Snapshot, SnapshotManifest } from "./snapshot.js";
import { buildSnapshot, partitionMatches, verifyManifest } from "./snapshot.js";

// Plain msgpack (no record extension), so equal data gives equal bytes at every replica.
const packr = new Packr({ useRecords: false });

/** Plain data to a partition's bytes: equal data (same key order) gives equal bytes. */
export function encodePartition(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** The inverse of `encodePartition`. */
export function decodePartition(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/**
 * This package's snapshot format in the shape `@amcast/group`'s `StateCodec` takes (the group
 * layer is pure, so a system hands it the hashing): msgpack partitions, SHA-256 per partition,
 * one Merkle root.
 */
export const STATE_CODEC = {
  encode: encodePartition,
  decode: decodePartition,
  seal: (partitions: Iterable<readonly [string, Uint8Array]>): Snapshot => buildSnapshot(partitions),
  manifestMatches: (manifest: SnapshotManifest, root: string): boolean => {
    try {
      verifyManifest(manifest, root);
      return true;
    } catch {
      return false;
    }
  },
  partitionMatches,
} as const;
