import { availableParallelism, loadavg } from "node:os";
import { join, resolve } from "node:path";
import type { Overlay, ProtocolDefinition } from "@amcast/core";
import { CdagOverlay, Topology, TreeOverlay } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { REPLICATION_MODES, replicaId } from "@amcast/group";
import { PROTOCOLS } from "@amcast/protocols";
import type { FsyncPolicy, HostStats, NetRunOptions } from "@amcast/runtime";
import { DEFAULT_NET_OPTIONS, FSYNC_POLICIES } from "@amcast/runtime";
import type { WorkloadSpec } from "@amcast/system";
import { findProjectRoot } from "@amcast/system";
import type { NetOutcome } from "../net-run.js";
import { netSummary, runScenarioNet } from "../net-run.js";
import { faultFreeScenario, runSummary } from "../run.js";
import type { ScenarioOutcome, ScenarioSpec } from "../scenario.js";
import { runScenario } from "../scenario.js";
import { loadExperiment } from "../spec.js";
import { formatTable } from "../table.js";
import { integerFlag, stringFlag, UsageError } from "./usage.js";

/** Flags of `amcast bench` that only the network benchmark reads. */
export const NET_BENCH_OPTIONS = {
  runtime: { type: "string" },
  "client-hosts": { type: "string" },
  outstanding: { type: "string" },
  section: { type: "string" },
  profile: { type: "string" },
  "batch-messages-max": { type: "string" },
  "batch-delay-ms": { type: "string" },
  protocol: { type: "string" },
  workload: { type: "string" },
  fsync: { type: "string" },
  "keep-journal": { type: "boolean" },
} as const;

const GROUPS = ["g0", "g1", "g2"];

/**
 * The replication modes the loopback section measures: f = 1 for the replicated ones (3 and 4
 * replica processes per group), and the default multicasts of a local and of a global-2 run,
 * sized so a run takes seconds at the mode's speed.
 */
const BENCH_MODES: readonly {
  readonly mode: ReplicationMode;
  readonly f: number;
  readonly multicasts: { readonly local: number; readonly "global-2": number };
}[] = [
  { mode: "solo", f: 0, multicasts: { local: 240_000, "global-2": 90_000 } },
  { mode: "crash", f: 1, multicasts: { local: 60_000, "global-2": 20_000 } },
  { mode: "byzantine", f: 1, multicasts: { local: 6_000, "global-2": 2_000 } },
];
const BENCH_WORKLOADS = ["local", "global-2"] as const;
/** The small WAN experiment the simulator and the runtime are compared on. */
const WAN_EXPERIMENT = "net-wan";

/** Three solo groups on one machine: no emulated delay, every message crosses loopback. */
function loopbackTopology(): Topology {
  return new Topology(
    "loopback-3",
    { regions: ["local"], latencyMs: [[0]] },
    GROUPS.map((id) => ({ id, region: "local" })),
    [],
  );
}

/** The overlay a protocol needs on the three groups: the C-DAG g0 > g1 > g2, or the tree g0 -> {g1, g2}. */
function benchOverlay(protocol: ProtocolDefinition<unknown>): Overlay | null {
  switch (protocol.overlayKind) {
    case "cdag":
      return new CdagOverlay("bench-order", GROUPS);
    case "tree":
      return new TreeOverlay("bench-tree", new Map(GROUPS.map((group) => [group, "target" as const])), [
        ["g0", "g1"],
        ["g0", "g2"],
      ]);
    default:
      return null;
  }
}

function benchWorkload(
  name: string,
  global: boolean,
  multicasts: number,
  clientsPerGroup: number,
  outstanding: number,
): WorkloadSpec {
  return {
    name,
    clientsPerGroup,
    loop: "closed",
    multicastsPerClient: Math.ceil(multicasts / (clientsPerGroup * GROUPS.length)),
    outstanding,
    thinkMs: 0,
    ratePerSec: 1,
    outstandingMax: outstanding,
    payloadBytes: 64,
    groups: null,
    locality: { localPercent: global ? 0 : 100, globalSizes: [2], globalChoice: "uniform" },
    startSpreadMs: 0,
  };
}

