export { PROTOCOLS, protocolByName, protocolNames } from "@amcast/protocols";
export type { DeployedNode, Deployment, NetRunOptions, NetRunStats } from "@amcast/runtime";
export {
  DEFAULT_NET_OPTIONS,
  loadDeployment,
  mergeTraceFiles,
  NET_REFUSED_OPTIONS,
  NET_SUPPORT,
  NetRunError,
  netRefusals,
  refuseUnsupported,
} from "@amcast/runtime";
export type { BuiltSystem, SystemSpec, WorkloadSpec } from "@amcast/system";
export { buildSystem } from "@amcast/system";
export type { Genuineness, LatencySummary, MessageSample, RunMetrics } from "./metrics.js";
export { MetricsCollector, messageKind, percentile } from "./metrics.js";
export type { NetOutcome } from "./net-run.js";
export { runScenarioNet } from "./net-run.js";
export type { PairedComparison, ViewGain } from "./report.js";
export { pairedComparison, publishedLines, viewGains } from "./report.js";
export type { ExperimentOptions } from "./run.js";
export {
  experimentScenarios,
  faultFreeScenario,
  loadDeploymentFile,
  runExperiment,
  runSummary,
  selectRuns,
} from "./run.js";
export type { ScenarioOutcome, ScenarioSpec } from "./scenario.js";
export {
  failingViolations,
  messagesPerMulticast,
  realTimeViolations,
  runFailed,
  runScenario,
} from "./scenario.js";
export type { ExperimentSpec, ProtocolRun, Published, PublishedFigure } from "./spec.js";
export { loadExperiment } from "./spec.js";
export type { DelayedNetwork, SwarmCase, SwarmOptions } from "./swarm.js";
export { DELAYED_NETWORKS, swarmCase, withOverlay } from "./swarm.js";
export { TraceFileWriter } from "./trace-file.js";
