import type { Overlay, ProtocolDefinition, TraceEvent } from "@amcast/core";
import { assert, assertNever, CdagOverlay, Prng, percent, Topology } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { BYZANTINE_STRATEGIES, replicaCount } from "@amcast/group";
import type { CrashFault, PartitionFault } from "@amcast/sim";
import type { ScenarioSpec } from "./scenario.js";
import type { ByzantineFault, WorkloadSpec } from "./spec.js";

/**
 * Swarm testing (after TigerBeetle's VOPR): each seed draws a whole configuration — topology,
 * overlay, workload, network behaviour and faults — so many seeds explore many corners. The
 * configuration is a pure function of (protocol, seed), so a failing seed replays exactly.
 */
export interface SwarmCase {
  readonly seed: number;
  readonly description: string;
  readonly scenario: ScenarioSpec;
}

export interface SwarmOptions {
  /** Let some seeds crash processes (safety is then checked, liveness is not). */
  readonly crashes: boolean;
  readonly realTime: boolean;
  /** Replication modes a seed may draw. */
  readonly modes: readonly ReplicationMode[];
  readonly recordSends?: boolean;
  readonly onTrace?: (event: TraceEvent) => void;
}

export function swarmCase(
  protocol: ProtocolDefinition<unknown>,
  seed: number,
  options: SwarmOptions,
): SwarmCase {
  const prng = new Prng(seed).derive("swarm");
  const groupCount = prng.intBetween(2, 8);
  const regions = Array.from({ length: groupCount }, (_, index) => `g${index}`);
  const latencyMs = regions.map((_, from) =>
    regions.map((__, to) => (from === to ? round(0.2 + prng.float() * 5) : round(2 + prng.float() * 200))),
  );
  const clientRegions = prng.chance(percent(50))
    ? regions
    : prng.sample(regions, prng.intBetween(1, groupCount));
  const topology = new Topology(
    `swarm-${seed}`,
    { regions, latencyMs },
    regions.map((region) => ({ id: region, region })),
    clientRegions.map((region) => ({ region, count: prng.intBetween(1, 3) })),
  );
  const overlay = swarmOverlay(protocol, regions, prng);

  const maxSize = Math.min(groupCount, 4);
  const closed = prng.chance(percent(70));
  const workload: WorkloadSpec = {
    name: "swarm",
    clientsPerGroup: null,
    loop: closed ? "closed" : "open",
    multicastsPerClient: prng.intBetween(5, 40),
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
  const network = { jitterSdFraction: prng.pick([0, 0.05, 0.2, 0.5]), reorder };
  const processing = { perMessageUs: prng.pick([0, 0, 5, 50, 500]), perByteNs: prng.pick([0, 1, 10]) };
  const mode = prng.pick(options.modes);
  const f = mode === "solo" ? 0 : mode === "crash" ? prng.pick([1, 1, 2]) : 1;
  const replicas = replicaCount(mode, f);
  const processes = regions.flatMap((region) =>
    Array.from({ length: replicas }, (_, index) => `${region}/${index}`),
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
    for (const group of regions) {
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

  const scenario: ScenarioSpec = {
    label: `swarm/${protocol.name}/seed-${seed}`,
    seed,
    topology,
    protocol,
    overlay,
    mode,
    f,
    workload,
    byzantine,
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
    reorder === null
      ? "no reorder"
      : `reorder ${reorder.chance.numerator}% up to ${reorder.extraDelayMsMax} ms`,
    `${mode} mode, f=${f}`,
    `${partitions.length} partitions`,
    crashes.length === 0
      ? "no crash"
      : `crash ${crashes.map((crash) => crash.proc ?? `leader of ${crash.leaderOf}`).join(",")}`,
    byzantine.length === 0
      ? "no Byzantine replica"
      : `Byzantine ${byzantine.map((fault) => `${fault.proc}:${fault.strategy}`).join(",")}`,
    overlay === null ? "no overlay" : `${overlay.kind} ${overlay.groups.join(">")}`,
  ].join(", ");
  return { seed, description, scenario };
}

export function swarmOverlay(
  protocol: ProtocolDefinition<unknown>,
  regions: readonly string[],
  prng: Prng,
): Overlay | null {
  const kind = protocol.overlayKind;
  if (kind === null) return null;
  switch (kind) {
    case "cdag":
      return new CdagOverlay("swarm-order", prng.shuffle([...regions]));
    case "tree":
      assert(false, "no protocol on trees is registered yet; random trees come with it");
      return null;
    default:
      return assertNever(kind, "overlay kind");
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
