import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type {
  JsonFields,
  LocalitySpec,
  Overlay,
  ProtocolDefinition,
  Topology,
  WeightedDestinations,
} from "@amcast/core";
import {
  checkOverlayAgainstTopology,
  describeValue,
  JsonFields as Fields,
  InputError,
  listNames,
  parseOverlay,
  parseTopology,
  percent,
  protocolContext,
  runGroups,
  targetGroups,
} from "@amcast/core";
import type { ByzantineStrategy, ReplicationMode } from "@amcast/group";
import { BYZANTINE_STRATEGY_NAMES, REPLICATION_MODES, replicaCount } from "@amcast/group";
import { protocolByName } from "@amcast/protocols";
import type {
  CrashFault,
  CrashKind,
  FaultOptions,
  NetworkOptions,
  PartitionFault,
  ProcessingCost,
} from "@amcast/sim";
import { CRASH_KINDS } from "@amcast/sim";
import type { ByzantineFault, ReconfigSpec, WorkloadShift, WorkloadSpec } from "@amcast/system";
import {
  besideFile,
  DEFAULT_RECONFIG,
  displayPath,
  jsonNames,
  RECONFIG_POLICIES,
  RECONFIG_SOLVERS,
  readJson,
  readText,
} from "@amcast/system";
import type { Sweep } from "./sweep.js";
import { readSweep } from "./sweep.js";

/** One protocol of an experiment, with the overlay it runs on. */
export interface ProtocolRun {
  readonly label: string;
  readonly protocol: ProtocolDefinition<unknown>;
  readonly overlay: Overlay | null;
  /** The entry's `params` as written (JSON, checked by the protocol at load); undefined: none. */
  readonly params: unknown;
  /** Reconfigure this run's overlay on the fly (the experiment has a `reconfig` block). */
  readonly reconfigure: boolean;
}

/**
 * A set of faults injected together. An experiment runs every plan (in the modes it names):
 * e.g. "none" and "leader-crash", to show what a crashed leader costs.
 */
export interface FaultPlan {
  /** "" for the single plan of a `faults` field (it adds nothing to run labels). */
  readonly name: string;
  /** Modes the plan runs in; null: every mode of the experiment. */
  readonly modes: readonly ReplicationMode[] | null;
  readonly faults: FaultOptions;
  readonly byzantine: readonly ByzantineFault[];
}

export interface ExperimentSpec {
  readonly name: string;
  readonly description: string;
  readonly file: string;
  readonly topology: Topology;
  readonly protocols: readonly ProtocolRun[];
  /** Replication modes every protocol runs in. */
  readonly modes: readonly ReplicationMode[];
  /** Faults tolerated per group (replicas = replicaCount(mode, f)). */
  readonly f: number;
  readonly workloads: readonly WorkloadSpec[];
  /**
   * The workloads a plain invocation runs (`defaultWorkloads`); `--full` runs every workload.
   * Null: every workload, always.
   */
  readonly defaultWorkloads: readonly string[] | null;
  readonly network: NetworkOptions;
  readonly processing: ProcessingCost;
  readonly faultPlans: readonly FaultPlan[];
  readonly seeds: readonly number[];
  readonly timeLimitMs: number;
  /** The runs are expected to end at `timeLimitMs` (e.g. a saturation sweep): then they owe no delivery. */
  readonly endsAtTimeLimit: boolean;
  readonly tickMs: number;
  readonly realTime: boolean;
  /** Plain and/or linearizable variants of every protocol (`"linearizable": true | [false, true]`). */
  readonly linearizable: readonly boolean[];
  /** Experiments (by name) to run after this one, e.g. a second table on another network. */
  readonly then: readonly string[];
  /** On-the-fly reconfiguration for the runs that ask for it; null: none. */
  readonly reconfig: ReconfigSpec | null;
  /**
   * A service experiment (`"service": { "kind": "kv", ... }`): the runs drive a partitioned SMR
   * service (its application at the replicas, its clients) instead of multicast workloads; the
   * service's own fields are read by its runner (commands/service-experiment.ts). Null: none.
   */
  readonly service: { readonly kind: string; readonly doc: JsonFields } | null;
  /** Values of workload, processing or network parameters to run every point of; null: none. */
  readonly sweep: Sweep<WorkloadSpec> | null;
  /** Figures published elsewhere for these runs, printed beside amcast's; null: none. */
  readonly published: Published | null;
}

