import type { Overlay, ProtocolDefinition, TraceEvent } from "@amcast/core";
import { assertNever, CdagOverlay, Prng, percent, runGroups, Topology } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { BYZANTINE_STRATEGIES, replicaCount } from "@amcast/group";
import type { CrashFault, PartitionFault } from "@amcast/sim";
import type { ByzantineFault, ReconfigSpec, WorkloadSpec } from "@amcast/system";
import { DEFAULT_RECONFIG, randomTree } from "@amcast/system";
import type { ScenarioSpec } from "./scenario.js";

/**
 * Swarm testing (after TigerBeetle's VOPR): each seed draws a whole configuration — topology,
 * overlay, workload, network behaviour and faults — so many seeds explore many corners. The
 * configuration is a pure function of (protocol, seed), so a failing seed replays exactly.
 */
export interface SwarmCase {
  readonly seed: number;
  readonly description: string;
  readonly scenario: ScenarioSpec;
  /** The delayed network the seed drew (one of DELAYED_NETWORKS), or null. */
  readonly delayedNetwork: DelayedNetwork | null;
}

/** A share of all messages (`percent`) held back by up to `extraDelayMsMax` more. */
export interface DelayedNetwork {
  readonly percent: number;
  readonly extraDelayMsMax: number;
}

export interface SwarmOptions {
  /** Let some seeds crash processes (safety is then checked, liveness is not). */
  readonly crashes: boolean;
  readonly realTime: boolean;
  /** Replication modes a seed may draw. */
  readonly modes: readonly ReplicationMode[];
  /** Run the protocol's linearizable variant (real-time order is then checked and owed). */
  readonly linearizable?: boolean;
  readonly recordSends?: boolean;
  /** Install random overlays at random moments (overlay protocols only). */
  readonly reconfigure?: boolean;
  /**
   * Give every seed a delayed network (see DELAYED_NETWORKS); absent or false: a quarter of the
   * seeds draw one.
   */
  readonly delayedNetwork?: boolean;
  readonly onTrace?: (event: TraceEvent) => void;
}

/**
 * Delayed networks: a share of all messages (`percent`) is held back by up to `extraDelayMsMax`
 * more, links staying FIFO, so one late message holds up those behind it. Timeouts tuned for the
 * topology's delays meet silences of seconds; every run must still drain.
 */
export const DELAYED_NETWORKS: readonly DelayedNetwork[] = [
  { percent: 2, extraDelayMsMax: 1000 },
  { percent: 5, extraDelayMsMax: 1000 },
  { percent: 20, extraDelayMsMax: 1000 },
  { percent: 100, extraDelayMsMax: 1000 },
  { percent: 5, extraDelayMsMax: 2000 },
  { percent: 20, extraDelayMsMax: 2000 },
  { percent: 100, extraDelayMsMax: 2000 },
  { percent: 100, extraDelayMsMax: 300 },
];

/**
 * Seeds that draw a delayed network, in every replication mode, plain and linearizable. Delayed
 * seeds run fewer multicasts per client; linearizable ones fewer still: the barrier releases a
 * queue's head one acknowledgement round at a time, seconds each here, so a hundred multicasts
 * could take most of the time limit.
 */
const DELAYED_SEEDS_PERCENT = 25;
const DELAYED_MULTICASTS_PER_CLIENT_MAX = 10;
const DELAYED_LINEARIZABLE_MULTICASTS_PER_CLIENT_MAX = 3;
/**
 * Byzantine seeds (with crashes) that put a `corrupt-state` server beside a replica that must
 * fetch state from it: one group gets exactly those two faults, so such a run has f = 2 (seven
 * replicas per group) and stays within its fault model.
 */
const CORRUPT_STATE_SEEDS_PERCENT = 25;
/** Checkpoint intervals (log positions) of those runs: short, so the restarted replica fetches state. */
const CORRUPT_STATE_CHECKPOINT_ENTRIES: readonly number[] = [2, 4, 8, 16];
const CORRUPT_STATE_MULTICASTS_PER_CLIENT_MAX = 8;

