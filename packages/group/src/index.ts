export type { ClientSpec } from "./client.js";
export { createClient, MulticastClient } from "./client.js";
export { Membership, replicaId } from "./membership.js";
export type { DropReason, ReplicaSpec, ReplicationMode } from "./replica.js";
export { createReplica, REPLICATION_MODES, replicaCount, SoloReplica } from "./replica.js";
export type { GroupWire } from "./wire.js";
export { ENVELOPE_BYTES, multicastBytes } from "./wire.js";
