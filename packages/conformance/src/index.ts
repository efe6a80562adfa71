export type { RestoreComparison } from "./restore.js";
export { restoreChangesNothing, restoringEvery } from "./restore.js";
export type { DelayedSwarm, PropertyCase } from "./suite.js";
export {
  CASE_SEEDS,
  CHAINED_FLEXCAST_SWARM_SEEDS,
  DELAYED_SWARM_SEEDS,
  judge,
  LINEARIZABLE_CASE_SEEDS,
  LINEARIZABLE_SWARM_SEEDS,
  PROPERTY_CASES,
  propertyReplay,
  RECONFIG_SWARM_FOUND_SEEDS,
  RECONFIG_SWARM_SEEDS,
  runPropertyCase,
  runSwarmSeed,
  SWARM_SEEDS,
  swarmFailures,
  swarmSeeds,
} from "./suite.js";
