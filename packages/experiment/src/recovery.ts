import { checkRun } from "@amcast/check";
import type { GroupId, Overlay, ProcessId, TraceEvent } from "@amcast/core";
import { JsonFields, parseOverlay, Topology } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { protocolByName } from "@amcast/protocols";
import type { FsyncPolicy } from "@amcast/runtime";
import { FSYNC_POLICIES } from "@amcast/runtime";
import { simulate } from "@amcast/sim";
import type { SystemSpec } from "@amcast/system";
import { buildSystem, keyValueApplication } from "@amcast/system";
import { simulatorOptions } from "./scenario.js";

/**
 * The `recovery` experiment (simulator): one replicated group holds a partitioned key-value state
 * of N keys under steady open-loop load; one replica (the leader, or a follower) crashes with
 * amnesia, comes back empty after a pause and recovers its state from its group by state transfer.
 * Measured per (keys, mode, role): restart -> state installed, restart -> caught up (its first
 * delivery of a message multicast after the restart), the bytes of the partitions it fetched, the
 * throughput before the crash, while it is down or catching up, and after; the oracles check the
 * run (no message lost, none delivered twice, one order) and that all replicas end with one root.
 */
export interface RecoveryPlan {
  /**
   * `skeen` (default): one group, every multicast local to it. `flexcast`: two groups in a C-DAG
   * (a, then b), half the multicasts to both, and the replica that crashes is b's: its state
   * holds a's history, its queues and acknowledgements besides its own order.
   */
  readonly protocol: "skeen" | "flexcast";
  readonly keys: readonly number[];
  readonly modes: readonly Extract<ReplicationMode, "crash" | "byzantine">[];
  readonly roles: readonly ("leader" | "follower")[];
  /** Partitions of the key-value state. */
  readonly partitions: number;
  readonly clients: number;
  readonly ratePerSecPerClient: number;
  /** How long the workload runs, virtual ms. */
  readonly durationMs: number;
  readonly crashAtMs: number;
  readonly pauseMs: number;
  readonly checkpointEntries: number;
  /**
   * A replica's cost per input and per byte. The simulator has no link bandwidth: the receiver's
   * per-byte cost is what makes a larger state take longer to fetch (8 ns/B: about 1 Gbit/s).
   */
  readonly perMessageUs: number;
  readonly perByteNs: number;
  readonly seed: number;
  /** `amnesia` (default): the replica comes back empty; `durable`: with the state it had. */
  readonly crashKind: "durable" | "amnesia";
  /**
   * Keep the trace and run the oracles on it (default). Off for runs of millions of multicasts,
   * whose trace does not fit in memory: completions and the final roots are still checked.
   */
  readonly oracles: boolean;
  /**
   * What differs with `--runtime net` (real processes on one machine: smaller load and longer
   * pauses suit them), over the fields above.
   */
  readonly net: Partial<NetRecoveryFields>;
  /**
   * The replicas' journal policy on real processes (default `interval`: a killed process loses
   * nothing it wrote; with `batch`, each round trip of a state transfer waits for two fsyncs).
   */
  readonly netFsync: FsyncPolicy;
  /** On real processes: journal every input and keep the whole journal (default false: decided positions, truncated at checkpoints). */
  readonly netKeepJournal: boolean;
}

/** The fields a recovery plan's `net` block may set for runs on real processes. */
export type NetRecoveryFields = Pick<
  RecoveryPlan,
  "keys" | "clients" | "ratePerSecPerClient" | "durationMs" | "crashAtMs" | "pauseMs" | "checkpointEntries"
>;

/** The plan a run on real processes follows: the plan with its `net` block over it. */
export function netRecoveryPlan(plan: RecoveryPlan): RecoveryPlan {
  return { ...plan, ...plan.net };
}

export interface RecoveryRow {
  readonly keys: number;
  readonly mode: string;
  readonly role: string;
  readonly crashed: ProcessId;
  readonly installMs: number | null;
  readonly caughtUpMs: number | null;
  readonly transferredBytes: number;
  readonly positionsBehind: number | null;
  readonly beforePerSec: number;
  readonly duringPerSec: number;
  readonly afterPerSec: number;
  readonly multicasts: number;
  readonly completed: number;
  /** Oracle violations; null when the oracles did not run (`oracles: false`). */
  readonly violations: number | null;
  readonly sameRoot: boolean;
  readonly wallMs: number;
}

