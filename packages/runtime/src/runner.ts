import type { ChildProcess } from "node:child_process";
import { fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import type { WriteStream } from "node:fs";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { TraceEvent } from "@amcast/core";
import { mostNamedLeader } from "@amcast/group";
import type { CrashFault, PartitionFault, SimResult, StopReason } from "@amcast/sim";
import type { BuiltSystem, ControllerReport, SystemSpec } from "@amcast/system";
import { buildSystem, stopEvent } from "@amcast/system";
import { monotonicClock } from "./clock.js";
import type { NodeMessage, NodeStatus, RunnerMessage } from "./control.js";
import { START_NS_ENV } from "./control.js";
import type { DeployedNode, DeploymentStorage, ReplicaStateOptions } from "./deployment.js";
import { deploymentNodes, deploymentToJson } from "./deployment.js";
import type { HostStats } from "./host.js";
import { Keyring } from "./keys.js";
import type { TransportLimits } from "./limits.js";
import type { NodeAddress } from "./nodes.js";
import { publicKeysFromSecret, signingProcesses } from "./signatures.js";
import { netRefusals } from "./support.js";
import { mergeTraceFiles } from "./trace-merge.js";

/** How the network runtime runs one scenario on this machine. */
export interface NetRunOptions {
  /** OS processes the clients are spread over (round robin). */
  readonly clientHosts: number;
  /** Inject the topology's one-way delays (with the scenario's jitter) in every link. */
  readonly latencyEmulation: boolean;
  readonly limits?: Partial<TransportLimits>;
  /** Wall-clock bound on the workload, in ms (the scenario's own limit applies too). */
  readonly timeLimitMs: number;
  /** A workload with no completion for this long is stopped as stalled. */
  readonly stallMs: number;
  /** Keep every node's files (deployment, keys, traces, logs) here instead of a removed temp dir. */
  readonly workDir?: string;
  /** Extra Node.js flags for every node (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /**
   * Every replica journals what it decides (or, with `truncate: false`, every input) in its own
   * data directory (in the work directory) with this fsync policy before its outputs leave. A fault plan whose crashes recover needs it; it
   * then defaults to `batch`.
   */
  readonly storage?: DeploymentStorage;
  /** What replicas hold and how often they checkpoint (the deployment's `replicaState`). */
  readonly replicaState?: ReplicaStateOptions;
  /**
   * Which replica a `leaderOf` crash strikes, given the group's replicas and the one they follow
   * (default: that leader). The recovery experiment strikes a follower this way.
   */
  readonly crashTarget?: (group: string, leader: string, replicas: readonly string[]) => string;
  /**
   * Crash faults strike no earlier than their `atMs`, and only once every live replica of the
   * target's group that keeps checkpointed state reports a checkpoint at this log position or later (past its second
   * checkpoint, the group has truncated its log there), so a fault that needs a group with
   * history finds one however late a loaded machine ran the workload. Their restarts keep the
   * plan's pause after the (later) kill. A group that does not get there within
   * CHECKPOINT_WAIT_MS fails the run, naming where each replica was.
   */
  readonly crashesAfterCheckpointAt?: number;
  /**
   * A partition heals no earlier than its `healAtMs`, and only once the cut was seen to hold
   * traffic: every live node applied it (answered a status question asked after it was told), and
   * after that a client host started a multicast to a group with a replica on the cut side and
   * some node held messages across the cut. However late a loaded machine runs the workload, the
   * cut then outlasts a multicast that had to cross it (`AppliedPartition.appliedT` says from
   * when). A cut not crossed within PARTITION_CROSS_WAIT_MS fails the run, naming what it lacked.
   */
  readonly partitionsHealOnceCrossed?: boolean;
  /**
   * The workload's multicast counts become caps: the client hosts finish (start no more, complete
   * those in flight) once every crash fault was carried out — each restart back — and they
   * started this many multicasts after that. The workload then outlasts the fault plan's last
   * step however a loaded machine stretches the steps (each already waits for the one before:
   * a restart for its kill, a kill for `crashesAfterCheckpointAt`), and ends soon after it on an
   * idle machine. Without it the workload ends at its counts.
   */
  readonly workloadEndsAfterCrashes?: number;
  /**
   * A crash's restart waits, besides its pause, until every client host finished its workload:
   * the restarted replica then has nothing new to take part in and must learn from its group how
   * far it got, however late a loaded machine ran the workload. (Not with
   * `workloadEndsAfterCrashes`, whose end waits for the restarts.)
   */
  readonly restartsAfterWorkload?: boolean;
  /** Progress lines (where the files are, when the workload starts). */
  readonly log?: (line: string) => void;
  /** Aborting stops every node and rejects (Ctrl-C). */
  readonly signal?: AbortSignal;
}

export const DEFAULT_NET_OPTIONS: NetRunOptions = {
  clientHosts: 1,
  latencyEmulation: true,
  timeLimitMs: 10 * 60_000,
  stallMs: 30_000,
};

/** What one cluster run observes besides the options: the merged trace, event by event. */
export interface ClusterObservation {
  /** Write a `send` event per message into the nodes' traces. */
  readonly traceSends: boolean;
  /** Every event of the merged trace, in time order, the `stop` event last. */
  readonly onEvent: (event: TraceEvent) => void;
  /** The system as built by the caller (built again from `spec` when absent). */
  readonly built?: BuiltSystem;
  /**
   * What the reconfiguration controller did (a reconfiguring run), told before the first event:
   * it runs in a client host, and its record comes back when that host stops.
   */
  readonly onController?: (report: ControllerReport) => void;
}

/** What the nodes' transports did, summed over nodes. */
export interface NetRunStats {
  readonly nodes: number;
  readonly workDir: string;
  /** Messages per DATA frame: what batching did. */
  readonly messagesPerFrame: number;
  readonly dataFrames: number;
  readonly ackFrames: number;
  readonly wireBytes: number;
  readonly framesResent: number;
  readonly framesRejected: number;
  readonly connectionsLost: number;
  readonly congestionEpisodes: number;
  /** Messages sent over a link while a partition cut it, held until the heal. */
  readonly messagesHeldByPartition: number;
  readonly logicErrors: number;
  readonly arrivalsSkipped: number;
  /** Replicas killed with SIGKILL (crash faults), with when (trace clock, ms). */
  readonly killed: readonly { readonly proc: string; readonly t: number }[];
  /**
   * Killed replicas restarted from their data directories (`recoverAtMs`): when (trace clock, ms)
   * and how long from the restart until the replica was connected to its live peers again.
   */
  readonly recovered: readonly { readonly proc: string; readonly t: number; readonly restartMs: number }[];
  /** The fault plan's partitions as applied: when each was cut and healed (trace clock, ms). */
  readonly partitions: readonly AppliedPartition[];
  /** CPU time (user + system) of the replica processes and of the client hosts, in ms, each from its host's start to its stop. */
  readonly cpuMsReplicas: number;
  readonly cpuMsClients: number;
  /** The same in each node's workload window (see `HostStats.workloadCpuUserMs`), in ms. */
  readonly workloadCpuMsReplicas: number;
  readonly workloadCpuMsClients: number;
  /** Wall time from the workload's start to the last node's stop. */
  readonly workloadMs: number;
  /** Wall time to start the nodes and connect them. */
  readonly startupMs: number;
  /**
   * How late this machine ran a ready process during the workload: the runner's own event-loop
   * delay (it is idle, so its delay is the scheduler's), mean and 90th percentile in ms. A busy
   * machine delays every step of every process by about this much.
   */
  readonly schedulingDelayMs: { readonly mean: number; readonly p90: number };
  /**
   * How late the nodes themselves ran (each node's `workloadSchedulingDelayMs`): the mean over
   * nodes of their mean delays and the largest mean, in ms. The runner waits idle, and a
   * scheduler favours a process that wakes from a long sleep: a crowded machine delays the
   * nodes, which work, more than it delays the runner.
   */
  readonly nodeSchedulingDelayMs: { readonly mean: number; readonly worst: number };
  readonly perNode: Readonly<Record<string, HostStats>>;
}

/** A fault plan's partition as the runner applied it (trace clock, ms). */
export interface AppliedPartition {
  readonly side: readonly string[];
  readonly t: number;
  /**
   * When every live node had applied the cut (`partitionsHealOnceCrossed`; undefined without it):
   * a multicast started later cannot have crossed the cut before the heal.
   */
  readonly appliedT: number | undefined;
  /** Undefined when the run stopped before the heal. */
  readonly healT: number | undefined;
}

/** How a cluster run went: how it stopped, the counters the simulator also reports, the transport's. */
export interface ClusterOutcome {
  readonly sim: SimResult;
  readonly net: NetRunStats;
  readonly wallMs: number;
}

/** A node's stderr lines kept for error messages. */
const STDERR_TAIL_LINES = 30;
const LISTEN_TIMEOUT_MS = 30_000;
/** Start-up fails when no further node came up for this long (a loaded machine starts them slowly). */
const LISTEN_QUIET_MS = 30_000;
/** The longest a whole start-up may take, however steadily it progresses. */
const STARTUP_CAP_MS = 600_000;
const CONNECT_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 15_000;
/** How long a restarted replica may take to replay its journal and listen. */
const RECOVER_TIMEOUT_MS = 120_000;
const KILL_GRACE_MS = 2_000;
const STATUS_INTERVAL_MS = 50;
/** How long a crash fault waits for its group's checkpoint (`crashesAfterCheckpointAt`). */
const CHECKPOINT_WAIT_MS = 60_000;
/** How long a partition's heal waits for the cut to be crossed (`partitionsHealOnceCrossed`). */
const PARTITION_CROSS_WAIT_MS = 60_000;
/** How long a node may take to answer a status question. */
const STATUS_ANSWER_MS = 10_000;
/** The period of the runner's own timer that measures how late the machine schedules it. */
const SCHEDULING_SAMPLE_MS = 5;
/** The longest a run waits for stragglers after the workload is done. */
const SETTLE_MS_MAX = 30_000;

/** The program every node runs (the built one, from src/ under vitest and from dist/ alike). */
const CLI = fileURLToPath(new URL("../dist/node-main.js", import.meta.url));

export class NetRunError extends Error {
  override readonly name = "NetRunError";
}

/** Every node of every live run, killed when this process exits however it exits. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveChildren) child.kill("SIGKILL");
  });
}

interface NodeProcess {
  readonly node: DeployedNode;
  readonly child: ChildProcess;
  readonly log: WriteStream;
  readonly stderrTail: string[];
  port: number | undefined;
  connected: boolean;
  done: boolean;
  multicasts: number;
  completed: number;
  status: NodeStatus | undefined;
  stats: HostStats | undefined;
  stopping: boolean;
  exited: boolean;
  /** Killed on purpose (a crash fault): its exit is no failure, and it answers nothing. */
  killed: boolean;
  /** Started again after a kill, and not yet reconnected to the live replicas. */
  restarting: boolean;
  /**
   * Status questions sent to this process and answers received: the control channel keeps
   * order, so the answer numbered n (`status` holds the latest) was made after question n.
   */
  statusAsked: number;
  statusAnswered: number;
}

