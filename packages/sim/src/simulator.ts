import type {
  GroupId,
  Multicast,
  ObservedDelay,
  ProcessId,
  ProcessLogic,
  ProcessOutput,
  ProcessOutputSink,
  TraceSink,
} from "@amcast/core";
import { assert, bothSinks, Prng, traceEventSink } from "@amcast/core";
import type { SimClient, SimOptions, SimResult, StopReason } from "./options.js";

/** What a queued event does. Small integers keep the hot loop's switch cheap. */
const EventType = {
  /** A message reaches the end of a link. */
  Arrival: 0,
  /** A busy process finishes serving its current input. */
  ServiceDone: 1,
  /** A process's periodic tick. */
  Tick: 2,
  /** A client starts its next multicast (closed-loop think time over, or an open-loop arrival). */
  ClientWake: 3,
  Crash: 4,
  Recover: 5,
  /** Not queued: an arrival waiting in a busy process's inbox. */
  Waiting: 6,
} as const;
type EventType = (typeof EventType)[keyof typeof EventType];

/**
 * One queued event. Every event has the same fields (one hidden class for V8); fields a type does
 * not use hold neutral values. Order: (time, sequence number), so equal times keep insertion order.
 * An arrival that starts a service is queued again as its own ServiceDone event (`requeue`), and
 * a tick as the next tick: one object per message, not two. A handled event is reused for a later
 * one (`Simulator.recycle`), so a run allocates about as many events as it ever holds at once.
 */
class SimEvent {
  constructor(
    public t: number,
    public seq: number,
    public type: EventType,
    /** The process the event happens at. */
    public at: number,
    /** The sending process of an arrival. */
    public from: number,
    public body: unknown,
    public bytes: number,
    /** Incarnation of `at` when a service started; a crash in between invalidates it. */
    public incarnation: number,
    /** An arrival's time on the network (ms), which the receiver may observe. */
    public transitMs: number,
  ) {}
}

/** Handled events kept for reuse; beyond this many they are left to the garbage collector. */
const SPARE_EVENTS_MAX = 65_536;

/**
 * The event queue: a 4-ary min-heap on (t, seq), because popping and pushing events is the
 * simulator's innermost loop. Four children per node halve the levels of a binary heap, and the
 * keys sit in typed arrays beside the events, so comparing them reads contiguous memory instead
 * of an event object each. Keys are unique, so the pop order is the same as any other heap's.
 */
class EventQueue {
  private events: SimEvent[] = [];
  private times = new Float64Array(1024);
  private seqs = new Float64Array(1024);
  private count = 0;

  get size(): number {
    return this.count;
  }

  peek(): SimEvent | undefined {
    return this.count === 0 ? undefined : this.events[0];
  }

  push(event: SimEvent): void {
    if (this.count === this.times.length) this.grow();
    const { events, times, seqs } = this;
    const t = event.t;
    const seq = event.seq;
    let index = this.count;
    this.count += 1;
    while (index > 0) {
      const parent = (index - 1) >> 2;
      const parentT = times[parent] as number;
      if (parentT < t || (parentT === t && (seqs[parent] as number) < seq)) break;
      events[index] = events[parent] as SimEvent;
      times[index] = parentT;
      seqs[index] = seqs[parent] as number;
      index = parent;
    }
    events[index] = event;
    times[index] = t;
    seqs[index] = seq;
  }

  /** Removes the first event (the loop handles an event in place, then removes or requeues it). */
  removeFirst(): void {
    this.count -= 1;
    const size = this.count;
    const last = this.events.pop() as SimEvent;
    if (size === 0) return;
    this.siftDown(last, this.times[size] as number, this.seqs[size] as number);
  }

  /**
   * The first event, given a later (t, seq): it sinks to its place. The same order as removing
   * it and pushing it again, with one pass instead of two (a service that starts on arrival is
   * requeued for a moment later, which usually keeps it near the top).
   */
  requeueFirst(event: SimEvent): void {
    this.siftDown(event, event.t, event.seq);
  }

