export type { SignedDigest, Signer, Verifier } from "./auth.js";
export { canonical, digest, SimulatedSignatures } from "./auth.js";
export type { ByzantineStrategy } from "./byzantine.js";
export { BYZANTINE_STRATEGIES, BYZANTINE_STRATEGY_NAMES, ByzantineReplica } from "./byzantine.js";
export type { ClientSpec } from "./client.js";
export { createClient, MulticastClient } from "./client.js";
export { CLIENT_SEQ_WINDOW } from "./clients.js";
export type { OrderedInput } from "./inputs.js";
export { RequestRecord } from "./inputs.js";
export { Membership, replicaId } from "./membership.js";
export type { Orderer, OrderingOptions } from "./orderer.js";
export { amnesiaHardState, DEFAULT_ORDERING, mostNamedLeader } from "./orderer.js";
export type { PbftHardState } from "./pbft.js";
export { PbftOrderer } from "./pbft.js";
export type { RaftHardState } from "./raft.js";
export { RaftOrderer } from "./raft.js";
export type { Application, DecidedPosition, DropReason, ReplicaSpec, ReplicationMode } from "./replica.js";
export {
  createReplica,
  REPLICATION_MODES,
  Replica,
  replicaCount,
  replyQuorum,
  restartFromDecisions,
  streamQuorum,
} from "./replica.js";
export type {
  ApplicationState,
  ReplicaCheckpoint,
  SealedState,
  StateCodec,
  StateManifest,
} from "./snapshot.js";
export { APPLICATION_PARTITION_PREFIX, PARTITION } from "./snapshot.js";
export type { TransferMessage } from "./transfer.js";
export type { GroupWire } from "./wire.js";
export { ENVELOPE_BYTES, multicastBytes } from "./wire.js";
