import type { DestinationSet, GroupId, MessageId, Multicast, ProcessId } from "./ids.js";

/**
 * The contract between drivers (simulator, network runtime) and the processes they run.
 *
 * A driver knows processes, links, bytes and time, never a protocol. Each process is a pure,
 * synchronous state machine: the driver hands it one input at a time (a message from a link or a
 * tick) and carries out the outputs it returns. The group layer turns a protocol's group logic
 * into replica processes; clients are processes too.
 */
export type ProcessOutput =
  | ProcessSend
  | { readonly kind: "deliver"; readonly group: GroupId; readonly message: Multicast }
  | { readonly kind: "view"; readonly group: GroupId; readonly view: number }
  /**
   * A replica installed a checkpoint fetched from its group, covering its group's log up to
   * `position`: what was delivered before it came in that state, not as deliveries (drivers
   * trace it as an `install` fault event, so oracles read this replica's deliveries from there
   * on as a window of its group's sequence).
   */
  | { readonly kind: "install"; readonly group: GroupId; readonly position: number }
  | {
      readonly kind: "complete";
      readonly id: MessageId;
      /** What each destination group's application answered, when the client collects it. */
      readonly results?: Readonly<Record<GroupId, unknown>>;
      /**
       * Delays the answering replicas observed (each its own measurement, outside the results the
       * client votes on), when the answers carried them (see `ObservedDelay`).
       */
      readonly delays?: readonly ObservedDelay[];
    };

/**
 * A delay a replica of group `to` observed on messages from group `from` (its own group
 * included): the mean one-way delay in ms over `samples` messages, network only (no queueing at
 * the receiver). Drivers measure it (the simulator the delay it drew; the network runtime the
 * receive time minus the message's send stamp) and hand it to processes through `ProcessLogic.observeDelay`.
 */
export interface ObservedDelay {
  readonly from: GroupId;
  readonly to: GroupId;
  readonly meanMs: number;
  readonly samples: number;
}

export interface ProcessSend {
  readonly kind: "send";
  readonly to: ProcessId;
  readonly body: unknown;
  /** Modelled encoded size: the simulator charges it on links and in processing cost. */
  readonly bytes: number;
  /** Trace kind, e.g. "request", "reply", "propose". */
  readonly label: string;
  /** The multicast this message is about, when there is one (for `send` trace events). */
  readonly id?: MessageId;
  /**
   * For a message that carries several protocol messages (a replicated group's stream item): the
   * multicast each carried message is about, one entry per message that is about one (for `send`
   * trace events, so what a batch carries is counted message by message).
   */
  readonly ids?: readonly MessageId[];
  /** True for traffic between processes of groups (protocol messages), false for client traffic. */
  readonly protocol: boolean;
}

/**
 * Where a process hands its outputs as it makes them (`ProcessLogic.receiveInto`), instead of
 * returning an array of output objects: the same outputs in the same order, a `send` or
 * `deliver` given by its fields so the hot path allocates no object for it. A driver carries each
 * out when it is given, which is what it would do with the returned array's entries in order: a
 * process never sees a driver's state, so the order of events is the same either way.
 */
export interface ProcessOutputSink {
  /** A `send` output (see `ProcessSend` for the fields). */
  send(
    to: ProcessId,
    body: unknown,
    bytes: number,
    label: string,
    protocol: boolean,
    id: MessageId | undefined,
    ids: readonly MessageId[] | undefined,
  ): void;
  /** A `deliver` output. */
  deliver(group: GroupId, message: Multicast): void;
  /** A `complete` output. */
  complete(
    id: MessageId,
    results: Readonly<Record<GroupId, unknown>> | undefined,
    delays: readonly ObservedDelay[] | undefined,
  ): void;
  /** Any output as an object (one the process keeps anyway, or a rare kind). */
  output(output: ProcessOutput): void;
}

/**
 * A sink that collects outputs into an array (`take`): how a process with `receiveInto`
 * answers `receive`, so both ways in run the same code.
 */
export class OutputCollector implements ProcessOutputSink {
  private outputs: ProcessOutput[] = [];

