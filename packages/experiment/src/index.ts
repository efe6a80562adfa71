export { PROTOCOLS, protocolByName, protocolNames } from "@amcast/protocols";
export type { DeployedNode, Deployment } from "./deployment.js";
export { loadDeployment } from "./deployment.js";
export { findProjectRoot, readJson, readText } from "./files.js";
export type { Genuineness, LatencySummary, MessageSample, RunMetrics } from "./metrics.js";
export { MetricsCollector, messageKind, percentile } from "./metrics.js";
export type { NetOutcome, NetRunOptions, NetRunStats } from "./net-runner.js";
export { checkNetFaults, DEFAULT_NET_OPTIONS, NetRunError, runScenarioNet } from "./net-runner.js";
export { mergeTraceFiles } from "./net-trace.js";
export type { ExperimentOptions } from "./run.js";
export { experimentScenarios, faultFreeScenario, runExperiment, runSummary } from "./run.js";
export type { BuiltSystem, ScenarioOutcome, ScenarioSpec, SystemSpec } from "./scenario.js";
export {
  buildSystem,
  failingViolations,
  messagesPerMulticast,
  realTimeViolations,
  runScenario,
} from "./scenario.js";
export type { ExperimentSpec, ProtocolRun, WorkloadSpec } from "./spec.js";
export { loadExperiment } from "./spec.js";
export type { SwarmCase, SwarmOptions } from "./swarm.js";
export { swarmCase, withOverlay } from "./swarm.js";
export { TraceFileWriter } from "./trace-file.js";
