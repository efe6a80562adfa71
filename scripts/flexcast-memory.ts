/**
 * FlexCast's memory over a long run: does the history stay flat?
 *
 *   pnpm exec turbo run build --filter=@amcast/experiment
 *   NODE_OPTIONS=--expose-gc pnpm exec tsx scripts/flexcast-memory.ts [--multicasts 1000000] [--samples 10] [--flush-every N] [--protocol skeen]
 *
 * Runs the flexcast-vs-skeen workload (12 AWS regions, one group per region, 4 clients per group,
 * 90% local multicasts, global ones to the 2-3 nearest groups) on the simulator with FlexCast on
 * the prototype's first order, scaled to `--multicasts` in total. The protocol definition is
 * wrapped so the script keeps every group object; every `total events / samples` trace events it
 * records the history entries and graph vertices the groups hold, what is pending, and the heap
 * (after a full collection when `--expose-gc` is on). Nothing is stored per event: the trace is
 * folded into counters, and the run does not use the experiment runner's metrics (which keep a
 * latency sample per multicast and would grow with the run by design).
 *
 * `--protocol skeen` runs the same workload with Skeen instead (no history columns): the heap that
 * is not FlexCast's — the group layer's per-client reply cache, the simulator — for comparison.
 */
import { parseArgs } from "node:util";
import type { ProtocolDefinition, TraceEvent } from "../packages/core/dist/index.js";
import { checkOverlayAgainstTopology, parseOverlay } from "../packages/core/dist/index.js";
import { buildSystem, loadExperiment, readJson } from "../packages/experiment/dist/index.js";
import type { FlexCastMessage } from "../packages/flexcast/dist/index.js";
import { DEFAULT_FLEXCAST_OPTIONS, FlexCastGroup, flexcast } from "../packages/flexcast/dist/index.js";
import { simulate } from "../packages/sim/dist/index.js";
import { skeen } from "../packages/skeen/dist/index.js";

const { values } = parseArgs({
  options: {
    multicasts: { type: "string", default: "1000000" },
    samples: { type: "string", default: "10" },
    "flush-every": { type: "string", default: String(DEFAULT_FLEXCAST_OPTIONS.flushEvery) },
    protocol: { type: "string", default: "flexcast" },
  },
});
if (values.protocol !== "flexcast" && values.protocol !== "skeen")
  throw new Error(`--protocol is flexcast or skeen, got ${values.protocol}`);
const multicastsTotal = Number(values.multicasts);
const sampleCount = Number(values.samples);
const flushEvery = Number(values["flush-every"]);

const root = new URL("..", import.meta.url).pathname;
const experiment = loadExperiment(`${root}experiments/flexcast-vs-skeen.json`);
const overlayFile = `${root}overlays/aws-12-cdag-o1.json`;
const overlay = parseOverlay(readJson(overlayFile, "overlay"), overlayFile);
checkOverlayAgainstTopology(overlay, experiment.topology, overlayFile);
const base = experiment.workloads[0];
if (base === undefined) throw new Error("flexcast-vs-skeen has a workload");
const clients = (base.clientsPerGroup ?? 1) * experiment.topology.groupIds.length;
const workload = { ...base, multicastsPerClient: Math.ceil(multicastsTotal / clients) };

const groups: FlexCastGroup[] = [];
const wrapped: ProtocolDefinition<FlexCastMessage> = {
  ...flexcast,
  createGroup: (config) => {
    const group = new FlexCastGroup(config, { ...DEFAULT_FLEXCAST_OPTIONS, flushEvery });
    groups.push(group);
    return group;
  },
};
const protocol = (values.protocol === "skeen" ? skeen : wrapped) as ProtocolDefinition<unknown>;

interface Sample {
  readonly events: number;
  readonly simulatedS: number;
  readonly multicasts: number;
  readonly delivered: number;
  readonly historyTotal: number;
  readonly historyMax: number;
  readonly verticesTotal: number;
  readonly pendingTotal: number;
  readonly flushes: number;
  readonly heapMb: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
let events = 0;
let multicasts = 0;
let delivered = 0;
const samples: Sample[] = [];
// Message events per multicast in this workload are ~3; trace events (multicast, deliver,
// complete) ~3.3 per multicast: sample on trace events so the sampling costs nothing in between.
const eventsPerSample = Math.max(1, Math.floor((multicastsTotal * 3.3) / sampleCount));

function sample(simulatedMs: number): void {
  gc?.();
  let historyTotal = 0;
  let historyMax = 0;
  let verticesTotal = 0;
  let pendingTotal = 0;
  let flushes = 0;
  for (const group of groups) {
    historyTotal += group.historyEntries;
    historyMax = Math.max(historyMax, group.historyEntries);
    verticesTotal += group.graphVertices;
    pendingTotal += group.pendingCount + group.pendingNotificationCount;
    flushes += group.flushesIssued;
  }
  samples.push({
    events,
    simulatedS: simulatedMs / 1000,
    multicasts,
    delivered,
    historyTotal,
    historyMax,
    verticesTotal,
    pendingTotal,
    flushes,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
  });
}

const system = buildSystem({
  seed: 1,
  topology: experiment.topology,
  protocol,
  overlay: protocol.overlayKind === null ? null : overlay,
  mode: "solo",
  f: 0,
  workload,
  byzantine: [],
});
const started = performance.now();
const result = simulate({
  seed: 1,
  topology: experiment.topology,
  processes: system.processes,
  clients: system.clients,
  network: experiment.network,
  processing: experiment.processing,
  faults: { crashes: [], partitions: [] },
  tickMs: experiment.tickMs,
  timeLimitMs: 1e12,
  recordSends: false,
  leaderOf: system.leaderOf,
  onEvent: (event: TraceEvent) => {
    events += 1;
    if (event.ev === "multicast") multicasts += 1;
    else if (event.ev === "deliver") delivered += 1;
    if (events === 1000 || events % eventsPerSample === 0) sample(event.t);
  },
});
sample(result.endMs);
const wallS = (performance.now() - started) / 1000;

const pad = (value: string | number, width: number): string => String(value).padStart(width);
console.log(
  `${protocol.name} memory: ${multicasts} multicasts (${clients} clients, 90% local) on ${experiment.topology.name}, ` +
    `${protocol === wrapped ? `order ${overlay.name}, flush every ${flushEvery} deliveries` : "no overlay"}; ${result.stoppedBy} after ` +
    `${(result.endMs / 1000).toFixed(0)} s simulated in ${wallS.toFixed(0)} s; heap after a full GC: ${gc === undefined ? "no (run with NODE_OPTIONS=--expose-gc)" : "yes"}`,
);
console.log(
  `${pad("trace events", 12)} ${pad("sim s", 7)} ${pad("multicasts", 10)} ${pad("history (all)", 13)} ` +
    `${pad("history (max grp)", 17)} ${pad("vertices", 8)} ${pad("pending", 7)} ${pad("flushes", 7)} ${pad("heap MB", 7)}`,
);
for (const row of samples) {
  console.log(
    `${pad(row.events, 12)} ${pad(row.simulatedS.toFixed(0), 7)} ${pad(row.multicasts, 10)} ${pad(row.historyTotal, 13)} ` +
      `${pad(row.historyMax, 17)} ${pad(row.verticesTotal, 8)} ${pad(row.pendingTotal, 7)} ${pad(row.flushes, 7)} ${pad(row.heapMb.toFixed(1), 7)}`,
  );
}
