import { monitorEventLoopDelay } from "node:perf_hooks";
import type {
  ClientLogic,
  DestinationSet,
  GroupId,
  MessageId,
  ObservedDelay,
  ProcessId,
  ProcessLogic,
  ProcessOutput,
} from "@amcast/core";
import { BinaryHeap, Prng } from "@amcast/core";
import type { SimClient } from "@amcast/sim";
import type { Clock } from "./clock.js";
import type { LatencyEmulation } from "./delay.js";
import type { JournalledReplica, ReplayStats, ReplicaJournal } from "./journal.js";
import type { Keyring } from "./keys.js";
import type { TransportLimits } from "./limits.js";
import { QueueOverflowError } from "./limits.js";
import type { NodeAddress, NodeId, NodeTable } from "./nodes.js";
import type { SignatureStats } from "./signatures.js";
import type { TracedOutputs, TraceSink } from "./trace-writer.js";
import { formatMs, jsonIds, jsonString } from "./trace-writer.js";
import type { TransportStats } from "./transport.js";
import { Transport } from "./transport.js";

/** A closed-loop client keeps `outstanding` multicasts in flight, waiting `thinkMs` after each. */
export interface ClosedLoop {
  readonly kind: "closed";
  readonly multicasts: number;
  readonly outstanding: number;
  readonly thinkMs: number;
}

/** An open-loop client starts multicasts as a Poisson process; arrivals beyond `outstandingMax` in flight are skipped. */
export interface OpenLoop {
  readonly kind: "open";
  readonly multicasts: number;
  readonly ratePerSec: number;
  readonly outstandingMax: number;
}

/** A client and its workload (the same shape the simulator takes). */
export interface ClientWorkload {
  readonly logic: ClientLogic;
  readonly loop: ClosedLoop | OpenLoop;
  readonly payloadBytes: number;
  /** When the client starts, in ms after the workload starts. */
  readonly startMs: number;
  /** Draws the destinations of the client's next multicast from the client's own stream (at `nowMs` into the run). */
  readonly destinations: (prng: Prng, nowMs: number) => DestinationSet;
  /** The payload of the next multicast, if the workload has one. */
  readonly payload?: () => unknown;
  /**
   * A background client (a reconfiguration controller) runs while the host's other clients run:
   * the host does not wait for its multicasts to be used up, only for the one in flight.
   */
  readonly background?: SimClient["background"];
  /** Sees each completed multicast (`nowMs`: the trace clock), as the simulator's clients do. */
  readonly onComplete?: SimClient["onComplete"];
}

export interface NodeHostOptions {
  readonly self: NodeId;
  readonly table: NodeTable;
  readonly keyring: Keyring;
  /** Where this node listens (port 0: any free port); null for a client host, which only dials. */
  readonly listen: NodeAddress | null;
  readonly limits?: Partial<TransportLimits>;
  readonly latency?: LatencyEmulation;
  /** The process logic this node runs, unchanged: one replica, or the clients of a client host. */
  readonly processes: readonly ProcessLogic[];
  /** The group of a replica process (for `member` and `deliver` events); undefined for a client. */
  readonly groupOf: (process: ProcessId) => GroupId | undefined;
  /**
   * Measure how late the event loop runs over the workload window
   * (`HostStats.workloadSchedulingDelayMs`): a sampling timer, so only for measured runs.
   */
  readonly measureSchedulingDelay?: boolean;
  /** Client workloads (a client host); their logic must be among `processes`. */
  readonly workloads?: readonly ClientWorkload[];
  /** Seed of the clients' random streams (destinations, open-loop arrivals), as in the simulator. */
  readonly seed: number;
  readonly clock: Clock;
  readonly trace: TraceSink | null;
  /** Also write a `send` event per message. */
  readonly recordSends: boolean;
  /** Period of `tick` for processes that want ticks. */
  readonly tickMs: number;
  readonly log: (line: string) => void;
  /** An error the node cannot go on after (a send queue over its hard bound); the caller exits. */
  readonly onFatal: (error: Error) => void;
  /** Every client finished its workload (all its multicasts started and completed or skipped). */
  readonly onWorkloadDone?: () => void;
  /**
   * A replica node's journal (a data directory): what the replica decided (or every input it
   * takes) is recorded, and the step's outputs leave once that is durable; `start` first replays
   * what the journal holds from before a restart (after its checkpoint, restored by the caller).
   */
  readonly journal?: ReplicaJournal;
  /** What the replica's earlier incarnations traced (with `journal`): replay does not trace it again. */
  readonly traced?: TracedOutputs;
  /** The replica restarted after an amnesia crash: `start` traces the fault (a new incarnation). */
  readonly amnesia?: boolean;
}