  /** Puts `event` with key (t, seq) at the root's place and moves it down to where it belongs. */
  private siftDown(event: SimEvent, t: number, seq: number): void {
    const { events, times, seqs } = this;
    const size = this.count;
    let index = 0;
    for (;;) {
      const first = 4 * index + 1;
      if (first >= size) break;
      let child = first;
      let childT = times[first] as number;
      let childSeq = seqs[first] as number;
      const end = Math.min(first + 4, size);
      for (let other = first + 1; other < end; other += 1) {
        const otherT = times[other] as number;
        if (otherT < childT || (otherT === childT && (seqs[other] as number) < childSeq)) {
          child = other;
          childT = otherT;
          childSeq = seqs[other] as number;
        }
      }
      if (t < childT || (t === childT && seq < childSeq)) break;
      events[index] = events[child] as SimEvent;
      times[index] = childT;
      seqs[index] = childSeq;
      index = child;
    }
    events[index] = event;
    times[index] = t;
    seqs[index] = seq;
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2);
    times.set(this.times);
    this.times = times;
    const seqs = new Float64Array(this.seqs.length * 2);
    seqs.set(this.seqs);
    this.seqs = seqs;
  }
}

/** Per-link state, created on a link's first message. */
interface LinkState {
  readonly prng: Prng;
  /** Arrival time of the latest message: the FIFO floor for the next one. */
  lastArrivalMs: number;
}

/** Per-process state the simulator keeps (the process's own state lives in its logic). */
interface ProcessSlot {
  readonly id: ProcessId;
  /** Replaced when the process recovers from a crash that lost its memory (`amnesia`). */
  logic: ProcessLogic;
  readonly restart: (() => ProcessLogic) | undefined;
  readonly restartFromJournal: (() => ProcessLogic) | undefined;
  readonly region: number;
  /** Group of a replica; undefined for a client. */
  readonly group: string | undefined;
  readonly client: ClientSlot | undefined;
  /** Arrivals waiting while the process serves another one; FIFO. */
  readonly inbox: SimEvent[];
  inboxHead: number;
  /** Arrival being served (its ServiceDone event is queued). */
  serving: SimEvent | undefined;
  crashed: boolean;
  incarnation: number;
  /**
   * The destination and label of this process's last send, with the destination's index and the
   * label's counter: most sends repeat them (a client's requests, a replica's replies), and the
   * two map lookups are then skipped.
   */
  lastToId: ProcessId | undefined;
  lastTo: number;
  lastLabel: string | undefined;
  lastLabelCounter: { count: number };
  /** Carries out this process's outputs as it makes them (`ProcessLogic.receiveInto`). */
  sink: ProcessOutputSink;
}

interface ClientSlot {
  readonly spec: SimClient;
  readonly prng: Prng;
  started: number;
  completed: number;
  /** Multicasts started and not completed (the client logic keeps what they are). */
  inFlight: number;
}

/** Ticks a `leaderOf` crash keeps waiting for a leader to exist before it gives up. */
const LEADERLESS_ATTEMPTS_MAX = 1000;

/** Virtual time with nothing but ticks after which a run counts as stalled. */
const STALL_MS = 120_000;

/** The bound on a process's inbox; reaching it means the run is hopelessly overloaded. */
const INBOX_LIMIT = 10_000_000;

/**
 * A deterministic discrete-event simulator of processes on a WAN.
 *
 * - Virtual time in ms; one event queue ordered by (time, sequence number).
 * - A message's delay is the topology's one-way delay between the two regions plus seeded normal
 *   jitter (and optional extra reordering delay); links are FIFO, so a message never overtakes an
 *   earlier one on the same link.
 * - Each group process serves its inputs one at a time, each costing
 *   `perMessageUs + bytes * perByteNs`; a busy process queues what arrives. Clients are load
 *   generators and cost nothing.
 * - Every random draw comes from a sub-stream of the seed (per link, per client), so the same
 *   seed and options give the same trace, byte for byte.
 */
