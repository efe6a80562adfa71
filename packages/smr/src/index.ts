// Types the options above mention, so a service needs no other amcast import.
export type { CheckReport } from "@amcast/check";
export type { TraceEvent } from "@amcast/core";
export type { ReplicationMode } from "@amcast/group";
export type { ProtocolName } from "@amcast/protocols";
export type { NodeAddress as ReplicaAddress, TransportLimits } from "@amcast/runtime";
export type { CrashFault, FaultOptions, PartitionFault, ProcessingCost } from "@amcast/sim";
export type { PartitionEntry, Snapshot, SnapshotManifest } from "@amcast/storage";
export { decodeSnapshot, encodeSnapshot, SnapshotError, verifyManifest } from "@amcast/storage";
export type {
  ClientOptions,
  ClusterConfig,
  Credentials,
  ReplicaHandle,
  ReplicaOptions,
  ServiceClient,
} from "./net.js";
export { connectClient, DEFAULT_CLIENT_HOST, startReplica } from "./net.js";
export { freeLoopbackPorts, isAddressInUse, loopbackGroups, onFreePorts } from "./ports.js";
export type { ProxyHandle, ProxyOptions } from "./proxy.js";
export { startProxy } from "./proxy.js";
export type {
  Application,
  Client,
  Message,
  ReplicaApplication,
  Replies,
  ServiceOptions,
  StatefulApplication,
} from "./service.js";
export type {
  SimCluster,
  SimClusterOptions,
  SimRequest,
  SimWorkloadClient,
  SimWorkloadResult,
} from "./sim.js";
export { createSimCluster } from "./sim.js";
export { restoreApplication, restorePartition, snapshotApplication, WHOLE_STATE } from "./snapshot.js";