  send(
    to: ProcessId,
    body: unknown,
    bytes: number,
    label: string,
    protocol: boolean,
    id: MessageId | undefined,
    ids: readonly MessageId[] | undefined,
  ): void {
    const send: { -readonly [K in keyof ProcessSend]: ProcessSend[K] } = {
      kind: "send",
      to,
      body,
      bytes,
      label,
      protocol,
    };
    if (id !== undefined) send.id = id;
    if (ids !== undefined) send.ids = ids;
    this.outputs.push(send);
  }

  deliver(group: GroupId, message: Multicast): void {
    this.outputs.push({ kind: "deliver", group, message });
  }

  complete(
    id: MessageId,
    results: Readonly<Record<GroupId, unknown>> | undefined,
    delays: readonly ObservedDelay[] | undefined,
  ): void {
    const complete: {
      kind: "complete";
      id: MessageId;
      results?: Readonly<Record<GroupId, unknown>>;
      delays?: readonly ObservedDelay[];
    } = { kind: "complete", id };
    if (results !== undefined) complete.results = results;
    if (delays !== undefined) complete.delays = delays;
    this.outputs.push(complete);
  }

  output(output: ProcessOutput): void {
    this.outputs.push(output);
  }

  get size(): number {
    return this.outputs.length;
  }

  /** The outputs collected since the last call, in order; the collector starts empty again. */
  take(): readonly ProcessOutput[] {
    if (this.outputs.length === 0) return NO_OUTPUTS;
    const outputs = this.outputs;
    this.outputs = [];
    return outputs;
  }

  /** Hands the outputs collected so far to `sink`, in order; the collector starts empty again. */
  drainInto(sink: ProcessOutputSink): void {
    if (this.outputs.length === 0) return;
    for (const output of this.take()) sink.output(output);
  }
}

const NO_OUTPUTS: readonly ProcessOutput[] = [];

export interface ProcessLogic {
  readonly id: ProcessId;
  /** Whether the driver must call `tick` every `tickMs`; drivers skip ticks otherwise. */
  readonly wantsTicks: boolean;
  receive(from: ProcessId, body: unknown): readonly ProcessOutput[];
  /**
   * The same as `receive`, the outputs handed to `sink` as they are made (same outputs, same
   * order). Optional: a driver uses it when present (the simulator does), `receive` otherwise.
   * A process that has it answers `receive` by the same code (`OutputCollector`).
   */
  receiveInto?(from: ProcessId, body: unknown, sink: ProcessOutputSink): void;
  tick(): readonly ProcessOutput[];
  /**
   * For processes that tick (replicas with heartbeats never go quiet): true when nothing it knows
   * of is left to do. Drivers end a run once every live process is idle and has stayed idle long
   * enough for anything in flight to land. Processes without ticks need not answer.
   */
  idle?(): boolean;
  /**
   * A driver's measurement: a message from `from` took `delayMs` on the network (the simulator:
   * the delay it drew for that message; the network runtime: from the sender's send stamp to its
   * arrival, on the nodes' shared clock). A process may keep it to report; it never changes what
   * the process does. Only delays between groups are ever reported (`ObservedDelay`), so a driver
   * may leave out messages from clients (the simulator does).
   */
  observeDelay?(from: ProcessId, delayMs: number): void;
  /**
   * The process is back from a crash that kept its memory (the simulator's durable crash): what
   * reached it while it was down is lost, so it may ask its peers to send that again.
   */
  recovered?(): readonly ProcessOutput[];
}

/** A client process: it starts multicasts on the workload's behalf and reports completions. */
export interface ClientLogic extends ProcessLogic {
  /** Starts a multicast to `dst`; the outputs carry its requests, the message carries its id. */
  multicast(
    dst: DestinationSet,
    payloadBytes: number,
    payload?: unknown,
  ): { message: Multicast; outputs: readonly ProcessOutput[] };
  /**
   * A client built to sign its requests together (one signature for all it sends in one turn)
   * returns them unsigned; the driver calls this before it sends any of its outputs, and may
   * gather several multicasts' outputs first (the network runtime does, per turn).
   */
  sealRequests?(): void;
}
