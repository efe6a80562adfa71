export { decodePartition, encodePartition, STATE_CODEC } from "./codec.js";
export type { Checkpoint, FsyncPolicy, LogEntry, LogOptions, Recovery } from "./log.js";
export { DEFAULT_LOG_OPTIONS, FSYNC_POLICIES, ReplicaLog, StorageCorruptError } from "./log.js";
export type { PartitionEntry, Snapshot, SnapshotManifest } from "./snapshot.js";
export {
  buildSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  partitionHash,
  partitionMatches,
  SnapshotError,
  snapshotRoot,
  verifyManifest,
  verifySnapshot,
} from "./snapshot.js";
export type { SnapshotSource, TransferOptions, TransferResult } from "./transfer.js";
export { fetchSnapshot, TransferError } from "./transfer.js";
