import type { JsonFields as Fields } from "@amcast/core";
import { describeValue, InputError, JsonFields, listNames } from "@amcast/core";
import type { FsyncPolicy } from "@amcast/storage";
import { FSYNC_POLICIES } from "@amcast/storage";
import type { BuiltSystem, SystemSpec } from "@amcast/system";
import {
  besideFile,
  buildSystem,
  CONTROLLER_ID,
  displayPath,
  readJson,
  systemFromJson,
  systemToJson,
} from "@amcast/system";
import type { TransportLimits } from "./limits.js";
import { DEFAULT_LIMITS } from "./limits.js";
import type { NodeSpec } from "./nodes.js";
import { PUBLIC_KEY_BYTES, readHexKey } from "./signatures.js";
import { netRefusals } from "./support.js";

/**
 * A deployment file says where every node of a cluster runs: one node per replica (host and
 * port it listens on) and the client hosts (which only dial out), plus what the cluster runs —
 * a run of an experiment file. Every node reads the same file. Format (docs/runtime.md):
 *
 * ```json
 * { "kind": "deployment", "name": "three-sites",
 *   "experiment": "../experiments/net-wan.json",
 *   "run": { "protocol": "skeen", "mode": "solo", "workload": "wan", "seed": 1 },
 *   "latencyEmulation": false, "traceSends": false,
 *   "replicas": [{ "id": "Canada/0", "host": "10.0.0.1", "port": 7000 }, ...],
 *   "clientHosts": [{ "id": "clients-0", "clients": ["c0", "c1"] }],
 *   "transport": { "batchMessagesMax": 512 },
 *   "storage": { "fsync": "batch", "truncate": true },
 *   "publicKeys": { "Canada/0": "<64 hex digits>", ..., "c0": "..." } }
 * ```
 * `storage.fsync` is the fsync policy of replicas started with a data directory
 * (`amcast replica --data-dir DIR`; `--fsync` overrides it); `storage.truncate` (default true)
 * has them journal decided positions and truncate their journals at the group's checkpoints;
 * false keeps every input, the whole journal. `storage.clusterState` `"existing"` refuses a
 * replica whose data directory holds no journal unless it is started with `--rejoin-empty`.
 * `publicKeys` (Byzantine mode only, where it is required) lists every process's Ed25519 public
 * key, replicas and clients; `amcast keys` derives them from the cluster secret.
 * `run` may leave out what the experiment has only one of (it may also name `linearizable` and
 * `faultPlan`); `clientHosts` defaults to one host, "clients", running every client. The runner
 * writes deployments with `system` (the whole run, in the one schema of `systemToJson`) instead of
 * `experiment` and `run`, and port 0 (each replica reports the port it got).
 */
export interface DeployedNode extends NodeSpec {
  readonly host: string;
  readonly port: number;
}

export interface Deployment {
  readonly file: string;
  readonly name: string;
  readonly system: SystemSpec;
  /** Every node writes a `send` event per message into its trace. */
  readonly traceSends: boolean;
  /** Inject the topology's one-way delays (with the experiment's jitter) in every link. */
  readonly latencyEmulation: boolean;
  readonly nodes: readonly DeployedNode[];
  readonly limits: Partial<TransportLimits>;
  /** Every process's Ed25519 public key (raw), in Byzantine mode; empty when the file lists none. */
  readonly publicKeys: ReadonlyMap<string, Buffer>;
  /** The fsync policy of replicas that keep a data directory (default `batch`). */
  readonly storage?: DeploymentStorage;
  /** What replicas hold besides the protocol and how often they checkpoint (default: neither set). */
  readonly replicaState?: ReplicaStateOptions;
}

/** A deployment's `storage`: how replicas with a data directory journal. */
export interface DeploymentStorage {
  readonly fsync: FsyncPolicy;
  /**
   * Default true: journals record decided positions and the group's checkpoints, truncated at
   * each; false: every input, the whole journal kept (`ReplicaStorage.truncate`).
   */
  readonly truncate?: boolean;
  /**
   * `"existing"` once the cluster has run (as etcd's initial cluster state): a replica whose data
   * directory holds no journal then refuses to start unless told `--rejoin-empty`, since it may
   * have voted before it lost its disk. `"new"` (the default): an empty data directory is a
   * first start.
   */
  readonly clusterState?: "new" | "existing";
}

/**
 * A deployment's `replicaState`: how often replicas checkpoint, and the application state they
 * hold (the `recovery` experiment's partitioned key-value state), so that state transfer between
 * real processes carries what it would in a service.
 */
export interface ReplicaStateOptions {
  /** Checkpoint every this many log positions (absent: the group layer's default, 1024). */
  readonly checkpointEntries?: number;
  /** A key-value state of `keys` keys in `partitions` partitions (`PartitionedKv`). */
  readonly keyValue?: { readonly keys: number; readonly partitions: number };
}