export function swarmCase(
  protocol: ProtocolDefinition<unknown>,
  seed: number,
  options: SwarmOptions,
): SwarmCase {
  const prng = new Prng(seed).derive("swarm");
  // Byzantine mode runs 3f+1 replicas per group and signs everything: its seeds are kept smaller,
  // so the swarm spends its time on many configurations rather than a few large ones.
  const mode = prng.pick(options.modes);
  const byzantineMode = mode === "byzantine";
  const groupCount = prng.intBetween(2, byzantineMode ? 5 : 8);
  const regions = Array.from({ length: groupCount }, (_, index) => `g${index}`);
  const latencyMs = regions.map((_, from) =>
    regions.map((__, to) => (from === to ? round(0.2 + prng.float() * 5) : round(2 + prng.float() * 200))),
  );
  const clientRegions = prng.chance(percent(50))
    ? regions
    : prng.sample(regions, prng.intBetween(1, groupCount));
  const { topology, overlay } = withOverlay(
    protocol,
    new Topology(
      `swarm-${seed}`,
      { regions, latencyMs },
      regions.map((region) => ({ id: region, region })),
      clientRegions.map((region) => ({ region, count: prng.intBetween(1, byzantineMode ? 2 : 3) })),
    ),
    prng,
  );

  const maxSize = Math.min(groupCount, 4);
  const closed = prng.chance(percent(70));
  let workload: WorkloadSpec = {
    name: "swarm",
    clientsPerGroup: null,
    loop: closed ? "closed" : "open",
    multicastsPerClient: prng.intBetween(5, byzantineMode ? 20 : 40),
    outstanding: prng.intBetween(1, 3),
    thinkMs: prng.chance(percent(50)) ? 0 : round(prng.float() * 50),
    ratePerSec: round(5 + prng.float() * 200),
    outstandingMax: 1000,
    payloadBytes: prng.intBetween(0, 256),
    groups: null,
    locality: {
      localPercent: prng.pick([0, 10, 30, 50, 90]),
      globalSizes: Array.from({ length: maxSize - 1 }, (_, index) => index + 2),
      globalChoice: prng.chance(percent(50)) ? "uniform" : "nearest",
    },
    startSpreadMs: round(prng.float() * 100),
  };

  const reorder = prng.chance(percent(50))
    ? { chance: percent(prng.intBetween(1, 50)), extraDelayMsMax: round(prng.float() * 150) }
    : null;
  const jitterSdFraction = prng.pick([0, 0.05, 0.2, 0.5]);
  // Its own stream, so the seeds that draw no delayed network keep the rest of their draw.
  const delayPrng = new Prng(seed).derive("swarm-delay");
  const drawsDelay = delayPrng.chance(percent(DELAYED_SEEDS_PERCENT));
  const delayed = options.delayedNetwork === true || drawsDelay ? delayPrng.pick(DELAYED_NETWORKS) : null;
  if (delayed !== null) {
    // Under such delays a multicast takes seconds: a few per client keep the run short.
    const perClientMax =
      options.linearizable === true
        ? DELAYED_LINEARIZABLE_MULTICASTS_PER_CLIENT_MAX
        : DELAYED_MULTICASTS_PER_CLIENT_MAX;
    workload = { ...workload, multicastsPerClient: Math.min(workload.multicastsPerClient, perClientMax) };
  }
  const network = {
    jitterSdFraction,
    reorder:
      delayed === null
        ? reorder
        : { chance: percent(delayed.percent), extraDelayMsMax: delayed.extraDelayMsMax },
  };
  const processing = { perMessageUs: prng.pick([0, 0, 5, 50, 500]), perByteNs: prng.pick([0, 1, 10]) };
  // Its own stream, so the seeds that draw no corrupt-state server keep the rest of their draw.
  const corruptPrng = new Prng(seed).derive("swarm-corrupt-state");
  const corruptState =
    byzantineMode && options.crashes && corruptPrng.chance(percent(CORRUPT_STATE_SEEDS_PERCENT));
  const f = mode === "solo" ? 0 : mode === "crash" ? prng.pick([1, 1, 2]) : corruptState ? 2 : 1;
  const replicas = replicaCount(mode, f);
  // Faults strike every group the run uses, auxiliary groups of a tree included.
  const groups = runGroups(overlay, topology);
  const processes = groups.flatMap((group) =>
    Array.from({ length: replicas }, (_, index) => `${group}/${index}`),
  );

  const partitions: PartitionFault[] = [];
  if (prng.chance(percent(40))) {
    for (let count = prng.intBetween(1, 3); count > 0; count -= 1) {
      const atMs = round(prng.float() * 500);
      partitions.push({
        side: prng.sample(processes, prng.intBetween(1, processes.length - 1)),
        atMs,
        healAtMs: round(atMs + 1 + prng.float() * 800),
      });
    }
  }
  const crashes: CrashFault[] = [];
  const byzantine: ByzantineFault[] = [];
  const crashAt = (): { atMs: number; recoverAtMs?: number } => {
    const atMs = round(prng.float() * 400);
    return prng.chance(percent(60)) ? { atMs, recoverAtMs: round(atMs + 1 + prng.float() * 600) } : { atMs };
  };
  if (mode === "solo") {
    if (options.crashes && prng.chance(percent(20)))
      crashes.push({ proc: prng.pick(processes), ...crashAt() });
  } else {
    // Up to f faulty replicas per group: crashed (leaders included) or, in Byzantine mode, Byzantine.
    for (const group of groups) {
      const faulty = prng.sample(
        Array.from({ length: replicas }, (_, index) => `${group}/${index}`),
        prng.intBetween(0, f),
      );
      for (const proc of faulty) {
        if (mode === "byzantine" && prng.chance(percent(70)))
          byzantine.push({ proc, strategy: prng.pick(BYZANTINE_STRATEGIES) });
        else if (!options.crashes) continue;
        else if (prng.chance(percent(30)) && !crashes.some((crash) => crash.leaderOf === group))
          crashes.push({ leaderOf: group, ...crashAt() });
        else crashes.push({ proc, ...crashAt() });
      }
    }
  }

  // Crash kinds from their own stream, so every other draw of a seed stays as it was: a replica
  // of a replicated group that recovers may come back with its memory lost (amnesia).
  const amnesiaPrng = new Prng(seed).derive("swarm-amnesia");
  for (const [index, crash] of crashes.entries()) {
    if (mode !== "solo" && crash.recoverAtMs !== undefined && amnesiaPrng.chance(percent(40)))
      crashes[index] = { ...crash, kind: "amnesia" };
  }
  // Of the others that recover, half come back as a journal of decided positions rebuilds them
  // (their checkpoint, the positions after it, the hard state written last: Raft R8, PBFT B7)
  // rather than with their whole memory; again from a stream of their own.
  const journalPrng = new Prng(seed).derive("swarm-journal");
  for (const [index, crash] of crashes.entries()) {
    if (
      mode !== "solo" &&
      crash.recoverAtMs !== undefined &&
      crash.kind === undefined &&
      journalPrng.chance(percent(50))
    )
      crashes[index] = { ...crash, kind: "journal" };
  }

  // A corrupt-state seed: one group's faults are exactly a replica that serves corrupt checkpoint
  // partitions (it orders correctly) and another that crashes with amnesia and comes back, so it
  // fetches a checkpoint from its group, the corrupt server among the others, and must catch it.
  let checkpointEntries: number | undefined;
  if (corruptState) {
    const group = corruptPrng.pick(groups);
    const ofGroup = (proc: string | undefined): boolean => proc?.startsWith(`${group}/`) === true;
    for (let index = byzantine.length - 1; index >= 0; index -= 1)
      if (ofGroup(byzantine[index]?.proc)) byzantine.splice(index, 1);
    for (let index = crashes.length - 1; index >= 0; index -= 1) {
      const crash = crashes[index] as CrashFault;
      if (ofGroup(crash.proc) || crash.leaderOf === group) crashes.splice(index, 1);
    }
    const [server, fetcher] = corruptPrng.sample(
      Array.from({ length: replicas }, (_, index) => `${group}/${index}`),
      2,
    ) as [string, string];
    byzantine.push({ proc: server, strategy: "corrupt-state" });
    const atMs = round(corruptPrng.float() * 300);
    crashes.push({
      proc: fetcher,
      atMs,
      recoverAtMs: round(atMs + 100 + corruptPrng.float() * 500),
      kind: "amnesia",
    });
    checkpointEntries = corruptPrng.pick(CORRUPT_STATE_CHECKPOINT_ENTRIES);
    // Seven replicas per group checkpointing every few positions: fewer multicasts keep such a
    // run about as cheap as the others (a few checkpoints are all the fetch needs).
    workload = {
      ...workload,
      multicastsPerClient: Math.min(workload.multicastsPerClient, CORRUPT_STATE_MULTICASTS_PER_CLIENT_MAX),
    };
  }

  // Its own stream, so switching reconfiguration on leaves the rest of a seed's draw unchanged.
  const reconfigPrng = new Prng(seed).derive("swarm-reconfig");
  const reconfig: ReconfigSpec | null =
    options.reconfigure === true && overlay !== null
      ? {
          ...DEFAULT_RECONFIG,
          policy: "random",
          // 0: back-to-back view changes.
          statsEveryMs: reconfigPrng.pick([0, 0, 5, 30, 100, 300]),
          viewsMax: reconfigPrng.intBetween(1, 6),
        }
      : null;
  const variant = `${options.linearizable === true ? "+lin" : ""}${reconfig === null ? "" : "+reconf"}`;
  const scenario: ScenarioSpec = {
    label: `swarm/${protocol.name}${variant}/seed-${seed}`,
    seed,
    topology,
    protocol,
    overlay,
    mode,
    f,
    workload,
    byzantine,
    linearizable: options.linearizable === true,
    ...(reconfig === null ? {} : { reconfig }),
    ...(checkpointEntries === undefined ? {} : { checkpointEntries }),
    network,
    processing,
    faults: { crashes, partitions, byzantine: byzantine.map((fault) => fault.proc) },
    faultPlan: "swarm",
    timeLimitMs: 600_000,
    tickMs: 10,
    realTime: options.realTime,
    recordSends: options.recordSends ?? false,
    check: true,
    keepSamples: false,
    ...(options.onTrace === undefined ? {} : { onTrace: options.onTrace }),
  };
  const description = [
    `${groupCount} groups`,
    `${topology.clients.reduce((sum, placement) => sum + placement.count, 0)} clients`,
    `${workload.loop} loop x ${workload.multicastsPerClient}`,
    `local ${workload.locality.localPercent}%`,
    `${workload.locality.globalChoice} destinations`,
    `jitter ${network.jitterSdFraction}`,
    network.reorder === null
      ? "no reorder"
      : `${delayed === null ? "reorder" : "delayed network:"} ${network.reorder.chance.numerator}% up to ${network.reorder.extraDelayMsMax} ms`,
    `${mode} mode, f=${f}`,
    `${partitions.length} partitions`,
    crashes.length === 0
      ? "no crash"
      : `crash ${crashes.map((crash) => `${crash.proc ?? `leader of ${crash.leaderOf}`}${crash.kind === undefined ? "" : ` (${crash.kind})`}`).join(",")}`,
    byzantine.length === 0
      ? "no Byzantine replica"
      : `Byzantine ${byzantine.map((fault) => `${fault.proc}:${fault.strategy}`).join(",")}`,
    overlay === null ? "no overlay" : `${overlay.kind} ${overlay.groups.join(">")}`,
    ...(reconfig === null ? [] : [`${reconfig.viewsMax} random views every ${reconfig.statsEveryMs} ms`]),
    ...(checkpointEntries === undefined ? [] : [`checkpoints every ${checkpointEntries} positions`]),
  ].join(", ");
  return { seed, description, scenario, delayedNetwork: delayed };
}

