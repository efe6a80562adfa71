import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { GroupLogic, Overlay, OverlayKind, ProtocolDefinition, Topology } from "@amcast/core";
import { checkOverlayAgainstTopology, parseOverlay } from "@amcast/core";
import { FlexCastGroup } from "@amcast/flexcast";
import type { ReplicationMode } from "@amcast/group";
import { REPLICATION_MODES } from "@amcast/group";
import { PROTOCOLS } from "@amcast/protocols";
import { findProjectRoot, readJson } from "@amcast/system";
import { faultFreeScenario, runSummary } from "../run.js";
import type { ScenarioOutcome } from "../scenario.js";
import { runScenario } from "../scenario.js";
import type { ExperimentSpec } from "../spec.js";
import { loadExperiment } from "../spec.js";
import { formatTable } from "../table.js";
import { NET_BENCH_OPTIONS, runNetBench } from "./bench-net.js";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

/** The setups the simulator benchmark runs: the experiment (under experiments/) by number of groups. */
const BENCH_SETUPS = { 12: "quickstart", 48: "scale-48" } as const;
type BenchGroups = keyof typeof BENCH_SETUPS;

/** Overlays (under overlays/) for protocols a setup's experiment does not run, by kind. */
const BENCH_OVERLAYS: Partial<Record<OverlayKind, string>> = { cdag: "aws-12-cdag-o1.json" };

/**
 * The benchmark's rows: each protocol solo on 12 and 48 groups, and replicated (f = 1) on 12.
 * Replicated groups cost several times more per multicast to simulate (crash mode about 8x,
 * Byzantine mode 50-70x: 3f+1 replicas, consensus, modelled signatures), so their rows run a
 * share of the multicasts. A run also has a fixed cost (building the groups, the closed loop's
 * ramp-up and tail, the idle settling at the end) that a short row spreads over few multicasts:
 * in Byzantine mode about as much as 1,400 steady multicasts, a fifth of a 6,000-multicast run's
 * CPU (a tenth at 12,000). The rows stay this short to keep the whole benchmark near 25 s; a
 * larger `--multicasts` measures closer to the steady state.
 * A row with `cdagOverlay` runs only the C-DAG protocols, on that order instead of the setup's:
 * the interleaved 48-group order, where a multicast to one region's shards spans most of the
 * order (FlexCast's hardest case for notifications).
 */
const BENCH_ROWS: readonly {
  readonly groups: BenchGroups;
  readonly mode: ReplicationMode;
  readonly multicastsShare: number;
  readonly cdagOverlay?: string;
}[] = [
  { groups: 12, mode: "solo", multicastsShare: 1 },
  { groups: 48, mode: "solo", multicastsShare: 1 },
  { groups: 48, mode: "solo", multicastsShare: 1, cdagOverlay: "aws-48-cdag-inter.json" },
  { groups: 12, mode: "crash", multicastsShare: 1 / 5 },
  { groups: 12, mode: "byzantine", multicastsShare: 1 / 20 },
];

/** Protocols the simulator benchmark runs (those with an overlay for every setup, or none). */
const BENCH_PROTOCOLS = ["skeen", "flexcast"];

function benchOverlay(
  root: string,
  kind: OverlayKind | null,
  topology: Topology,
  file = kind === null ? undefined : BENCH_OVERLAYS[kind],
): Overlay | null {
  if (file === undefined) return null;
  const path = join(root, "overlays", file);
  const overlay = parseOverlay(readJson(path, "benchmark overlay"), path);
  checkOverlayAgainstTopology(overlay, topology, path);
  return overlay;
}

/** `protocol` with every group logic it creates kept in `groups` (to read FlexCast's history after a run). */
function keepingGroups(
  protocol: ProtocolDefinition<unknown>,
  groups: GroupLogic<unknown>[],
): ProtocolDefinition<unknown> {
  return {
    ...protocol,
    createGroup: (config) => {
      const group = protocol.createGroup(config);
      groups.push(group);
      return group;
    },
  };
}

/**
 * The garbage collector's pauses on the main thread. The runtime reports them after the fact (a
 * turn or two of the event loop later), so each run notes its time window and the pauses are
 * summed per window once everything ran (`settle`).
 */
class GcPauses {
  private readonly pauses: { readonly startMs: number; readonly durationMs: number }[] = [];
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      this.pauses.push({ startMs: entry.startTime, durationMs: entry.duration });
  });

  constructor() {
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** Lets the pending reports arrive, then stops listening. */
  async settle(): Promise<void> {
    for (let turn = 0; turn < 4; turn += 1) await nextTurn();
    this.observer.disconnect();
  }

  /** Milliseconds of pauses that started in [fromMs, toMs) (`performance.now()` times). */
  msBetween(fromMs: number, toMs: number): number {
    let sum = 0;
    for (const pause of this.pauses)
      if (pause.startMs >= fromMs && pause.startMs < toMs) sum += pause.durationMs;
    return sum;
  }
}

