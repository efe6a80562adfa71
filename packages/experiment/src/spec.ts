import type { JsonFields, LocalitySpec, Overlay, ProtocolDefinition, Topology } from "@amcast/core";
import {
  checkOverlayAgainstTopology,
  describeValue,
  JsonFields as Fields,
  InputError,
  listNames,
  parseOverlay,
  parseTopology,
  percent,
  targetGroups,
} from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { REPLICATION_MODES, replicaCount } from "@amcast/group";
import type { CrashFault, FaultOptions, NetworkOptions, PartitionFault, ProcessingCost } from "@amcast/sim";
import { besideFile, displayPath, readJson, readText } from "./files.js";
import { protocolByName } from "./registry.js";

/** One protocol of an experiment, with the overlay it runs on. */
export interface ProtocolRun {
  readonly label: string;
  readonly protocol: ProtocolDefinition<unknown>;
  readonly overlay: Overlay | null;
}

export interface WorkloadSpec {
  readonly name: string;
  /** Clients colocated with each target group (home = that group); null: the topology's clients. */
  readonly clientsPerGroup: number | null;
  readonly loop: "closed" | "open";
  readonly multicastsPerClient: number;
  /** Closed loop: multicasts each client keeps in flight. */
  readonly outstanding: number;
  readonly thinkMs: number;
  /** Open loop: Poisson arrivals per client per second, and the in-flight cap. */
  readonly ratePerSec: number;
  readonly outstandingMax: number;
  readonly payloadBytes: number;
  /** Groups the workload addresses (clients' homes and destinations); null: every target group. */
  readonly groups: readonly string[] | null;
  readonly locality: LocalitySpec;
  /** Clients start at a uniform random time in [0, startSpreadMs), so they do not move in lockstep. */
  readonly startSpreadMs: number;
}

export interface ExperimentSpec {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly topology: Topology;
  readonly protocols: readonly ProtocolRun[];
  readonly mode: ReplicationMode;
  /** Faults tolerated per group (replicas = replicaCount(mode, f)). */
  readonly f: number;
  readonly workloads: readonly WorkloadSpec[];
  readonly network: NetworkOptions;
  readonly processing: ProcessingCost;
  readonly faults: FaultOptions;
  readonly seeds: readonly number[];
  readonly timeLimitMs: number;
  readonly tickMs: number;
  readonly realTime: boolean;
}

const SEED_MAX = Number.MAX_SAFE_INTEGER;

/** Loads and validates `experiments/NAME.json` (or any experiment file) with everything it names. */
export function loadExperiment(file: string): ExperimentSpec {
  const source = displayPath(file);
  const doc = Fields.root(readJson(file, "experiment file"), source);
  const name = doc.string("name");
  const description = doc.optionalString("description") ?? "";

  const topologyFile = besideFile(file, doc.string("topology"));
  const topologySource = displayPath(topologyFile);
  const topology = parseTopology(
    readJson(topologyFile, `topology file (named by ${source} field topology)`),
    topologySource,
    (csv) => readText(besideFile(topologyFile, csv), "latency file"),
  );

  const protocols = doc
    .array("protocols")
    .objects()
    .map((item) => readProtocolRun(item, file, topology));
  const labels = new Set<string>();
  protocols.forEach((run, index) => {
    if (labels.has(run.label)) {
      throw new InputError(
        source,
        `protocols[${index}].label`,
        `label ${describeValue(run.label)} is used twice; give each run its own label`,
      );
    }
    labels.add(run.label);
  });

  const mode = doc.choice<ReplicationMode>("mode", REPLICATION_MODES, "solo");
  const f = doc.number("f", { integer: true, min: 0, max: 10 }, 0);
  replicaCount(mode, f);
  const workloads = doc
    .array("workloads")
    .objects()
    .map((item) => readWorkload(item, topology, protocols));
  const workloadNames = new Set<string>();
  workloads.forEach((workload, index) => {
    if (workloadNames.has(workload.name)) {
      throw new InputError(
        source,
        `workloads[${index}].name`,
        `workload ${describeValue(workload.name)} is defined twice`,
      );
    }
    workloadNames.add(workload.name);
  });

  const network = readNetwork(doc.optionalObject("network"));
  const processing = readProcessing(doc.optionalObject("processing"));
  const processIds = new Set(
    topology.groupIds.flatMap((group) =>
      Array.from({ length: replicaCount(mode, f) }, (_, i) => `${group}/${i}`),
    ),
  );
  const faults = readFaults(doc.optionalObject("faults"), processIds);
  const seeds = doc.has("seeds") ? doc.array("seeds").numbers({ integer: true, min: 0, max: SEED_MAX }) : [1];
  const timeLimitMs = doc.number("timeLimitMs", { min: 1 }, 3_600_000);
  const tickMs = doc.number("tickMs", { min: 0.001 }, 10);
  const check = doc.optionalObject("check");
  const realTime = check?.boolean("realTime", false) ?? false;
  check?.done();
  doc.done();
  return {
    name,
    description,
    file,
    topology,
    protocols,
    mode,
    f,
    workloads,
    network,
    processing,
    faults,
    seeds,
    timeLimitMs,
    tickMs,
    realTime,
  };
}