/**
 * A random overlay of the protocol's kind over a topology's target groups, and the topology it
 * needs: a random C-DAG order; or a random tree over the targets and up to three auxiliary groups
 * (added to the topology, each in a random region) where every auxiliary group is an inner node.
 */
export function withOverlay(
  protocol: ProtocolDefinition<unknown>,
  topology: Topology,
  prng: Prng,
): { topology: Topology; overlay: Overlay | null } {
  const kind = protocol.overlayKind;
  if (kind === null) return { topology, overlay: null };
  const targets = [...topology.targetGroupIds];
  switch (kind) {
    case "cdag":
      return { topology, overlay: new CdagOverlay("random-order", prng.shuffle(targets)) };
    case "tree": {
      const auxiliary = Array.from({ length: prng.pick([0, 1, 1, 2, 3]) }, (_, index) => `x${index}`);
      const overlay = randomTree("random-tree", targets, auxiliary, prng);
      const extended = new Topology(
        topology.name,
        topology.matrix(),
        [
          ...topology.groups,
          ...auxiliary.map((id) => ({ id, region: prng.pick(topology.regions), role: "auxiliary" as const })),
        ],
        topology.clients,
      );
      return { topology: extended, overlay };
    }
    default:
      return assertNever(kind, "overlay kind");
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