/**
 * `amcast bench [--multicasts N] [--repeat K] [--protocol P] [--mode M] [--groups G] [--json]`:
 * simulator speed. Runs Skeen and FlexCast on the 12-region quickstart setup and on the 48-group
 * scale-48 setup with solo groups (at least N multicasts, default 120,000; FlexCast also on the
 * interleaved 48-group order), and on 12 groups in
 * crash and Byzantine mode (f = 1, a fifth and a twentieth of N), without checking or keeping the
 * trace, K times each (default 3), and reports the run with the median wall time: message events
 * per wall-clock second, CPU time per multicast (the whole process, garbage collection included),
 * the share of the run's wall time spent in garbage collection pauses, and FlexCast's largest
 * retained history at any group. `--protocol`, `--mode` and `--groups` keep only the matching rows.
 */
export function runBenchCommand(args: string[]): number | Promise<number> {
  const { values } = parseCommandArgs(
    "bench",
    args,
    {
      multicasts: { type: "string" },
      repeat: { type: "string" },
      json: { type: "boolean" },
      mode: { type: "string" },
      groups: { type: "string" },
      ...NET_BENCH_OPTIONS,
    },
    0,
  );
  // `--runtime net`: the network runtime's benchmark (bench-net.ts).
  const runtime = stringFlag(values.runtime) ?? "sim";
  if (runtime === "net") return runNetBench(values);
  if (runtime !== "sim")
    throw new UsageError(`bench: --runtime is sim or net, got ${JSON.stringify(runtime)}`);
  const multicastsMin = integerFlag("bench", "multicasts", values.multicasts, 1, 100_000_000) ?? 120_000;
  const repeat = integerFlag("bench", "repeat", values.repeat, 1, 100) ?? 3;
  const protocolFilter = stringFlag(values.protocol);
  if (protocolFilter !== undefined && !BENCH_PROTOCOLS.includes(protocolFilter))
    throw new UsageError(
      `bench: --protocol is one of ${BENCH_PROTOCOLS.join(", ")}, got ${JSON.stringify(protocolFilter)}`,
    );
  const modeFilter = stringFlag(values.mode);
  if (modeFilter !== undefined && !(REPLICATION_MODES as readonly string[]).includes(modeFilter))
    throw new UsageError(
      `bench: --mode is one of ${REPLICATION_MODES.join(", ")}, got ${JSON.stringify(modeFilter)}`,
    );
  const groupsFilter = stringFlag(values.groups);
  if (groupsFilter !== undefined && !Object.keys(BENCH_SETUPS).includes(groupsFilter))
    throw new UsageError(
      `bench: --groups is one of ${Object.keys(BENCH_SETUPS).join(", ")}, got ${JSON.stringify(groupsFilter)}`,
    );
  return runSimBench(multicastsMin, repeat, protocolFilter, modeFilter, groupsFilter, values.json === true);
}