export class Simulator {
  private readonly options: SimOptions;
  private readonly queue = new EventQueue();
  /** Handled events, reused by `schedule`. */
  private readonly spareEvents: SimEvent[] = [];
  private readonly slots: ProcessSlot[] = [];
  private readonly indexById = new Map<ProcessId, number>();
  private readonly root: Prng;
  /** Link state by `from * processCount + to`, created on first use. */
  private readonly links: (LinkState | undefined)[];
  private readonly partitions: {
    readonly side: ReadonlySet<number>;
    readonly atMs: number;
    readonly healAtMs: number;
  }[];
  /** Which process a `leaderOf` crash took down, by fault index, so it recovers the same one. */
  private readonly crashedLeaderByFault = new Map<number, number>();
  /** Attempts of a `leaderOf` crash that found no leader, by fault index. */
  private readonly leaderlessAttempts = new Map<number, number>();
  private now = 0;
  private seq = 0;
  /** Queued events other than ticks: when none is left, only ticks could still happen. */
  private foregroundEvents = 0;
  private clientsDone = 0;
  private readonly clientCount: number;
  /** The process whose ticks trigger the end-of-run check (the first that ticks), or -1. */
  private watchIndex = -1;
  /** When every live process was first seen idle with the workload done, or undefined. */
  private settleStartMs: number | undefined;
  /** How long everything must stay idle: long enough for anything in flight to land. */
  private readonly settleMs: number;
  /** After the last fault heals (partition) or recovers (crash), the end-of-run check may pass. */
  private readonly faultsOverMs: number;
  /** Virtual time of the last non-tick event: a run with only ticks for this long has stalled. */
  private lastForegroundMs = 0;

  private messageEvents = 0;
  private queueEvents = 0;
  private protocolMessages = 0;
  private protocolBytes = 0;
  private clientMessages = 0;
  private clientBytes = 0;
  /** Sends per label; a counter object per label, so counting is one lookup. */
  private readonly sendCounts = new Map<string, { count: number }>();
  /** Where trace events go: the options' sink, and objects for `onEvent` if it is given. */
  private readonly trace: TraceSink;
  /** One-way delay between regions, `[from * regionCount + to]` (the topology's matrix, flat). */
  private readonly delayByRegions: Float64Array;
  private readonly regionCount: number;
  /** Service time of an input: `serviceFixedMs + bytes * perByteNs / 10^6` (the same arithmetic as ever). */
  private readonly serviceFixedMs: number;
  private readonly perByteNs: number;
  private lostToCrashes = 0;
  private multicasts = 0;
  private completed = 0;
  private deliveries = 0;
  private arrivalsSkipped = 0;
  private ran = false;

  constructor(options: SimOptions) {
    this.options = options;
    this.root = new Prng(options.seed);
    this.trace = traceSinkOf(options);
    this.regionCount = options.topology.regions.length;
    this.delayByRegions = new Float64Array(this.regionCount * this.regionCount);
    for (let from = 0; from < this.regionCount; from += 1)
      for (let to = 0; to < this.regionCount; to += 1)
        this.delayByRegions[from * this.regionCount + to] = options.topology.delayMs(from, to);
    this.serviceFixedMs = options.processing.perMessageUs / 1000;
    this.perByteNs = options.processing.perByteNs;
    assert(options.tickMs > 0, `tickMs ${options.tickMs} is not > 0`);
    assert(options.timeLimitMs > 0, `timeLimitMs ${options.timeLimitMs} is not > 0`);
    assert(options.network.jitterSdFraction >= 0, "jitter is not negative");
    for (const process of options.processes) {
      this.addSlot(
        process.logic,
        process.region,
        process.group,
        undefined,
        process.restart,
        process.restartFromJournal,
      );
    }
    for (const client of options.clients) {
      assert(client.loop.multicasts >= 0, "a client's multicast count is not negative");
      this.addSlot(client.logic, client.region, undefined, {
        spec: client,
        prng: this.root.derive(`client/${client.logic.id}`),
        started: 0,
        completed: 0,
        inFlight: 0,
      });
    }
    // Filled up front: an array written at scattered indices far past its end becomes a slow
    // dictionary.
    this.links = Array.from({ length: this.slots.length * this.slots.length }, () => undefined);
    this.clientCount = options.clients.filter((client) => client.background !== true).length;
    this.partitions = options.faults.partitions.map((partition) => {
      assert(partition.atMs < partition.healAtMs, "a partition heals after it starts");
      return {
        side: new Set(partition.side.map((id) => this.indexOf(id))),
        atMs: partition.atMs,
        healAtMs: partition.healAtMs,
      };
    });
    let maxDelayMs = 0;
    for (const from of this.slots)
      for (const to of this.slots)
        maxDelayMs = Math.max(maxDelayMs, options.topology.delayMs(from.region, to.region));
    const jitterMs = maxDelayMs * options.network.jitterSdFraction * 6;
    this.settleMs =
      2 * (maxDelayMs + jitterMs + (options.network.reorder?.extraDelayMsMax ?? 0)) + 5 * options.tickMs;
    let faultsOverMs = 0;
    for (const partition of options.faults.partitions)
      faultsOverMs = Math.max(faultsOverMs, partition.healAtMs);
    for (const crash of options.faults.crashes)
      faultsOverMs = Math.max(faultsOverMs, crash.recoverAtMs ?? crash.atMs);
    this.faultsOverMs = faultsOverMs;
  }

