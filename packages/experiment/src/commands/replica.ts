import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError } from "@amcast/core";
import type { Deployment } from "@amcast/runtime";
import {
  DEFAULT_CLIENT_HOST,
  deployedNode,
  Keyring,
  mergeTraceFiles,
  nodeStorage,
  publicKeysFromSecret,
  readKeyring,
  readSecret,
  replicaOnHost,
  runNodeProcess,
  signingProcesses,
  startHealthServer,
} from "@amcast/runtime";
import { displayPath } from "@amcast/system";
import { loadDeploymentFile } from "../run.js";
import { TraceFileWriter } from "../trace-file.js";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

const NODE_OPTIONS = {
  deployment: { type: "string" },
  id: { type: "string" },
  keys: { type: "string" },
  "secret-file": { type: "string" },
  trace: { type: "string" },
  host: { type: "string" },
  listen: { type: "string" },
  "health-port": { type: "string" },
  "data-dir": { type: "string" },
  fsync: { type: "string" },
  "rejoin-empty": { type: "boolean" },
} as const;

/**
 * `amcast replica --deployment FILE (--id ID | --host HOST) (--keys FILE | --secret-file FILE)
 * [--trace FILE] [--listen ADDRESS] [--health-port PORT] [--data-dir DIR [--fsync POLICY]]
 * [--rejoin-empty]`:
 * runs one replica of a deployment until SIGINT/SIGTERM (or until the runner that started it says
 * stop). Start one per replica, on the hosts the deployment names, then `amcast clients`.
 * `--data-dir` journals what the replica decides there before it acts on it (fsync `batch`,
 * `interval` or `none`; default the deployment's `storage.fsync`, else `batch`): the same command
 * after a crash rebuilds the replica from the journal and rejoins the group. `--rejoin-empty`
 * starts a replica that ran before and lost its data directory: with no hard state, it votes only
 * once caught up with its group (required when the deployment's `storage.clusterState` is
 * `"existing"` and the directory holds no journal). `--host` picks the replica the deployment
 * places on HOST (a container or pod knows its own name, not its replica id); `--listen` binds
 * another address than the deployment's (0.0.0.0 in a container); `--health-port` serves
 * /healthz and /readyz (ready once connected to every replica) for probes.
 */
export function runReplicaCommand(args: string[]): Promise<number> {
  return runNodeCommand("replica", args);
}

/**
 * `amcast clients --deployment FILE [--id HOST] (--keys FILE | --secret-file FILE) [--trace FILE]`:
 * runs a client host of a deployment: connects to every replica, runs its clients' workload,
 * waits for the last acknowledgements, prints a summary and exits.
 */
export function runClientsCommand(args: string[]): Promise<number> {
  return runNodeCommand("clients", args);
}

async function runNodeCommand(command: "replica" | "clients", args: string[]): Promise<number> {
  const { values } = parseCommandArgs(command, args, NODE_OPTIONS, 0);
  const file = stringFlag(values.deployment);
  if (file === undefined) throw new UsageError(`${command}: --deployment FILE is required`);
  const deployment = loadDeploymentFile(resolve(file));
  const host = stringFlag(values.host);
  if (host !== undefined && (command === "clients" || values.id !== undefined))
    throw new UsageError(
      `${command}: --host HOST picks a replica; give it instead of --id, to amcast replica`,
    );
  const id = stringFlag(values.id) ?? (command === "clients" ? DEFAULT_CLIENT_HOST : undefined);
  if (id === undefined && host === undefined)
    throw new UsageError(`${command}: --id ID (a replica id of the deployment) or --host HOST is required`);
  const node =
    host !== undefined
      ? replicaOnHost(deployment, host)
      : deployedNode(deployment, id ?? DEFAULT_CLIENT_HOST, command === "replica" ? "replica" : "clients");
  const listenHost = stringFlag(values.listen);
  const healthPort = integerFlag(command, "health-port", values["health-port"], 1, 65535);
  const keyring = readNodeKeyring(
    command,
    deployment,
    node.id,
    stringFlag(values.keys),
    stringFlag(values["secret-file"]),
  );
  const traceFile = stringFlag(values.trace);
  const rejoinEmpty = values["rejoin-empty"] === true;
  if (rejoinEmpty && command !== "replica") throw new UsageError("clients: --rejoin-empty is for a replica");
  const storage = nodeStorage(
    deployment,
    node,
    stringFlag(values["data-dir"]),
    stringFlag(values.fsync),
    rejoinEmpty,
  );
  const prefix = `[${node.id}] `;
  let connected = false;
  if (healthPort !== undefined)
    await startHealthServer({ host: listenHost ?? "0.0.0.0", port: healthPort, ready: () => connected });
  return runNodeProcess({
    deployment,
    node,
    keyring,
    traceFile: traceFile === undefined ? null : resolve(traceFile),
    log: (line) => process.stderr.write(`${prefix}${line}\n`),
    ...(listenHost === undefined ? {} : { listenHost }),
    ...storage,
    ...(rejoinEmpty ? { rejoinEmpty } : {}),
    onConnected: () => {
      connected = true;
    },
  }).catch((error: NodeJS.ErrnoException) => {
    // A port another process holds (or an address this host does not have) is the deployment's
    // to fix: one line naming the replica and the address, not a stack trace.
    if (error.syscall !== "listen") throw error;
    throw new InputError(
      displayPath(resolve(file)),
      "replicas",
      `${node.id} cannot listen on ${listenHost ?? node.host}:${node.port} (${error.code ?? error.message})`,
    );
  });
}

