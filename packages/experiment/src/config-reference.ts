import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FieldRecord } from "@amcast/core";
import { JsonFields, listNames, parseOverlay, parseTopology } from "@amcast/core";
import { protocolNames } from "@amcast/protocols";
import { readJson, readText } from "@amcast/system";
import { readRecoveryPlan } from "./recovery.js";
import { loadExperiment } from "./spec.js";
import { SWEEP_PARAMETERS } from "./sweep.js";

/** The three kinds of configuration file. */
export type ConfigKind = "experiment" | "topology" | "overlay";

/**
 * What the reference says of a field beyond what the parser tells: the prose, and where the
 * parser cannot say (a value read raw, a default or limit that depends on other fields), the
 * type, default or limits in words.
 */
interface FieldText {
  readonly text: string;
  readonly type?: string;
  readonly defaultText?: string;
  readonly limitsText?: string;
}

/**
 * The prose of the reference, one entry per field path. Types, defaults, limits and whether a
 * field is required come from the parsers (recorded while they read the example files below);
 * the tests fail when a parser reads a field this table does not describe, or this table
 * describes one no parser reads.
 */
export const FIELD_TEXT: Record<ConfigKind, Record<string, FieldText>> = {
  experiment: {
    name: { text: "the experiment's name (results go to `results/<name>/`)" },
    description: { text: "one paragraph: what the experiment shows (`--list` prints its first sentence)" },
    topology: { text: "the topology file, relative to this file" },
    protocols: { text: "the protocols to run, each on its overlay" },
    "protocols[].protocol": {
      text: `the protocol: ${listNames(protocolNames().map((name) => `\`${name}\``))}`,
      type: "string",
      defaultText: "_required_",
    },
    "protocols[].overlay": {
      text: "overlay file (relative): a C-DAG for flexcast, a tree for byzcast; none for skeen",
    },
    "protocols[].params": {
      text: "the protocol's own parameters, checked by the protocol (its `parseParams`; an error for a protocol that takes none)",
      type: "object",
      defaultText: "none",
    },
    "protocols[].params.sequencer": {
      text: "sequencer: the group that orders every multicast (its clients send there first)",
    },
    "protocols[].params.notifications": {
      text: 'flexcast: `"direct"` (every notified group at once, the default) or `"chain"` (one notification that visits them in order: fewer messages, more hops; see packages/flexcast/src/flexcast.ts, rule 8)',
    },
    "protocols[].params.boundHistory": {
      text: "flexcast: hold client multicasts back at their lca so that no group retains more than `historyEntriesMax` history entries (packages/flexcast/src/flexcast.ts, rule 9 and its bound; caps throughput at many groups)",
    },
    "protocols[].params.historyEntriesMax": {
      text: "flexcast: the retained-history budget in entries: a group flushes once it holds this / (number of groups) of its own history (rule 7); with `boundHistory`, the bound",
    },
    "protocols[].label": {
      text: "the run label's first part",
      defaultText: "`<protocol>/<overlay name>`, or `<protocol>`",
    },
    "protocols[].reconfigure": {
      text: "reconfigure this run on the fly",
      defaultText: "true with a `reconfig` block and an overlay",
    },
    mode: { text: "replication mode of every group (or `modes`)" },
    modes: { text: "several modes: every protocol runs in each" },
    f: {
      text: "faults tolerated per group: crash runs 2f+1 replicas, byzantine 3f+1",
      defaultText: "1 if a mode is replicated, else 0",
    },
    workloads: { text: "the workloads; every protocol runs under each" },
    "workloads[].name": { text: "the run label's workload part" },
    "workloads[].clientsPerGroup": {
      text: "clients next to each target group, that group their home",
      defaultText: "required unless the topology places `clients`",
    },
    "workloads[].loop": {
      text: "`closed`: a client sends when an answer comes back; `open`: Poisson arrivals",
    },
    "workloads[].multicastsPerClient": { text: "multicasts each client makes" },
    "workloads[].outstanding": { text: "closed loop: multicasts each client keeps in flight" },
    "workloads[].thinkMs": { text: "closed loop: pause between an answer and the next multicast" },
    "workloads[].ratePerSec": {
      text: "open loop: arrivals per client per second",
      defaultText: "required when `loop` is `open`",
    },
    "workloads[].outstandingMax": {
      text: "open loop: in-flight cap per client (arrivals beyond it are skipped)",
    },
    "workloads[].payloadBytes": { text: "payload size of each multicast" },
    "workloads[].localPercent": { text: "share of multicasts to the client's home group alone" },
    "workloads[].globalSizes": { text: "destination counts of global multicasts, drawn uniformly" },
    "workloads[].globalChoice": {
      text: "the other destinations: the home group's nearest groups, or any (uniform)",
    },
    "workloads[].groups": {
      text: "the groups the workload addresses (homes and destinations)",
      defaultText: "every target group",
    },
    "workloads[].startSpreadMs": { text: "clients start at a uniform random time in [0, startSpreadMs)" },
    "workloads[].shift": {
      text: "a change of locality mid-run (its other fields default to the workload's)",
    },
    "workloads[].shift.atMs": { text: "when the shift happens (virtual ms)" },
    "workloads[].shift.localPercent": {
      text: "as `localPercent`, from `atMs` on",
      defaultText: "the workload's",
    },
    "workloads[].shift.globalSizes": {
      text: "as `globalSizes`, from `atMs` on",
      defaultText: "the workload's",
    },
    "workloads[].shift.globalChoice": {
      text: "as `globalChoice`, from `atMs` on",
      defaultText: "the workload's",
    },
    network: { text: "how the simulated network behaves" },
    "network.jitterSdFraction": {
      text: "normal jitter: standard deviation as a fraction of each one-way delay",
    },
    "network.reorderPercent": { text: "share of messages given an extra random delay (links stay FIFO)" },
    "network.reorderExtraDelayMsMax": { text: "the largest such extra delay" },
    processing: { text: "what each input costs a group process (it serves one at a time)" },
    "processing.perMessageUs": { text: "fixed cost per input, µs" },
    "processing.perByteNs": { text: "cost per byte of input, ns" },
    faults: { text: "one set of faults for every run (or `faultPlans`); fields as in `faultPlans[]`" },
    faultPlans: { text: "several sets of faults, each run side by side (label part: the plan's name)" },
    "faultPlans[].name": { text: "the plan's name" },
    "faultPlans[].modes": { text: "the modes the plan runs in", defaultText: "every mode of the experiment" },
    "faultPlans[].crashes": {
      text: "crashes: of a process (`proc`) or of a group's current leader (`leaderOf`)",
    },
    "faultPlans[].crashes[].proc": {
      text: "the replica, `<group>/<index>`",
      defaultText: "_required_ unless `leaderOf`",
    },
    "faultPlans[].crashes[].leaderOf": {
      text: "crash whichever replica leads this group at `atMs`",
      defaultText: "none: `proc`",
    },
    "faultPlans[].crashes[].atMs": { text: "when (virtual ms)" },
    "faultPlans[].crashes[].recoverAtMs": {
      text: "when it comes back",
      defaultText: "never",
      limitsText: "> atMs",
    },
    "faultPlans[].crashes[].kind": {
      text: "`durable`: the replica keeps its state (on real processes: replays its journal); `amnesia`: it comes back with only its consensus hard state and fetches the rest from its group (replicated modes; needs `recoverAtMs`); `journal`: on the simulator, rebuilt from what a journal of decided positions keeps (its checkpoint, the positions after it, its hard state); on real processes as `durable`",
      defaultText: "durable",
    },
    "faultPlans[].partitions": { text: "network partitions; messages across are held until the heal" },
    "faultPlans[].partitions[].side": { text: "the replicas on one side" },
    "faultPlans[].partitions[].atMs": { text: "when it starts" },
    "faultPlans[].partitions[].healAtMs": { text: "when it heals", limitsText: "> atMs" },
    "faultPlans[].byzantine": { text: "Byzantine replicas (byzantine mode only)" },
    "faultPlans[].byzantine[].proc": { text: "the replica, `<group>/<index>`" },
    "faultPlans[].byzantine[].strategy": { text: "how it misbehaves (docs/design.md)" },
    recovery: {
      text: "a recovery experiment instead of the fields above: one replicated Skeen group with a partitioned key-value state, one replica crashed and restarted (docs/durability.md); on the simulator, or on real processes with `--runtime net` (then `recovery.net` applies)",
      defaultText: "none",
    },
    "recovery.protocol": {
      text: "`skeen`: one group, every multicast local; `flexcast` (simulator only): groups a then b in a C-DAG, half the multicasts to both, b's replica crashes",
    },
    "recovery.keys": { text: "state sizes to run, in keys" },
    "recovery.modes": { text: "`crash` and/or `byzantine`" },
    "recovery.roles": { text: "which replica crashes: `leader` and/or `follower`" },
    "recovery.partitions": { text: "partitions of the key-value state" },
    "recovery.clients": { text: "open-loop clients" },
    "recovery.ratePerSecPerClient": { text: "multicasts each client starts per second" },
    "recovery.durationMs": { text: "how long the clients send (virtual ms)" },
    "recovery.crashAtMs": { text: "when the replica crashes" },
    "recovery.pauseMs": { text: "how long it stays down", limitsText: "crashAtMs + pauseMs < durationMs" },
    "recovery.checkpointEntries": { text: "log positions between checkpoints" },
    "recovery.perMessageUs": { text: "a replica's cost per input (µs)" },
    "recovery.perByteNs": {
      text: "a replica's cost per byte received (ns); the simulator has no link bandwidth, so this is what makes a larger state take longer to fetch",
    },
    "recovery.seed": { text: "the seed" },
    "recovery.crashKind": { text: "`amnesia`: the replica comes back empty; `durable`: with its state" },
    "recovery.net": {
      text: "with `--runtime net`: these fields replace the ones above (real processes on one machine suit a lighter load)",
    },
    "recovery.net.keys": { text: "state sizes to run, in keys" },
    "recovery.net.clients": { text: "open-loop clients" },
    "recovery.net.ratePerSecPerClient": { text: "multicasts each client starts per second" },
    "recovery.net.durationMs": { text: "how long the clients send (wall-clock ms)" },
    "recovery.net.crashAtMs": { text: "when the replica is killed (SIGKILL), after the workload's start" },
    "recovery.net.pauseMs": {
      text: "how long until its process is started again",
      limitsText: "crashAtMs + pauseMs < durationMs",
    },
    "recovery.net.checkpointEntries": { text: "log positions between checkpoints" },
    "recovery.net.fsync": {
      text: "the replicas' journal fsync policy (with `batch`, each round trip of a state transfer waits for two fsyncs)",
      defaultText: "interval",
    },
    "recovery.net.keepJournal": {
      text: "journal every input and keep the whole journal (a durable restart replays it all); by default journals hold decided positions and are truncated at the group's checkpoints",
      defaultText: "false",
    },
    "recovery.oracles": {
      text: "keep the trace and run the oracles (false for millions of multicasts: completions and final roots are still checked)",
    },
    seeds: { text: "seeds to run (several: tables show mean ± 95% confidence interval)" },
    timeLimitMs: { text: "stop a run at this virtual time" },
    endsAtTimeLimit: {
      text: "the time limit is the run's planned end: a run stopping there passes, owing no validity or agreement (needs `timeLimitMs`)",
    },
    tickMs: { text: "timer period of replicated groups (elections, retries)" },
    // biome-ignore lint/suspicious/noThenProperty: the experiment file's field is named `then`.
    then: { text: "experiments (names, next to this file) to run after this one" },
    linearizable: {
      text: "run the linearizable variant (`true`), the plain one (`false`) or both (`[false, true]`)",
      type: "boolean or list of booleans",
      defaultText: "false",
    },
    check: { text: "what the oracles check beyond the defaults" },
    "check.realTime": { text: "also check real-time order in plain runs (counted, not failed)" },
    reconfig: { text: "on-the-fly reconfiguration for protocols with an overlay" },
    "reconfig.policy": { text: "`optimise` (the ILP's best overlay) or `random` (tests)" },
    "reconfig.statsEveryMs": { text: "period of the STATS multicasts that collect destination counts" },
    "reconfig.windowCollections": { text: "collections the optimiser looks at" },
    "reconfig.minGainPercent": { text: "predicted gain needed to install a new overlay" },
    "reconfig.solver": {
      text: "integer program after the local search (`ilp`), brute force (`exhaustive`, small overlays) or the local search alone (`local-search`, large overlays)",
    },
    "reconfig.solverTimeLimitMs": { text: "wall-clock limit of one optimiser run" },
    "reconfig.loadLimitPercent": {
      text: "a group's share of the messages it may order at most",
      defaultText: "none",
    },
    "reconfig.viewsMax": { text: "overlay views a run installs at most" },
    "reconfig.controlMulticastsMax": { text: "STATS and VIEW multicasts a run makes at most" },
    "reconfig.measuredDelays": {
      text: "the controller optimises with the delays replicas measured (STATS), not only the topology's",
    },
    "reconfig.firstGainPercentMin": {
      text: "expectation: each reconfiguring run gains at least this much after its first view, or the experiment fails",
    },
    published: { text: "figures published elsewhere for these runs, printed beside amcast's" },
    "published.source": { text: "where the figures come from" },
    "published.figures": { text: "the figures" },
    "published.figures[].run": { text: "a protocol entry's label" },
    "published.figures[].workload": { text: "a workload's name" },
    "published.figures[].metric": { text: "`throughput` (multicasts/s) or `latency` (mean ms)" },
    "published.figures[].value": { text: "the published value" },
    "published.figures[].source": { text: "where this figure comes from, printed beside it" },
    defaultWorkloads: {
      text: "the workloads a plain invocation runs; `--full` runs every workload (not with `sweep`)",
    },
    "workloads[].destinationTable": {
      text: "per home group, the destination sets of its global multicasts with weights (`globalChoice` `table`), or the name of a JSON file beside the experiment holding them",
      type: "object, or string (a file name)",
      defaultText: "none",
    },
    "workloads[].destinationTable.<home group>": { text: "a home group's destination sets" },
    "workloads[].destinationTable.<home group>[].dst": {
      text: "the destination groups, the home group among them",
    },
    "workloads[].destinationTable.<home group>[].weight": { text: "its relative weight" },
    "workloads[].shift.destinationTable": { text: "as `destinationTable`, from `atMs` on" },
    "workloads[].shift.destinationTable.<home group>": { text: "a home group's destination sets" },
    "workloads[].shift.destinationTable.<home group>[].dst": { text: "the destination groups" },
    "workloads[].shift.destinationTable.<home group>[].weight": { text: "its relative weight" },
    sweep: {
      text: `run every point of a sweep: \`{"clientsPerGroup": [1, 2, 4]}\` (every combination of the lists) or \`[{"clientsPerGroup": 1, "multicastsPerClient": 600}, ...]\` (values that change together). Sweepable: ${Object.keys(
        SWEEP_PARAMETERS,
      )
        .map((name) => `\`${name}\``)
        .join(
          ", ",
        )}. Swept values are checked like the fields they set, get a column in the tables and CSVs, and a part of the run label (\`clientsPerGroup=4\`)`,
      type: "object of lists, or list of objects",
      defaultText: "none",
    },
    service: {
      text: "a service experiment: the runs drive a partitioned SMR service instead of multicast workloads (then optional); its other fields are read by the service's runner (docs/history.md, README: service experiments)",
    },
    "service.kind": { text: "`kv` (sharded key-value store) or `gtpcc`" },
  },
  topology: {
    kind: { text: '`"topology"`' },
    name: { text: "the topology's name" },
    description: { text: "free text" },
    latencyCsv: {
      text: "CSV next to the file: header `region,R1,R2,...`, one row per region (row = from, column = to), one-way ms",
      defaultText: "none: `regions` and `latencyMs`",
    },
    regions: {
      text: "region names (instead of `latencyCsv`)",
      defaultText: "_required_ without `latencyCsv`",
    },
    latencyMs: {
      text: "one-way delays, ms: one row per region, row = from (instead of `latencyCsv`)",
      defaultText: "_required_ without `latencyCsv`",
    },
    groups: {
      text: '`"one-per-region"` (a group named after each region) or a list of `{id, region}`',
      type: '"one-per-region" or list of objects',
    },
    "groups[].id": { text: "the group's id" },
    "groups[].region": { text: "where it runs" },
    "groups[].role": { text: "`auxiliary` groups only order and forward (ByzCast's inner groups)" },
    auxiliaryGroups: { text: "auxiliary groups on top of the target groups (tree overlays place them)" },
    "auxiliaryGroups[].id": { text: "the group's id" },
    "auxiliaryGroups[].region": { text: "where it runs" },
    "auxiliaryGroups[].role": { text: "always auxiliary here" },
    clients: { text: "where clients sit, for workloads without `clientsPerGroup`" },
    "clients[].region": { text: "their region" },
    "clients[].count": { text: "how many" },
    "clients[].home": { text: "their home group", defaultText: "the nearest target group" },
  },
  overlay: {
    kind: { text: "`cdag` (FlexCast: a total order of the groups) or `tree` (ByzCast)" },
    name: { text: "the overlay's name (part of default run labels)" },
    description: { text: "free text" },
    order: {
      text: "cdag: every target group exactly once, first to last",
      defaultText: "_required_ for a cdag",
    },
    groups: { text: "tree: every group of the tree", defaultText: "_required_ for a tree" },
    "groups[].id": { text: "the group's id" },
    "groups[].role": {
      text: "`target` (holds data, addressed by workloads) or `auxiliary` (inner node only)",
    },
    edges: {
      text: "tree: `[parent, child]` pairs; one root, one parent per group",
      defaultText: "_required_ for a tree",
    },
  },
};