/**
 * The nodes of one run as child processes, and waiting on them: `until` resolves when a
 * condition over the nodes holds, and rejects as soon as a node dies unasked, reports a fatal
 * error, the run is aborted, or time runs out.
 */
export class Cluster {
  readonly nodes = new Map<string, NodeProcess>();
  /** What the reconfiguration controller did, once the client host that ran it stopped. */
  controller: ControllerReport | null = null;
  private failure: Error | undefined;
  private readonly waiters = new Set<() => void>();
  /**
   * While the workload runs, an abort (Ctrl-C) interrupts the run instead of failing it: the
   * nodes are stopped in order and the run ends with what they traced.
   */
  gracefulAbort = false;
  interrupted = false;

  private readonly onAbort = (): void => {
    if (!this.gracefulAbort) this.fail(new NetRunError("interrupted"));
    else {
      this.interrupted = true;
      this.changed();
    }
  };

  constructor(
    private readonly workDir: string,
    private readonly signal: AbortSignal | undefined,
  ) {
    signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Lets go of the abort signal (one signal serves many runs). */
  dispose(): void {
    this.signal?.removeEventListener("abort", this.onAbort);
    // A wait still pending (a fault's gate polling the nodes) ends here, not at its own timeout.
    this.fail(new NetRunError("the run is over"));
  }

  /** Starts a node's process (`restart`: a killed replica again, its log file continued). */
  spawn(
    node: DeployedNode,
    file: (kind: string) => string,
    args: string[],
    env: NodeJS.ProcessEnv,
    nodeArgs: readonly string[],
    restart = false,
  ): NodeProcess {
    installExitHook();
    const command = node.role === "replica" ? "replica" : "clients";
    const child = fork(CLI, [command, ...args], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env,
      execArgv: ["--max-semi-space-size=32", ...nodeArgs],
      cwd: this.workDir,
    });
    liveChildren.add(child);
    const log = createWriteStream(file("log"), { flags: restart ? "a" : "w" });
    const entry: NodeProcess = {
      node,
      child,
      log,
      stderrTail: [],
      port: undefined,
      connected: false,
      done: false,
      multicasts: 0,
      completed: 0,
      status: undefined,
      stats: undefined,
      stopping: false,
      exited: false,
      killed: false,
      restarting: restart,
      statusAsked: 0,
      statusAnswered: 0,
    };
    this.nodes.set(node.id, entry);
    child.stderr?.on("data", (chunk: Buffer) => {
      log.write(chunk);
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line === "") continue;
        entry.stderrTail.push(line);
        if (entry.stderrTail.length > STDERR_TAIL_LINES) entry.stderrTail.shift();
      }
    });
    child.on("message", (message: NodeMessage) => this.onMessage(entry, message));
    child.on("error", (error) => this.fail(new NetRunError(`node ${node.id}: ${error.message}`)));
    child.on("exit", (code, signal) => {
      entry.exited = true;
      liveChildren.delete(child);
      if (!entry.stopping)
        this.fail(
          new NetRunError(
            `node ${node.id} exited unexpectedly (${signal === null ? `code ${code}` : `signal ${signal}`})${tail(entry)}`,
          ),
        );
      this.changed();
    });
    return entry;
  }

  /** Kills a node with SIGKILL, as a crash would: no goodbye, no trace flush, no stats. */
  kill(id: string): void {
    const entry = this.nodes.get(id);
    if (entry === undefined || entry.exited) return;
    entry.killed = true;
    entry.stopping = true;
    entry.child.kill("SIGKILL");
  }

  /** Nodes running (not exited, not killed, not in the middle of a restart). */
  live(): NodeProcess[] {
    return [...this.nodes.values()].filter((entry) => !entry.exited && !entry.killed && !entry.restarting);
  }

  send(id: string, message: RunnerMessage): void {
    const entry = this.nodes.get(id);
    if (entry?.child.connected === true) entry.child.send(message);
  }

  broadcast(message: RunnerMessage, role?: DeployedNode["role"]): void {
    for (const entry of this.nodes.values())
      if (role === undefined || entry.node.role === role) this.send(entry.node.id, message);
  }

  /**
   * Asks `entries` for their status and waits until each answered this question (or exited);
   * returns those that answered, each with its fresh `status`.
   */
  async askStatus(entries: readonly NodeProcess[], what: string): Promise<NodeProcess[]> {
    const asked = entries.map((entry) => {
      entry.statusAsked += 1;
      this.send(entry.node.id, { type: "status" });
      return { entry, question: entry.statusAsked };
    });
    const answered = ({ entry, question }: (typeof asked)[number]): boolean =>
      entry.statusAnswered >= question;
    await this.until(
      () => asked.every((item) => answered(item) || item.entry.exited),
      what,
      STATUS_ANSWER_MS,
    );
    return asked.filter((item) => answered(item) && !item.entry.exited).map((item) => item.entry);
  }

  /** Resolves once `condition` holds (checked whenever a node reports), or rejects (see the class). */
  until(
    condition: () => boolean,
    what: string,
    timeoutMs: number,
    onTimeout?: () => Error | undefined,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.failure !== undefined) finish(this.failure);
        else if (condition()) finish(undefined);
      };
      const timer = setTimeout(
        () => finish(onTimeout?.() ?? new NetRunError(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      const finish = (error: Error | undefined): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.waiters.add(check);
      check();
    });
  }

  /**
   * Resolves once `ready` holds for every node of `nodes`. Start-up on a loaded machine is slow in
   * proportion to the number of processes, so the wait times out only when no further node became
   * ready for `quietMs` (or after `capMs` in all), naming the nodes still waited for.
   */
  untilEvery(
    nodes: () => readonly NodeProcess[],
    ready: (entry: NodeProcess) => boolean,
    what: string,
    quietMs: number,
    capMs: number,
  ): Promise<void> {
    const startedMs = performance.now();
    let readyCount = -1;
    let progressMs = startedMs;
    const waiting = (): string[] =>
      nodes()
        .filter((entry) => !ready(entry))
        .map((entry) => entry.node.id);
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const now = performance.now();
        const entries = nodes();
        const count = entries.filter(ready).length;
        if (count > readyCount) {
          readyCount = count;
          progressMs = now;
        }
        if (this.failure !== undefined) finish(this.failure);
        else if (count === entries.length) finish(undefined);
        else if (now - progressMs >= quietMs || now - startedMs >= capMs) {
          const late = waiting();
          const shown = late.slice(0, 8).join(", ") + (late.length > 8 ? ", …" : "");
          const why =
            now - startedMs >= capMs
              ? ` after ${Math.round(capMs)} ms in all`
              : `, none more for ${Math.round(quietMs)} ms`;
          finish(
            new NetRunError(
              `timed out waiting for ${what} (${count} of ${entries.length} ready${why}; waiting for ${shown})`,
            ),
          );
        }
      };
      // Nodes report when they change; the timer notices a wait that has gone quiet.
      const timer = setInterval(check, Math.min(1_000, quietMs));
      const finish = (error: Error | undefined): void => {
        clearInterval(timer);
        this.waiters.delete(check);
        if (error === undefined) resolve();
        else reject(error);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits `ms`, unless the run fails first. */
  sleep(ms: number): Promise<void> {
    let elapsed = false;
    const timer = setTimeout(() => {
      elapsed = true;
      this.changed();
    }, ms);
    return this.until(() => elapsed, "a pause", ms + 60_000).finally(() => clearTimeout(timer));
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Stops every node still running: SIGTERM, then SIGKILL after a grace period. */
  async killAll(): Promise<void> {
    const running = [...this.nodes.values()].filter((entry) => !entry.exited);
    for (const entry of running) {
      entry.stopping = true;
      entry.child.kill("SIGTERM");
    }
    const deadline = Date.now() + KILL_GRACE_MS;
    while (running.some((entry) => !entry.exited) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    for (const entry of running) if (!entry.exited) entry.child.kill("SIGKILL");
    while (running.some((entry) => !entry.exited)) await new Promise((resolve) => setTimeout(resolve, 10));
    await Promise.all(
      [...this.nodes.values()].map((entry) => new Promise<void>((resolve) => entry.log.end(() => resolve()))),
    );
  }

  private onMessage(entry: NodeProcess, message: NodeMessage): void {
    switch (message.type) {
      case "listening":
        entry.port = message.port;
        break;
      case "connected":
        entry.connected = true;
        break;
      case "progress":
        entry.multicasts = message.multicasts;
        entry.completed = message.completed;
        break;
      case "done":
        entry.done = true;
        break;
      case "status":
        entry.status = message.status;
        entry.statusAnswered += 1;
        break;
      case "stopped":
        entry.stats = message.stats;
        if (message.controller !== undefined) this.controller = message.controller;
        entry.stopping = true;
        break;
      case "fatal":
        this.fail(new NetRunError(`node ${entry.node.id} failed: ${message.message}${tail(entry)}`));
        break;
    }
    this.changed();
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.changed();
  }

  changed(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

function tail(entry: NodeProcess): string {
  return entry.stderrTail.length === 0 ? "" : `; its last output:\n  ${entry.stderrTail.join("\n  ")}`;
}

/** A file name for a node id (replica ids hold "/"). */
function fileStem(index: number, id: string): string {
  return `${String(index).padStart(3, "0")}-${id.replace(/[^A-Za-z0-9_.-]/g, "_")}`;
}

/**
 * Runs one system on real processes on this machine: one OS process per replica, the clients in
 * `clientHosts` more, all on loopback with free ports, authenticated with keys derived from a
 * fresh cluster secret. Waits for the workload, lets the nodes settle, stops them, and hands
 * their merged trace (one monotonic clock) to `onEvent`, ending with the `stop` event that says
 * how the run ended and what it owes. Options it cannot honour are refused before anything
 * starts. Every node is stopped whatever happens (failure, abort, time limit).
 */
export async function runCluster(
  spec: SystemSpec,
  options: NetRunOptions & ClusterObservation,
): Promise<ClusterOutcome> {
  refuseUnsupported(spec);
  const keep = options.workDir !== undefined;
  const workDir = options.workDir ?? mkdtempSync(join(tmpdir(), "amcast-net-"));
  mkdirSync(workDir, { recursive: true });
  const log = options.log ?? ((): void => {});
  const built = options.built ?? buildSystem(spec);
  const startNs = process.hrtime.bigint();
  const startedAt = performance.now();
  // The runner's own events (faults) on the nodes' clock, merged with their traces.
  const clock = monotonicClock(startNs);
  const traceTime = (): number => Math.round(clock.now() * 1000) / 1000;
  const runnerEvents: string[] = [];
  const killed: { proc: string; t: number }[] = [];
  const recovered: { proc: string; t: number; restartMs: number }[] = [];
  // Replicas keep a data directory when asked to, or when a crash recovers (it restarts from there).
  const storage =
    options.storage ??
    (spec.faults.crashes.some((fault) => fault.recoverAtMs !== undefined)
      ? { fsync: "batch" as const }
      : undefined);
  for (const proc of spec.faults.byzantine ?? spec.byzantine.map((fault) => fault.proc))
    runnerEvents.push(JSON.stringify({ ev: "fault", proc, kind: "byzantine", t: 0 }));

  const nodes = deploymentNodes(built, options.clientHosts, () => ({ host: "127.0.0.1", port: 0 }));
  const secret = randomBytes(32);
  const deploymentFile = join(workDir, "deployment.json");
  writeFileSync(
    deploymentFile,
    `${JSON.stringify(
      deploymentToJson({
        name: spec.label,
        system: spec,
        traceSends: options.traceSends,
        latencyEmulation: options.latencyEmulation,
        nodes,
        limits: options.limits ?? {},
        ...(storage === undefined ? {} : { storage }),
        ...(options.replicaState === undefined ? {} : { replicaState: options.replicaState }),
        publicKeys:
          spec.mode === "byzantine"
            ? new Map(
                Object.entries(
                  publicKeysFromSecret(
                    secret,
                    nodes.flatMap((node) => node.processes),
                  ),
                ).map(([process, key]) => [process, Buffer.from(key, "hex")]),
              )
            : new Map(),
      }),
      null,
      1,
    )}\n`,
  );
  // Each node gets only its own keys: none can derive another pair's, nor sign as another's process.
  const nodeIds = nodes.map((node) => node.id);
  const files = new Map<string, (kind: string) => string>();
  nodes.forEach((node, index) => {
    const stem = fileStem(index, node.id);
    files.set(node.id, (kind) => join(workDir, `${stem}.${kind}`));
    writeFileSync(
      join(workDir, `${stem}.keys.json`),
      JSON.stringify(
        Keyring.fromSecret(secret, node.id, nodeIds, signingProcesses(spec, node.processes)).toJson(),
      ),
      {
        mode: 0o600,
      },
    );
  });

  const cluster = new Cluster(workDir, options.signal);
  const env = { ...process.env, [START_NS_ENV]: String(startNs) };
  // A holder, because the closures below set it.
  const stop: { reason: StopReason } = { reason: "drained" };
  let workloadStartMs = 0;
  /** Set once the nodes are told to stop: a restart due later does not happen. */
  let stopping = false;
  /** The restart in progress, if any: restarts take turns. */
  let restartTurn: Promise<unknown> = Promise.resolve();
  let startupMs = 0;
  let workloadMs = 0;
  const crashTimers: NodeJS.Timeout[] = [];
  let partitionsApplied: readonly AppliedPartition[] = [];
  const schedulingDelay = monitorEventLoopDelay({ resolution: SCHEDULING_SAMPLE_MS });
  try {
    log(
      `network runtime: ${nodes.length} processes (${built.processes.length} replicas, ${nodes.length - built.processes.length} client host(s)) in ${workDir}`,
    );
    const spawn = (node: DeployedNode, restart = false, amnesia = false): NodeProcess => {
      const file = files.get(node.id) as (kind: string) => string;
      return cluster.spawn(
        node,
        file,
        [
          "--deployment",
          deploymentFile,
          "--id",
          node.id,
          "--keys",
          file("keys.json"),
          "--trace",
          file("trace.jsonl"),
          ...(storage !== undefined && node.role === "replica" ? ["--data-dir", file("data")] : []),
          ...(amnesia ? ["--amnesia"] : []),
        ],
        env,
        options.nodeArgs ?? [],
        restart,
      );
    };
    for (const node of nodes) if (node.role === "replica") spawn(node);
    const entries = (): NodeProcess[] => [...cluster.nodes.values()];
    await cluster.untilEvery(
      entries,
      (entry) => entry.port !== undefined,
      "every replica to listen",
      LISTEN_QUIET_MS,
      STARTUP_CAP_MS,
    );
    for (const node of nodes) if (node.role === "clients") spawn(node);
    const addresses: Record<string, NodeAddress> = {};
    for (const entry of entries())
      addresses[entry.node.id] = { host: "127.0.0.1", port: entry.port as number };
    await cluster.untilEvery(
      entries,
      (entry) => entry.child.connected,
      "every node to start",
      LISTEN_QUIET_MS,
      STARTUP_CAP_MS,
    );
    cluster.broadcast({ type: "peers", addresses });
    await cluster.untilEvery(
      entries,
      (entry) => entry.connected,
      "every link to connect",
      CONNECT_TIMEOUT_MS,
      STARTUP_CAP_MS,
    );

    startupMs = performance.now() - startedAt;
    workloadStartMs = performance.now();
    schedulingDelay.enable();
    cluster.gracefulAbort = true;
    cluster.broadcast({ type: "start" }, "clients");
    log("every node is connected: the workload starts");
    // Crash faults: SIGKILL at their time after the workload's start (a leader is asked for then),
    // and a restart at `recoverAtMs` for those that recover.
    /** A killed replica's restart, while it is due or under way (resolves once it is back). */
    const returning = new Map<string, Promise<void>>();
    const restartLater = async (proc: string, recoverAtMs: number, amnesia: boolean): Promise<void> => {
      await cluster.sleep(Math.max(0, workloadStartMs + recoverAtMs - performance.now()));
      if (options.restartsAfterWorkload === true)
        await cluster.until(
          () =>
            stopping ||
            entries()
              .filter((entry) => entry.node.role === "clients")
              .every((entry) => entry.done),
          `the workload to end before the restart of ${proc}`,
          Math.min(options.timeLimitMs, spec.timeLimitMs),
        );
      if (stopping) return;
      // One restart at a time: a restarting replica learns of every other one as up or down,
      // never half-way.
      const restart = restartTurn.then(() =>
        recoverNode(
          cluster,
          proc,
          (node) => spawn(node, true, amnesia),
          (node) => partitions.retell(node),
          log,
        ),
      );
      restartTurn = restart.catch(() => undefined);
      const restartMs = await restart;
      const t = traceTime();
      recovered.push({ proc, t, restartMs });
      runnerEvents.push(JSON.stringify({ ev: "fault", proc, kind: "recover", t }));
    };
    const strike = async (fault: CrashFault): Promise<void> => {
      // A replica down or restarting, but due back (a restart slower than the plan's gap), is
      // struck once it is back, so the plan's order holds: crash, recover, crash.
      const targets =
        fault.proc === undefined ? built.membership.replicas(fault.leaderOf as string) : [fault.proc];
      await Promise.all(targets.map((id) => returning.get(id)));
      const gateStartedMs = performance.now();
      if (options.crashesAfterCheckpointAt !== undefined)
        await untilGroupCheckpointed(
          cluster,
          (fault.leaderOf ?? built.membership.groupOf(fault.proc as string)) as string,
          built.membership.replicas.bind(built.membership),
          options.crashesAfterCheckpointAt,
          log,
        );
      // The plan's pause between the kill and the restart holds when the kill waited.
      const waitedMs = performance.now() - gateStartedMs;
      const proc = await crashNode(
        cluster,
        built.membership.replicas.bind(built.membership),
        fault,
        spec.tickMs,
        log,
        options.crashTarget,
      );
      if (proc === undefined) return;
      const t = traceTime();
      killed.push({ proc, t });
      runnerEvents.push(JSON.stringify({ ev: "fault", proc, kind: "crash", t }));
      if (fault.recoverAtMs === undefined) return;
      const back = restartLater(proc, fault.recoverAtMs + waitedMs, fault.kind === "amnesia");
      returning.set(
        proc,
        back.catch(() => undefined),
      );
      await back;
    };
    const crashes = spec.faults.crashes.map(
      (fault) =>
        new Promise<void>((resolve) => {
          crashTimers.push(
            setTimeout(() => {
              strike(fault)
                .catch((error: Error) => cluster.fail(error))
                .finally(resolve);
            }, fault.atMs),
          );
        }),
    );
    const partitions = schedulePartitions(
      cluster,
      nodes,
      spec.faults.partitions,
      crashTimers,
      traceTime,
      log,
      options.partitionsHealOnceCrossed === true
        ? (replica) => built.membership.groupOf(replica) as string
        : undefined,
    );
    partitionsApplied = partitions.applied;
    const clientsOf = (): NodeProcess[] => entries().filter((entry) => entry.node.role === "clients");
    const multicastsAfter = options.workloadEndsAfterCrashes;
    if (multicastsAfter !== undefined)
      void Promise.all(crashes)
        .then(async () => {
          if (stopping || cluster.failed !== undefined) return;
          const asked = await cluster.askStatus(clientsOf(), "the client hosts' multicasts so far");
          const before = asked.reduce((sum, entry) => sum + (entry.status?.multicasts ?? 0), 0);
          log(`every crash fault carried out: the workload ends after ${multicastsAfter} more multicasts`);
          await cluster.until(
            () =>
              clientsOf().reduce((sum, entry) => sum + entry.multicasts, 0) >= before + multicastsAfter ||
              clientsOf().every((entry) => entry.done),
            `${multicastsAfter} multicasts after the last crash fault`,
            Math.min(options.timeLimitMs, spec.timeLimitMs),
          );
          cluster.broadcast({ type: "finish" }, "clients");
        })
        .catch((error: Error) => cluster.fail(error));
    const timeLimitMs = Math.min(options.timeLimitMs, spec.timeLimitMs);
    let lastCompleted = -1;
    let lastProgressMs = performance.now();
    try {
      await cluster.until(
        () => {
          // Client hosts report progress every 250 ms, so this runs at least that often.
          const completed = clientsOf().reduce((sum, entry) => sum + entry.completed, 0);
          // A partition may stop every multicast until it heals: that is no stall.
          if (completed !== lastCompleted || partitions.active()) {
            lastCompleted = completed;
            lastProgressMs = performance.now();
          }
          if (cluster.interrupted) return true;
          if (clientsOf().every((entry) => entry.done)) return true;
          if (performance.now() - lastProgressMs > options.stallMs) {
            stop.reason = "stalled";
            log(`no multicast completed for ${options.stallMs} ms: stopping the run as stalled`);
            return true;
          }
          return false;
        },
        "the workload",
        timeLimitMs,
        () => {
          stop.reason = "time-limit";
          return undefined;
        },
      );
    } catch (error) {
      if (stop.reason !== "time-limit") throw error;
      log(`the workload did not finish within ${timeLimitMs} ms: stopping the run`);
    }
    // As the simulator does, a run ends only once every fault happened.
    if (stop.reason === "drained" && !cluster.interrupted) {
      let faultsDone = false;
      void Promise.all([...crashes, partitions.healed]).then(() => {
        faultsDone = true;
        cluster.changed();
      });
      const lastFaultMs = Math.max(
        0,
        ...spec.faults.crashes.map((fault) => (fault.recoverAtMs ?? fault.atMs) + LEADER_WAIT_MS),
        ...spec.faults.partitions.map((fault) => fault.healAtMs),
      );
      await cluster.until(
        () => faultsDone || cluster.interrupted,
        "every crash and partition fault",
        lastFaultMs + 60_000,
      );
      if (cluster.failed !== undefined) throw cluster.failed;
      await settle(cluster, spec, options);
    }
    if (cluster.interrupted) {
      stop.reason = "interrupted";
      log("interrupted: stopping every node");
    }
    cluster.gracefulAbort = false;
    stopping = true;
    workloadMs = performance.now() - workloadStartMs;
    schedulingDelay.disable();
    // Stop: every node writes out its trace and reports its counters.
    for (const entry of entries()) entry.stopping = true;
    cluster.broadcast({ type: "stop" });
    await cluster.until(
      () => entries().every((entry) => entry.exited),
      "every node to stop",
      STOP_TIMEOUT_MS,
    );
  } finally {
    for (const timer of crashTimers) clearTimeout(timer);
    await cluster.killAll();
    cluster.dispose();
  }

  try {
    const perNode: Record<string, HostStats> = {};
    for (const entry of cluster.nodes.values())
      if (entry.stats !== undefined) perNode[entry.node.id] = entry.stats;
    // Last: how the run ended and what it owes, on the nodes' clock after every node stopped.
    runnerEvents.push(JSON.stringify(stopEvent(spec, stop.reason, traceTime(), "net")));
    const runnerTrace = join(workDir, "runner.trace.jsonl");
    writeFileSync(runnerTrace, `${runnerEvents.join("\n")}\n`);
    const traceFiles = [
      runnerTrace,
      ...nodes.map((node) => (files.get(node.id) as (kind: string) => string)("trace.jsonl")),
    ];
    if (cluster.controller !== null) options.onController?.(cluster.controller);
    else if (spec.reconfig !== undefined && stop.reason === "drained")
      throw new NetRunError("the client host that ran the reconfiguration controller did not report it");
    mergeTraceFiles(traceFiles, options.onEvent);
    const stats = Object.values(perNode);
    const sum = (pick: (stats: HostStats) => number): number =>
      stats.reduce((total, node) => total + pick(node), 0);
    const sendsByLabel = new Map<string, number>();
    for (const node of stats)
      for (const [label, count] of Object.entries(node.sendsByLabel))
        sendsByLabel.set(label, (sendsByLabel.get(label) ?? 0) + count);
    const sim: SimResult = {
      seed: spec.seed,
      endMs: workloadMs,
      stoppedBy: stop.reason,
      messageEvents: sum((node) => node.messageEvents),
      queueEvents: sum((node) => node.messageEvents + node.ticks),
      protocolMessages: sum((node) => node.protocolMessages),
      protocolBytes: sum((node) => node.protocolBytes),
      clientMessages: sum((node) => node.clientMessages),
      clientBytes: sum((node) => node.clientBytes),
      sendsByLabel,
      lostToCrashes: 0,
      multicasts: sum((node) => node.multicasts),
      completed: sum((node) => node.completed),
      deliveries: sum((node) => node.deliveries),
      arrivalsSkipped: sum((node) => node.arrivalsSkipped),
    };
    const dataFrames = sum((node) => node.transport.dataFramesSent);
    const cpuOf = (role: DeployedNode["role"], cpuMs: (stats: HostStats) => number): number =>
      nodes
        .filter((node) => node.role === role)
        .reduce((total, node) => {
          const stats = perNode[node.id];
          return total + (stats === undefined ? 0 : cpuMs(stats));
        }, 0);
    const nodeDelays = stats.flatMap((node) =>
      node.workloadSchedulingDelayMs === undefined ? [] : [node.workloadSchedulingDelayMs.mean],
    );
    const wholeRun = (stats: HostStats): number => stats.cpuUserMs + stats.cpuSystemMs;
    const workloadWindow = (stats: HostStats): number => stats.workloadCpuUserMs + stats.workloadCpuSystemMs;
    return {
      sim,
      wallMs: performance.now() - startedAt,
      net: {
        nodes: nodes.length,
        workDir,
        messagesPerFrame: dataFrames === 0 ? 0 : sum((node) => node.transport.messagesSent) / dataFrames,
        dataFrames,
        ackFrames: sum((node) => node.transport.ackFramesSent),
        wireBytes: sum((node) => node.transport.wireBytesSent),
        framesResent: sum((node) => node.transport.framesResent),
        framesRejected: sum((node) => node.transport.framesRejected),
        connectionsLost: sum((node) => node.transport.connectionsLost),
        congestionEpisodes: sum((node) => node.transport.congestionEpisodes),
        messagesHeldByPartition: sum((node) => node.transport.messagesHeldByPartition),
        logicErrors: sum((node) => node.logicErrors),
        arrivalsSkipped: sim.arrivalsSkipped,
        killed,
        recovered,
        partitions: partitionsApplied,
        cpuMsReplicas: cpuOf("replica", wholeRun),
        cpuMsClients: cpuOf("clients", wholeRun),
        workloadCpuMsReplicas: cpuOf("replica", workloadWindow),
        workloadCpuMsClients: cpuOf("clients", workloadWindow),
        workloadMs,
        startupMs,
        // The histogram holds whole periods: what is late is beyond the period.
        schedulingDelayMs: {
          mean:
            schedulingDelay.count === 0 ? 0 : Math.max(0, schedulingDelay.mean / 1e6 - SCHEDULING_SAMPLE_MS),
          p90:
            schedulingDelay.count === 0
              ? 0
              : Math.max(0, schedulingDelay.percentile(90) / 1e6 - SCHEDULING_SAMPLE_MS),
        },
        nodeSchedulingDelayMs: {
          mean: nodeDelays.length === 0 ? 0 : nodeDelays.reduce((sum, ms) => sum + ms, 0) / nodeDelays.length,
          worst: Math.max(0, ...nodeDelays),
        },
        perNode,
      },
    };
  } finally {
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * After the workload: waits until every node's processes are idle and no delivery happened for
 * long enough that nothing can still be in flight (replicas of one group may deliver after the
 * client got its answer).
 */
async function settle(cluster: Cluster, spec: SystemSpec, options: NetRunOptions): Promise<void> {
  let maxDelayMs = 0;
  const { topology } = spec;
  if (options.latencyEmulation)
    for (let from = 0; from < topology.regions.length; from += 1)
      for (let to = 0; to < topology.regions.length; to += 1)
        maxDelayMs = Math.max(maxDelayMs, topology.delayMs(from, to));
  const settleMs = 2 * maxDelayMs * (1 + 6 * spec.network.jitterSdFraction) + 5 * spec.tickMs + 20;
  const started = performance.now();
  let quietSinceMs: number | undefined;
  let lastDeliveries = -1;
  while (performance.now() - started < SETTLE_MS_MAX && !cluster.interrupted) {
    const entries = await cluster.askStatus(cluster.live(), "status answers");
    const quiet = entries.every((entry) => entry.status?.quiet === true);
    const deliveries = entries.reduce((sum, entry) => sum + (entry.status?.deliveries ?? 0), 0);
    if (!quiet || deliveries !== lastDeliveries) quietSinceMs = undefined;
    else quietSinceMs ??= performance.now();
    lastDeliveries = deliveries;
    if (quietSinceMs !== undefined && performance.now() - quietSinceMs >= settleMs) return;
    await cluster.sleep(STATUS_INTERVAL_MS);
  }
}

/** Refuses, before anything starts, a run with options the network runtime cannot honour (see NET_SUPPORT). */
export function refuseUnsupported(spec: SystemSpec): void {
  const problems = netRefusals(spec);
  if (problems.length > 0) throw new NetRunError(`${spec.label}: ${problems.join("; ")}`);
}

/** How long a `leaderOf` crash keeps asking for a leader (an election may be on). */
const LEADER_WAIT_MS = 10_000;

/**
 * Asks the live replicas of `group` for their status and waits for every answer (or exit);
 * returns the replicas asked, each with its fresh `status`.
 */
async function askGroupStatus(
  cluster: Cluster,
  group: string,
  replicasOf: (group: string) => readonly string[],
  what: string,
): Promise<NodeProcess[]> {
  return cluster.askStatus(
    cluster.live().filter((entry) => replicasOf(group).includes(entry.node.id)),
    `the replicas of ${group} to say ${what}`,
  );
}

/**
 * Waits until every live replica of `group` reports a checkpoint at log position `position` or
 * later (`crashesAfterCheckpointAt`); throws, naming where each one was, after CHECKPOINT_WAIT_MS.
 */
async function untilGroupCheckpointed(
  cluster: Cluster,
  group: string,
  replicasOf: (group: string) => readonly string[],
  position: number,
  log: (line: string) => void,
): Promise<void> {
  const deadline = performance.now() + CHECKPOINT_WAIT_MS;
  for (;;) {
    const asked = await askGroupStatus(cluster, group, replicasOf, "where they checkpointed");
    // A replica that keeps no checkpointed state (a Byzantine one may not) has none to wait for.
    const waiting = asked.filter((entry) => !entry.exited && entry.status?.checkpoint !== undefined);
    if (waiting.every((entry) => (entry.status?.checkpoint as number) >= position)) {
      log(`crash fault: every replica of ${group} checkpointed at log position ${position} or later`);
      return;
    }
    if (performance.now() > deadline)
      throw new NetRunError(
        `crash fault: the replicas of ${group} did not all checkpoint at log position ${position} within ${CHECKPOINT_WAIT_MS} ms (${waiting
          .map((entry) => `${entry.node.id} at ${entry.status?.checkpoint}`)
          .join(", ")})`,
      );
    await cluster.sleep(STATUS_INTERVAL_MS);
  }
}

/**
 * Carries out one crash fault: resolves its target (a named replica, or the replica most of a
 * group's live replicas follow right now), kills its process with SIGKILL and tells every other
 * node to drop the link to it. Resolves with the process killed, or undefined when the target
 * was already gone.
 */
async function crashNode(
  cluster: Cluster,
  replicasOf: (group: string) => readonly string[],
  fault: CrashFault,
  tickMs: number,
  log: (line: string) => void,
  chooseTarget: (group: string, leader: string, replicas: readonly string[]) => string = (_, leader) =>
    leader,
): Promise<string | undefined> {
  let target = fault.proc;
  if (target === undefined) {
    const group = fault.leaderOf as string;
    const deadline = performance.now() + LEADER_WAIT_MS;
    while (target === undefined) {
      const asked = await askGroupStatus(cluster, group, replicasOf, "who leads");
      if (asked.length === 0) return undefined;
      const best = mostNamedLeader(asked.map((entry) => entry.status?.leader));
      if (best !== undefined && asked.some((entry) => entry.node.id === best))
        target = chooseTarget(group, best, replicasOf(group));
      else if (performance.now() > deadline)
        throw new NetRunError(
          `no replica of ${group} led within ${LEADER_WAIT_MS} ms: cannot crash its leader`,
        );
      else await cluster.sleep(tickMs);
    }
  }
  const entry = cluster.nodes.get(target);
  if (entry === undefined || entry.node.role !== "replica")
    throw new NetRunError(`crash fault: ${target} is not a replica of this run`);
  if (entry.exited || entry.killed) return undefined;
  cluster.kill(target);
  log(
    `crash fault: killed ${target} (SIGKILL)${fault.leaderOf === undefined ? "" : `, the leader of ${fault.leaderOf}`}`,
  );
  // Every other node, one that is restarting too (it must not wait for the dead one).
  for (const other of cluster.nodes.values())
    if (other !== entry && !other.exited && !other.killed)
      cluster.send(other.node.id, { type: "crashed", node: target });
  return target;
}

/**
 * Restarts a replica killed for a crash fault (`recoverAtMs`): starts its process again on its
 * data directory (it replays its journal before it listens), tells every live node the link to
 * it is up again at its new address, gives it the live replicas' addresses and the nodes still
 * down, and waits until it is connected to the live replicas; from there its group's orderer
 * catches it up. Resolves with the time that took, in ms.
 */
async function recoverNode(
  cluster: Cluster,
  id: string,
  spawn: (node: DeployedNode) => NodeProcess,
  retellPartitions: (node: string) => void,
  log: (line: string) => void,
): Promise<number> {
  const old = cluster.nodes.get(id) as NodeProcess;
  // One writer per data directory: the killed process must be gone first.
  await cluster.until(() => old.exited, `${id} to exit after SIGKILL`, KILL_GRACE_MS + 10_000);
  const started = performance.now();
  const entry = spawn(old.node);
  await cluster.until(
    () => entry.port !== undefined,
    `${id} to replay its journal and listen again`,
    RECOVER_TIMEOUT_MS,
  );
  const address = { host: "127.0.0.1", port: entry.port as number };
  const addresses: Record<string, NodeAddress> = {};
  for (const other of cluster.live()) {
    if (other === entry) continue;
    cluster.send(other.node.id, { type: "recovered", node: id, address });
    if (other.node.role === "replica" && other.port !== undefined)
      addresses[other.node.id] = { host: "127.0.0.1", port: other.port };
  }
  await cluster.until(() => entry.child.connected, `${id} to start again`, LISTEN_TIMEOUT_MS);
  retellPartitions(id);
  // Down now (a crash may have struck while it replayed): it does not wait for those.
  const down = [...cluster.nodes.values()]
    .filter((other) => other !== entry && (other.exited || other.killed))
    .map((other) => other.node.id);
  cluster.send(id, { type: "peers", addresses, down });
  await cluster.until(
    () => entry.connected,
    `${id} to reconnect to the live replicas (those a partition does not cut it from)`,
    CONNECT_TIMEOUT_MS,
  );
  entry.restarting = false;
  cluster.changed();
  const restartMs = performance.now() - started;
  log(`crash fault: restarted ${id} from its data directory (${Math.round(restartMs)} ms to rejoin)`);
  return restartMs;
}

/**
 * Carries out a fault plan's partitions: at each one's `atMs` and `healAtMs` after the workload's
 * start, tells every live node which peers it is cut from now (the union over the partitions in
 * force: a side's replicas are cut from every node not on the side, client hosts included, as in
 * the simulator). The transports hold what crosses a cut and send it, in order, at the heal.
 * With `groupOf` (`partitionsHealOnceCrossed`), a heal also waits until its cut was crossed.
 * `healed` resolves after the last heal; `active` says whether a partition is in force.
 */
function schedulePartitions(
  cluster: Cluster,
  nodes: readonly DeployedNode[],
  faults: readonly PartitionFault[],
  timers: NodeJS.Timeout[],
  traceTime: () => number,
  log: (line: string) => void,
  groupOf?: (replica: string) => string,
): {
  readonly healed: Promise<void>;
  readonly active: () => boolean;
  readonly applied: AppliedPartition[];
  /** Tells a restarted node the cuts in force now (its earlier incarnation knew them, not it). */
  readonly retell: (node: string) => void;
} {
  const replicaIds = new Set(nodes.filter((node) => node.role === "replica").map((node) => node.id));
  for (const fault of faults)
    for (const id of fault.side)
      if (!replicaIds.has(id)) throw new NetRunError(`partition: ${id} is not a replica of this run`);
  const inForce = new Set<number>();
  const sent = new Map<string, string>();
  const applied: {
    side: readonly string[];
    t: number;
    appliedT: number | undefined;
    healT: number | undefined;
  }[] = faults.map((fault) => ({ side: fault.side, t: Number.NaN, appliedT: undefined, healT: undefined }));
  /** Per partition, with `groupOf`: resolves true once its cut was crossed, false if the run failed first. */
  const crossings: Promise<boolean>[] = [];
  const cutFor = (self: string): string[] => {
    const sides = [...inForce].map((index) => new Set((faults[index] as PartitionFault).side));
    return nodes
      .filter((peer) => peer.id !== self && sides.some((side) => side.has(self) !== side.has(peer.id)))
      .map((peer) => peer.id);
  };
  const tellOne = (self: string, force: boolean): void => {
    const peers = cutFor(self);
    const key = peers.join("\n");
    if (!force && sent.get(self) === key) return;
    sent.set(self, key);
    cluster.send(self, { type: "partition", peers });
  };
  // Every node that listens for it: a replica restarting is told too (it must not wait for a
  // replica it is cut from).
  const tell = (): void => {
    for (const entry of cluster.nodes.values())
      if (!entry.exited && !entry.killed && entry.port !== undefined) tellOne(entry.node.id, false);
  };
  let pending = faults.length;
  let resolveHealed: () => void = () => {};
  const healed = new Promise<void>((resolve) => {
    resolveHealed = resolve;
  });
  if (pending === 0) resolveHealed();
  faults.forEach((fault, index) => {
    const record = applied[index] as (typeof applied)[number];
    const heal = (): void => {
      inForce.delete(index);
      record.healT = traceTime();
      log(`partition healed: ${fault.side.join(", ")}`);
      tell();
      pending -= 1;
      if (pending === 0) resolveHealed();
    };
    timers.push(
      setTimeout(() => {
        inForce.add(index);
        record.t = traceTime();
        log(`partition: ${fault.side.join(", ")} cut from the rest until ${fault.healAtMs} ms`);
        tell();
        if (groupOf !== undefined)
          crossings[index] = untilPartitionCrossed(cluster, fault, groupOf, traceTime, log).then(
            (appliedT) => {
              record.appliedT = appliedT;
              return true;
            },
            (error: Error) => {
              cluster.fail(error);
              return false;
            },
          );
      }, fault.atMs),
      setTimeout(() => {
        const crossing = crossings[index];
        if (crossing === undefined) heal();
        else
          void crossing.then((crossed) => {
            if (crossed) heal();
          });
      }, fault.healAtMs),
    );
  });
  return { healed, active: () => inForce.size > 0, applied, retell: (node) => tellOne(node, true) };
}

/**
 * Waits until a partition just told to every node was crossed (`partitionsHealOnceCrossed`):
 * every live node applied it (its answer to a status question asked after the cut was told: the
 * control channel keeps order), then, counted from answers to questions asked after that, a
 * client host started a multicast to a group with a replica on the cut side and some node held
 * messages across a cut. Resolves with the trace time at which every node had applied the cut;
 * throws, naming what was missing, after PARTITION_CROSS_WAIT_MS.
 */
async function untilPartitionCrossed(
  cluster: Cluster,
  fault: PartitionFault,
  groupOf: (replica: string) => string,
  traceTime: () => number,
  log: (line: string) => void,
): Promise<number> {
  const deadline = performance.now() + PARTITION_CROSS_WAIT_MS;
  const sideGroups = new Set(fault.side.map(groupOf));
  const what = `the partition of ${fault.side.join(", ")}`;
  await cluster.askStatus(cluster.live(), `every node to apply ${what}`);
  const appliedT = traceTime();
  const multicastsToSide = (entry: NodeProcess): number =>
    Object.entries(entry.status?.multicastsTo ?? {}).reduce(
      (sum, [group, count]) => sum + (sideGroups.has(group) ? count : 0),
      0,
    );
  // Per node, as counted when every node had applied the cut (a node restarted since counts from 0).
  const heldBefore = new Map<string, number>();
  const startedBefore = new Map<string, number>();
  let first = true;
  for (;;) {
    const answered = await cluster.askStatus(cluster.live(), `every node's status (${what})`);
    let held = 0;
    let started = 0;
    for (const entry of answered) {
      const id = entry.node.id;
      const heldNow = entry.status?.heldByPartition ?? 0;
      const startedNow = multicastsToSide(entry);
      if (first) {
        heldBefore.set(id, heldNow);
        startedBefore.set(id, startedNow);
      } else {
        held += Math.max(0, heldNow - (heldBefore.get(id) ?? heldNow));
        started += Math.max(0, startedNow - (startedBefore.get(id) ?? startedNow));
      }
    }
    if (!first && held > 0 && started > 0) {
      log(`partition: ${what} was crossed (${started} multicast(s) to it started, ${held} message(s) held)`);
      return appliedT;
    }
    first = false;
    if (performance.now() > deadline)
      throw new NetRunError(
        `${what} was not crossed within ${PARTITION_CROSS_WAIT_MS} ms of every node applying it: waited for a multicast to ${[...sideGroups].join(", ")} started since (${started} so far) and a message held across the cut since (${held} so far)`,
      );
    await cluster.sleep(STATUS_INTERVAL_MS);
  }
}