/** Reads a recovery experiment file's `recovery` block (one clear line on a bad field). */
export function readRecoveryPlan(text: string, file: string): RecoveryPlan {
  const doc = JsonFields.parse(text, file);
  doc.string("name");
  doc.optionalString("description");
  const block = doc.object("recovery");
  const keys = block.numbers("keys", { integer: true, min: 1 });
  const modes = block.array("modes").strings();
  modes.forEach((mode, index) => {
    if (mode !== "crash" && mode !== "byzantine")
      throw block.array("modes").error(index, `expected crash or byzantine, got ${JSON.stringify(mode)}`);
  });
  const roles = block.array("roles").strings();
  roles.forEach((role, index) => {
    if (role !== "leader" && role !== "follower")
      throw block.array("roles").error(index, `expected leader or follower, got ${JSON.stringify(role)}`);
  });
  const plan: RecoveryPlan = {
    protocol: block.has("protocol")
      ? (block.choice("protocol", ["skeen", "flexcast"] as const) as RecoveryPlan["protocol"])
      : "skeen",
    keys,
    modes: modes as RecoveryPlan["modes"],
    roles: roles as RecoveryPlan["roles"],
    partitions: block.number("partitions", { integer: true, min: 1 }, 64),
    clients: block.number("clients", { integer: true, min: 1 }, 8),
    ratePerSecPerClient: block.number("ratePerSecPerClient", { min: 1 }, 250),
    durationMs: block.number("durationMs", { min: 1 }, 4000),
    crashAtMs: block.number("crashAtMs", { min: 1 }, 1500),
    pauseMs: block.number("pauseMs", { min: 1 }, 500),
    checkpointEntries: block.number("checkpointEntries", { integer: true, min: 1 }, 256),
    perMessageUs: block.number("perMessageUs", { min: 0 }, 20),
    perByteNs: block.number("perByteNs", { min: 0 }, 8),
    seed: block.number("seed", { integer: true, min: 0 }, 1),
    crashKind: block.has("crashKind")
      ? (block.choice("crashKind", ["durable", "amnesia"] as const) as RecoveryPlan["crashKind"])
      : "amnesia",
    oracles: block.boolean("oracles", true),
    ...readNetFields(block.optionalObject("net")),
  };
  block.done();
  doc.done();
  for (const [fields, at] of [
    [plan, block],
    [netRecoveryPlan(plan), block.optionalObject("net") ?? block],
  ] as const)
    if (fields.crashAtMs + fields.pauseMs >= fields.durationMs)
      throw at.error(
        "pauseMs",
        "the replica must come back before the workload ends (crashAtMs + pauseMs < durationMs)",
      );
  return plan;
}

function readNetFields(block: JsonFields | undefined): {
  net: Partial<NetRecoveryFields>;
  netFsync: FsyncPolicy;
  netKeepJournal: boolean;
} {
  if (block === undefined) return { net: {}, netFsync: "interval", netKeepJournal: false };
  const fields: Partial<Record<keyof NetRecoveryFields, unknown>> = {};
  if (block.has("keys")) fields.keys = block.numbers("keys", { integer: true, min: 1 });
  if (block.has("clients")) fields.clients = block.number("clients", { integer: true, min: 1 });
  if (block.has("ratePerSecPerClient"))
    fields.ratePerSecPerClient = block.number("ratePerSecPerClient", { min: 1 });
  for (const name of ["durationMs", "crashAtMs", "pauseMs"] as const)
    if (block.has(name)) fields[name] = block.number(name, { min: 1 });
  if (block.has("checkpointEntries"))
    fields.checkpointEntries = block.number("checkpointEntries", { integer: true, min: 1 });
  const netFsync = block.has("fsync") ? (block.choice("fsync", FSYNC_POLICIES) as FsyncPolicy) : "interval";
  const netKeepJournal = block.boolean("keepJournal", false);
  block.done();
  return { net: fields as Partial<NetRecoveryFields>, netFsync, netKeepJournal };
}

/** A fault plan's `leaderOf` naming this resolves to a replica of the group that does not lead right now. */
const FOLLOWER_SUFFIX = "#follower";

