import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describeValue, InputError, listNames } from "@amcast/core";
import type { FsyncPolicy } from "@amcast/storage";
import { FSYNC_POLICIES } from "@amcast/storage";
import { displayPath, readJson } from "@amcast/system";
import type { DeployedNode, Deployment } from "./deployment.js";
import type { ReplicaStorage } from "./journal.js";
import { CLUSTER_SECRET_BYTES_MIN, Keyring } from "./keys.js";
import type { NodeRunOptions } from "./node.js";
import { runNode } from "./node.js";
import { signingProcesses } from "./signatures.js";

/**
 * A node's keyring: its own keyring file (`amcast keys` writes one per node), or derived from the
 * cluster secret. Exactly one of the two files is given.
 */
export function readKeyring(
  deployment: Deployment,
  node: string,
  keysFile: string | undefined,
  secretFile: string | undefined,
): Keyring {
  if (keysFile !== undefined) {
    const keyring = Keyring.fromJson(readJson(resolve(keysFile), "keyring file"), displayPath(keysFile));
    if (keyring.node !== node)
      throw new InputError(
        displayPath(keysFile),
        "node",
        `is the keyring of ${keyring.node}, not of ${node}`,
      );
    return keyring;
  }
  if (secretFile === undefined) throw new InputError(node, "", "needs a keyring file or the cluster secret");
  return Keyring.fromSecret(
    readSecret(secretFile),
    node,
    deployment.nodes.map((peer) => peer.id),
    signingProcesses(deployment.system, deployment.nodes.find((peer) => peer.id === node)?.processes ?? []),
  );
}

/**
 * A node's `storage` option from `--data-dir DIR` and `--fsync POLICY` (default: the
 * deployment's `storage.fsync`, else `batch`): none without a data directory. Refuses a policy
 * it does not know, `--fsync` without a data directory, and a data directory for a client host.
 * A replica of a cluster that ran before (`storage.clusterState: "existing"`) whose data
 * directory holds no journal (lost, wiped, or never given) is refused unless `rejoinEmpty`
 * (`--rejoin-empty`: it then starts as after amnesia with no hard state, voting only once caught
 * up); `rejoinEmpty` with a journal there is refused too (the replica restarts from it).
 */
export function nodeStorage(
  deployment: Deployment,
  node: DeployedNode,
  dataDir: string | undefined,
  fsync: string | undefined,
  rejoinEmpty = false,
): { storage?: ReplicaStorage } {
  if (node.role === "replica") {
    const journal = dataDir !== undefined && existsSync(dataDir) && readdirSync(dataDir).length > 0;
    if (rejoinEmpty && journal)
      throw new InputError(
        "--rejoin-empty",
        "",
        `${dataDir} holds a journal: the replica restarts from it (--rejoin-empty is for a replica whose data directory was lost)`,
      );
    if (!rejoinEmpty && !journal && deployment.storage?.clusterState === "existing")
      throw new InputError(
        "--data-dir",
        "",
        `${dataDir === undefined ? "none given" : `${dataDir} holds no journal`}, and the deployment's storage.clusterState is "existing": a replica that ran before and lost its disk could vote twice in a term; start it with --rejoin-empty (it then votes only once caught up with its group), or set clusterState to "new" for the cluster's first start`,
      );
  }
  if (fsync !== undefined && !(FSYNC_POLICIES as readonly string[]).includes(fsync))
    throw new InputError(
      "--fsync",
      "",
      `expected one of ${listNames(FSYNC_POLICIES)}, got ${describeValue(fsync)}`,
    );
  if (dataDir === undefined) {
    if (fsync !== undefined)
      throw new InputError("--fsync", "", "needs --data-dir DIR (where the replica journals)");
    return {};
  }
  if (node.role !== "replica")
    throw new InputError(
      "--data-dir",
      "",
      `${node.id} is a client host: only replicas keep a data directory`,
    );
  return {
    storage: {
      dataDir: resolve(dataDir),
      fsync: (fsync as FsyncPolicy | undefined) ?? deployment.storage?.fsync ?? "batch",
      ...(deployment.storage?.truncate === false ? { truncate: false } : {}),
    },
  };
}

/** A cluster secret file: at least CLUSTER_SECRET_BYTES_MIN bytes. */
export function readSecret(file: string): Buffer {
  let secret: Buffer;
  try {
    secret = readFileSync(resolve(file));
  } catch (error) {
    throw new InputError(
      displayPath(file),
      "",
      `cannot read the cluster secret (${(error as Error).message})`,
    );
  }
  if (secret.length < CLUSTER_SECRET_BYTES_MIN)
    throw new InputError(
      displayPath(file),
      "",
      `a cluster secret has at least ${CLUSTER_SECRET_BYTES_MIN} bytes, this file has ${secret.length} (make one with: head -c 32 /dev/urandom > ${file})`,
    );
  return secret;
}

/**
 * Runs this OS process as one node of a deployment (see `runNode`) and exits when it is done:
 * lets go of the runner's control channel, and gives whatever still holds the event loop (a
 * stuck socket) two seconds before the exit.
 */
export async function runNodeProcess(options: NodeRunOptions): Promise<number> {
  const code = await runNode(options);
  // Under the runner the IPC channel would keep the process alive; let go of it.
  if (process.connected) process.disconnect();
  setTimeout(() => process.exit(code), 2_000).unref();
  return code;
}
