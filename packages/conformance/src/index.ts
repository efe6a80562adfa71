export type { DelayedSwarm, PropertyCase } from "./suite.js";
export { judge, PROPERTY_CASES, runSwarmSeed } from "./suite.js";