/** A field as the reference lists it, merged over every time a parser read it. */
export interface ReferenceField {
  readonly kind: ConfigKind;
  readonly path: string;
  readonly type: string;
  readonly required: boolean;
  readonly defaults: readonly unknown[];
  readonly limits: string | undefined;
}

/** Example files that, together, make the parsers read every field they know. */
const EXAMPLES: Record<string, unknown> = {
  "reference.topology.json": {
    kind: "topology",
    name: "reference",
    description: "three regions inline",
    regions: ["r1", "r2", "r3"],
    latencyMs: [
      [1, 20, 30],
      [20, 1, 25],
      [30, 25, 1],
    ],
    groups: [
      { id: "g1", region: "r1" },
      { id: "g2", region: "r2", role: "target" },
      { id: "g3", region: "r3" },
    ],
    auxiliaryGroups: [{ id: "root", region: "r1", role: "auxiliary" }],
    clients: [{ region: "r1", count: 1, home: "g1" }],
  },
  "reference-csv.topology.json": {
    kind: "topology",
    name: "reference-csv",
    latencyCsv: "reference.csv",
    groups: "one-per-region",
  },
  "reference-cdag.json": {
    kind: "cdag",
    name: "ref-cdag",
    description: "an order",
    order: ["g1", "g2", "g3"],
  },
  "reference-tree.json": {
    kind: "tree",
    name: "ref-tree",
    description: "a root over three groups",
    groups: [
      { id: "root", role: "auxiliary" },
      { id: "g1", role: "target" },
      { id: "g2", role: "target" },
      { id: "g3", role: "target" },
    ],
    edges: [
      ["root", "g1"],
      ["root", "g2"],
      ["root", "g3"],
    ],
  },
  "reference-a.json": {
    name: "reference-a",
    description: "every field of an experiment file",
    topology: "reference.topology.json",
    protocols: [
      { protocol: "flexcast", overlay: "reference-cdag.json", label: "flexcast/ref", reconfigure: true },
      { protocol: "byzcast", overlay: "reference-tree.json", reconfigure: false },
      { protocol: "skeen" },
      { protocol: "sequencer", params: { sequencer: "g1" } },
    ],
    modes: ["solo", "crash", "byzantine"],
    f: 1,
    workloads: [
      {
        name: "w",
        clientsPerGroup: 1,
        loop: "open",
        multicastsPerClient: 1,
        outstanding: 1,
        thinkMs: 0,
        ratePerSec: 10,
        outstandingMax: 4,
        payloadBytes: 64,
        localPercent: 50,
        globalSizes: [2],
        globalChoice: "nearest",
        groups: ["g1", "g2", "g3"],
        startSpreadMs: 10,
        shift: { atMs: 100, localPercent: 80, globalSizes: [2], globalChoice: "uniform" },
      },
    ],
    network: { jitterSdFraction: 0.05, reorderPercent: 1, reorderExtraDelayMsMax: 5 },
    processing: { perMessageUs: 20, perByteNs: 2 },
    faultPlans: [
      { name: "calm" },
      {
        name: "crash",
        modes: ["crash"],
        crashes: [
          { leaderOf: "g1", atMs: 10, recoverAtMs: 20 },
          { proc: "g2/1", atMs: 5 },
        ],
        partitions: [{ side: ["g3/0"], atMs: 1, healAtMs: 2 }],
      },
      { name: "liar", modes: ["byzantine"], byzantine: [{ proc: "g3/3", strategy: "equivocate" }] },
    ],
    seeds: [1, 2],
    timeLimitMs: 1000,
    tickMs: 10,
    linearizable: [false, true],
    // biome-ignore lint/suspicious/noThenProperty: the experiment file's field is named `then`.
    then: ["reference-b"],
    check: { realTime: true },
    reconfig: {
      policy: "optimise",
      statsEveryMs: 1000,
      windowCollections: 2,
      minGainPercent: 5,
      solver: "ilp",
      solverTimeLimitMs: 100,
      loadLimitPercent: 90,
      viewsMax: 3,
      controlMulticastsMax: 10,
      measuredDelays: true,
      firstGainPercentMin: 0,
    },
    published: {
      source: "a paper",
      figures: [{ run: "skeen", workload: "w", metric: "latency", value: 100, source: "table 2" }],
    },
    sweep: { clientsPerGroup: [1, 2] },
  },
  "reference-b.json": {
    name: "reference-b",
    topology: "reference-csv.topology.json",
    protocols: [{ protocol: "skeen" }],
    mode: "crash",
    faults: { crashes: [{ proc: "r1/0", atMs: 5 }] },
    workloads: [
      {
        name: "w",
        clientsPerGroup: 1,
        multicastsPerClient: 1,
        destinationTable: { r1: [{ dst: ["r1", "r2"], weight: 1 }] },
        shift: { atMs: 10, destinationTable: { r2: [{ dst: ["r1", "r2"], weight: 1 }] } },
      },
    ],
    sweep: [
      { localPercent: 90, perMessageUs: 10, jitterSdFraction: 0 },
      { localPercent: 50, perMessageUs: 20, jitterSdFraction: 0.1 },
    ],
    service: { kind: "kv" },
  },
  "reference-c.json": {
    name: "reference-c",
    topology: "reference-csv.topology.json",
    protocols: [{ protocol: "skeen" }],
    workloads: [
      { name: "small", clientsPerGroup: 1, multicastsPerClient: 1 },
      { name: "large", clientsPerGroup: 8, multicastsPerClient: 1 },
    ],
    defaultWorkloads: ["small"],
  },
  "reference-recovery.json": {
    name: "reference-recovery",
    recovery: {
      protocol: "skeen",
      keys: [10],
      modes: ["crash"],
      roles: ["leader"],
      partitions: 4,
      clients: 2,
      ratePerSecPerClient: 10,
      durationMs: 100,
      crashAtMs: 10,
      pauseMs: 10,
      checkpointEntries: 8,
      perMessageUs: 20,
      perByteNs: 8,
      seed: 1,
      crashKind: "amnesia",
      oracles: true,
      net: {
        keys: [10],
        clients: 1,
        ratePerSecPerClient: 5,
        durationMs: 200,
        crashAtMs: 50,
        pauseMs: 50,
        checkpointEntries: 4,
        fsync: "interval",
        keepJournal: false,
      },
    },
  },
};

