export { checkRun, checkTrace } from "./check.js";
export { formatReport, formatReportByProcess, violationProcesses } from "./report.js";
export type { CheckCounts, CheckOptions, CheckReport, Property, Violation } from "./types.js";
export { PROPERTIES } from "./types.js";