  /** Runs to the end (drained, stalled or time limit). A simulator runs once. */
  run(): SimResult {
    assert(!this.ran, "a simulator runs once");
    this.ran = true;
    this.start();
    const stoppedBy = this.loop();
    return {
      seed: this.options.seed,
      endMs: this.now,
      stoppedBy,
      messageEvents: this.messageEvents,
      queueEvents: this.queueEvents,
      protocolMessages: this.protocolMessages,
      protocolBytes: this.protocolBytes,
      clientMessages: this.clientMessages,
      clientBytes: this.clientBytes,
      sendsByLabel: new Map([...this.sendCounts].map(([label, counter]) => [label, counter.count])),
      lostToCrashes: this.lostToCrashes,
      multicasts: this.multicasts,
      completed: this.completed,
      deliveries: this.deliveries,
      arrivalsSkipped: this.arrivalsSkipped,
    };
  }

  private addSlot(
    logic: ProcessLogic,
    region: string,
    group: string | undefined,
    client: ClientSlot | undefined,
    restart?: () => ProcessLogic,
    restartFromJournal?: () => ProcessLogic,
  ): void {
    assert(!this.indexById.has(logic.id), () => `process ${logic.id} is listed twice`);
    const index = this.slots.length;
    this.indexById.set(logic.id, index);
    const slot: ProcessSlot = {
      id: logic.id,
      logic,
      restart,
      restartFromJournal,
      region: this.options.topology.regionIndex(region),
      group,
      client,
      inbox: [],
      inboxHead: 0,
      serving: undefined,
      crashed: false,
      incarnation: 0,
      lastToId: undefined,
      lastTo: -1,
      lastLabel: undefined,
      lastLabelCounter: { count: 0 },
      sink: IGNORE_OUTPUTS,
    };
    slot.sink = {
      send: (to, body, bytes, label, protocol, id, ids) =>
        this.send(index, slot, to, body, bytes, label, id, protocol, ids),
      deliver: (group, message) => this.deliver(slot, group, message),
      complete: (id, results, delays) => this.onComplete(index, slot, id, results, delays),
      output: (output) => this.applyOne(index, slot, output),
    };
    this.slots.push(slot);
  }

  private indexOf(id: ProcessId): number {
    const index = this.indexById.get(id);
    if (index === undefined) assert(false, `unknown process ${id}`);
    return index;
  }

  private start(): void {
    const { options } = this;
    for (const slot of this.slots) {
      if (slot.group !== undefined) this.trace.member(slot.group, slot.id, 0);
    }
    for (const proc of options.faults.byzantine ?? []) {
      this.indexOf(proc);
      this.trace.fault(proc, "byzantine", 0);
    }
    options.faults.crashes.forEach((crash, index) => {
      // A crash of a named process is bound now; a leader's is resolved when it strikes.
      const at = crash.proc === undefined ? -1 : this.indexOf(crash.proc);
      if (crash.kind === "amnesia")
        assert(
          crash.recoverAtMs !== undefined &&
            (crash.proc === undefined
              ? options.processes.every(
                  (process) => process.group !== crash.leaderOf || process.restart !== undefined,
                )
              : (this.slots[at] as ProcessSlot).restart !== undefined),
          () => `an amnesia crash (fault ${index}) needs recoverAtMs and a process that can restart empty`,
        );
      this.schedule(crash.atMs, EventType.Crash, at, index, undefined, 0);
      if (crash.recoverAtMs !== undefined) {
        assert(crash.recoverAtMs > crash.atMs, "a process recovers after it crashes");
        this.schedule(crash.recoverAtMs, EventType.Recover, at, index, undefined, 0);
      }
    });
    this.slots.forEach((slot, index) => {
      if (slot.logic.wantsTicks) {
        if (this.watchIndex < 0) this.watchIndex = index;
        this.schedule(options.tickMs, EventType.Tick, index, -1, undefined, 0);
      }
      const client = slot.client;
      if (client === undefined) return;
      if (client.spec.loop.multicasts === 0) {
        if (client.spec.background !== true) this.clientsDone += 1;
        return;
      }
      if (client.spec.loop.kind === "closed") {
        // Each of the `outstanding` slots starts its own chain of multicasts.
        for (let lane = 0; lane < client.spec.loop.outstanding; lane += 1) {
          this.schedule(client.spec.startMs, EventType.ClientWake, index, -1, undefined, 0);
        }
      } else {
        this.schedule(client.spec.startMs, EventType.ClientWake, index, -1, undefined, 0);
      }
    });
  }