export interface HostStats {
  /** Messages handed to this node's processes. */
  messageEvents: number;
  ticks: number;
  protocolMessages: number;
  protocolBytes: number;
  clientMessages: number;
  clientBytes: number;
  sendsByLabel: Record<string, number>;
  deliveries: number;
  multicasts: number;
  completed: number;
  /** Open-loop arrivals skipped: `outstandingMax` in flight, or the transport congested. */
  arrivalsSkipped: number;
  /** Times the logic threw (a bug in it; the input is dropped and the node goes on). */
  logicErrors: number;
  /** Times new work was held back because a send queue was congested. */
  congestionEpisodes: number;
  /**
   * CPU time of the OS process (user and system) from the host's start to its stop, in ms (module
   * loading excluded; connecting, waiting for the other nodes and the drain and stop tail included).
   */
  cpuUserMs: number;
  cpuSystemMs: number;
  /**
   * CPU time of the OS process (user and system) in the node's workload window, in ms: from its
   * first workload event — a multicast started or completed (a client host), a delivery (a
   * replica) — to the first check after its last one (checks at every tick, or every
   * `WORKLOAD_CPU_SAMPLE_MS` on a node that does not tick, and at stop). Start-up and the drain and stop tail are left out; so is a replica's work on the
   * first multicasts before its first delivery (a pipeline's worth). 0 without workload events.
   */
  workloadCpuUserMs: number;
  workloadCpuSystemMs: number;
  /**
   * How late this process ran a ready timer in its workload window (its event loop's delay beyond
   * the sampling period, mean and 90th percentile, in ms): the machine's scheduler and its own
   * work together. A crowded machine delays a busy node more than an idle observer.
   */
  workloadSchedulingDelayMs?: { readonly mean: number; readonly p90: number };
  transport: TransportStats;
  /** Byzantine mode: the node's Ed25519 work (added by the node when it stops). */
  signatures?: SignatureStats;
  /** A replica that checkpoints: its state when it stopped, and what it fetched from its group. */
  replicaState?: ReplicaStateStats;
  /** A replica with a journal: the hard state it wrote there (this incarnation), in bytes and entries. */
  journal?: { readonly hardStateBytes: number; readonly hardStateEntries: number };
}

/** A replica's checkpoints and state transfers, as its node saw them when it stopped. */
export interface ReplicaStateStats {
  /** Partition bytes it fetched from its group (this incarnation). */
  readonly transferredBytes: number;
  /** Its last install of a checkpoint fetched from its group: the positions it skipped. */
  readonly lastInstall?: { readonly from: number; readonly to: number };
  /** Its latest checkpoint: the log position and the root of its state there. */
  readonly checkpoint?: { readonly position: number; readonly root: string };
  /**
   * When it stopped: the log position it executed last and the root of its whole state then
   * (as a checkpoint there would have it), so replicas that executed the same log compare equal
   * even between checkpoints.
   */
  readonly now?: { readonly position: number; readonly root: string };
  /** Replicas it caught serving a partition that did not match the trusted manifest. */
  readonly faultyServers: readonly string[];
}

/** What a replica (`@amcast/group`'s Replica) tells of its state, read without importing it. */
interface CheckpointingLogic {
  readonly transferredBytes: number;
  readonly lastInstall: { readonly from: number; readonly to: number } | undefined;
  readonly latestCheckpoint:
    | { readonly position: number; readonly state: { readonly manifest: { readonly root: string } } }
    | undefined;
  readonly faultyServers: ReadonlySet<string>;
  stateNow(): { readonly position: number; readonly root: string } | undefined;
}

function replicaStateOf(logic: ProcessLogic): ReplicaStateStats | undefined {
  const replica = logic as Partial<CheckpointingLogic>;
  if (typeof replica.transferredBytes !== "number") return undefined;
  const checkpoint = replica.latestCheckpoint;
  const now = replica.stateNow?.();
  return {
    transferredBytes: replica.transferredBytes,
    faultyServers: [...(replica.faultyServers ?? [])],
    ...(replica.lastInstall === undefined ? {} : { lastInstall: replica.lastInstall }),
    ...(checkpoint === undefined
      ? {}
      : { checkpoint: { position: checkpoint.position, root: checkpoint.state.manifest.root } }),
    ...(now === undefined ? {} : { now }),
  };
}

interface ClientSlot {
  readonly workload: ClientWorkload;
  readonly prng: Prng;
  readonly inFlight: Set<string>;
  started: number;
  /** The multicasts it starts in all (arrivals included): its workload's count, less once finished early. */
  limit: number;
  done: boolean;
  /** Open loop: when the next arrival is due (clock ms). */
  nextArrivalMs: number;
}