/**
 * `amcast bench --runtime net [--multicasts N] [--repeat R] [--client-hosts K] [--outstanding O]
 * [--section loopback|wan|all] [--protocol P] [--mode solo|crash|byzantine]
 * [--workload local|global-2] [--profile DIR] [--batch-messages-max B] [--batch-delay-ms D]
 * [--fsync off,none,interval,batch [--keep-journal]] [--json]`:
 * the network runtime on this machine (`--batch-messages-max 1`: one message per frame, to see what
 * batching does; `--batch-delay-ms D`: frames wait D ms for more messages).
 * Each loopback run is repeated R times (default 1) and the median by throughput reported;
 * `--profile DIR` writes a V8 CPU profile of every process there.
 *
 * - loopback: three groups, one OS process per replica, in solo, crash (f = 1, 3 replicas per
 *   group) and Byzantine mode (f = 1, 4 replicas per group, Ed25519 signatures); clients in K
 *   client hosts (default 1), closed loop with O multicasts in flight per client (default 64), no
 *   emulated delay; every protocol under a local-only and a 2-destination global workload.
 *   Throughput is completed multicasts per wall second between the first multicast and the last
 *   completion; latency is multicast to delivery at the last destination, from the merged trace.
 *   A replicated row's ratio is its throughput over the solo row of the same protocol and
 *   workload (when that ran too); Byzantine rows count the signatures made and checked.
 *   CPU is counted per process in its workload window (`HostStats.workloadCpuUserMs`: a client
 *   host from its first multicast to its last completion, a replica from its first delivery to
 *   its last, each to within 10 ms): `cpu µs/mcast`, the split by process and `cpu-bound mcast/s`
 *   come from it, so rows of few and of many multicasts compare. `cpu µs/mcast run` is the same
 *   over each host's whole run (start-up, waiting for the other nodes, and the drain and stop
 *   tail included: about a second of CPU per run, which dominates a short run). In `--json`,
 *   `cpuUsPerMulticast`, `cpuUsPerMulticastByProcess` and `cpuBoundMulticastsPerSec` keep the
 *   whole-run meaning; the same names ending in `Workload` are the workload window's.
 * - wan: the net-wan experiment on the simulator and on the runtime with latency emulation; the
 *   latency per kind of message side by side, with the difference.
 *
 * `--fsync` (a comma list of `off` and the fsync policies) measures what journaling costs: the
 * loopback section then runs its replicated rows only (crash and Byzantine mode, or the one
 * `--mode` names), once per policy in each repetition, interleaved, every replica journaling in
 * its own data directory with that policy (`off`: no journal): what it decides, truncated at
 * checkpoints, or with `--keep-journal` every input.
 */