  private loop(): StopReason {
    const { queue } = this;
    const timeLimitMs = this.options.timeLimitMs;
    for (;;) {
      // Without ticking processes, nothing in flight means nothing can happen any more; with them,
      // timers may still act, so the end waits for `settled` (checked on ticks).
      if (this.watchIndex < 0 && this.foregroundEvents === 0 && this.workloadDone()) return "drained";
      const event = queue.peek();
      if (event === undefined) return "stalled";
      if (this.foregroundEvents === 0 && (this.watchIndex < 0 || event.t - this.lastForegroundMs > STALL_MS))
        return "stalled";
      if (event.t > timeLimitMs) {
        this.now = timeLimitMs;
        return "time-limit";
      }
      // The event stays first in the queue while it is handled: everything it schedules comes
      // after it (a later time, or the same time and a later sequence number). Then it leaves,
      // unless it was requeued (`requeue` moved it to its new place).
      this.queueEvents += 1;
      this.now = event.t;
      const seq = event.seq;
      const type = event.type;
      if (type !== EventType.Tick) {
        this.foregroundEvents -= 1;
        this.lastForegroundMs = event.t;
      }
      this.handle(event);
      if (event.seq === seq) {
        queue.removeFirst();
        // Done with, unless it waits in an inbox.
        if (event.type !== EventType.Waiting) this.recycle(event);
      }
      if (type === EventType.Tick && event.at === this.watchIndex && this.settled()) return "drained";
    }
  }

  /**
   * The end of a run with ticking processes (their heartbeats never stop): the workload is done,
   * every fault is over, and every live process has been idle for `settleMs`, long enough for
   * anything that was in flight to arrive and be handled.
   */
  private settled(): boolean {
    const quiet =
      this.workloadDone() &&
      this.now >= this.faultsOverMs &&
      this.slots.every((slot) => slot.crashed || (slot.logic.idle?.() ?? true));
    if (!quiet) {
      this.settleStartMs = undefined;
      return false;
    }
    this.settleStartMs ??= this.now;
    return this.now - this.settleStartMs >= this.settleMs;
  }

  private handle(event: SimEvent): void {
    if (event.type === EventType.Crash || event.type === EventType.Recover) {
      this.onFault(event);
      return;
    }
    const slot = this.slots[event.at] as ProcessSlot;
    switch (event.type) {
      case EventType.Arrival:
        this.onArrival(event.at, slot, event);
        break;
      case EventType.ServiceDone:
        if (slot.crashed || event.incarnation !== slot.incarnation) return;
        this.finishService(event.at, slot);
        break;
      case EventType.Tick:
        if (!slot.crashed) this.apply(event.at, slot, slot.logic.tick());
        this.requeue(event, this.now + this.options.tickMs, EventType.Tick, 0);
        break;
      case EventType.ClientWake:
        this.onClientWake(event.at, slot);
        break;
      default:
        break;
    }
  }

  /** Crash and recover events; `event.from` is the index of the fault in the options. */
  private onFault(event: SimEvent): void {
    const fault = this.options.faults.crashes[event.from];
    assert(fault !== undefined, "a fault event names its fault");
    let at = event.at;
    if (at < 0) {
      at = this.crashedLeaderByFault.get(event.from) ?? -1;
      if (event.type === EventType.Crash) {
        const leader = fault.leaderOf === undefined ? undefined : this.options.leaderOf?.(fault.leaderOf);
        if (leader === undefined) {
          // No leader right now (an election is on): try again a tick later, for a while.
          const attempts = this.leaderlessAttempts.get(event.from) ?? 0;
          this.leaderlessAttempts.set(event.from, attempts + 1);
          if (attempts < LEADERLESS_ATTEMPTS_MAX)
            this.schedule(this.now + this.options.tickMs, EventType.Crash, -1, event.from, undefined, 0);
          return;
        }
        at = this.indexOf(leader);
        this.crashedLeaderByFault.set(event.from, at);
      }
      if (at < 0) return;
    }
    const slot = this.slots[at] as ProcessSlot;
    if (event.type === EventType.Crash) {
      this.crash(slot);
    } else if (slot.crashed) {
      slot.crashed = false;
      this.trace.fault(slot.id, "recover", this.now);
      if (fault.kind === "amnesia" && slot.restart !== undefined) {
        // Its memory is gone: it comes back as its disk left it.
        slot.logic = slot.restart();
        this.trace.fault(slot.id, "amnesia", this.now);
      } else if (fault.kind === "journal" && slot.restartFromJournal !== undefined) {
        // The same replica, rebuilt from its journal: nothing traced beyond its recovery.
        slot.logic = slot.restartFromJournal();
      } else if (slot.logic.recovered !== undefined) {
        this.apply(at, slot, slot.logic.recovered());
      }
    }
  }

