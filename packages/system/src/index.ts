export type { BuildOptions, BuiltSystem, RuntimeKind, SignatureKind, SignatureScheme } from "./build.js";
export { buildSystem, originOf, signatureKind } from "./build.js";
export type { RunChecks } from "./checks.js";
export { runChecks, stopEvent } from "./checks.js";
export type {
  ControllerReport,
  MeasuredDelay,
  OffThreadSolver,
  PlanRecord,
  Reconfiguration,
} from "./controller.js";
export {
  describeOverlay,
  ReconfigController,
  randomOverlayLike,
  randomTree,
  reportedOverlays,
} from "./controller.js";
export { besideFile, displayPath, findProjectRoot, jsonNames, readJson, readText } from "./files.js";
export { keyValueApplication, PartitionedKv } from "./kv-state.js";
export type { TimedAnswer } from "./optimizer-thread.js";
export { OptimizerThread } from "./optimizer-thread.js";
export type { Codec, Schema } from "./schema.js";
export { SYSTEM_SCHEMA, systemFromJson, systemToJson } from "./schema.js";
export type {
  ByzantineFault,
  ReconfigSpec,
  SystemSpec,
  WorkloadShift,
  WorkloadSpec,
} from "./spec.js";
export {
  CONTROLLER_ID,
  DEFAULT_RECONFIG,
  RECONFIG_POLICIES,
  RECONFIG_SOLVERS,
} from "./spec.js";