/** What a published figure measures: throughput (multicasts/s) or mean latency (ms). */
export const PUBLISHED_METRICS = ["throughput", "latency"] as const;

/** A figure a paper or a prototype published for one protocol run under one workload. */
export interface PublishedFigure {
  /** A protocol entry's label. */
  readonly run: string;
  readonly workload: string;
  readonly metric: (typeof PUBLISHED_METRICS)[number];
  readonly value: number;
  /** Where this figure comes from (a file, a table), when the experiment's `source` is not enough. */
  readonly source?: string;
}

/** Published figures and where they come from. */
export interface Published {
  readonly source: string;
  readonly figures: readonly PublishedFigure[];
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

  const reconfigDoc = doc.optionalObject("reconfig");
  const reconfig = reconfigDoc === undefined ? null : readReconfig(reconfigDoc);
  const protocols = doc
    .array("protocols")
    .objects()
    .map((item) => readProtocolRun(item, file, topology, reconfig !== null));
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

  const modes = readModes(doc);
  const f = doc.number(
    "f",
    { integer: true, min: 0, max: 10 },
    modes.some((mode) => mode !== "solo") ? 1 : 0,
  );
  const serviceDoc = doc.optionalObject("service");
  const service = serviceDoc === undefined ? null : { kind: serviceDoc.string("kind"), doc: serviceDoc };
  // A service experiment's clients are the service's: multicast workloads are optional there.
  const workloads = (service === null || doc.has("workloads") ? doc.array("workloads").objects() : []).map(
    (item) => readWorkload(item, file, topology, protocols),
  );
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

  const defaultItems = doc.optionalArray("defaultWorkloads");
  const defaultWorkloads = defaultItems === undefined ? null : defaultItems.strings();
  defaultWorkloads?.forEach((workload, index) => {
    if (!workloadNames.has(workload))
      throw defaultItems?.error(
        index,
        `workload ${describeValue(workload)} is not one of this experiment's (${listNames([...workloadNames])})`,
      );
  });
  const network = readNetwork(doc.optionalObject("network"));
  const processing = readProcessing(doc.optionalObject("processing"));
  const faultPlans = readFaultPlans(doc, topology, modes, f);
  const sweep = readSweep(doc, {
    workload: (raw, path) => readWorkload(Fields.at(raw, source, path), file, topology, protocols),
    processing: (raw, path) => readProcessing(Fields.at(raw, source, path)),
    network: (raw, path) => readNetwork(Fields.at(raw, source, path)),
  });
  if (defaultWorkloads !== null && sweep !== null)
    throw doc.error(
      "defaultWorkloads",
      "cannot be combined with a sweep (sweep points follow every workload)",
    );
  const seeds = doc.numbers("seeds", { integer: true, min: 0, max: SEED_MAX }, [1]);
  const timeLimitMs = doc.number("timeLimitMs", { min: 1 }, 3_600_000);
  const endsAtTimeLimit = doc.boolean("endsAtTimeLimit", false);
  if (endsAtTimeLimit && !doc.has("timeLimitMs"))
    throw doc.error("endsAtTimeLimit", "is true but the experiment sets no timeLimitMs to end at");
  const tickMs = doc.number("tickMs", { min: 0.001 }, 10);
  const thenItems = doc.optionalArray("then");
  const then = thenItems === undefined ? [] : thenItems.strings();
  const experimentsDir = dirname(file);
  then.forEach((next, index) => {
    if (!existsSync(join(experimentsDir, `${next}.json`))) {
      throw (
        thenItems?.error(
          index,
          `no experiment ${describeValue(next)} next to this file (known: ${listNames(jsonNames(experimentsDir))})`,
        ) ?? doc.error("then", "unreadable")
      );
    }
  });
  const linearizable = readLinearizable(doc);
  const publishedDoc = doc.optionalObject("published");
  const published = publishedDoc === undefined ? null : readPublished(publishedDoc, protocols, workloads);
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
    modes,
    f,
    workloads,
    defaultWorkloads,
    network,
    processing,
    faultPlans,
    seeds,
    timeLimitMs,
    endsAtTimeLimit,
    tickMs,
    realTime,
    linearizable,
    then,
    reconfig,
    service,
    sweep,
    published,
  };
}

