import type { Snapshot, SnapshotManifest } from "@amcast/storage";
import { buildSnapshot, partitionMatches, verifySnapshot } from "@amcast/storage";
import { Packr } from "msgpackr";
import type { StatefulApplication } from "./service.js";

/** The partition of an application that does not split its state. */
export const WHOLE_STATE = "state";

// Plain msgpack (no record extension), so equal data gives equal bytes at every replica.
const packr = new Packr({ useRecords: false });

function partitionNames(application: StatefulApplication): readonly string[] {
  return application.partitions?.() ?? [WHOLE_STATE];
}

/**
 * A snapshot of the application's state: every partition encoded (msgpack) and hashed, under one
 * Merkle root. Replicas with the same state give the same root, so f+1 matching roots (or a
 * leader's certificate) let a recovering replica trust a snapshot it fetches piece by piece.
 */
export function snapshotApplication(application: StatefulApplication): Snapshot {
  return buildSnapshot(
    partitionNames(application).map((name) => [name, packr.pack(application.snapshot(name))] as const),
  );
}

/**
 * Restores a whole snapshot into `application` (fresh, or with those partitions to be replaced),
 * after checking every partition against `trustedRoot` (default: the snapshot's own root). Nothing
 * is restored if any part fails: SnapshotError names the partitions that did.
 */
export function restoreApplication(
  application: StatefulApplication,
  snapshot: Snapshot,
  trustedRoot: string = snapshot.manifest.root,
): void {
  verifySnapshot(snapshot, trustedRoot);
  for (const [name, bytes] of snapshot.partitions) application.restore(name, packr.unpack(bytes));
}

/**
 * Restores one partition fetched on its own, if it matches its entry in `manifest` (which the
 * caller checked against a trusted root with `verifyManifest`). Returns false, restoring nothing,
 * for bytes that do not match: fetch that partition again from another replica.
 */
export function restorePartition(
  application: StatefulApplication,
  manifest: SnapshotManifest,
  name: string,
  bytes: Uint8Array,
): boolean {
  if (!partitionMatches(manifest, name, bytes)) return false;
  application.restore(name, packr.unpack(bytes));
  return true;
}
