export type { Clock } from "./clock.js";
export { monotonicClock, wallClock } from "./clock.js";
export type { NodeMessage, NodeStatus, RunnerMessage } from "./control.js";
export { START_NS_ENV } from "./control.js";
export type { LatencyEmulation } from "./delay.js";
export { DelayLine } from "./delay.js";
export type {
  DeployedNode,
  Deployment,
  ReplicaStateOptions,
  RunResolver,
  RunSelector,
} from "./deployment.js";
export {
  DEFAULT_CLIENT_HOST,
  deployedNode,
  deploymentNodes,
  deploymentToJson,
  loadDeployment,
  replicaOnHost,
  selectOneRun,
} from "./deployment.js";
export type { DataHeader, HandshakeRefusalCode, Hello, Welcome } from "./frame.js";
export {
  DATA_PREFIX_BYTES,
  decodeChallenge,
  decodeData,
  decodeHello,
  decodeWelcome,
  describeRefusal,
  encodeChallenge,
  encodeData,
  encodeHello,
  encodeWelcome,
  FrameError,
  FrameType,
  HandshakeRefusal,
  MAC_BYTES,
  NONCE_BYTES,
  sessionKey,
  WIRE_VERSION,
} from "./frame.js";
export { startHealthServer } from "./health.js";
export type {
  ClientWorkload,
  ClosedLoop,
  HostStats,
  NodeHostOptions,
  OpenLoop,
  ReplicaStateStats,
} from "./host.js";
export { NodeHost } from "./host.js";
export type { FsyncPolicy, ReplayStats, ReplicaStorage } from "./journal.js";
export { FSYNC_POLICIES, forgetJournal, openJournalAndTrace, ReplicaJournal, runDigest } from "./journal.js";
export { CLUSTER_SECRET_BYTES_MIN, deriveLinkKey, Keyring, LINK_KEY_BYTES } from "./keys.js";
export type { TransportLimits } from "./limits.js";
export { checkLimits, DEFAULT_LIMITS, QueueOverflowError } from "./limits.js";
export type { NodeRunOptions } from "./node.js";
export { nodeClock, runNode } from "./node.js";
export type { NodeAddress, NodeId, NodeRole, NodeSpec } from "./nodes.js";
export { checkId, ID_BYTES_MAX, NodeTable } from "./nodes.js";
export { nodeStorage, readKeyring, readSecret, runNodeProcess } from "./process.js";
export type { ClusterObservation, ClusterOutcome, NetRunOptions, NetRunStats } from "./runner.js";
export { DEFAULT_NET_OPTIONS, NetRunError, refuseUnsupported, runCluster } from "./runner.js";
export type { SignatureStats } from "./signatures.js";
export {
  deriveSigningSeed,
  ED25519_SIGNATURE_BYTES,
  Ed25519Signatures,
  PUBLIC_KEY_BYTES,
  publicKeyOf,
  publicKeysFromSecret,
  SIGNING_SEED_BYTES,
  signingProcesses,
} from "./signatures.js";
export type { StrangerStats } from "./strangers.js";
export { PRE_HANDSHAKE_BYTES_MAX } from "./strangers.js";
export type { FieldSupport, Refusal, SupportContext } from "./support.js";
export { NET_REFUSED_OPTIONS, NET_SUPPORT, netRefusals } from "./support.js";
export { mergeTraceFiles } from "./trace-merge.js";
export type { TracedOutputs, TraceSink } from "./trace-writer.js";
export { MemoryTrace, resumeTrace, TraceFile } from "./trace-writer.js";
export type { TransportOptions, TransportStats } from "./transport.js";
export { REFUSALS_MAX_DIAL_ONLY, Transport } from "./transport.js";
