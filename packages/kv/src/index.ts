export type { KvInput, KvOutput } from "@amcast/check";
export type { KvClientOptions } from "./client.js";
export { KvClient } from "./client.js";
export type { KvErrorCode } from "./errors.js";
export { KvError } from "./errors.js";
export type { HistoryRecorderOptions } from "./history.js";
export { HistoryRecorder } from "./history.js";
export type { KvCommand, KvLimits, KvReply } from "./operations.js";
export { DEFAULT_KV_LIMITS, mergeReplies, planOperation, utf8Bytes } from "./operations.js";
export type { PartitioningSpec } from "./partitioning.js";
export { Partitioning } from "./partitioning.js";
export type { KvSimulationResult } from "./simulate.js";
export { simulateKvWorkload } from "./simulate.js";
export { KvShard } from "./store.js";
export type { KvWorkloadSpec, WorkloadOperation } from "./workload.js";
export {
  DEFAULT_KV_WORKLOAD,
  evenRangePartitioning,
  KvWorkloadClient,
  keysByShard,
  readKvWorkload,
  workloadClients,
} from "./workload.js";