export const DEFAULT_CLIENT_HOST = "clients";

/** Which run of an experiment file a deployment names: whatever the experiment has several of. */
export interface RunSelector {
  readonly protocol?: string;
  readonly mode?: string;
  readonly workload?: string;
  readonly seed?: number;
  readonly linearizable?: boolean;
  readonly faultPlan?: string;
}

/**
 * The runs of an experiment file that match a selector (the experiment runner knows experiment
 * files; a deployment the cluster runner wrote carries its system and needs none).
 */
export type RunResolver = (experimentFile: string, selector: RunSelector) => readonly SystemSpec[];

export function loadDeployment(file: string, resolveRun?: RunResolver): Deployment {
  const source = displayPath(file);
  const doc = JsonFields.root(readJson(file, "deployment file"), source);
  if (doc.raw("kind") !== "deployment")
    throw doc.error("kind", `expected "deployment", got ${describeValue(doc.raw("kind"))}`);
  const name = doc.optionalString("name") ?? source;
  // The system is read whole (a node refuses what it cannot run when it starts, see runNode).
  const system = doc.has("system")
    ? systemFromJson(doc.raw("system"), source, "system")
    : readRun(doc, file, doc.optionalObject("run"), resolveRun);
  const traceSends = doc.boolean("traceSends", false);
  const latencyEmulation = doc.boolean("latencyEmulation", false);
  const nodes = readNodes(doc, system);
  const limits = readLimits(doc.optionalObject("transport"));
  const publicKeys = readPublicKeys(doc, system, nodes);
  const storage = readStorage(doc.optionalObject("storage"));
  const replicaState = readReplicaState(doc.optionalObject("replicaState"));
  doc.optionalString("description");
  doc.done();
  return {
    file,
    name,
    system,
    traceSends,
    latencyEmulation,
    nodes,
    limits,
    publicKeys,
    ...(storage === undefined ? {} : { storage }),
    ...(replicaState === undefined ? {} : { replicaState }),
  };
}

/**
 * A deployment file's JSON, carrying its run whole as `system` (the one schema of
 * `systemToJson`): what the cluster runner and `amcast deploy` write and `loadDeployment` reads.
 */
export function deploymentToJson(deployment: Omit<Deployment, "file">): Record<string, unknown> {
  return {
    kind: "deployment",
    name: deployment.name,
    system: systemToJson(deployment.system),
    traceSends: deployment.traceSends,
    latencyEmulation: deployment.latencyEmulation,
    replicas: deployment.nodes
      .filter((node) => node.role === "replica")
      .map(({ id, host, port }) => ({ id, host, port })),
    clientHosts: deployment.nodes
      .filter((node) => node.role === "clients")
      .map(({ id, processes, host }) => ({ id, clients: processes, ...(host === "" ? {} : { host }) })),
    transport: deployment.limits,
    ...(deployment.storage === undefined ? {} : { storage: deployment.storage }),
    ...(deployment.replicaState === undefined ? {} : { replicaState: deployment.replicaState }),
    ...(deployment.publicKeys.size === 0
      ? {}
      : {
          publicKeys: Object.fromEntries(
            [...deployment.publicKeys].map(([process, key]) => [process, key.toString("hex")]),
          ),
        }),
  };
}

/**
 * The nodes of a deployment of `built`: one per replica at `address(replica)`, and `clientHosts`
 * client hosts (at most one per workload client) with the workload's clients dealt round robin;
 * one host is named "clients", several "clients-0", "clients-1", ...
 */
export function deploymentNodes(
  built: Pick<BuiltSystem, "membership" | "clients">,
  clientHosts: number,
  address: (replica: string) => { readonly host: string; readonly port: number },
): DeployedNode[] {
  // A background client (the reconfiguration controller) joins the first host, beside workload
  // clients, and stops when they are done.
  const workloadClients = built.clients.filter((client) => client.background !== true);
  const hostCount = Math.max(1, Math.min(clientHosts, workloadClients.length));
  const clientGroups: string[][] = Array.from({ length: hostCount }, () => []);
  workloadClients.forEach((client, index) => {
    clientGroups[index % hostCount]?.push(client.logic.id);
  });
  for (const client of built.clients) if (client.background === true) clientGroups[0]?.push(client.logic.id);
  return [
    ...built.membership
      .processes()
      .map(({ id }) => ({ id, role: "replica" as const, processes: [id], ...address(id) })),
    ...clientGroups.map((clients, index) => ({
      id: hostCount === 1 ? DEFAULT_CLIENT_HOST : `${DEFAULT_CLIENT_HOST}-${index}`,
      role: "clients" as const,
      processes: clients,
      host: "",
      port: 0,
    })),
  ];
}