/** Log lines about logic errors before they are only counted. */
const LOGIC_ERRORS_LOGGED_MAX = 10;
/** The period of the timer that measures how late this process runs (`workloadSchedulingDelayMs`). */
const SCHEDULING_SAMPLE_MS = 5;

/** How often a host that does not tick checks whether its workload window goes on (see `HostStats.workloadCpuUserMs`). */
const WORKLOAD_CPU_SAMPLE_MS = 10;

/**
 * Runs process logic on a real node: feeds it what arrives on the node's links, a tick every
 * `tickMs` when it wants ticks, and carries out its outputs — sends through the transport,
 * deliveries and completions as trace events. A client host also drives its clients'
 * workloads, closed or open loop, as the simulator does. The logic is the same object the
 * simulator runs; nothing here knows a protocol.
 */
export class NodeHost {
  readonly transport: Transport;
  readonly stats: HostStats;
  /** The multicasts this host's clients started to each group (the runner's partition gate reads them). */
  readonly multicastsTo = new Map<GroupId, number>();
  private readonly options: NodeHostOptions;
  private readonly logicById = new Map<ProcessId, ProcessLogic>();
  /** The `"group":...,"proc":...` part of each replica's deliver lines, built once. */
  private readonly deliverSuffix = new Map<ProcessId, string>();
  private readonly clients = new Map<ProcessId, ClientSlot>();
  private readonly sendsByLabel = new Map<string, number>();
  private tickTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private arrivals: BinaryHeap<ClientSlot> | undefined;
  private arrivalTimer: NodeJS.Timeout | undefined;
  private workloadStartMs = 0;
  /** Foreground clients done, out of `foregroundClients` (background ones never count). */
  private clientsDone = 0;
  private foregroundClients = 0;
  private workloadDone = false;
  private congested = false;
  /** Multicasts started through `multicast` (the public API), by id: who to tell when they complete. */
  private readonly calls = new Map<MessageId, (results: Readonly<Record<GroupId, unknown>>) => void>();
  /** Closed-loop lanes waiting for congestion to clear. */
  private deferredWakes: ClientSlot[] = [];
  /** Multicasts started in this turn by clients that sign their requests together, not sent yet. */
  private startedThisTurn: { logic: ClientLogic; outputs: readonly ProcessOutput[] }[] = [];
  private stopped = false;
  /** The process's CPU time when the host started (module loading and start-up are not the host's). */
  private cpuAtStart: NodeJS.CpuUsage = { user: 0, system: 0 };
  /** The process's CPU time at the node's first workload event, and after its last one seen by a check. */
  private workloadCpuFirst: NodeJS.CpuUsage | undefined;
  /** Samples how late the event loop runs, from the first workload event to the stop. */
  private readonly schedulingDelay = monitorEventLoopDelay({ resolution: SCHEDULING_SAMPLE_MS });
  private workloadCpuLast: NodeJS.CpuUsage | undefined;
  /** Workload events when `workloadCpuLast` was read. */
  private workloadEventsSampled = 0;
  private workloadCpuTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: NodeHostOptions) {
    this.options = options;
    this.transport = new Transport({
      self: options.self,
      table: options.table,
      keyring: options.keyring,
      listen: options.listen,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.latency === undefined ? {} : { latency: options.latency }),
      log: options.log,
      // Send stamps on the trace clock: under the cluster runner every node counts from the same
      // instant, so a receiver's measure of a message's delay is exact.
      stampMs: () => options.clock.now(),
      onMessage: (from, to, body, delayMs) => this.onMessage(from, to, body, delayMs),
      onCongestion: (congested) => this.onCongestion(congested),
      onLinkFailed: (peer, reason) => options.onFatal(new Error(`the link to ${peer} failed: ${reason}`)),
      onFatal: options.onFatal,
    });
    this.stats = {
      messageEvents: 0,
      ticks: 0,
      protocolMessages: 0,
      protocolBytes: 0,
      clientMessages: 0,
      clientBytes: 0,
      sendsByLabel: {},
      deliveries: 0,
      multicasts: 0,
      completed: 0,
      arrivalsSkipped: 0,
      logicErrors: 0,
      congestionEpisodes: 0,
      cpuUserMs: 0,
      cpuSystemMs: 0,
      workloadCpuUserMs: 0,
      workloadCpuSystemMs: 0,
      transport: this.transport.stats,
    };
    for (const logic of options.processes) {
      this.logicById.set(logic.id, logic);
      const group = options.groupOf(logic.id);
      if (group !== undefined)
        this.deliverSuffix.set(logic.id, `"group":${jsonString(group)},"proc":${jsonString(logic.id)}`);
    }
    if (options.journal !== undefined) {
      if (options.processes.length !== 1 || (options.workloads?.length ?? 0) > 0)
        throw new Error("a journal records the inputs of one replica process");
      // A replica (not one running a Byzantine strategy) shows its hard state and checkpoints.
      const replica = options.processes[0] as Partial<JournalledReplica> | undefined;
      options.journal.bind(
        (logic, outputs) => this.apply(logic, outputs),
        options.onFatal,
        typeof replica?.hardState === "function" ? (replica as JournalledReplica) : undefined,
        // What the positions a checkpoint covers delivered must be in the trace before the
        // journal drops them (a restart does not execute them again).
        () => options.trace?.flush(),
      );
    }
    const root = new Prng(options.seed);
    for (const workload of options.workloads ?? []) {
      const id = workload.logic.id;
      if (this.logicById.get(id) !== workload.logic)
        throw new Error(`client ${id} is not among the node's processes`);
      if (workload.background !== true) this.foregroundClients += 1;
      this.clients.set(id, {
        workload,
        prng: root.derive(`client/${id}`),
        inFlight: new Set(),
        started: 0,
        limit: workload.loop.multicasts,
        done: false,
        nextArrivalMs: 0,
      });
    }
  }

  /**
   * Replays the journal (a restarted replica), then listens (replicas), writes `member` events
   * and starts ticking; resolves with the port (0 if none).
   */
  async start(): Promise<number> {
    this.cpuAtStart = process.cpuUsage();
    const t = this.stamp();
    for (const logic of this.options.processes) {
      const group = this.options.groupOf(logic.id);
      if (group !== undefined)
        this.options.trace?.write(
          `{"ev":"member","group":${jsonString(group)},"proc":${jsonString(logic.id)},"t":${t}}`,
        );
      if (this.options.amnesia === true)
        this.options.trace?.write(`{"ev":"fault","proc":${jsonString(logic.id)},"kind":"amnesia","t":${t}}`);
    }
    // On disk before the new incarnation takes any input: killed again before the trace's next
    // flush, a replica would otherwise come back from its journal with its deliveries traced as
    // the old incarnation's (the journal re-traces deliveries, not this line).
    if (this.options.amnesia === true) this.options.trace?.flush();
    const journal = this.options.journal;
    if (journal !== undefined && journal.recoveredInputs > 0) this.replayJournal(journal);
    // Rebuilt from its journal: the replay's sends did not go out again, and a group with no work
    // left would never tell the replica it is behind. It asks (PBFT's status question).
    if (journal?.restarted === true)
      for (const logic of this.options.processes) (logic as Partial<{ restarted(): void }>).restarted?.();
    const port = await this.transport.start();
    if (this.options.processes.some((logic) => logic.wantsTicks)) {
      this.tickTimer = setInterval(() => this.tick(), this.options.tickMs);
    } else {
      // Reading the CPU costs a system call: the end of the workload window is checked for
      // periodically, at each tick (below) or, on a node that does not tick, by its own timer.
      this.workloadCpuTimer = setInterval(() => this.sampleWorkloadCpu(), WORKLOAD_CPU_SAMPLE_MS);
      this.workloadCpuTimer.unref();
    }
    return port;
  }

  /** Peers' addresses: the transport dials the links this node owns. */
  connect(addresses: ReadonlyMap<NodeId, NodeAddress>): void {
    this.transport.setAddresses(addresses);
  }

  /** Starts every client's workload now (client hosts); `onWorkloadDone` follows when all are done. */
  startWorkload(): void {
    this.workloadStartMs = this.now();
    const open: ClientSlot[] = [];
    for (const slot of this.clients.values()) {
      const { loop, startMs } = slot.workload;
      if (loop.multicasts === 0) {
        this.maybeClientDone(slot);
        continue;
      }
      if (loop.kind === "closed") {
        for (let lane = 0; lane < loop.outstanding; lane += 1) this.later(startMs, () => this.wake(slot));
      } else {
        slot.nextArrivalMs = this.workloadStartMs + startMs;
        open.push(slot);
      }
    }
    if (open.length > 0) {
      const heap = new BinaryHeap<ClientSlot>(
        (a, b) =>
          a.nextArrivalMs < b.nextArrivalMs ||
          (a.nextArrivalMs === b.nextArrivalMs && a.workload.logic.id < b.workload.logic.id),
      );
      for (const slot of open) heap.push(slot);
      this.arrivals = heap;
      this.armArrivals();
    }
    // Only background clients here (or none left to run): done already.
    if (this.clients.size > 0) this.maybeWorkloadDone();
  }

  /**
   * Starts a multicast of `client` (a client logic this node hosts, outside any workload) now:
   * the public API's path. `onComplete` gets what every destination group answered. Returns the
   * multicast's id. Throws what the client logic throws (an unknown group, too many in flight).
   */
  multicast(
    client: ProcessId,
    dst: DestinationSet,
    payload: unknown,
    payloadBytes: number,
    onComplete: (results: Readonly<Record<GroupId, unknown>>) => void,
  ): MessageId {
    const logic = this.logicById.get(client) as ClientLogic | undefined;
    if (logic === undefined || typeof logic.multicast !== "function")
      throw new Error(`${client} is not a client hosted by ${this.options.self}`);
    if (this.stopped) throw new Error(`${this.options.self} is stopped`);
    const { message, outputs } = logic.multicast(dst, payloadBytes, payload);
    this.calls.set(message.id, onComplete);
    this.workloadEvent();
    this.countMulticast(message.dst);
    this.options.trace?.write(
      `{"ev":"multicast","id":${jsonString(message.id)},"client":${jsonString(client)},"dst":${jsonIds(message.dst)},"t":${this.stamp()}}`,
    );
    this.apply(logic, outputs);
    return message.id;
  }

  /** Forgets a multicast started with `multicast` (its caller gave up waiting). */
  forget(id: MessageId): void {
    this.calls.delete(id);
  }

  /** True when the node's processes have nothing left to do and its links nothing to deliver. */
  quiet(): boolean {
    if (this.transport.queuedMessages > 0 || this.options.journal?.holding === true) return false;
    for (const logic of this.options.processes) if (logic.idle !== undefined && !logic.idle()) return false;
    return true;
  }

  /**
   * A replica that keeps checkpointed state: the log position of its latest checkpoint (0 before
   * its first). Undefined for any other node.
   */
  checkpointPosition(): number | undefined {
    for (const logic of this.options.processes) {
      const replica = logic as Partial<CheckpointingLogic>;
      if (typeof replica.transferredBytes === "number") return replica.latestCheckpoint?.position ?? 0;
    }
    return undefined;
  }

  /** Stops ticking and the workload, writes out the trace, closes every connection. */
  async stop(): Promise<HostStats> {
    if (!this.stopped) {
      this.stopped = true;
      if (this.workloadCpuTimer !== undefined) clearInterval(this.workloadCpuTimer);
      this.sampleWorkloadCpu();
      this.schedulingDelay.disable();
      const { count } = this.schedulingDelay;
      // The histogram holds whole periods: what is late is beyond the period.
      const late = (ns: number): number => Math.max(0, ns / 1e6 - SCHEDULING_SAMPLE_MS);
      if (count > 0)
        this.stats.workloadSchedulingDelayMs = {
          mean: late(this.schedulingDelay.mean),
          p90: late(this.schedulingDelay.percentile(90)),
        };
      if (this.tickTimer !== undefined) clearInterval(this.tickTimer);
      if (this.arrivalTimer !== undefined) clearTimeout(this.arrivalTimer);
      for (const timer of this.timers) clearTimeout(timer);
      this.timers.clear();
      // What waits for the disk is released before the links close (its deliveries traced).
      await this.options.journal?.drain();
      await this.transport.close();
      await this.options.journal?.close();
      this.options.trace?.close();
    }
    this.stats.sendsByLabel = Object.fromEntries(this.sendsByLabel);
    const journal = this.options.journal;
    if (journal !== undefined)
      this.stats.journal = {
        hardStateBytes: journal.hardStateBytes,
        hardStateEntries: journal.hardStateEntries,
      };
    for (const logic of this.options.processes) {
      const state = replicaStateOf(logic);
      if (state !== undefined) this.stats.replicaState = state;
    }
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.stats.cpuUserMs = cpu.user / 1000;
    this.stats.cpuSystemMs = cpu.system / 1000;
    if (this.workloadCpuFirst !== undefined && this.workloadCpuLast !== undefined) {
      this.stats.workloadCpuUserMs = (this.workloadCpuLast.user - this.workloadCpuFirst.user) / 1000;
      this.stats.workloadCpuSystemMs = (this.workloadCpuLast.system - this.workloadCpuFirst.system) / 1000;
    }
    return this.stats;
  }

  /** Multicasts started, completions and deliveries so far (see `HostStats.workloadCpuUserMs`). */
  private workloadEvents(): number {
    return this.stats.multicasts + this.stats.completed + this.stats.deliveries;
  }

  /** Opens the workload window at the node's first workload event (call before counting it). */
  private workloadEvent(): void {
    if (this.workloadCpuFirst === undefined) {
      this.workloadCpuFirst = process.cpuUsage();
      if (this.options.measureSchedulingDelay === true) this.schedulingDelay.enable();
    }
  }

  /** Moves the end of the workload window here if there were workload events since the last check. */
  private sampleWorkloadCpu(): void {
    const events = this.workloadEvents();
    if (events === this.workloadEventsSampled) return;
    this.workloadEventsSampled = events;
    this.workloadCpuLast = process.cpuUsage();
  }

  private now(): number {
    // Microseconds are enough and keep the trace short.
    return Math.round(this.options.clock.now() * 1000) / 1000;
  }

  /** The clock for a trace line (to the microsecond, formatted without float printing). */
  private stamp(): string {
    return formatMs(this.options.clock.now());
  }

  private later(delayMs: number, run: () => void): void {
    if (delayMs <= 0) {
      run();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.stopped) run();
    }, delayMs);
    this.timers.add(timer);
  }

  private onMessage(from: ProcessId, to: ProcessId, body: unknown, delayMs: number): void {
    if (this.stopped) return;
    const logic = this.logicById.get(to);
    if (logic === undefined) return;
    this.stats.messageEvents += 1;
    const journal = this.options.journal;
    journal?.recordReceive(from, body, delayMs);
    logic.observeDelay?.(from, delayMs);
    let outputs: readonly ProcessOutput[];
    try {
      outputs = logic.receive(from, body);
    } catch (error) {
      this.logicError(logic.id, `a message from ${from}`, error);
      return;
    }
    if (journal === undefined) this.apply(logic, outputs);
    else journal.hold(logic, outputs);
  }

  private tick(): void {
    if (this.stopped) return;
    this.sampleWorkloadCpu();
    this.stats.ticks += 1;
    const journal = this.options.journal;
    journal?.recordTick();
    for (const logic of this.options.processes) {
      if (!logic.wantsTicks) continue;
      let outputs: readonly ProcessOutput[];
      try {
        outputs = logic.tick();
      } catch (error) {
        this.logicError(logic.id, "a tick", error);
        continue;
      }
      if (journal === undefined) this.apply(logic, outputs);
      else journal.hold(logic, outputs);
    }
  }

  /**
   * A restarted replica: feeds its fresh logic the journal's inputs. Sends are not made again
   * (they left before the restart, or were lost with it, as on a network); deliveries and views
   * the trace does not hold yet (the kill lost their lines, or cut the process before it traced
   * them) are traced now, so the trace shows each once.
   */
  private replayJournal(journal: ReplicaJournal): ReplayStats {
    const logic = this.options.processes[0] as ProcessLogic;
    const traced = this.options.traced ?? { delivered: new Set<string>(), views: new Set<string>() };
    let traceLater = 0;
    const stats = journal.replay(
      logic,
      (outputs) => {
        for (const output of outputs) {
          if (output.kind === "deliver" && !traced.delivered.has(output.message.id)) {
            traceLater += 1;
            this.apply(logic, [output]);
          } else if (output.kind === "view" && !traced.views.has(`${output.group}/${output.view}`))
            this.apply(logic, [output]);
        }
      },
      (input, error) => this.logicError(logic.id, `${input} (replayed)`, error),
    );
    this.options.log(
      `replayed ${stats.kind === "decided" ? `${stats.inputs} decided position(s)` : `${stats.inputs} input(s) (${stats.ticks} ticks)`} from ${journal.storage.dataDir} in ${Math.round(stats.ms)} ms` +
        `${stats.truncatedBytes > 0 ? `, after cutting a torn tail of ${stats.truncatedBytes} bytes` : ""}; ${traceLater} deliveries traced now`,
    );
    return stats;
  }

  private logicError(id: ProcessId, input: string, error: unknown): void {
    this.stats.logicErrors += 1;
    if (this.stats.logicErrors <= LOGIC_ERRORS_LOGGED_MAX)
      this.options.log(
        `the logic of ${id} threw on ${input} (input dropped): ${(error as Error).stack ?? String(error)}`,
      );
  }

  private apply(logic: ProcessLogic, outputs: readonly ProcessOutput[]): void {
    // A client that signs its requests together gets them signed before any of its sends leaves
    // (only then: a turn's answers complete multicasts whose new requests wait for its end).
    const sealable = (logic as Partial<ClientLogic>).sealRequests !== undefined;
    if (sealable && outputs.some((output) => output.kind === "send")) (logic as ClientLogic).sealRequests?.();
    const trace = this.options.trace;
    for (const output of outputs) {
      switch (output.kind) {
        case "send": {
          if (output.protocol) {
            this.stats.protocolMessages += 1;
            this.stats.protocolBytes += output.bytes;
          } else {
            this.stats.clientMessages += 1;
            this.stats.clientBytes += output.bytes;
          }
          this.sendsByLabel.set(output.label, (this.sendsByLabel.get(output.label) ?? 0) + 1);
          if (this.options.recordSends && trace !== null) {
            const id = output.id === undefined ? "" : `,"id":${jsonString(output.id)}`;
            const ids = output.ids === undefined ? "" : `,"ids":${jsonIds(output.ids)}`;
            trace.write(
              `{"ev":"send","from":${jsonString(logic.id)},"to":${jsonString(output.to)},"kind":${jsonString(output.label)}${id}${ids},"bytes":${output.bytes},"t":${this.stamp()}}`,
            );
          }
          try {
            this.transport.send(logic.id, output.to, output.body);
          } catch (error) {
            if (error instanceof QueueOverflowError) this.options.onFatal(error);
            else this.logicError(logic.id, `its send to ${output.to}`, error);
          }
          break;
        }
        case "deliver": {
          this.workloadEvent();
          this.stats.deliveries += 1;
          const suffix =
            this.deliverSuffix.get(logic.id) ??
            `"group":${jsonString(output.group)},"proc":${jsonString(logic.id)}`;
          trace?.write(
            `{"ev":"deliver","id":${jsonString(output.message.id)},${suffix},"t":${this.stamp()}}`,
          );
          break;
        }
        case "complete":
          this.onComplete(logic.id, output.id, output.results, output.delays);
          break;
        case "view":
          trace?.write(
            `{"ev":"view","group":${jsonString(output.group)},"view":${output.view},"t":${this.stamp()}}`,
          );
          break;
        case "install":
          trace?.write(`{"ev":"fault","proc":${jsonString(logic.id)},"kind":"install","t":${this.stamp()}}`);
          break;
      }
    }
  }

  // --- client workloads ----------------------------------------------------------------------

  private onCongestion(congested: boolean): void {
    this.congested = congested;
    if (congested) this.stats.congestionEpisodes += 1;
    // A replica holds its client hosts' new requests while its own queues drain; protocol
    // traffic between replicas keeps flowing, so in-flight multicasts can finish.
    if (this.clients.size === 0) this.transport.holdInputFrom("clients", congested);
    if (!congested) {
      const waiting = this.deferredWakes;
      this.deferredWakes = [];
      for (const slot of waiting) this.wake(slot);
    }
  }

  /** A closed-loop lane of `slot` is free: start its next multicast, unless the workload is done. */
  private wake(slot: ClientSlot): void {
    if (this.stopped || slot.started >= slot.limit) return;
    // A background client stops starting multicasts once the host's workload is done.
    if (slot.workload.background === true && this.foregroundDone()) return;
    if (this.congested) {
      this.deferredWakes.push(slot);
      return;
    }
    this.startMulticast(slot);
  }

  private countMulticast(dst: DestinationSet): void {
    this.stats.multicasts += 1;
    for (const group of dst) this.multicastsTo.set(group, (this.multicastsTo.get(group) ?? 0) + 1);
  }

  private startMulticast(slot: ClientSlot): void {
    const { logic, payloadBytes, destinations } = slot.workload;
    slot.started += 1;
    // Time into the workload, as the simulator counts it (a shift's atMs is measured from there).
    const dst = destinations(slot.prng, this.now() - this.workloadStartMs);
    let started: ReturnType<ClientLogic["multicast"]>;
    try {
      started = logic.multicast(dst, payloadBytes, slot.workload.payload?.());
    } catch (error) {
      this.logicError(logic.id, "a multicast", error);
      this.maybeClientDone(slot);
      return;
    }
    const { message, outputs } = started;
    slot.inFlight.add(message.id);
    this.workloadEvent();
    this.countMulticast(message.dst);
    this.options.trace?.write(
      `{"ev":"multicast","id":${jsonString(message.id)},"client":${jsonString(logic.id)},"dst":${jsonIds(message.dst)},"t":${this.stamp()}}`,
    );
    if (logic.sealRequests === undefined) {
      this.apply(logic, outputs);
      return;
    }
    // The multicasts a turn starts (one per completion in a frame of answers) leave together at
    // its end, so their requests share one signature (see ClientSpec.signsTogether).
    this.startedThisTurn.push({ logic, outputs });
    if (this.startedThisTurn.length === 1) queueMicrotask(() => this.sendStartedThisTurn());
  }

  /** The requests of the multicasts this turn started: signed together, then sent in order. */
  private sendStartedThisTurn(): void {
    const started = this.startedThisTurn;
    this.startedThisTurn = [];
    if (this.stopped) return;
    for (const { logic } of started) logic.sealRequests?.();
    for (const { logic, outputs } of started) this.apply(logic, outputs);
  }

  private onComplete(
    client: ProcessId,
    id: string,
    results: Readonly<Record<GroupId, unknown>> | undefined,
    delays: readonly ObservedDelay[] | undefined,
  ): void {
    const call = this.calls.get(id);
    if (call !== undefined) {
      this.calls.delete(id);
      this.workloadEvent();
      this.stats.completed += 1;
      this.options.trace?.write(
        `{"ev":"complete","id":${jsonString(id)},"client":${jsonString(client)},"t":${this.stamp()}}`,
      );
      try {
        call(results ?? {});
      } catch (error) {
        this.logicError(client, `the completion of ${id}`, error);
      }
      return;
    }
    const slot = this.clients.get(client);
    if (slot === undefined || !slot.inFlight.delete(id)) {
      this.options.log(`${client} completed ${id}, which is not in flight`);
      return;
    }
    this.workloadEvent();
    this.stats.completed += 1;
    this.options.trace?.write(
      `{"ev":"complete","id":${jsonString(id)},"client":${jsonString(client)},"t":${this.stamp()}}`,
    );
    try {
      slot.workload.onComplete?.(id, results ?? {}, this.options.clock.now(), delays ?? []);
    } catch (error) {
      this.logicError(client, `the completion of ${id}`, error);
    }
    const loop = slot.workload.loop;
    if (loop.kind === "closed" && slot.started < slot.limit) this.later(loop.thinkMs, () => this.wake(slot));
    this.maybeClientDone(slot);
  }

  private maybeClientDone(slot: ClientSlot): void {
    if (slot.workload.background === true) this.maybeWorkloadDone();
    else if (!slot.done && slot.started >= slot.limit && slot.inFlight.size === 0) this.clientDone(slot);
  }

  private clientDone(slot: ClientSlot): void {
    slot.done = true;
    this.clientsDone += 1;
    this.maybeWorkloadDone();
  }

  /**
   * Ends the workload early (the runner's `finish`): no client starts another multicast; each is
   * done once those in flight complete.
   */
  finishWorkload(): void {
    for (const slot of this.clients.values()) {
      slot.limit = Math.min(slot.limit, slot.started);
      this.maybeClientDone(slot);
    }
  }

  /** Every foreground client is done and no background client has a multicast in flight. */
  private foregroundDone(): boolean {
    return this.clientsDone === this.foregroundClients;
  }

  private maybeWorkloadDone(): void {
    if (this.workloadDone || !this.foregroundDone()) return;
    for (const slot of this.clients.values())
      if (slot.workload.background === true && slot.inFlight.size > 0) return;
    this.workloadDone = true;
    this.options.onWorkloadDone?.();
  }

  /** Open loop: one timer for the earliest arrival of any client; late arrivals catch up at once. */
  private armArrivals(): void {
    const heap = this.arrivals;
    const head = heap?.peek();
    if (heap === undefined || head === undefined || this.stopped) return;
    const delayMs = Math.max(0, head.nextArrivalMs - this.options.clock.now());
    this.arrivalTimer = setTimeout(() => {
      this.arrivalTimer = undefined;
      const nowMs = this.options.clock.now();
      for (;;) {
        const slot = heap.peek();
        if (slot === undefined || slot.nextArrivalMs > nowMs || this.stopped) break;
        heap.pop();
        this.arrive(slot);
        if (slot.started < slot.limit) heap.push(slot);
      }
      this.armArrivals();
    }, delayMs);
  }

  private arrive(slot: ClientSlot): void {
    const loop = slot.workload.loop;
    if (loop.kind !== "open") return;
    // The next arrival first, so a skipped one does not stop the process; drawn in the same
    // order as the simulator draws it.
    if (slot.started + 1 < loop.multicasts)
      slot.nextArrivalMs += slot.prng.exponential(1000 / loop.ratePerSec);
    if (slot.inFlight.size >= loop.outstandingMax || this.congested) {
      slot.started += 1;
      this.stats.arrivalsSkipped += 1;
      this.maybeClientDone(slot);
      return;
    }
    this.startMulticast(slot);
  }
}