  private onArrival(index: number, slot: ProcessSlot, input: SimEvent): void {
    if (slot.crashed) {
      this.lostToCrashes += 1;
      return;
    }
    const costMs = slot.client === undefined ? this.serviceMs(input.bytes) : 0;
    if (costMs === 0 && slot.serving === undefined) {
      this.serve(index, slot, input);
      return;
    }
    if (slot.serving === undefined) {
      slot.serving = input;
      this.requeue(input, this.now + costMs, EventType.ServiceDone, slot.incarnation);
    } else {
      if (!(slot.inbox.length - slot.inboxHead < INBOX_LIMIT))
        assert(false, `inbox of ${slot.id} exceeds ${INBOX_LIMIT}`);
      input.type = EventType.Waiting;
      slot.inbox.push(input);
    }
  }

  private finishService(index: number, slot: ProcessSlot): void {
    const input = slot.serving;
    if (input === undefined) assert(false, `${slot.id} finished serving nothing`);
    slot.serving = undefined;
    this.serve(index, slot, input);
    if (slot.crashed || slot.serving !== undefined) return;
    if (slot.inboxHead < slot.inbox.length) {
      const next = slot.inbox[slot.inboxHead] as SimEvent;
      slot.inboxHead += 1;
      if (slot.inboxHead === slot.inbox.length) {
        slot.inbox.length = 0;
        slot.inboxHead = 0;
      } else if (slot.inboxHead > 1024 && slot.inboxHead * 2 > slot.inbox.length) {
        // Compact now and then so a long-lived backlog does not keep its consumed prefix.
        slot.inbox.splice(0, slot.inboxHead);
        slot.inboxHead = 0;
      }
      slot.serving = next;
      this.requeue(next, this.now + this.serviceMs(next.bytes), EventType.ServiceDone, slot.incarnation);
    }
  }

  private serve(index: number, slot: ProcessSlot, input: SimEvent): void {
    this.messageEvents += 1;
    const fromSlot = this.slots[input.from] as ProcessSlot;
    const from = fromSlot.id;
    // Delays are kept per sending group: a client's messages say nothing a process keeps.
    const logic = slot.logic;
    if (fromSlot.client === undefined) logic.observeDelay?.(from, input.transitMs);
    if (logic.receiveInto !== undefined) logic.receiveInto(from, input.body, slot.sink);
    else this.apply(index, slot, logic.receive(from, input.body));
  }

  private serviceMs(bytes: number): number {
    return this.serviceFixedMs + (bytes * this.perByteNs) / 1_000_000;
  }

  private crash(slot: ProcessSlot): void {
    if (slot.crashed) return;
    slot.crashed = true;
    slot.incarnation += 1;
    // What was waiting or in service is lost with the process's volatile memory.
    this.lostToCrashes += slot.inbox.length - slot.inboxHead + (slot.serving === undefined ? 0 : 1);
    slot.inbox.length = 0;
    slot.inboxHead = 0;
    slot.serving = undefined;
    this.trace.fault(slot.id, "crash", this.now);
  }