/** The groups of a plan's system, the overlay, and the group whose replica crashes. */
function recoverySystem(plan: RecoveryPlan): {
  groups: GroupId[];
  overlay: Overlay | null;
  crashGroup: GroupId;
  localPercent: number;
} {
  if (plan.protocol === "skeen") return { groups: ["a"], overlay: null, crashGroup: "a", localPercent: 100 };
  const overlay = parseOverlay({ kind: "cdag", name: "recovery-ab", order: ["a", "b"] }, "recovery overlay");
  return { groups: ["a", "b"], overlay, crashGroup: "b", localPercent: 50 };
}

/**
 * One case's system: one Skeen group (or FlexCast's two, `plan.protocol`) under open-loop load
 * from `plan.clients` clients, a crash of its leader (or, through the `leaderOf` hook, a follower;
 * in FlexCast's b) at `crashAtMs`, back `pauseMs` later.
 */
export function recoverySpec(
  plan: RecoveryPlan,
  keys: number,
  mode: "crash" | "byzantine",
  role: "leader" | "follower",
): SystemSpec {
  const { groups, overlay, crashGroup, localPercent } = recoverySystem(plan);
  const topology = new Topology(
    "recovery",
    { regions: ["A"], latencyMs: [[1]] },
    groups.map((id) => ({ id, region: "A" })),
    [{ region: "A", count: plan.clients }],
  );
  const multicastsPerClient = Math.round((plan.ratePerSecPerClient * plan.durationMs) / 1000);
  const recoverAtMs = plan.crashAtMs + plan.pauseMs;
  const spec: SystemSpec = {
    label: `recovery/${keys}/${mode}/${role}`,
    seed: plan.seed,
    topology,
    protocol: protocolByName(plan.protocol, "recovery", "protocol"),
    overlay,
    mode,
    f: 1,
    workload: {
      name: "steady",
      clientsPerGroup: null,
      loop: "open",
      multicastsPerClient,
      outstanding: 1,
      thinkMs: 0,
      ratePerSec: plan.ratePerSecPerClient,
      outstandingMax: 64,
      payloadBytes: 64,
      groups: null,
      locality: {
        localPercent,
        globalSizes: localPercent === 100 ? [] : [groups.length],
        globalChoice: localPercent === 100 ? "nearest" : "uniform",
      },
      startSpreadMs: 10,
    },
    byzantine: [],
    faultPlan: `${plan.crashKind} crash of the ${role}`,
    network: { jitterSdFraction: 0.05, reorder: null },
    processing: { perMessageUs: plan.perMessageUs, perByteNs: plan.perByteNs },
    faults: {
      crashes: [
        {
          leaderOf: role === "leader" ? crashGroup : `${crashGroup}${FOLLOWER_SUFFIX}`,
          atMs: plan.crashAtMs,
          recoverAtMs,
          kind: plan.crashKind,
        },
      ],
      partitions: [],
    },
    timeLimitMs: plan.durationMs * 30,
    tickMs: 10,
    realTime: false,
  };
  return spec;
}

/** Completions per second over [fromMs, toMs). */
export function completionRate(completions: readonly number[], fromMs: number, toMs: number): number {
  return toMs <= fromMs
    ? 0
    : (completions.filter((t) => t >= fromMs && t < toMs).length * 1000) / (toMs - fromMs);
}

/** The replica a follower crash strikes: the last replica that does not lead (as on the simulator). */
export function followerOf(replicas: readonly ProcessId[], leader: ProcessId): ProcessId | undefined {
  return [...replicas].reverse().find((id) => id !== leader);
}