/**
 * The one run of an experiment file that `selector` picks, refused when it picks none or several,
 * or one the network runtime cannot run by hand. `fail` makes the error (it knows where the
 * selector came from: a deployment file's `run`, or command-line flags).
 */
export function selectOneRun(
  experimentFile: string,
  selector: RunSelector,
  resolveRun: RunResolver,
  fail: (problem: string) => Error,
): SystemSpec {
  const systems = resolveRun(experimentFile, selector);
  const [system] = systems;
  if (system === undefined || systems.length > 1) {
    const labels = systems.map((candidate) => `${candidate.label} (seed ${candidate.seed})`);
    throw fail(
      system === undefined
        ? "selects no run of the experiment (check protocol, mode, workload, seed, linearizable and faultPlan)"
        : `selects ${systems.length} runs (${listNames(labels)}); name protocol, mode, workload, seed, linearizable or faultPlan`,
    );
  }
  const refused = netRefusals(system, { byHand: true });
  if (refused.length > 0)
    throw fail(`selects ${system.label}, which the network runtime cannot run: ${refused.join("; ")}`);
  return system;
}

/** The run of an experiment file a deployment names (`experiment` and `run`). */
function readRun(
  doc: Fields,
  file: string,
  run: Fields | undefined,
  resolveRun: RunResolver | undefined,
): SystemSpec {
  const experimentFile = besideFile(file, doc.string("experiment"));
  if (resolveRun === undefined)
    throw doc.error(
      "experiment",
      "names an experiment file; start this node with amcast replica or amcast clients",
    );
  const selector: RunSelector = {
    ...optional("protocol", run?.optionalString("protocol")),
    ...optional("mode", run?.optionalString("mode")),
    ...optional("workload", run?.optionalString("workload")),
    ...optional(
      "seed",
      run?.has("seed") === true ? run.number("seed", { integer: true, min: 0 }) : undefined,
    ),
    ...optional("linearizable", run?.has("linearizable") === true ? run.boolean("linearizable") : undefined),
    ...optional("faultPlan", run?.optionalString("faultPlan")),
  };
  run?.done();
  return selectOneRun(experimentFile, selector, resolveRun, (problem) => doc.error("run", problem));
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function readNodes(doc: Fields, system: SystemSpec): DeployedNode[] {
  const built = buildSystem(system);
  const replicaIds = built.membership.processes().map((process) => process.id);
  const clientIds = built.clients.map((client) => client.logic.id);
  // The workload's clients are c0, c1, ...; a reconfiguring run adds its controller's client.
  const workloadClients = built.clients.filter((client) => client.background !== true).length;
  const clientsText = [
    `c0 .. c${workloadClients - 1}`,
    ...(built.controller === null ? [] : [CONTROLLER_ID]),
  ].join(", ");
  const nodes: DeployedNode[] = [];
  const seen = new Set<string>();
  const replicaItems = doc.array("replicas");
  replicaItems.objects().forEach((item, index) => {
    const id = item.string("id");
    if (!replicaIds.includes(id))
      throw replicaItems.error(
        index,
        `replica ${describeValue(id)} is not in the system (replicas: ${listNames(replicaIds)})`,
      );
    if (seen.has(id)) throw replicaItems.error(index, `replica ${describeValue(id)} is listed twice`);
    seen.add(id);
    const host = item.string("host");
    const port = item.number("port", { integer: true, min: 0, max: 65535 });
    item.done();
    nodes.push({ id, role: "replica", processes: [id], host, port });
  });
  const missing = replicaIds.filter((id) => !seen.has(id));
  if (missing.length > 0) throw doc.error("replicas", `misses replica(s) ${missing.join(", ")}`);

  const hostItems = doc.optionalArray("clientHosts");
  if (hostItems === undefined) {
    nodes.push({ id: DEFAULT_CLIENT_HOST, role: "clients", processes: clientIds, host: "", port: 0 });
    return nodes;
  }
  const placed = new Set<string>();
  hostItems.objects().forEach((item, index) => {
    const id = item.string("id");
    if (seen.has(id)) throw hostItems.error(index, `node id ${describeValue(id)} is used twice`);
    seen.add(id);
    const clientItems = item.array("clients", true);
    const clients = clientItems.strings();
    clients.forEach((client, clientIndex) => {
      if (!clientIds.includes(client))
        throw clientItems.error(
          clientIndex,
          `client ${describeValue(client)} is not in the system (clients: ${clientsText})`,
        );
      if (placed.has(client))
        throw clientItems.error(clientIndex, `client ${describeValue(client)} is placed twice`);
      placed.add(client);
    });
    const host = item.optionalString("host") ?? "";
    item.done();
    nodes.push({ id, role: "clients", processes: clients, host, port: 0 });
  });
  const unplaced = clientIds.filter((id) => !placed.has(id));
  if (unplaced.length > 0)
    throw doc.error("clientHosts", `places no host for client(s) ${unplaced.join(", ")}`);
  return nodes;
}

/**
 * The public keys of a Byzantine run: when listed, one per process of the deployment, no more, no
 * less (a node refuses to start a Byzantine run without them, see runNode; `amcast keys` reads a
 * deployment before they are known). Other modes sign nothing and take none.
 */
function readPublicKeys(
  doc: Fields,
  system: SystemSpec,
  nodes: readonly DeployedNode[],
): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  const listed = doc.optionalObject("publicKeys");
  if (listed === undefined) return keys;
  if (system.mode !== "byzantine")
    throw doc.error("publicKeys", `only a Byzantine run signs; this one is ${system.mode}`);
  for (const process of nodes.flatMap((node) => node.processes)) {
    if (!listed.has(process))
      throw listed.error(process, "is missing: every process of a Byzantine run signs");
    keys.set(
      process,
      readHexKey(listed.raw(process), PUBLIC_KEY_BYTES, doc.source, listed.fieldPath(process)),
    );
  }
  listed.done();
  return keys;
}