export async function runNetBench(values: Record<string, string | boolean | undefined>): Promise<number> {
  const section = stringFlag(values.section) ?? "all";
  if (!["loopback", "wan", "all"].includes(section))
    throw new UsageError(`bench: --section is loopback, wan or all, got ${JSON.stringify(section)}`);
  const multicasts = integerFlag("bench", "multicasts", values.multicasts, 100, 100_000_000);
  const clientHosts = integerFlag("bench", "client-hosts", values["client-hosts"], 1, 16) ?? 1;
  const outstanding = integerFlag("bench", "outstanding", values.outstanding, 1, 4096) ?? 64;
  const profileDir = stringFlag(values.profile);
  const repeat = integerFlag("bench", "repeat", values.repeat, 1, 20) ?? 1;
  const batchMessagesMax = integerFlag(
    "bench",
    "batch-messages-max",
    values["batch-messages-max"],
    1,
    65_536,
  );
  const batchDelayMs = integerFlag("bench", "batch-delay-ms", values["batch-delay-ms"], 0, 100);
  const protocolFilter = stringFlag(values.protocol);
  if (protocolFilter !== undefined && !PROTOCOLS.some((protocol) => protocol.name === protocolFilter))
    throw new UsageError(
      `bench: --protocol is one of ${PROTOCOLS.map((protocol) => protocol.name).join(", ")}, got ${JSON.stringify(protocolFilter)}`,
    );
  const modeFilter = stringFlag(values.mode);
  if (modeFilter !== undefined && !(REPLICATION_MODES as readonly string[]).includes(modeFilter))
    throw new UsageError(
      `bench: --mode is one of ${REPLICATION_MODES.join(", ")}, got ${JSON.stringify(modeFilter)}`,
    );
  const fsyncRuns = fsyncList(stringFlag(values.fsync));
  if (fsyncRuns !== undefined && modeFilter === "solo")
    throw new UsageError("bench: --fsync measures replicated rows (crash, byzantine); --mode solo has none");
  const keepJournal = values["keep-journal"] === true;
  if (keepJournal && fsyncRuns === undefined)
    throw new UsageError("bench: --keep-journal needs --fsync (the policies to journal with)");
  const workloadFilter = stringFlag(values.workload);
  if (workloadFilter !== undefined && !["local", "global-2"].includes(workloadFilter))
    throw new UsageError(`bench: --workload is local or global-2, got ${JSON.stringify(workloadFilter)}`);
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const result: Record<string, unknown> = { benchmark: "net", experiment: "net-bench", seed: 1 };
  let failed = false;

  if (section !== "wan") {
    const clientsPerGroup = 2;
    const options: NetRunOptions = {
      ...DEFAULT_NET_OPTIONS,
      clientHosts,
      latencyEmulation: false,
      limits: {
        ...(batchMessagesMax === undefined ? {} : { batchMessagesMax }),
        ...(batchDelayMs === undefined ? {} : { batchDelayMs }),
      },
      ...(profileDir === undefined
        ? {}
        : { nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${resolve(profileDir)}`] }),
    };
    print(
      `network runtime benchmark: 3 groups (solo: one process each; crash: 3 replicas; byzantine: 4, Ed25519) + ` +
        `${fsyncRuns === undefined ? "" : `replicated modes only, journals (${keepJournal ? "every input, kept whole" : "decided positions, truncated at checkpoints"}): ${fsyncRuns.join(", ")}; `}` +
        `${clientHosts} client host(s), ${clientsPerGroup * GROUPS.length} clients ` +
        `x ${outstanding} in flight (closed loop), loopback, no latency emulation, traces merged and checked; ` +
        `load average ${loadavg()
          .map((load) => load.toFixed(1))
          .join(" ")} on ${availableParallelism()} core(s) before the first run`,
    );
    result.loadAverage = loadavg().map(round);
    const rows: (string | number)[][] = [];
    const runs: Record<string, unknown>[] = [];
    /** Solo throughput per "<protocol>/<workload>", the base of the replicated rows' ratios. */
    const soloPerSec = new Map<string, number>();
    for (const { mode, f, multicasts: modeMulticasts } of BENCH_MODES) {
      if (modeFilter !== undefined && mode !== modeFilter) continue;
      if (fsyncRuns !== undefined && mode === "solo") continue;
      for (const protocol of PROTOCOLS) {
        if (protocolFilter !== undefined && protocol.name !== protocolFilter) continue;
        for (const name of BENCH_WORKLOADS) {
          if (workloadFilter !== undefined && name !== workloadFilter) continue;
          const spec: ScenarioSpec = {
            label: `${protocol.name}/${mode}/${name}`,
            seed: 1,
            topology: loopbackTopology(),
            protocol,
            overlay: benchOverlay(protocol),
            mode,
            f,
            workload: benchWorkload(
              name,
              name !== "local",
              multicasts ?? modeMulticasts[name],
              clientsPerGroup,
              outstanding,
            ),
            byzantine: [],
            faultPlan: "",
            network: { jitterSdFraction: 0, reorder: null },
            processing: { perMessageUs: 0, perByteNs: 0 },
            faults: { crashes: [], partitions: [] },
            timeLimitMs: 600_000,
            tickMs: 10,
            realTime: false,
            recordSends: false,
            check: true,
            keepSamples: false,
          };
          // K runs (of each journal policy, interleaved); the one with the median throughput is
          // reported (the machine is shared and noisy).
          const policies = fsyncRuns ?? ["off" as const];
          const outcomesOf = policies.map((): NetOutcome[] => []);
          for (let index = 0; index < repeat; index += 1)
            for (const [which, policy] of policies.entries())
              outcomesOf[which]?.push(
                await runScenarioNet(
                  spec,
                  policy === "off"
                    ? options
                    : { ...options, storage: { fsync: policy, ...(keepJournal ? { truncate: false } : {}) } },
                ),
              );
          for (const [which, outcomes] of outcomesOf.entries()) {
            const policy = policies[which] as FsyncPolicy | "off";
            outcomes.sort((a, b) => a.metrics.multicastsPerSec - b.metrics.multicastsPerSec);
            const outcome = outcomes[Math.floor(outcomes.length / 2)] as NetOutcome;
            const violations = outcome.check?.violations.length ?? 0;
            if (violations > 0 || outcome.metrics.delivered !== outcome.metrics.multicasts) failed = true;
            const { latency } = outcome.metrics;
            const perSec = outcome.metrics.multicastsPerSec;
            if (mode === "solo") soloPerSec.set(`${protocol.name}/${name}`, perSec);
            const solo = soloPerSec.get(`${protocol.name}/${name}`);
            const ratioToSolo = solo === undefined || solo === 0 ? null : round(perSec / solo);
            const signatures = signaturesPerMulticast(outcome);
            const split = cpuSplit(outcome, "workload");
            const splitRun = cpuSplit(outcome, "run");
            const cpuUs = cpuPerMulticastUs(outcome, "workload");
            const cpuUsRun = cpuPerMulticastUs(outcome, "run");
            rows.push([
              protocol.name,
              mode,
              name,
              ...(fsyncRuns === undefined ? [] : [policy]),
              outcome.metrics.multicasts,
              Math.round(perSec),
              ratioToSolo === null ? "" : `${ratioToSolo.toFixed(2)}x`,
              latency.p50,
              latency.p99,
              outcome.net.messagesPerFrame,
              `${(outcome.net.workloadCpuMsReplicas / 1000).toFixed(2)} / ${(outcome.net.cpuMsReplicas / 1000).toFixed(2)}`,
              `${(outcome.net.workloadCpuMsClients / 1000).toFixed(2)} / ${(outcome.net.cpuMsClients / 1000).toFixed(2)}`,
              round(cpuUs),
              round(cpuUsRun),
              formatSplit(split),
              Math.round(cpuBoundPerSec(cpuUs)),
              ...(fsyncRuns === undefined ? [] : [Math.round(hardStateBytesPerMulticast(outcome))]),
              signatures === null
                ? ""
                : `${signatures.signed.toFixed(1)} / ${signatures.verified.toFixed(1)}`,
              violations === 0 ? "ok" : `${violations} violations`,
            ]);
            if (outcomes.some((run) => (run.check?.violations.length ?? 0) > 0)) failed = true;
            runs.push({
              ...runSummary(outcome, "net"),
              runtime: "net",
              ...(fsyncRuns === undefined ? {} : { fsync: policy }),
              net: netSummary(outcome),
              multicastsPerSecAll: outcomes.map((run) => Math.round(run.metrics.multicastsPerSec)),
              cpuUsPerMulticast: round(cpuUsRun),
              cpuUsPerMulticastByProcess: splitJson(splitRun),
              cpuBoundMulticastsPerSec: Math.round(cpuBoundPerSec(cpuUsRun)),
              cpuUsPerMulticastWorkload: round(cpuUs),
              cpuUsPerMulticastByProcessWorkload: splitJson(split),
              cpuBoundMulticastsPerSecWorkload: Math.round(cpuBoundPerSec(cpuUs)),
              ...(fsyncRuns === undefined
                ? {}
                : { hardStateBytesPerMulticast: round(hardStateBytesPerMulticast(outcome)) }),
              ratioToSolo,
              ...(signatures === null ? {} : { signaturesPerMulticast: signatures }),
            });
            print(
              `  ${spec.label}${fsyncRuns === undefined ? "" : ` (journal: ${policy})`}: ${outcomes.map((run) => Math.round(run.metrics.multicastsPerSec)).join(", ")} multicasts/s`,
            );
          }
        }
      }
    }
    print(
      formatTable(
        [
          "protocol",
          "mode",
          "workload",
          ...(fsyncRuns === undefined ? [] : ["journal"]),
          "multicasts",
          "mcast/s",
          "vs solo",
          "p50 ms",
          "p99 ms",
          "msgs/frame",
          "cpu s replicas workload / run",
          "cpu s clients workload / run",
          "cpu µs/mcast",
          "cpu µs/mcast run",
          "cpu µs client / busiest / other replicas",
          "cpu-bound mcast/s",
          ...(fsyncRuns === undefined ? [] : ["hard state B/mcast"]),
          "signed / verified per mcast",
          "checks",
        ],
        rows,
      ),
    );
    result.runs = runs;
  }

  if (section !== "loopback") {
    const root = findProjectRoot(process.cwd());
    const experiment = loadExperiment(join(root, "experiments", `${WAN_EXPERIMENT}.json`));
    const [protocolRun] = experiment.protocols;
    const [workload] = experiment.workloads;
    if (protocolRun === undefined || workload === undefined)
      throw new Error(`${WAN_EXPERIMENT} has a protocol and a workload`);
    const spec = faultFreeScenario(experiment, {
      label: `${protocolRun.label}/solo/${workload.name}`,
      seed: experiment.seeds[0] ?? 1,
      protocol: protocolRun.protocol,
      overlay: protocolRun.overlay,
      workload,
      check: true,
    });
    print("");
    print(
      `simulator vs network runtime on ${WAN_EXPERIMENT} (${experiment.topology.name}, latency emulation on; ` +
        `${workload.multicastsPerClient} multicasts per client):`,
    );
    const simulated = runScenario(spec);
    const real = await runScenarioNet(spec, {
      ...DEFAULT_NET_OPTIONS,
      latencyEmulation: true,
      clientHosts: 1,
    });
    const comparison = compareLatency(simulated, real);
    print(
      formatTable(
        [
          "kind",
          "count",
          "sim mean",
          "net mean",
          "diff",
          "sim p50",
          "net p50",
          "diff",
          "sim p99",
          "net p99",
          "diff",
        ],
        comparison.map((row) => [
          row.kind,
          row.count,
          row.sim.mean,
          row.net.mean,
          percent(row.diff.mean),
          row.sim.p50,
          row.net.p50,
          percent(row.diff.p50),
          row.sim.p99,
          row.net.p99,
          percent(row.diff.p99),
        ]),
      ),
    );
    if ((real.check?.violations.length ?? 0) > 0 || (simulated.check?.violations.length ?? 0) > 0)
      failed = true;
    result.simVsNet = comparison;
  }
  if (values.json === true) print(JSON.stringify(result));
  return failed ? 1 : 0;
}

/** `--fsync off,batch,...`: the journal policies to compare (`off`: no journal), or undefined. */
function fsyncList(value: string | undefined): (FsyncPolicy | "off")[] | undefined {
  if (value === undefined) return undefined;
  const known: readonly string[] = ["off", ...FSYNC_POLICIES];
  const list = value.split(",").map((item) => item.trim());
  const bad = list.find((item) => !known.includes(item));
  if (bad !== undefined || list.length === 0)
    throw new UsageError(
      `bench: --fsync: expected a comma list of ${known.join(", ")}, got ${JSON.stringify(value)}`,
    );
  return [...new Set(list)] as (FsyncPolicy | "off")[];
}

interface LatencyRow {
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
}

/** Latency per kind of message (and overall) on both runtimes; `diff` is (net - sim) / sim. */
export function compareLatency(
  simulated: ScenarioOutcome,
  real: NetOutcome,
): { kind: string; count: number; sim: LatencyRow; net: LatencyRow; diff: LatencyRow }[] {
  const pick = (summary: LatencyRow): LatencyRow => ({
    mean: round(summary.mean),
    p50: round(summary.p50),
    p99: round(summary.p99),
  });
  const rows = [["all", simulated.metrics.latency, real.metrics.latency] as const];
  const kinds = [...simulated.metrics.byKind.keys()];
  const all = [
    ...rows,
    ...kinds.map(
      (kind) => [kind, simulated.metrics.byKind.get(kind), real.metrics.byKind.get(kind)] as const,
    ),
  ];
  return all.flatMap(([kind, sim, net]) => {
    if (sim === undefined || net === undefined) return [];
    const diff = (a: number, b: number): number => (a === 0 ? 0 : round((b - a) / a));
    return [
      {
        kind,
        count: net.count,
        sim: pick(sim),
        net: pick(net),
        diff: { mean: diff(sim.mean, net.mean), p50: diff(sim.p50, net.p50), p99: diff(sim.p99, net.p99) },
      },
    ];
  });
}

function percent(fraction: number): string {
  return `${fraction >= 0 ? "+" : ""}${(fraction * 100).toFixed(1)}%`;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Ed25519 signatures made and checked per multicast, over every node (checks answered from
 * memory apart); null when no node signed (solo and crash mode).
 */
function signaturesPerMulticast(
  outcome: NetOutcome,
): { signed: number; verified: number; verifiedFromMemory: number } | null {
  const counts = { signed: 0, verified: 0, verifiedFromMemory: 0 };
  let any = false;
  for (const stats of Object.values(outcome.net.perNode) as HostStats[]) {
    if (stats.signatures === undefined) continue;
    any = true;
    counts.signed += stats.signatures.signed;
    counts.verified += stats.signatures.verified;
    counts.verifiedFromMemory += stats.signatures.verifiedFromMemory;
  }
  const { multicasts } = outcome.metrics;
  if (!any || multicasts === 0) return null;
  return {
    signed: round(counts.signed / multicasts),
    verified: round(counts.verified / multicasts),
    verifiedFromMemory: round(counts.verifiedFromMemory / multicasts),
  };
}

/** Bytes of orderer hard state the replicas' journals wrote, per multicast (all replicas together). */
function hardStateBytesPerMulticast(outcome: NetOutcome): number {
  const { multicasts } = outcome.metrics;
  const bytes = Object.values(outcome.net.perNode).reduce(
    (total, node) => total + (node.journal?.hardStateBytes ?? 0),
    0,
  );
  return multicasts === 0 ? 0 : bytes / multicasts;
}

/**
 * Which CPU figure of each host: in its workload window (`HostStats.workloadCpuUserMs`) or from
 * its start to its stop.
 */
type CpuWindow = "workload" | "run";

/** CPU time of every process per multicast, in µs. */
function cpuPerMulticastUs(outcome: NetOutcome, window: CpuWindow): number {
  const { multicasts } = outcome.metrics;
  const { net } = outcome;
  const cpuMs =
    window === "workload"
      ? net.workloadCpuMsReplicas + net.workloadCpuMsClients
      : net.cpuMsReplicas + net.cpuMsClients;
  return multicasts === 0 ? 0 : (cpuMs * 1000) / multicasts;
}

/**
 * Throughput the machine's cores would allow if CPU were the only limit: every core busy, each
 * multicast costing what this run measured (cores × 10^6 / CPU µs per multicast). Measured
 * throughput below it means the run did not keep the cores busy (latency-bound closed loop, or
 * other work on the machine).
 */
function cpuBoundPerSec(cpuUsPerMulticast: number): number {
  return cpuUsPerMulticast === 0 ? 0 : (availableParallelism() * 1e6) / cpuUsPerMulticast;
}

/**
 * CPU per multicast by kind of process, in µs: the client hosts' per multicast; each replica's per
 * multicast its group delivered, the busiest replica of each group (its leader, in a replicated
 * mode: it receives the requests, ships them and answers) and the others (followers, backups),
 * each averaged over the groups.
 */
interface CpuSplit {
  readonly clientUs: number;
  readonly busiestReplicaUs: number;
  readonly otherReplicasUs: number | null;
}

function cpuSplit(outcome: NetOutcome, window: CpuWindow): CpuSplit {
  const cpuMs = (stats: HostStats): number =>
    window === "workload"
      ? stats.workloadCpuUserMs + stats.workloadCpuSystemMs
      : stats.cpuUserMs + stats.cpuSystemMs;
  const busiest: number[] = [];
  const others: number[] = [];
  for (const group of GROUPS) {
    const perReplica: number[] = [];
    for (let index = 0; ; index += 1) {
      const stats = outcome.net.perNode[replicaId(group, index)];
      if (stats === undefined) break;
      if (stats.deliveries > 0) perReplica.push((cpuMs(stats) * 1000) / stats.deliveries);
    }
    perReplica.sort((a, b) => b - a);
    const [first, ...rest] = perReplica;
    if (first !== undefined) busiest.push(first);
    others.push(...rest);
  }
  const mean = (values: readonly number[]): number =>
    values.reduce((total, value) => total + value, 0) / Math.max(1, values.length);
  const { multicasts } = outcome.metrics;
  const clientMs = window === "workload" ? outcome.net.workloadCpuMsClients : outcome.net.cpuMsClients;
  return {
    clientUs: multicasts === 0 ? 0 : (clientMs * 1000) / multicasts,
    busiestReplicaUs: mean(busiest),
    otherReplicasUs: others.length === 0 ? null : mean(others),
  };
}

function formatSplit(split: CpuSplit): string {
  return `${split.clientUs.toFixed(1)} / ${split.busiestReplicaUs.toFixed(1)} / ${split.otherReplicasUs === null ? "-" : split.otherReplicasUs.toFixed(1)}`;
}

function splitJson(split: CpuSplit): {
  readonly client: number;
  readonly busiestReplica: number;
  readonly otherReplicas: number | null;
} {
  return {
    client: round(split.clientUs),
    busiestReplica: round(split.busiestReplicaUs),
    otherReplicas: split.otherReplicasUs === null ? null : round(split.otherReplicasUs),
  };
}