/** The kind of configuration file a record came from (by its file name). */
function kindOf(source: string): ConfigKind {
  if (source.endsWith(".topology.json")) return "topology";
  // A destination table file holds part of an experiment's workload.
  if (source.endsWith(".table.json")) return "experiment";
  if (/reference-(cdag|tree)\.json$/.test(source) || /(^|\/)overlays\//.test(source)) return "overlay";
  return "experiment";
}

/** `faults.crashes[].atMs` is `faultPlans[].crashes[].atMs`: one entry per field. */
function canonicalPath(kind: ConfigKind, path: string): string {
  // A destination table is keyed by group names: one entry for every key.
  const keyed = path.replace(/(destinationTable)\.[^.[\]]+/, "$1.<home group>");
  return kind === "experiment" && keyed.startsWith("faults.")
    ? `faultPlans[].${keyed.slice("faults.".length)}`
    : keyed;
}

/** Records every field the parsers read while loading `load`'s files. */
export function recordFields(load: () => void): FieldRecord[] {
  const records: FieldRecord[] = [];
  JsonFields.recording((field) => records.push(field), load);
  return records;
}

/** The fields the parsers read on the example files, merged per file kind and path. */
export function referenceFields(extra: readonly FieldRecord[] = []): ReferenceField[] {
  const dir = mkdtempSync(join(tmpdir(), "amcast-reference-"));
  try {
    for (const [name, doc] of Object.entries(EXAMPLES)) writeFileSync(join(dir, name), JSON.stringify(doc));
    writeFileSync(join(dir, "reference.csv"), "region,r1,r2\nr1,1,10\nr2,10,1\n");
    const records = recordFields(() => {
      loadExperiment(join(dir, "reference-a.json"));
      loadExperiment(join(dir, "reference-b.json"));
      loadExperiment(join(dir, "reference-c.json"));
      const recovery = join(dir, "reference-recovery.json");
      readRecoveryPlan(readText(recovery, "experiment"), recovery);
      for (const name of ["reference-cdag.json", "reference-tree.json"])
        parseOverlay(readJson(join(dir, name), "overlay"), join(dir, name));
      const csvTopology = join(dir, "reference-csv.topology.json");
      parseTopology(readJson(csvTopology, "topology"), csvTopology, (csv) => readText(join(dir, csv), "csv"));
    });
    return mergeFields([...records, ...extra]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Merges the records of each field: the most specific type, every default seen, required unless
 * some reader did without it. `x[]` records (the items of a list of lists) refine `x`'s type.
 */
export function mergeFields(records: readonly FieldRecord[]): ReferenceField[] {
  const merged = new Map<
    string,
    {
      kind: ConfigKind;
      path: string;
      types: Set<string>;
      required: boolean;
      optional: boolean;
      defaults: unknown[];
      limits: string | undefined;
    }
  >();
  const entry = (kind: ConfigKind, path: string) => {
    const key = `${kind}:${path}`;
    let found = merged.get(key);
    if (found === undefined) {
      found = {
        kind,
        path,
        types: new Set(),
        required: false,
        optional: false,
        defaults: [],
        limits: undefined,
      };
      merged.set(key, found);
    }
    return found;
  };
  for (const record of records) {
    const kind = kindOf(record.source);
    const path = canonicalPath(kind, record.path);
    if (path.endsWith("[]") && record.type.startsWith("list of ")) {
      // The items of a list of lists: `latencyMs[]` is a "list of numbers".
      const parent = entry(kind, path.slice(0, -2));
      parent.types.add(`list of ${record.type.replace(/^list of /, "lists of ")}`);
      parent.limits ??= record.limits;
      continue;
    }
    const found = entry(kind, path);
    found.types.add(record.type);
    if (record.presenceChecked) found.optional = true;
    else found.required ||= record.required;
    if (
      record.defaultValue !== undefined &&
      !found.defaults.some((seen) => JSON.stringify(seen) === JSON.stringify(record.defaultValue))
    )
      found.defaults.push(record.defaultValue);
    found.limits ??= record.limits;
  }
  return [...merged.values()].map(({ types, optional, required, ...rest }) => ({
    ...rest,
    required: required && !optional,
    type: mostSpecific(types),
  }));
}

/** "list of lists of numbers" over "list of lists" over "list", anything over "any". */
function mostSpecific(types: ReadonlySet<string>): string {
  const list = [...types].filter((type) => type !== "any");
  list.sort((a, b) => b.length - a.length);
  const longestList = list.find((type) => type.startsWith("list"));
  return longestList ?? list[0] ?? "any";
}

const KIND_TITLES: Record<ConfigKind, string> = {
  experiment: "Experiment files (`experiments/*.json`)",
  topology: "Topology files (`overlays/*.topology.json`)",
  overlay: "Overlay files (`overlays/*.json`)",
};

/** The reference as Markdown: what docs/configuration.md holds. */
export function configurationReference(): string {
  const fields = referenceFields();
  const lines = [
    "# Configuration reference",
    "",
    "Every field of experiment, topology and overlay files, with its type, default and limits. This page is",
    "generated from the parsers (`amcast reference`): the types, defaults, limits and required fields below",
    "are what the parsers read, and the tests fail when a parser reads a field this page does not describe.",
    "Paths are relative to the file that names them. An unknown field is an error (with a suggestion when it",
    "looks like a typo of a known one). Fields marked _required_ have no default.",
    "",
  ];
  for (const kind of ["experiment", "topology", "overlay"] as const) {
    lines.push(
      `## ${KIND_TITLES[kind]}`,
      "",
      "| field | type | default | meaning |",
      "| --- | --- | --- | --- |",
    );
    const ordered = Object.keys(FIELD_TEXT[kind]);
    const ofKind = fields
      .filter((field) => field.kind === kind)
      .sort((a, b) => rank(ordered, a.path) - rank(ordered, b.path));
    for (const field of ofKind) {
      const text = FIELD_TEXT[kind][field.path];
      const type = text?.type ?? field.type;
      const defaultText =
        text?.defaultText ??
        (field.defaults.length > 0
          ? field.defaults.map((value) => `\`${JSON.stringify(value)}\``).join(" or ")
          : field.required
            ? "_required_"
            : "none");
      const limitsText = text?.limitsText ?? field.limits;
      const limits = limitsText === undefined ? "" : ` (${limitsText})`;
      lines.push(
        `| \`${field.path}\` | ${escapeCell(`${type}${limits}`)} | ${escapeCell(defaultText)} | ${escapeCell(text?.text ?? "")} |`,
      );
    }
    lines.push("");
  }
  return `${lines.join("\n")}`;
}

function rank(ordered: readonly string[], path: string): number {
  const index = ordered.indexOf(path);
  return index < 0 ? ordered.length : index;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|");
}
