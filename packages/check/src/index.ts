export { checkRun, checkTrace, DEFAULT_MAX_VIOLATIONS, failingViolations } from "./check.js";
export type {
  CompleteEvent as HistoryCompleteEvent,
  HistoryEvent,
  HistoryOperation,
  InvokeEvent,
  Outcome,
} from "./history.js";
export {
  formatHistoryLine,
  historyOperations,
  parseHistory,
  parseHistoryLine,
} from "./history.js";
export type { KvInput, KvOutput } from "./kv-model.js";
export { KV_OPERATIONS, KvState, kvModel } from "./kv-model.js";
export type {
  HistoryModel,
  LinearizabilityOptions,
  LinearizabilityReport,
  ModelCall,
  Part,
  Witness,
  WitnessOperation,
} from "./linearizability.js";
export { checkLinearizability, formatLinearizabilityReport, formatWitness } from "./linearizability.js";
export { formatReport, formatReportByProcess, violationProcesses } from "./report.js";
export { splitRuns } from "./runs.js";
export type { CheckCounts, CheckOptions, CheckReport, Property, RunStop, Violation } from "./types.js";
export { PROPERTIES } from "./types.js";
export type { Model, SearchBudget, SearchOperation, SearchResult, SearchVerdict } from "./wgl.js";
export { searchLinearization } from "./wgl.js";