function readProtocolRun(item: JsonFields, experimentFile: string, topology: Topology): ProtocolRun {
  const protocol = protocolByName(item.raw("protocol"), item.source, item.fieldPath("protocol"));
  const overlayName = item.optionalString("overlay");
  let overlay: Overlay | null = null;
  if (overlayName !== undefined) {
    const overlayFile = besideFile(experimentFile, overlayName);
    const overlaySource = displayPath(overlayFile);
    overlay = parseOverlay(
      readJson(overlayFile, `overlay file (named by ${item.source} field ${item.fieldPath("overlay")})`),
      overlaySource,
    );
    checkOverlayAgainstTopology(overlay, topology, overlaySource);
  }
  if (protocol.overlayKind !== null && overlay?.kind !== protocol.overlayKind) {
    throw item.error(
      "overlay",
      `protocol ${protocol.name} needs an overlay of kind ${protocol.overlayKind}, got ${overlay === null ? "none" : overlay.kind}`,
    );
  }
  if (protocol.overlayKind === null && overlay !== null) {
    throw item.error("overlay", `protocol ${protocol.name} runs without an overlay; remove the field`);
  }
  const label =
    item.optionalString("label") ?? (overlay === null ? protocol.name : `${protocol.name}/${overlay.name}`);
  item.done();
  return { label, protocol, overlay };
}