/** Runs one (keys, mode, role) case. */
export function runRecoveryCase(
  plan: RecoveryPlan,
  keys: number,
  mode: "crash" | "byzantine",
  role: "leader" | "follower",
): RecoveryRow {
  const started = performance.now();
  const recoverAtMs = plan.crashAtMs + plan.pauseMs;
  const spec = recoverySpec(plan, keys, mode, role);
  const { crashGroup } = recoverySystem(plan);
  const built = buildSystem(spec, {
    application: keyValueApplication(keys, plan.partitions),
    ordering: { checkpointEntries: plan.checkpointEntries },
  });
  const replicaIds = built.membership.replicas(crashGroup);
  // Measured as the events stream by; the whole trace is kept only for the oracles.
  const events: TraceEvent[] = [];
  const completions: number[] = [];
  const multicastAt = new Map<string, number>();
  let crashed = "none";
  let installAt: number | null = null;
  let caughtUpAt: number | null = null;
  const observe = (event: TraceEvent): void => {
    if (plan.oracles) events.push(event);
    if (event.ev === "complete") completions.push(event.t);
    else if (event.ev === "multicast") {
      if (event.t >= recoverAtMs) multicastAt.set(String(event.id), event.t);
    } else if (event.ev === "fault") {
      if (event.kind === "crash") crashed = String(event.proc);
      else if (event.kind === "install" && String(event.proc) === crashed && installAt === null)
        installAt = event.t;
    } else if (
      event.ev === "deliver" &&
      caughtUpAt === null &&
      String(event.proc) === crashed &&
      event.t >= recoverAtMs &&
      multicastAt.has(String(event.id))
    )
      caughtUpAt = event.t;
  };
  const result = simulate({
    ...simulatorOptions(spec, built, false),
    leaderOf: (group) => {
      if (group !== `${crashGroup}${FOLLOWER_SUFFIX}`) return built.leaderOf(group);
      const leader = built.leaderOf(crashGroup);
      return leader === undefined ? undefined : followerOf(replicaIds, leader);
    },
    onEvent: observe,
  });
  const violations = plan.oracles ? checkRun(events, { liveness: true }).violations.length : null;
  const rate = (fromMs: number, toMs: number): number => completionRate(completions, fromMs, toMs);
  const duringEnd = caughtUpAt ?? plan.durationMs;
  const afterEnd = Math.min(plan.durationMs, duringEnd + 1000);
  const replica = built.replica(crashed);
  const checkpoints = replicaIds.map((id) => built.replica(id)?.latestCheckpoint);
  const position = Math.min(...checkpoints.map((checkpoint) => checkpoint?.position ?? 0));
  const roots = new Set(
    checkpoints.filter((checkpoint) => checkpoint?.position === position).map((c) => c?.state.manifest.root),
  );
  return {
    keys,
    mode,
    role,
    crashed,
    installMs: installAt === null ? null : installAt - recoverAtMs,
    caughtUpMs: caughtUpAt === null ? null : caughtUpAt - recoverAtMs,
    transferredBytes: replica?.transferredBytes ?? 0,
    positionsBehind:
      replica?.lastInstall === undefined ? null : replica.lastInstall.to - replica.lastInstall.from,
    beforePerSec: rate(Math.max(0, plan.crashAtMs - 1000), plan.crashAtMs),
    duringPerSec: rate(plan.crashAtMs, duringEnd),
    afterPerSec: rate(duringEnd, afterEnd),
    multicasts: result.multicasts,
    completed: result.completed,
    violations,
    sameRoot: roots.size === 1 && checkpoints.every((checkpoint) => checkpoint?.position === position),
    wallMs: performance.now() - started,
  };
}

/** Whether an experiment file is a recovery experiment (it has a `recovery` block). */
export function isRecoveryExperiment(text: string): boolean {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && "recovery" in value;
  } catch {
    return false;
  }
}

/**
 * Whether a case passed: every multicast completed, no oracle violation, the replica caught up
 * (by a checkpoint, or by the log when its group still held it: the row says which), one root.
 */
export function recoveryPassed(row: RecoveryRow): boolean {
  return (
    row.completed === row.multicasts &&
    (row.violations === null || row.violations === 0) &&
    row.caughtUpMs !== null &&
    row.sameRoot
  );
}

export const RECOVERY_HEADER = [
  "keys",
  "mode",
  "role",
  "crashed",
  "installed ms",
  "caught up ms",
  "transferred KiB",
  "positions behind",
  "before /s",
  "during /s",
  "after /s",
  "completed",
  "violations",
  "one root",
  "wall s",
] as const;

export function recoveryCells(row: RecoveryRow): (string | number)[] {
  return [
    row.keys,
    row.mode,
    row.role,
    row.crashed,
    // Caught up without a checkpoint: its group still held the log from the start.
    row.installMs === null ? (row.caughtUpMs === null ? "never" : "by log") : Math.round(row.installMs),
    row.caughtUpMs === null ? "never" : Math.round(row.caughtUpMs),
    Math.round(row.transferredBytes / 1024),
    row.positionsBehind ?? "-",
    Math.round(row.beforePerSec),
    Math.round(row.duringPerSec),
    Math.round(row.afterPerSec),
    `${row.completed}/${row.multicasts}`,
    row.violations ?? "not run",
    row.sameRoot ? "yes" : "NO",
    Math.round(row.wallMs / 100) / 10,
  ];
}
