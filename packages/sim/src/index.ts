export type {
  ClosedLoop,
  CrashFault,
  CrashKind,
  FaultOptions,
  NetworkOptions,
  OpenLoop,
  PartitionFault,
  ProcessingCost,
  SimClient,
  SimOptions,
  SimProcess,
  SimResult,
  StopReason,
} from "./options.js";
export { CRASH_KINDS, DEFAULT_NETWORK, DEFAULT_PROCESSING, NO_FAULTS } from "./options.js";
export { Simulator, simulate } from "./simulator.js";