function readWorkload(item: JsonFields, topology: Topology, protocols: readonly ProtocolRun[]): WorkloadSpec {
  const name = item.string("name");
  const clientsPerGroup = item.has("clientsPerGroup")
    ? item.number("clientsPerGroup", { integer: true, min: 1, max: 10_000 })
    : null;
  if (clientsPerGroup === null && topology.clients.length === 0) {
    throw item.error(
      "clientsPerGroup",
      `is missing and topology ${topology.name} places no clients; set clientsPerGroup`,
    );
  }
  const loop = item.choice("loop", ["closed", "open"] as const, "closed");
  const multicastsPerClient = item.number("multicastsPerClient", { integer: true, min: 0, max: 100_000_000 });
  const outstanding = item.number("outstanding", { integer: true, min: 1, max: 10_000 }, 1);
  const thinkMs = item.number("thinkMs", { min: 0 }, 0);
  const ratePerSec =
    loop === "open"
      ? item.number("ratePerSec", { min: 0.001 })
      : item.number("ratePerSec", { min: 0.001 }, 1);
  const outstandingMax = item.number("outstandingMax", { integer: true, min: 1, max: 1_000_000 }, 10_000);
  const payloadBytes = item.number("payloadBytes", { integer: true, min: 0, max: 100_000_000 }, 64);
  const localPercent = item.number("localPercent", { integer: true, min: 0, max: 100 }, 90);
  const globalSizes = item.has("globalSizes")
    ? item.array("globalSizes").numbers({ integer: true, min: 2, max: 1000 })
    : [2, 3];
  const globalChoice = item.choice("globalChoice", ["nearest", "uniform"] as const, "nearest");
  const startSpreadMs = item.number("startSpreadMs", { min: 0 }, 10);
  const groupItems = item.optionalArray("groups");
  const groups = groupItems === undefined ? null : groupItems.strings();
  for (const run of protocols) {
    const allTargets = targetGroups(run.overlay, topology);
    groups?.forEach((group, index) => {
      if (!allTargets.includes(group)) {
        throw groupItems?.error(
          index,
          `group ${describeValue(group)} is not a target group of ${run.label} (groups: ${listNames(allTargets)})`,
        );
      }
    });
    const targets = groups ?? allTargets;
    if (localPercent < 100 && targets.length < 2) {
      throw item.error(
        "localPercent",
        `is ${localPercent} but ${run.label} has ${targets.length} target group: global multicasts need two`,
      );
    }
  }
  percent(localPercent);
  item.done();
  return {
    name,
    clientsPerGroup,
    loop,
    multicastsPerClient,
    outstanding,
    thinkMs,
    ratePerSec,
    outstandingMax,
    payloadBytes,
    groups,
    locality: { localPercent, globalSizes, globalChoice },
    startSpreadMs,
  };
}

function readNetwork(doc: JsonFields | undefined): NetworkOptions {
  if (doc === undefined) return { jitterSdFraction: 0.05, reorder: null };
  const jitterSdFraction = doc.number("jitterSdFraction", { min: 0, max: 1 }, 0.05);
  const reorderPercent = doc.number("reorderPercent", { integer: true, min: 0, max: 100 }, 0);
  const extraDelayMsMax = doc.number("reorderExtraDelayMsMax", { min: 0 }, 0);
  doc.done();
  return {
    jitterSdFraction,
    reorder: reorderPercent === 0 ? null : { chance: percent(reorderPercent), extraDelayMsMax },
  };
}

function readProcessing(doc: JsonFields | undefined): ProcessingCost {
  if (doc === undefined) return { perMessageUs: 0, perByteNs: 0 };
  const perMessageUs = doc.number("perMessageUs", { min: 0 }, 0);
  const perByteNs = doc.number("perByteNs", { min: 0 }, 0);
  doc.done();
  return { perMessageUs, perByteNs };
}

function readFaults(doc: JsonFields | undefined, processIds: ReadonlySet<string>): FaultOptions {
  if (doc === undefined) return { crashes: [], partitions: [] };
  const known = listNames([...processIds].slice(0, 6)) + (processIds.size > 6 ? ", ..." : "");
  const checkProcess = (item: JsonFields, field: string, id: string): void => {
    if (!processIds.has(id))
      throw item.error(field, `process ${describeValue(id)} does not exist (processes: ${known})`);
  };
  const crashes: CrashFault[] = (doc.optionalArray("crashes")?.objects() ?? []).map((item) => {
    const proc = item.string("proc");
    checkProcess(item, "proc", proc);
    const atMs = item.number("atMs", { min: 0 });
    const recoverAtMs = item.has("recoverAtMs")
      ? item.number("recoverAtMs", { min: atMs + 0.001 })
      : undefined;
    item.done();
    return recoverAtMs === undefined ? { proc, atMs } : { proc, atMs, recoverAtMs };
  });
  const partitions: PartitionFault[] = (doc.optionalArray("partitions")?.objects() ?? []).map((item) => {
    const side = item.array("side").strings();
    side.forEach((id) => {
      checkProcess(item, "side", id);
    });
    const atMs = item.number("atMs", { min: 0 });
    const healAtMs = item.number("healAtMs", { min: atMs + 0.001 });
    item.done();
    return { side, atMs, healAtMs };
  });
  doc.done();
  return { crashes, partitions };
}
