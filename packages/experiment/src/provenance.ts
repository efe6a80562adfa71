import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpus, hostname, release, totalmem } from "node:os";
import type { Topology } from "@amcast/core";
import { overlayToJson } from "@amcast/core";
import type { ExperimentSpec } from "./spec.js";

/** Where a result came from: enough to tell two result directories apart and to rerun one. */
export interface Provenance {
  /** ISO 8601, UTC. */
  readonly date: string;
  /** The command line, as typed after `amcast`. */
  readonly command: readonly string[];
  /** The checkout's commit and whether tracked files differ from it; null outside a git checkout. */
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
  readonly node: string;
  readonly machine: {
    readonly hostname: string;
    readonly platform: string;
    readonly release: string;
    readonly arch: string;
    readonly cpus: number;
    readonly cpuModel: string;
    readonly memoryGB: number;
  };
}

export function provenance(root: string, command: readonly string[], now: Date = new Date()): Provenance {
  const processors = cpus();
  return {
    date: now.toISOString(),
    command,
    git: gitState(root),
    node: process.version,
    machine: {
      hostname: hostname(),
      platform: process.platform,
      release: release(),
      arch: process.arch,
      cpus: processors.length,
      cpuModel: processors[0]?.model.trim() ?? "unknown",
      memoryGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    },
  };
}

function gitState(root: string): Provenance["git"] {
  const git = (...args: string[]): string =>
    execFileSync("git", ["-C", root, ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    }).trim();
  try {
    const commit = git("rev-parse", "HEAD");
    const dirty = git("status", "--porcelain", "--untracked-files=no") !== "";
    return { commit, dirty };
  } catch {
    return null;
  }
}

/**
 * The experiment as it runs, every default applied and every file it names read in: the topology
 * with its latency matrix, the overlays, the workloads, faults, sweep and seeds. Plain JSON.
 */
export function resolvedConfiguration(experiment: ExperimentSpec): Record<string, unknown> {
  const { file: _file, topology, protocols, sweep, ...rest } = experiment;
  return plain({
    ...rest,
    topology: topologyJson(topology),
    protocols: protocols.map(({ protocol, overlay, ...run }) => ({
      ...run,
      protocol: protocol.name,
      overlay: overlay === null ? null : overlayToJson(overlay),
    })),
    sweep:
      sweep === null
        ? null
        : { parameters: sweep.parameters, points: sweep.points.map((point) => point.values) },
  }) as Record<string, unknown>;
}

/**
 * A digest of what decides an experiment's results (its resolved configuration, the seeds that
 * run, the runtime): `--resume` continues a result directory only when this matches.
 */
export function configurationDigest(configuration: unknown): string {
  return createHash("sha256").update(JSON.stringify(configuration)).digest("hex").slice(0, 16);
}

function topologyJson(topology: Topology): Record<string, unknown> {
  const { regions, latencyMs } = topology.matrix();
  return {
    name: topology.name,
    regions,
    latencyMs,
    groups: topology.groups,
    clients: topology.clients,
  };
}

/** JSON-safe copy: maps become objects, functions and undefined disappear. */
function plain(value: unknown): unknown {
  if (value === null || typeof value !== "object") return typeof value === "function" ? undefined : value;
  if (value instanceof Map)
    return Object.fromEntries([...value].map(([key, item]) => [String(key), plain(item)]));
  if (value instanceof Set) return [...value].map(plain);
  if (Array.isArray(value)) return value.map(plain);
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const converted = plain(item);
    if (converted !== undefined) result[key] = converted;
  }
  return result;
}