function readStorage(doc: Fields | undefined): DeploymentStorage | undefined {
  if (doc === undefined) return undefined;
  const fsync = doc.string("fsync");
  if (!(FSYNC_POLICIES as readonly string[]).includes(fsync))
    throw doc.error("fsync", `expected one of ${listNames(FSYNC_POLICIES)}, got ${describeValue(fsync)}`);
  const truncate = doc.boolean("truncate", true);
  const clusterState = doc.has("clusterState") ? doc.string("clusterState") : "new";
  if (clusterState !== "new" && clusterState !== "existing")
    throw doc.error("clusterState", `expected "new" or "existing", got ${describeValue(clusterState)}`);
  doc.done();
  return {
    fsync: fsync as FsyncPolicy,
    ...(truncate ? {} : { truncate }),
    ...(clusterState === "existing" ? { clusterState } : {}),
  };
}

function readReplicaState(doc: Fields | undefined): ReplicaStateOptions | undefined {
  if (doc === undefined) return undefined;
  const checkpointEntries = doc.has("checkpointEntries")
    ? doc.number("checkpointEntries", { integer: true, min: 1 })
    : undefined;
  const kv = doc.optionalObject("keyValue");
  const keyValue =
    kv === undefined
      ? undefined
      : {
          keys: kv.number("keys", { integer: true, min: 1 }),
          partitions: kv.number("partitions", { integer: true, min: 1 }),
        };
  kv?.done();
  doc.done();
  return {
    ...(checkpointEntries === undefined ? {} : { checkpointEntries }),
    ...(keyValue === undefined ? {} : { keyValue }),
  };
}

function readLimits(doc: Fields | undefined): Partial<TransportLimits> {
  if (doc === undefined) return {};
  const limits: Record<string, number> = {};
  for (const name of Object.keys(DEFAULT_LIMITS))
    if (doc.has(name)) limits[name] = doc.number(name, { min: 0 });
  doc.done();
  return limits as Partial<TransportLimits>;
}

/**
 * The replica a deployment places on `host`: the one whose `host` is `host`, or whose host's first
 * DNS label is (a Kubernetes pod knows its own name, `amcast-canada-0`, and the deployment lists
 * it as `amcast-canada-0.amcast`). An `InputError` when none or several match.
 */
export function replicaOnHost(deployment: Deployment, host: string): DeployedNode {
  const replicas = deployment.nodes.filter((node) => node.role === "replica");
  const matches = replicas.filter((node) => node.host === host || node.host.split(".")[0] === host);
  const [match] = matches;
  if (match === undefined || matches.length > 1)
    throw new InputError(
      displayPath(deployment.file),
      "replicas",
      match === undefined
        ? `places no replica on host ${describeValue(host)} (hosts: ${listNames(replicas.map((node) => node.host))})`
        : `places ${matches.length} replicas on host ${describeValue(host)} (${listNames(matches.map((node) => node.id))}); name one with --id`,
    );
  return match;
}

/** The node `id` of a deployment, or an `InputError` listing the known ones. */
export function deployedNode(deployment: Deployment, id: string, role?: DeployedNode["role"]): DeployedNode {
  const node = deployment.nodes.find((candidate) => candidate.id === id);
  if (node === undefined || (role !== undefined && node.role !== role)) {
    const known = deployment.nodes.filter((candidate) => role === undefined || candidate.role === role);
    throw new InputError(
      displayPath(deployment.file),
      "",
      `has no ${role === "clients" ? "client host" : (role ?? "node")} ${describeValue(id)} (known: ${listNames(known.map((candidate) => candidate.id))})`,
    );
  }
  return node;
}
