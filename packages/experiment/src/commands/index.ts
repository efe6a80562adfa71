import { runBenchCommand } from "./bench.js";
import { runCheckCommand } from "./check.js";
import { runCheckHistoryCommand } from "./check-history.js";
import { runCompareCommand } from "./compare.js";
import { runDeployCommand } from "./deploy.js";
import { runExperimentCommand } from "./experiment.js";
import { runParityCommand } from "./parity.js";
import { runProxyCommand } from "./proxy.js";
import { runReferenceCommand } from "./reference.js";
import { runClientsCommand, runKeysCommand, runMergeTracesCommand, runReplicaCommand } from "./replica.js";
import { runReportCommand } from "./report.js";
import { runSwarmCommand } from "./swarm.js";

/** Every command of the `amcast` CLI; each has its help in help.ts. */
export const COMMANDS: Record<string, (args: string[]) => number | Promise<number>> = {
  experiment: runExperimentCommand,
  check: runCheckCommand,
  "check-history": runCheckHistoryCommand,
  swarm: runSwarmCommand,
  bench: runBenchCommand,
  replica: runReplicaCommand,
  clients: runClientsCommand,
  keys: runKeysCommand,
  "merge-traces": runMergeTracesCommand,
  report: runReportCommand,
  compare: runCompareCommand,
  parity: runParityCommand,
  deploy: runDeployCommand,
  proxy: runProxyCommand,
  reference: runReferenceCommand,
};
