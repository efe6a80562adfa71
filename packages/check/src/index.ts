export { checkRun, checkTrace } from "./check.js";
export { formatReport } from "./report.js";
export type { CheckCounts, CheckOptions, CheckReport, Property, Violation } from "./types.js";
export { PROPERTIES } from "./types.js";