async function runSimBench(
  multicastsMin: number,
  repeat: number,
  protocolFilter: string | undefined,
  modeFilter: string | undefined,
  groupsFilter: string | undefined,
  json: boolean,
): Promise<number> {
  const root = findProjectRoot(process.cwd());
  const experiments = new Map<BenchGroups, ExperimentSpec>();
  const experimentFor = (groups: BenchGroups): ExperimentSpec => {
    let experiment = experiments.get(groups);
    if (experiment === undefined) {
      experiment = loadExperiment(join(root, "experiments", `${BENCH_SETUPS[groups]}.json`));
      experiments.set(groups, experiment);
    }
    return experiment;
  };

  process.stdout.write(
    `simulator benchmark: ${Object.entries(BENCH_SETUPS)
      .map(([groups, name]) => `${groups} groups (${name})`)
      .join(
        ", ",
      )}, 4 clients per group, closed loop; median of ${repeat} run(s) by wall time, no checking; ` +
      `load average ${loadavg()
        .map((load) => load.toFixed(1))
        .join(" ")} on ${availableParallelism()} core(s)\n`,
  );
  const gc = new GcPauses();
  const measuredRows: {
    readonly protocol: string;
    readonly overlay: string;
    readonly groups: number;
    readonly mode: ReplicationMode;
    readonly measured: Measured[];
  }[] = [];
  for (const row of BENCH_ROWS) {
    if (modeFilter !== undefined && row.mode !== modeFilter) continue;
    if (groupsFilter !== undefined && String(row.groups) !== groupsFilter) continue;
    const experiment = experimentFor(row.groups);
    const base = experiment.workloads[0];
    if (base === undefined) throw new Error(`${experiment.name} has a workload`);
    const clientsPerGroup = base.clientsPerGroup ?? 1;
    const groups = experiment.topology.groupIds.length;
    const workload = {
      ...base,
      name: "bench",
      multicastsPerClient: Math.ceil((multicastsMin * row.multicastsShare) / (clientsPerGroup * groups)),
    };
    for (const protocol of PROTOCOLS) {
      if (!BENCH_PROTOCOLS.includes(protocol.name)) continue;
      if (protocolFilter !== undefined && protocol.name !== protocolFilter) continue;
      if (row.cdagOverlay !== undefined && protocol.overlayKind !== "cdag") continue;
      const overlay =
        row.cdagOverlay !== undefined
          ? benchOverlay(root, protocol.overlayKind, experiment.topology, row.cdagOverlay)
          : (experiment.protocols.find((run) => run.protocol === protocol)?.overlay ??
            benchOverlay(root, protocol.overlayKind, experiment.topology));
      if (protocol.overlayKind !== null && overlay === null) continue;
      const measured: Measured[] = [];
      for (let index = 0; index < repeat; index += 1) {
        const logics: GroupLogic<unknown>[] = [];
        const startedMs = performance.now();
        const cpu = process.cpuUsage();
        const outcome = runScenario(
          faultFreeScenario(experiment, {
            label: `bench/${protocol.name}/${row.groups}/${row.mode}`,
            seed: 1,
            protocol: keepingGroups(protocol, logics),
            overlay,
            workload,
            mode: row.mode,
            f: row.mode === "solo" ? 0 : 1,
            check: false,
          }),
        );
        const used = process.cpuUsage(cpu);
        const peaks = logics.flatMap((logic) => (logic instanceof FlexCastGroup ? [logic.historyPeak] : []));
        measured.push({
          outcome,
          cpuMs: (used.user + used.system) / 1000,
          historyPeak: peaks.length === 0 ? null : Math.max(...peaks),
          startedMs,
          endedMs: performance.now(),
        });
      }
      measuredRows.push({
        protocol: protocol.name,
        overlay: overlay?.name ?? "-",
        groups,
        mode: row.mode,
        measured,
      });
    }
  }
  await gc.settle();
  const rows: (string | number)[][] = [];
  const runs: Record<string, unknown>[] = [];
  for (const { protocol, overlay, groups, mode, measured } of measuredRows) {
    // Share of a run's wall time (setup and summary included) spent in collector pauses.
    const gcShare = (run: Measured): number =>
      gc.msBetween(run.startedMs, run.endedMs) / Math.max(1e-9, run.endedMs - run.startedMs);
    measured.sort((a, b) => a.outcome.wallMs - b.outcome.wallMs);
    const median = measured[Math.floor(measured.length / 2)] as Measured;
    const { outcome } = median;
    const eventsPerSec = (outcome.sim.messageEvents * 1000) / outcome.wallMs;
    const multicasts = outcome.metrics.multicasts;
    const cpuUsPerMulticast = multicasts === 0 ? 0 : (median.cpuMs * 1000) / multicasts;
    rows.push([
      protocol,
      overlay,
      groups,
      mode,
      multicasts,
      outcome.sim.messageEvents,
      Math.round(outcome.wallMs),
      Math.round(eventsPerSec),
      Math.round((multicasts * 1000) / outcome.wallMs),
      round(cpuUsPerMulticast),
      (100 * gcShare(median)).toFixed(1),
      median.historyPeak ?? "-",
    ]);
    runs.push({
      ...runSummary(outcome, "sim"),
      groups,
      queueEvents: outcome.sim.queueEvents,
      queueEventsPerSec: Math.round((outcome.sim.queueEvents * 1000) / outcome.wallMs),
      cpuUsPerMulticast: round(cpuUsPerMulticast),
      gcShare: round3(gcShare(median)),
      historyPeak: median.historyPeak,
      wallMsAll: measured.map((run) => Math.round(run.outcome.wallMs)),
      cpuUsPerMulticastAll: measured.map((run) => round((run.cpuMs * 1000) / Math.max(1, multicasts))),
      gcShareAll: measured.map((run) => round3(gcShare(run))),
    });
  }
  process.stdout.write(
    `${formatTable(
      [
        "protocol",
        "overlay",
        "groups",
        "mode",
        "multicasts",
        "message events",
        "wall ms",
        "message events/s",
        "multicasts/s",
        "cpu µs/mcast",
        "gc %",
        "peak history",
      ],
      rows,
    )}\n`,
  );
  if (json)
    process.stdout.write(
      `${JSON.stringify({ benchmark: "simulator", loadAverage: loadavg().map(round), runs })}\n`,
    );
  return 0;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** One run of a benchmark row, with its time window for the collector's pauses. */
interface Measured {
  readonly outcome: ScenarioOutcome;
  readonly cpuMs: number;
  readonly historyPeak: number | null;
  readonly startedMs: number;
  readonly endedMs: number;
}
