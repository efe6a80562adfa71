#!/usr/bin/env node
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { deployedNode, loadDeployment } from "./deployment.js";
import { nodeStorage, readKeyring, runNodeProcess } from "./process.js";

/**
 * The program the cluster runner forks for each node:
 * `node-main.js replica|clients --deployment FILE --id ID --keys FILE [--trace FILE]
 * [--data-dir DIR --fsync POLICY] [--amnesia]`, with a deployment the runner wrote (it carries its system). Nodes started by hand run
 * `amcast replica` / `amcast clients`, which end in the same `runNodeProcess`.
 */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      deployment: { type: "string" },
      id: { type: "string" },
      keys: { type: "string" },
      trace: { type: "string" },
      "data-dir": { type: "string" },
      fsync: { type: "string" },
      amnesia: { type: "boolean" },
    },
    allowPositionals: true,
  });
  const role = positionals[0];
  if (
    (role !== "replica" && role !== "clients") ||
    values.deployment === undefined ||
    values.id === undefined
  )
    throw new Error(
      "usage: node-main.js replica|clients --deployment FILE --id ID --keys FILE [--trace FILE]",
    );
  const deployment = loadDeployment(resolve(values.deployment));
  const node = deployedNode(deployment, values.id, role);
  const prefix = `[${node.id}] `;
  return runNodeProcess({
    deployment,
    node,
    keyring: readKeyring(deployment, node.id, values.keys, undefined),
    traceFile: values.trace === undefined ? null : resolve(values.trace),
    log: (line) => process.stderr.write(`${prefix}${line}\n`),
    ...nodeStorage(deployment, node, values["data-dir"], values.fsync),
    ...(values.amnesia === true ? { amnesia: true } : {}),
  });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`node: ${(error as Error).message}\n`);
  process.exitCode = 2;
}