function readNodeKeyring(
  command: string,
  deployment: Deployment,
  node: string,
  keysFile: string | undefined,
  secretFile: string | undefined,
): Keyring {
  if ((keysFile === undefined) === (secretFile === undefined))
    throw new UsageError(`${command}: give either --keys FILE (this node's keyring) or --secret-file FILE`);
  return readKeyring(deployment, node, keysFile, secretFile);
}

/**
 * `amcast keys --deployment FILE --secret-file FILE --out DIR`: derives every node's keyring from
 * the cluster secret and writes one file per node (DIR/<node>.keys.json, readable by the owner
 * only). Give each node only its own file: then no node holds the secret, and none can derive
 * the keys of a pair it is not part of. In Byzantine mode a keyring also holds the signing keys of
 * the node's processes, and DIR/public-keys.json every process's public key, for the
 * deployment's `publicKeys`.
 */
export function runKeysCommand(args: string[]): number {
  const { values } = parseCommandArgs(
    "keys",
    args,
    { deployment: { type: "string" }, "secret-file": { type: "string" }, out: { type: "string" } },
    0,
  );
  const file = stringFlag(values.deployment);
  const secretFile = stringFlag(values["secret-file"]);
  const out = stringFlag(values.out);
  if (file === undefined || secretFile === undefined || out === undefined)
    throw new UsageError("keys: --deployment FILE, --secret-file FILE and --out DIR are required");
  const deployment = loadDeploymentFile(resolve(file));
  const secret = readSecret(secretFile);
  const ids = deployment.nodes.map((node) => node.id);
  mkdirSync(resolve(out), { recursive: true });
  for (const node of deployment.nodes) {
    const target = join(resolve(out), `${encodeURIComponent(node.id)}.keys.json`);
    const keyring = Keyring.fromSecret(
      secret,
      node.id,
      ids,
      signingProcesses(deployment.system, node.processes),
    );
    writeFileSync(target, `${JSON.stringify(keyring.toJson())}\n`, { mode: 0o600 });
    process.stdout.write(`${displayPath(target)}\n`);
  }
  if (deployment.system.mode === "byzantine") {
    const target = join(resolve(out), "public-keys.json");
    const processes = deployment.nodes.flatMap((node) => node.processes);
    writeFileSync(
      target,
      `${JSON.stringify({ publicKeys: publicKeysFromSecret(secret, processes) }, null, 1)}\n`,
    );
    process.stdout.write(`${displayPath(target)} (the deployment's publicKeys)\n`);
  }
  return 0;
}

/**
 * `amcast merge-traces --out FILE TRACE...`: merges the traces of a cluster's processes into one
 * (by time; each process's own order kept), for `amcast check` and the plots. The processes' clocks
 * must agree: one machine, or machines kept in sync (see docs/runtime.md).
 */
export function runMergeTracesCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs("merge-traces", args, { out: { type: "string" } }, 10_000);
  const out = stringFlag(values.out);
  if (out === undefined || positionals.length === 0)
    throw new UsageError("merge-traces: --out FILE and at least one trace file are required");
  for (const file of positionals)
    if (!existsSync(file)) throw new InputError(displayPath(file), "", "trace file not found");
  const writer = new TraceFileWriter(resolve(out));
  try {
    mergeTraceFiles(
      positionals.map((file) => resolve(file)),
      (event) => writer.write(event),
    );
  } finally {
    writer.close();
  }
  process.stdout.write(
    `${displayPath(writer.file)}: ${writer.lines} events from ${positionals.length} file(s)\n`,
  );
  return 0;
}