function readPublished(
  doc: JsonFields,
  protocols: readonly ProtocolRun[],
  workloads: readonly WorkloadSpec[],
): Published {
  const source = doc.string("source");
  const items = doc.array("figures");
  const runs = protocols.map((run) => run.label);
  const workloadNames = workloads.map((workload) => workload.name);
  const figures = items.objects().map((item, index) => {
    const run = item.string("run");
    if (!runs.includes(run))
      throw items.error(
        index,
        `run ${describeValue(run)} is no protocol label here (labels: ${listNames(runs)})`,
      );
    const workload = item.string("workload");
    if (!workloadNames.includes(workload))
      throw items.error(
        index,
        `workload ${describeValue(workload)} is not one of this experiment's (${listNames(workloadNames)})`,
      );
    const metric = item.choice("metric", PUBLISHED_METRICS);
    const value = item.number("value", { min: 0 });
    const figureSource = item.optionalString("source");
    item.done();
    return { run, workload, metric, value, ...(figureSource === undefined ? {} : { source: figureSource }) };
  });
  doc.done();
  return { source, figures };
}

function readProtocolRun(
  item: JsonFields,
  experimentFile: string,
  topology: Topology,
  hasReconfig: boolean,
): ProtocolRun {
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
  // The protocol checks its parameters against the groups the run replicates, as it will when
  // the system is built; a bad one is reported here, with its file, field and value.
  const params = item.raw("params");
  protocolContext(
    protocol,
    params,
    { groups: runGroups(overlay, topology), overlay },
    item.source,
    item.fieldPath("params"),
  );
  const label =
    item.optionalString("label") ?? (overlay === null ? protocol.name : `${protocol.name}/${overlay.name}`);
  const reconfigure = item.boolean("reconfigure", hasReconfig && overlay !== null);
  if (reconfigure && !hasReconfig)
    throw item.error("reconfigure", "is true but the experiment has no reconfig block");
  if (reconfigure && overlay === null)
    throw item.error("reconfigure", `protocol ${protocol.name} has no overlay to reconfigure`);
  item.done();
  return { label, protocol, overlay, params, reconfigure };
}

function readReconfig(doc: JsonFields): ReconfigSpec {
  const defaults = DEFAULT_RECONFIG;
  const policy = doc.choice("policy", RECONFIG_POLICIES, defaults.policy);
  const statsEveryMs = doc.number(
    "statsEveryMs",
    { min: policy === "random" ? 0 : 1 },
    defaults.statsEveryMs,
  );
  const windowCollections = doc.number(
    "windowCollections",
    { integer: true, min: 1, max: 1000 },
    defaults.windowCollections,
  );
  const minGainPercent = doc.number("minGainPercent", { min: 0, max: 100 }, defaults.minGainFraction * 100);
  const solver = doc.choice("solver", RECONFIG_SOLVERS, defaults.solver);
  const solverTimeLimitMs = doc.number("solverTimeLimitMs", { min: 1 }, defaults.solverTimeLimitMs);
  const loadLimitPercent = doc.has("loadLimitPercent")
    ? doc.number("loadLimitPercent", { min: 1, max: 100 })
    : null;
  const viewsMax = doc.number("viewsMax", { integer: true, min: 1, max: 1000 }, defaults.viewsMax);
  const controlMulticastsMax = doc.number(
    "controlMulticastsMax",
    { integer: true, min: 1, max: 1_000_000 },
    defaults.controlMulticastsMax,
  );
  const measuredDelays = doc.boolean("measuredDelays", defaults.measuredDelays);
  const firstGainPercentMin = doc.has("firstGainPercentMin")
    ? doc.number("firstGainPercentMin", { min: -100, max: 100 })
    : null;
  doc.done();
  return {
    firstGainPercentMin,
    policy,
    statsEveryMs,
    windowCollections,
    minGainFraction: minGainPercent / 100,
    solver,
    solverTimeLimitMs,
    loadLimitFraction: loadLimitPercent === null ? null : loadLimitPercent / 100,
    viewsMax,
    controlMulticastsMax,
    measuredDelays,
  };
}

