export { checkRun, checkTrace, DEFAULT_MAX_VIOLATIONS, failingViolations } from "./check.js";
export { formatReport, formatReportByProcess, violationProcesses } from "./report.js";
export type { CheckCounts, CheckOptions, CheckReport, Property, RunStop, Violation } from "./types.js";
export { PROPERTIES } from "./types.js";
