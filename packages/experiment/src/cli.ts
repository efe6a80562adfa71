#!/usr/bin/env node
import { AssertionError, InputError } from "@amcast/core";
import { runBenchCommand } from "./commands/bench.js";
import { runCheckCommand } from "./commands/check.js";
import { runDeployCommand } from "./commands/deploy.js";
import { runExperimentCommand } from "./commands/experiment.js";
import { runParityCommand } from "./commands/parity.js";
import { runProxyCommand } from "./commands/proxy.js";
import {
  runClientsCommand,
  runKeysCommand,
  runMergeTracesCommand,
  runReplicaCommand,
} from "./commands/replica.js";
import { runSwarmCommand } from "./commands/swarm.js";
import { UsageError } from "./commands/usage.js";

const COMMANDS: Record<string, (args: string[]) => number | Promise<number>> = {
  experiment: runExperimentCommand,
  check: runCheckCommand,
  swarm: runSwarmCommand,
  bench: runBenchCommand,
  replica: runReplicaCommand,
  clients: runClientsCommand,
  keys: runKeysCommand,
  "merge-traces": runMergeTracesCommand,
  parity: runParityCommand,
  deploy: runDeployCommand,
  proxy: runProxyCommand,
};

const USAGE = `usage: amcast <command> [options]
  experiment [NAME|FILE] [--seed N] [--trace FILE] [--trace-sends] [--out DIR] [--json] [--list]
             [--runtime sim|net] [--client-hosts N] [--no-latency] [--work-dir DIR] [--time-limit-s S]
  check FILE [--real-time] [--no-liveness] [--json]
  swarm [--protocol NAME] [--seed N] [--seeds N] [--trace FILE]
  bench [--multicasts N] [--json] [--runtime net]
  replica --deployment FILE (--id ID | --host HOST) (--keys FILE | --secret-file FILE) [--trace FILE]
          [--listen ADDRESS] [--health-port PORT]
  clients --deployment FILE [--id HOST] (--keys FILE | --secret-file FILE) [--trace FILE]
  keys --deployment FILE --secret-file FILE --out DIR
  merge-traces --out FILE TRACE...
  parity [--full] [--seed N] [--multicasts N] [--json]
  deploy k8s|compose --experiment NAME [--out DIR] [--protocol P] [--mode M] [--workload W] [--seed N]
         [--name N] [--image I] [--port P] [--health-port P] [--client-hosts N] [--secret-file F]
         [--latency-emulation]
  proxy --cluster FILE (--keys FILE | --secret-file FILE) [--host ID] [--listen ADDRESS] [--port PORT]`;

function main(argv: string[]): number | Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h") {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined)
    throw new UsageError(
      `unknown command ${JSON.stringify(command)} (known: ${Object.keys(COMMANDS).join(", ")})`,
    );
  return run(rest);
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof InputError || error instanceof UsageError) {
    // Bad input is the user's to fix: one clear line, no stack trace.
    process.stderr.write(`amcast: ${error.message}\n`);
    process.exitCode = 2;
  } else if (error instanceof AssertionError) {
    process.stderr.write(`amcast: internal assertion failed: ${error.message}\n${error.stack ?? ""}\n`);
    process.exitCode = 3;
  } else {
    throw error;
  }
}