function readWorkload(
  item: JsonFields,
  experimentFile: string,
  topology: Topology,
  protocols: readonly ProtocolRun[],
): WorkloadSpec {
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
  const outstanding = item.number("outstanding", { integer: true, min: 1, max: 8192 }, 1);
  const thinkMs = item.number("thinkMs", { min: 0 }, 0);
  const ratePerSec =
    loop === "open"
      ? item.number("ratePerSec", { min: 0.001 })
      : item.number("ratePerSec", { min: 0.001 }, 1);
  const outstandingMax = item.number("outstandingMax", { integer: true, min: 1, max: 8192 }, 8192);
  const payloadBytes = item.number("payloadBytes", { integer: true, min: 0, max: 100_000_000 }, 64);
  const locality = readLocality(
    item,
    { localPercent: 90, globalSizes: [2, 3], globalChoice: "nearest" },
    experimentFile,
    topology,
  );
  const { localPercent } = locality;
  const shiftDoc = item.optionalObject("shift");
  let shift: WorkloadShift | null = null;
  if (shiftDoc !== undefined) {
    const atMs = shiftDoc.number("atMs", { min: 0 });
    shift = { atMs, locality: readLocality(shiftDoc, locality, experimentFile, topology) };
    shiftDoc.done();
  }
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
    const globalsAnywhere = localPercent < 100 || (shift !== null && shift.locality.localPercent < 100);
    if (globalsAnywhere && targets.length < 2) {
      throw item.error(
        "localPercent",
        `is ${localPercent} but ${run.label} has ${targets.length} target group: global multicasts need two`,
      );
    }
  }
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
    locality,
    startSpreadMs,
    ...(shift === null ? {} : { shift }),
  };
}

/**
 * A locality model (`localPercent`, `globalSizes`, `globalChoice`, `destinationTable`), each field
 * defaulting to `base`. A destination table gives, per home group, the destination sets of its
 * global multicasts with weights, inline or as the name of a JSON file beside the experiment
 * (workloads that share one table name one file):
 *   "globalChoice": "table",
 *   "destinationTable": { "Canada": [{ "dst": ["Canada", "SaoPaulo"], "weight": 95 }, ...], ... }
 *   "destinationTable": "../overlays/aws-12-locality-99.table.json"
 */
function readLocality(
  item: JsonFields,
  base: LocalitySpec,
  experimentFile: string,
  topology: Topology,
): LocalitySpec {
  const localPercent = item.number("localPercent", { integer: true, min: 0, max: 100 }, base.localPercent);
  const globalSizes = item.numbers("globalSizes", { integer: true, min: 2, max: 1000 }, base.globalSizes);
  const hasTable = item.has("destinationTable");
  const globalChoice = item.choice(
    "globalChoice",
    ["nearest", "uniform", "table"] as const,
    hasTable ? "table" : base.globalChoice,
  );
  let destinationTable = base.destinationTable;
  if (hasTable) {
    const raw = item.raw("destinationTable");
    if (typeof raw === "string") {
      const tableFile = besideFile(experimentFile, raw);
      const tableRaw = readJson(
        tableFile,
        `destination table (named by ${item.source} field ${item.fieldPath("destinationTable")})`,
      );
      destinationTable = readDestinationTable(
        // Its fields are named as if inline (workloads[i].destinationTable.<home>...).
        Fields.at(tableRaw, displayPath(tableFile), item.fieldPath("destinationTable")),
        tableRaw,
        topology,
      );
    } else {
      const tableDoc = item.optionalObject("destinationTable");
      if (tableDoc !== undefined) destinationTable = readDestinationTable(tableDoc, raw, topology);
    }
  }
  if (globalChoice === "table" && destinationTable === undefined)
    throw item.error("destinationTable", 'is missing (globalChoice "table" draws from it)');
  if (globalChoice !== "table" && hasTable)
    throw item.error(
      "globalChoice",
      `is ${describeValue(globalChoice)} but a destinationTable is given; use "table"`,
    );
  return {
    localPercent,
    globalSizes,
    globalChoice,
    ...(destinationTable === undefined ? {} : { destinationTable }),
  };
}

