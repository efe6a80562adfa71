export { AssertionError, assert, assertNever, defined, maybe } from "./assert.js";
export { closestName, describeValue, didYouMean, InputError, listNames } from "./errors.js";
export { BinaryHeap } from "./heap.js";
export type { ClientId, DestinationSet, GroupId, MessageId, Multicast, ProcessId } from "./ids.js";
export { compareIds, destinationKey, destinationSet, isGlobal, multicastBytes, sharedId } from "./ids.js";
export type { FieldRecord, NumberLimits } from "./json.js";
export { JsonFields, JsonItems } from "./json.js";
export type { GroupRole, Overlay, OverlayKind } from "./overlay.js";
export {
  CdagOverlay,
  checkOverlayAgainstTopology,
  OVERLAY_KINDS,
  overlayToJson,
  parseOverlay,
  runGroups,
  TreeOverlay,
  targetGroups,
} from "./overlay.js";
export { protocolContext } from "./params.js";
export type { Ratio } from "./prng.js";
export { mix32, Prng, percent, ratio } from "./prng.js";
export type {
  ClientLogic,
  ObservedDelay,
  ProcessLogic,
  ProcessOutput,
  ProcessOutputSink,
  ProcessSend,
} from "./process.js";
export { OutputCollector } from "./process.js";
export type {
  FlatProtocolDefinition,
  GroupConfig,
  GroupInput,
  GroupLogic,
  GroupOutput,
  GroupOutputSink,
  LatencyModel,
  OverlayProtocolDefinition,
  ParamsSystem,
  ProtocolContext,
  ProtocolDefinition,
  WireDescription,
} from "./protocol.js";
export { GroupOutputCollector } from "./protocol.js";
export { lowerBound, upperBound } from "./search.js";
export type { ClientPlacement, GroupPlacement, LatencyMatrix } from "./topology.js";
export { parseLatencyCsv, parseTopology, Topology, topologyFromMatrix } from "./topology.js";
export type {
  CompleteEvent,
  DeliverEvent,
  FaultEvent,
  FaultKind,
  MemberEvent,
  MulticastEvent,
  SendEvent,
  StopEvent,
  StopReason,
  TraceEvent,
  TraceEventKind,
  TraceId,
  TraceRuntime,
  TraceSink,
  ViewEvent,
} from "./trace.js";
export {
  bothSinks,
  formatTraceLine,
  parseTrace,
  parseTraceLine,
  replayTraceEvent,
  STOP_REASONS,
  TRACE_RUNTIMES,
  traceEventSink,
} from "./trace.js";
export type { LocalitySpec, WeightedDestinations } from "./workload.js";
export { DestinationChooser, nearestGroup } from "./workload.js";