  private onClientWake(index: number, slot: ProcessSlot): void {
    const client = slot.client;
    assert(client !== undefined, "only clients wake up");
    const loop = client.spec.loop;
    if (client.started >= loop.multicasts || slot.crashed) return;
    // A background client stops starting multicasts once the workload is done.
    if (client.spec.background === true && this.clientsDone === this.clientCount) return;
    if (loop.kind === "open") {
      // Next arrival first, so skipping this one does not stop the process.
      if (client.started + 1 < loop.multicasts) {
        const gapMs = client.prng.exponential(1000 / loop.ratePerSec);
        this.schedule(this.now + gapMs, EventType.ClientWake, index, -1, undefined, 0);
      }
      if (client.inFlight >= loop.outstandingMax) {
        this.arrivalsSkipped += 1;
        client.started += 1;
        this.maybeClientDone(client);
        return;
      }
    }
    client.started += 1;
    const dst = client.spec.destinations(client.prng, this.now);
    const { message, outputs } = client.spec.logic.multicast(
      dst,
      client.spec.payloadBytes,
      client.spec.payload?.(),
    );
    client.inFlight += 1;
    this.multicasts += 1;
    this.trace.multicast(message.id, slot.id, message.dst, this.now);
    this.apply(index, slot, outputs);
  }

  private onComplete(
    index: number,
    slot: ProcessSlot,
    id: string,
    results: Readonly<Record<GroupId, unknown>> | undefined,
    delays: readonly ObservedDelay[] | undefined,
  ): void {
    const client = slot.client;
    if (client === undefined) assert(false, `${slot.id} completed a multicast but is no client`);
    if (!(client.inFlight > 0)) assert(false, `${slot.id} completed ${id} with nothing in flight`);
    client.inFlight -= 1;
    client.completed += 1;
    this.completed += 1;
    this.trace.complete(id, slot.id, this.now);
    client.spec.onComplete?.(id, results ?? {}, this.now, delays ?? []);
    const loop = client.spec.loop;
    if (loop.kind === "closed" && client.started < loop.multicasts) {
      this.schedule(this.now + loop.thinkMs, EventType.ClientWake, index, -1, undefined, 0);
    }
    this.maybeClientDone(client);
  }

  private maybeClientDone(client: ClientSlot): void {
    if (client.spec.background === true) return;
    if (client.started === client.spec.loop.multicasts && client.inFlight === 0) this.clientsDone += 1;
  }

  /** The workload is done and no background client has a multicast in flight. */
  private workloadDone(): boolean {
    if (this.clientsDone !== this.clientCount) return false;
    for (const slot of this.slots)
      if (slot.client?.spec.background === true && slot.client.inFlight > 0) return false;
    return true;
  }

  private apply(index: number, slot: ProcessSlot, outputs: readonly ProcessOutput[]): void {
    for (const output of outputs) this.applyOne(index, slot, output);
  }

  private applyOne(index: number, slot: ProcessSlot, output: ProcessOutput): void {
    switch (output.kind) {
      case "send":
        this.send(
          index,
          slot,
          output.to,
          output.body,
          output.bytes,
          output.label,
          output.id,
          output.protocol,
          output.ids,
        );
        break;
      case "deliver":
        this.deliver(slot, output.group, output.message);
        break;
      case "complete":
        this.onComplete(index, slot, output.id, output.results, output.delays);
        break;
      case "view":
        this.trace.view(output.group, output.view, this.now);
        break;
      case "install":
        this.trace.fault(slot.id, "install", this.now);
        break;
    }
  }

  private deliver(slot: ProcessSlot, group: GroupId, message: Multicast): void {
    this.deliveries += 1;
    this.trace.deliver(message.id, group, slot.id, this.now);
  }

  private send(
    from: number,
    slot: ProcessSlot,
    toId: ProcessId,
    body: unknown,
    bytes: number,
    label: string,
    id: string | undefined,
    protocol: boolean,
    ids: readonly string[] | undefined,
  ): void {
    let to = slot.lastTo;
    if (toId !== slot.lastToId) {
      to = this.indexOf(toId);
      slot.lastToId = toId;
      slot.lastTo = to;
    }
    if (to === from) assert(false, `${slot.id} sends to itself`);
    const toSlot = this.slots[to] as ProcessSlot;
    if (protocol) {
      this.protocolMessages += 1;
      this.protocolBytes += bytes;
    } else {
      this.clientMessages += 1;
      this.clientBytes += bytes;
    }
    if (label !== slot.lastLabel) {
      let counter = this.sendCounts.get(label);
      if (counter === undefined) {
        counter = { count: 0 };
        this.sendCounts.set(label, counter);
      }
      slot.lastLabel = label;
      slot.lastLabelCounter = counter;
    }
    slot.lastLabelCounter.count += 1;
    const link = this.link(from, to);
    const { jitterSdFraction, reorder } = this.options.network;
    const baseMs = this.delayByRegions[slot.region * this.regionCount + toSlot.region] as number;
    let delayMs =
      jitterSdFraction === 0 ? baseMs : Math.max(0, baseMs * (1 + jitterSdFraction * link.prng.normal()));
    if (reorder !== null && link.prng.chance(reorder.chance))
      delayMs += link.prng.float() * reorder.extraDelayMsMax;
    const departMs = this.partitions.length === 0 ? this.now : this.departureMs(from, to);
    const arrivalMs = Math.max(departMs + delayMs, link.lastArrivalMs);
    link.lastArrivalMs = arrivalMs;
    if (this.options.recordSends) this.trace.send(slot.id, toId, label, id, bytes, this.now, arrivalMs, ids);
    this.schedule(arrivalMs, EventType.Arrival, to, from, body, bytes, 0, arrivalMs - this.now);
  }