function readDestinationTable(
  doc: JsonFields,
  raw: unknown,
  topology: Topology,
): ReadonlyMap<string, readonly WeightedDestinations[]> {
  const table = new Map<string, WeightedDestinations[]>();
  for (const home of Object.keys(raw as Record<string, unknown>)) {
    if (!topology.targetGroupIds.includes(home))
      throw doc.error(
        home,
        `home group ${describeValue(home)} is not a target group (groups: ${listNames(topology.targetGroupIds)})`,
      );
    const rows = doc
      .array(home)
      .objects()
      .map((row) => {
        const dst = row.array("dst").strings();
        for (const group of dst)
          if (!topology.targetGroupIds.includes(group))
            throw row.error("dst", `group ${describeValue(group)} is not a target group`);
        if (!dst.includes(home))
          throw row.error("dst", `does not include its home group ${describeValue(home)}`);
        if (new Set(dst).size < 2) throw row.error("dst", "needs two groups or more (a global multicast)");
        const weight = row.number("weight", { min: 0 });
        row.done();
        return { dst, weight };
      });
    table.set(home, rows);
  }
  doc.done();
  return table;
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

function readLinearizable(doc: JsonFields): boolean[] {
  const raw = doc.raw("linearizable");
  if (raw === undefined) return [false];
  if (typeof raw === "boolean") return [raw];
  if (
    Array.isArray(raw) &&
    raw.length > 0 &&
    raw.every((value) => typeof value === "boolean") &&
    new Set(raw).size === raw.length
  ) {
    return raw as boolean[];
  }
  throw doc.error(
    "linearizable",
    `expected true, false or a list of both (e.g. [false, true]), got ${describeValue(raw)}`,
  );
}

function readModes(doc: JsonFields): ReplicationMode[] {
  if (doc.has("mode") && doc.has("modes")) throw doc.error("modes", "give either mode or modes, not both");
  if (!doc.has("modes")) return [doc.choice<ReplicationMode>("mode", REPLICATION_MODES, "solo")];
  const items = doc.array("modes");
  const modes = items.strings();
  modes.forEach((mode, index) => {
    if (!(REPLICATION_MODES as readonly string[]).includes(mode)) {
      throw items.error(index, `expected one of ${listNames(REPLICATION_MODES)}, got ${describeValue(mode)}`);
    }
    if (modes.indexOf(mode) !== index)
      throw items.error(index, `mode ${describeValue(mode)} is listed twice`);
  });
  return modes as ReplicationMode[];
}

function readFaultPlans(
  doc: JsonFields,
  topology: Topology,
  modes: readonly ReplicationMode[],
  f: number,
): FaultPlan[] {
  if (doc.has("faults") && doc.has("faultPlans"))
    throw doc.error("faultPlans", "give either faults or faultPlans, not both");
  if (!doc.has("faultPlans")) {
    const faults = doc.optionalObject("faults");
    return [readFaultPlan(faults, "", null, topology, modes, f)];
  }
  const names = new Set<string>();
  return doc
    .array("faultPlans")
    .objects()
    .map((item) => {
      const name = item.string("name");
      if (names.has(name)) throw item.error("name", `fault plan ${describeValue(name)} is defined twice`);
      names.add(name);
      let planModes: ReplicationMode[] | null = null;
      const modeItems = item.optionalArray("modes");
      if (modeItems !== undefined) {
        planModes = modeItems.strings().map((mode, index) => {
          if (!(modes as readonly string[]).includes(mode)) {
            throw modeItems.error(
              index,
              `expected one of the experiment's modes (${listNames(modes)}), got ${describeValue(mode)}`,
            );
          }
          return mode as ReplicationMode;
        });
      }
      return readFaultPlan(item, name, planModes, topology, modes, f);
    });
}

/** Reads one fault plan and checks it against every mode it runs in. */
function readFaultPlan(
  doc: JsonFields | undefined,
  name: string,
  planModes: readonly ReplicationMode[] | null,
  topology: Topology,
  modes: readonly ReplicationMode[],
  f: number,
): FaultPlan {
  const runsIn = planModes ?? modes;
  if (doc === undefined)
    return { name, modes: planModes, faults: { crashes: [], partitions: [] }, byzantine: [] };
  const replicasMax = Math.max(...runsIn.map((mode) => replicaCount(mode, f)));
  const existsInEveryMode = (id: string): boolean => {
    const slash = id.lastIndexOf("/");
    const group = id.slice(0, slash);
    const index = Number(id.slice(slash + 1));
    return (
      slash > 0 &&
      topology.hasGroup(group) &&
      Number.isInteger(index) &&
      runsIn.every((mode) => index >= 0 && index < replicaCount(mode, f))
    );
  };
  const example = `${topology.groupIds[0] ?? "g"}/0 .. /${replicasMax - 1}`;
  const checkProcess = (item: JsonFields, field: string, id: string): void => {
    if (!existsInEveryMode(id)) {
      throw item.error(
        field,
        `process ${describeValue(id)} does not exist in ${listNames(runsIn)} mode with f=${f} (replicas are <group>/<index>, e.g. ${example})`,
      );
    }
  };
  const faultyByGroup = new Map<string, Set<string>>();
  const markFaulty = (item: JsonFields, field: string, group: string, who: string): void => {
    let faulty = faultyByGroup.get(group);
    if (faulty === undefined) {
      faulty = new Set();
      faultyByGroup.set(group, faulty);
    }
    faulty.add(who);
    if (runsIn.some((mode) => mode !== "solo") && faulty.size > f) {
      throw item.error(
        field,
        `group ${describeValue(group)} would have ${faulty.size} faulty replicas; f=${f} tolerates at most ${f}`,
      );
    }
  };
  const crashes: CrashFault[] = (doc.optionalArray("crashes")?.objects() ?? []).map((item) => {
    const atMs = item.number("atMs", { min: 0 });
    const recoverAtMs = item.has("recoverAtMs")
      ? item.number("recoverAtMs", { min: atMs + 0.001 })
      : undefined;
    // Durable is the default: such a crash is written without a kind, as before kinds existed.
    const chosen = item.choice<CrashKind>("kind", CRASH_KINDS, "durable");
    const kind: CrashKind | undefined = chosen === "durable" ? undefined : chosen;
    if (kind === "amnesia" && recoverAtMs === undefined)
      throw item.error("kind", "an amnesia crash needs recoverAtMs (the replica comes back empty then)");
    if (kind === "amnesia" && runsIn.includes("solo"))
      throw item.error(
        "kind",
        'an amnesia crash needs a replicated group to recover from (restrict the plan with "modes": ["crash", "byzantine"])',
      );
    const recover = {
      ...(recoverAtMs === undefined ? {} : { recoverAtMs }),
      ...(kind === undefined ? {} : { kind }),
    };
    if (item.has("leaderOf")) {
      const group = item.string("leaderOf");
      if (!topology.hasGroup(group)) {
        throw item.error(
          "leaderOf",
          `group ${describeValue(group)} does not exist (groups: ${listNames(topology.groupIds)})`,
        );
      }
      markFaulty(item, "leaderOf", group, "leader");
      item.done();
      return { leaderOf: group, atMs, ...recover };
    }
    const proc = item.string("proc");
    checkProcess(item, "proc", proc);
    markFaulty(item, "proc", proc.slice(0, proc.lastIndexOf("/")), proc);
    item.done();
    return { proc, atMs, ...recover };
  });
  const partitions: PartitionFault[] = (doc.optionalArray("partitions")?.objects() ?? []).map((item) => {
    const side = item.array("side").strings();
    for (const id of side) checkProcess(item, "side", id);
    const atMs = item.number("atMs", { min: 0 });
    const healAtMs = item.number("healAtMs", { min: atMs + 0.001 });
    item.done();
    return { side, atMs, healAtMs };
  });
  const byzantineItems = doc.optionalArray("byzantine")?.objects() ?? [];
  if (byzantineItems.length > 0 && runsIn.some((mode) => mode !== "byzantine")) {
    throw doc.error(
      "byzantine",
      `Byzantine replicas need byzantine mode; this plan also runs in ${listNames(runsIn.filter((mode) => mode !== "byzantine"))} (restrict it with "modes": ["byzantine"])`,
    );
  }
  const byzantine: ByzantineFault[] = byzantineItems.map((item) => {
    const proc = item.string("proc");
    checkProcess(item, "proc", proc);
    const strategy = item.choice<ByzantineStrategy>("strategy", BYZANTINE_STRATEGY_NAMES);
    markFaulty(item, "proc", proc.slice(0, proc.lastIndexOf("/")), proc);
    item.done();
    return { proc, strategy };
  });
  doc.done();
  return {
    name,
    modes: planModes,
    faults: { crashes, partitions, byzantine: byzantine.map((fault) => fault.proc) },
    byzantine,
  };
}

/**
 * The experiment as an invocation runs it: every workload with `full` (or when it names no
 * `defaultWorkloads`), else only its default workloads, and the published figures of those.
 */
export function selectWorkloads(experiment: ExperimentSpec, full: boolean): ExperimentSpec {
  const keep = experiment.defaultWorkloads;
  if (full || keep === null) return experiment;
  const published =
    experiment.published === null
      ? null
      : {
          ...experiment.published,
          figures: experiment.published.figures.filter((figure) => keep.includes(figure.workload)),
        };
  return {
    ...experiment,
    workloads: experiment.workloads.filter((workload) => keep.includes(workload.name)),
    published,
  };
}
