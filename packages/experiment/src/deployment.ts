import type { JsonFields as Fields } from "@amcast/core";
import { describeValue, InputError, JsonFields, listNames } from "@amcast/core";
import type { NodeSpec, TransportLimits } from "@amcast/runtime";
import { DEFAULT_LIMITS } from "@amcast/runtime";
import { besideFile, displayPath, readJson } from "./files.js";
import type { NetSystem } from "./net-system.js";
import { netSystemFromDoc } from "./net-system.js";
import { experimentScenarios } from "./run.js";
import { buildSystem } from "./scenario.js";
import { loadExperiment } from "./spec.js";

/**
 * A deployment file says where every node of a cluster runs: one node per replica (host and
 * port it listens on) and the client hosts (which only dial out), plus what the cluster runs —
 * a run of an experiment file. Every node reads the same file. Format (docs/runtime.md):
 *
 * ```json
 * { "kind": "deployment", "name": "three-sites",
 *   "experiment": "../experiments/net-wan.json",
 *   "run": { "protocol": "skeen", "mode": "solo", "workload": "wan", "seed": 1 },
 *   "latencyEmulation": false,
 *   "replicas": [{ "id": "Canada/0", "host": "10.0.0.1", "port": 7000 }, ...],
 *   "clientHosts": [{ "id": "clients-0", "clients": ["c0", "c1"] }],
 *   "transport": { "batchMessagesMax": 512 } }
 * ```
 * `run` may leave out what the experiment has only one of; `clientHosts` defaults to one host,
 * "clients", running every client. The runner writes deployments with `system` (the run itself,
 * serialised) instead of `experiment` and `run`, and port 0 (each replica reports the port it got).
 */
export interface DeployedNode extends NodeSpec {
  readonly host: string;
  readonly port: number;
}

export interface Deployment {
  readonly file: string;
  readonly name: string;
  readonly system: NetSystem;
  /** Inject the topology's one-way delays (with the experiment's jitter) in every link. */
  readonly latencyEmulation: boolean;
  readonly nodes: readonly DeployedNode[];
  readonly limits: Partial<TransportLimits>;
}

export const DEFAULT_CLIENT_HOST = "clients";

export function loadDeployment(file: string): Deployment {
  const source = displayPath(file);
  const doc = JsonFields.root(readJson(file, "deployment file"), source);
  if (doc.raw("kind") !== "deployment")
    throw doc.error("kind", `expected "deployment", got ${describeValue(doc.raw("kind"))}`);
  const name = doc.optionalString("name") ?? source;
  const system = doc.has("system")
    ? netSystemFromDoc(doc.raw("system"), source)
    : readRun(doc, file, doc.optionalObject("run"));
  const latencyEmulation = doc.boolean("latencyEmulation", false);
  const nodes = readNodes(doc, system);
  const limits = readLimits(doc.optionalObject("transport"));
  doc.optionalString("description");
  doc.done();
  return { file, name, system, latencyEmulation, nodes, limits };
}

/** The run of an experiment file a deployment names (`experiment` and `run`). */
function readRun(doc: Fields, file: string, run: Fields | undefined): NetSystem {
  const experimentFile = besideFile(file, doc.string("experiment"));
  const experiment = loadExperiment(experimentFile);
  const want = {
    protocol: run?.optionalString("protocol"),
    mode: run?.optionalString("mode"),
    workload: run?.optionalString("workload"),
    seed: run?.has("seed") === true ? run.number("seed", { integer: true, min: 0 }) : undefined,
  };
  const traceSends = run?.boolean("traceSends", false) ?? false;
  run?.done();
  const scenarios = experimentScenarios(experiment, {
    ...(want.seed === undefined ? {} : { seed: want.seed }),
    recordSends: traceSends,
    keepSamples: false,
  }).filter(
    (scenario) =>
      (want.protocol === undefined ||
        scenario.label.startsWith(`${want.protocol}/`) ||
        scenario.protocol.name === want.protocol) &&
      (want.mode === undefined || scenario.mode === want.mode) &&
      (want.workload === undefined || scenario.workload.name === want.workload),
  );
  const [scenario] = scenarios;
  if (scenario === undefined || scenarios.length > 1) {
    const labels = scenarios.map((candidate) => `${candidate.label} (seed ${candidate.seed})`);
    throw doc.error(
      "run",
      scenario === undefined
        ? "selects no run of the experiment (check protocol, mode, workload and seed)"
        : `selects ${scenarios.length} runs (${listNames(labels)}); name protocol, mode, workload and seed`,
    );
  }
  if (scenario.faults.crashes.length > 0 || scenario.faults.partitions.length > 0)
    throw doc.error(
      "run",
      "the network runtime does not inject crashes or partitions (yet); pick a run without",
    );
  return {
    label: scenario.label,
    spec: scenario,
    network: experiment.network,
    tickMs: experiment.tickMs,
    recordSends: traceSends,
  };
}

function readNodes(doc: Fields, system: NetSystem): DeployedNode[] {
  const built = buildSystem(system.spec);
  const replicaIds = built.membership.processes().map((process) => process.id);
  const clientIds = built.clients.map((client) => client.logic.id);
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
          `client ${describeValue(client)} is not in the system (clients: c0 .. c${clientIds.length - 1})`,
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

function readLimits(doc: Fields | undefined): Partial<TransportLimits> {
  if (doc === undefined) return {};
  const limits: Record<string, number> = {};
  for (const name of Object.keys(DEFAULT_LIMITS))
    if (doc.has(name)) limits[name] = doc.number(name, { min: 0 });
  doc.done();
  return limits as Partial<TransportLimits>;
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