  /** When a message sent now leaves: now, or when the partition cutting the link heals. */
  private departureMs(from: number, to: number): number {
    let departMs = this.now;
    for (const partition of this.partitions) {
      if (departMs < partition.atMs || departMs >= partition.healAtMs) continue;
      if (partition.side.has(from) !== partition.side.has(to)) departMs = partition.healAtMs;
    }
    return departMs;
  }

  private link(from: number, to: number): LinkState {
    const key = from * this.slots.length + to;
    let link = this.links[key];
    if (link === undefined) {
      const fromId = (this.slots[from] as ProcessSlot).id;
      const toId = (this.slots[to] as ProcessSlot).id;
      link = { prng: this.root.derive(`link/${fromId}->${toId}`), lastArrivalMs: 0 };
      this.links[key] = link;
    }
    return link;
  }

  /**
   * Queues `event` again, now as an event of `type` at `t` (an arrival whose service starts, a
   * tick's successor): the same as scheduling a new event, without a new object.
   */
  private requeue(event: SimEvent, t: number, type: EventType, incarnation: number): void {
    if (!(t >= this.now)) assert(false, `event scheduled in the past (${t} < ${this.now})`);
    if (type !== EventType.Tick) this.foregroundEvents += 1;
    event.t = t;
    event.seq = this.seq;
    event.type = type;
    event.incarnation = incarnation;
    // The event being handled is still first in the queue: it moves down from there.
    if (this.queue.peek() === event) this.queue.requeueFirst(event);
    else this.queue.push(event);
    this.seq += 1;
  }

  private schedule(
    t: number,
    type: EventType,
    at: number,
    from: number,
    body: unknown,
    bytes: number,
    incarnation = 0,
    transitMs = 0,
  ): void {
    if (!(t >= this.now)) assert(false, `event scheduled in the past (${t} < ${this.now})`);
    if (type !== EventType.Tick) this.foregroundEvents += 1;
    const event = this.spareEvents.pop();
    if (event === undefined) {
      this.queue.push(new SimEvent(t, this.seq, type, at, from, body, bytes, incarnation, transitMs));
    } else {
      event.t = t;
      event.seq = this.seq;
      event.type = type;
      event.at = at;
      event.from = from;
      event.body = body;
      event.bytes = bytes;
      event.incarnation = incarnation;
      event.transitMs = transitMs;
      this.queue.push(event);
    }
    this.seq += 1;
  }

  /** Keeps a handled event for reuse (without its body, which may be large and is not needed). */
  private recycle(event: SimEvent): void {
    if (this.spareEvents.length >= SPARE_EVENTS_MAX) return;
    event.body = undefined;
    this.spareEvents.push(event);
  }
}

/** The sink of a run: `options.sink`, `options.onEvent` (as event objects), both, or neither. */
function traceSinkOf(options: SimOptions): TraceSink {
  const objects = options.onEvent === undefined ? undefined : traceEventSink(options.onEvent);
  if (options.sink === undefined) return objects ?? IGNORE_TRACE;
  return objects === undefined ? options.sink : bothSinks(options.sink, objects);
}

const ignore = (): void => {};
/** A slot's sink until its own is made. */
const IGNORE_OUTPUTS: ProcessOutputSink = { send: ignore, deliver: ignore, complete: ignore, output: ignore };
const IGNORE_TRACE: TraceSink = {
  member: ignore,
  multicast: ignore,
  deliver: ignore,
  complete: ignore,
  fault: ignore,
  view: ignore,
  send: ignore,
};

/** Runs one simulation to the end. */
export function simulate(options: SimOptions): SimResult {
  return new Simulator(options).run();
}
