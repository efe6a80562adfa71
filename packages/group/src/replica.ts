import type {
  DestinationSet,
  GroupId,
  GroupLogic,
  GroupOutput,
  GroupOutputSink,
  MessageId,
  Multicast,
  Overlay,
  ProcessId,
  ProcessLogic,
  ProcessOutput,
  ProcessOutputSink,
  ProtocolContext,
  ProtocolDefinition,
} from "@amcast/core";
import { assert, assertNever, OutputCollector, Prng, protocolContext } from "@amcast/core";
import type { SignedDigest, Signer, Verifier } from "./auth.js";
import { SIGNATURE_BYTES } from "./auth.js";
import { ClientRequests } from "./clients.js";
import type { OrderedInput, RequestInput } from "./inputs.js";
import {
  copyDigests,
  DIGEST_BYTES,
  isSignedWith,
  makeCopyInput,
  makeRequestInput,
  requestDigest,
  requestKey,
  requestsDigest,
  requestsRoot,
} from "./inputs.js";
import type { Membership } from "./membership.js";
import type { Orderer, OrdererHost, OrderingOptions } from "./orderer.js";
import { DEFAULT_ORDERING, SoloOrderer } from "./orderer.js";
import { PbftOrderer } from "./pbft.js";
import { RaftOrderer } from "./raft.js";
import type { ApplicationState, ReplicaCheckpoint, SealedState, StateCodec } from "./snapshot.js";
import { APPLICATION_PARTITION_PREFIX, PARTITION } from "./snapshot.js";
import type { QueuedMessage } from "./streams.js";
import { IncomingStreams, isStreamItem, OutgoingStreams } from "./streams.js";
import type { TransferMessage, TrustedCheckpoint } from "./transfer.js";
import { StateFetch, serveTransfer } from "./transfer.js";
import type { DelayEntry, GroupWire } from "./wire.js";
import {
  DELAY_ENTRY_BYTES,
  ENVELOPE_BYTES,
  multicastBytes,
  readEnvelope,
  replyBytes,
  sequenceAt,
} from "./wire.js";

/**
 * How a group's logic is replicated:
 * - `solo`: one process per group; inputs are taken in arrival order.
 * - `crash`: 2f+1 replicas order inputs with a Raft-style log (raft.ts); up to f may crash.
 * - `byzantine`: 3f+1 replicas order inputs PBFT-style (pbft.ts); up to f may be Byzantine.
 * The protocol's group logic is the same in every mode.
 */
export type ReplicationMode = "solo" | "crash" | "byzantine";
export const REPLICATION_MODES: readonly ReplicationMode[] = ["solo", "crash", "byzantine"];

/** Replicas a group needs in each mode to tolerate `f` faulty ones. */
export function replicaCount(mode: ReplicationMode, f: number): number {
  assert(Number.isInteger(f) && f >= 0, `f ${f} is not a whole number >= 0`);
  switch (mode) {
    case "solo":
      return 1;
    case "crash":
      return 2 * f + 1;
    case "byzantine":
      return 3 * f + 1;
    default:
      return assertNever(mode, "replication mode");
  }
}

/** Identical copies of a stream item needed from the sending group before it is taken. */
export function streamQuorum(mode: ReplicationMode, f: number): number {
  return mode === "byzantine" ? f + 1 : 1;
}

/** Matching replies a client needs from a group. */
export function replyQuorum(mode: ReplicationMode, f: number): number {
  return mode === "byzantine" ? f + 1 : 1;
}

/** The application a group runs: executes a delivered message and returns the reply's result. */
export type Application = (message: Multicast, group: GroupId) => unknown;

export interface ReplicaSpec<M> {
  readonly protocol: ProtocolDefinition<M>;
  readonly group: GroupId;
  readonly id: ProcessId;
  readonly membership: Membership;
  readonly overlay: Overlay | null;
  /**
   * The protocol's parameters as JSON (an experiment's `params`), parsed here by the protocol;
   * absent: none (the protocol's defaults). Every replica and client of a system gets the same.
   */
  readonly params?: unknown;
  readonly mode: ReplicationMode;
  /** Faulty replicas tolerated per group (0 in solo mode). */
  readonly f: number;
  /** This replica's signer and everyone's verifier: required in Byzantine mode. */
  readonly signer?: Signer;
  readonly verifier?: Verifier;
  readonly application?: Application;
  readonly ordering?: Partial<OrderingOptions>;
  /** Items a stream may run ahead of the next expected one (see IncomingStreams). */
  readonly streamWindowMax?: number;
  /** The run's seed: the replica's timeouts draw from their own stream of it. Default 0. */
  readonly seed?: number;
  /**
   * How state becomes bytes and hashes (`@amcast/storage`'s format). With it, and a protocol
   * whose group logic can snapshot, a replicated group checkpoints (`checkpointEntries`) and a
   * replica behind what its group retains fetches a checkpoint; without, neither.
   */
  readonly codec?: StateCodec;
  /** The application's state, checkpointed with the replica's (partitions `app/<name>`). */
  readonly state?: ApplicationState;
  /**
   * What the disk kept across a crash that lost the replica's memory (`Replica.hardState` of the
   * replica before it): the replica starts empty but for it, and fetches its state from the group.
   */
  readonly hardState?: unknown;
}

/**
 * The protocol's context at a replica or a client: the system's groups, the overlay, and the
 * protocol's parameters parsed here from their JSON (the same at every process of the system).
 */
export function systemContext(
  spec: Pick<ReplicaSpec<unknown>, "protocol" | "params" | "membership" | "overlay">,
): ProtocolContext {
  const system = { groups: spec.membership.groups, overlay: spec.overlay };
  return protocolContext(spec.protocol, spec.params, system, "protocol", "params");
}

/** Why a replica refused an input; counted, never thrown, so a bad peer cannot crash it. */
export type DropReason =
  | "malformed"
  | "unknown-sender"
  | "bad-signature"
  | "not-an-entry-group"
  | "duplicate-request"
  | "stale-copy"
  | "bad-state";

const DEFAULT_STREAM_WINDOW = 1_000_000;

/**
 * One replica of a group. It turns envelopes from links into inputs, has its group order them
 * (the `Orderer` of its mode), runs the protocol's logic on what was decided, in decided order,
 * and turns the logic's outputs into envelopes: a `send` to group G becomes item k of this
 * group's stream to G, copied to every replica of G; a `deliver` is executed by the application
 * and answered to the client. Every correct replica of a group takes the same steps.
 */
export class Replica<M> implements ProcessLogic {
  readonly id: ProcessId;
  readonly group: GroupId;
  readonly mode: ReplicationMode;
  readonly wantsTicks: boolean;
  readonly drops = new Map<DropReason, number>();
  readonly orderer: Orderer;
  private readonly spec: ReplicaSpec<M>;
  private readonly context: ProtocolContext;
  private logic: GroupLogic<M>;
  private readonly outgoing = new OutgoingStreams();
  private readonly incoming: IncomingStreams;
  private clients = new ClientRequests();
  /** Whether this replica checkpoints (see ReplicaSpec.codec). */
  readonly checkpoints: boolean;
  private latest: ReplicaCheckpoint | undefined;
  private previousCheckpointPosition = 0;
  private fetching: StateFetch | undefined;
  /** The last log position executed (or installed). */
  executedPosition = 0;
  /** The orderer's mark at `executedPosition` (what a checkpoint there records in `group/order`). */
  private executedMark: number | string = 0;
  /** The last install: the position this replica had executed before it, and the checkpoint's. */
  lastInstall: { readonly from: number; readonly to: number } | undefined;
  /** Checkpoints installed from the group, and the bytes their partitions took. */
  installedCheckpoints = 0;
  transferredBytes = 0;
  /** Servers caught serving a corrupt partition (never asked again by this replica). */
  readonly faultyServers = new Set<ProcessId>();
  /** Collects outputs for `receive` and `tick` (and those made outside a step, until the next). */
  private readonly collector = new OutputCollector();
  /** Where outputs go: the collector, or a driver's sink during `receiveInto`. */
  private out: ProcessOutputSink = this.collector;
  /** Where the logic's outputs go when it has `stepInto` (what `apply` does, one at a time). */
  private readonly logicSink: GroupOutputSink<M> = {
    send: (to, body) => this.sendToGroup(to, body),
    deliver: (message) => this.deliver(message, false, undefined, false),
    output: (output) => this.applyOne(output),
  };
  /** The inputs handed to `stepInto`, refilled for every step. */
  private readonly requestInput: { kind: "request"; message: Multicast; view: number } = {
    kind: "request",
    message: { id: "", client: "", dst: [], payloadBytes: 0 },
    view: 0,
  };
  private readonly peerInput: { kind: "peer"; from: GroupId; body: M } = {
    kind: "peer",
    from: "",
    body: undefined as M,
  };
  /** Delays drivers observed per sending replica since the last report (`observeDelay`). */
  private readonly observed = new Map<ProcessId, { sumMs: number; samples: number }>();
  private ticks = 0;
  private executedInputs = 0;
  /** The last request run and its sequence number: its delivery, often in the same step, needs no parsing of its id. */
  private lastRequest: Multicast | undefined;
  private lastRequestSeq = 0;
  private consensusEnvelope: Extract<GroupWire, { t: "consensus" }> | undefined;
  /** With `journalDecisions`: the positions decided since the last `takeDecisions`. */
  private decisions: DecidedPosition[] | undefined;
  /** The batch of the position being executed (its `executed` call follows), for `decisions`. */
  private deciding: readonly OrderedInput[] = NO_INPUTS;
  /** What the orderer calls: `executeDecided` runs a journalled position through it again. */
  private readonly ordererHost: OrdererHost;
  /**
   * The stream items this replica made last (sent again by a new crash-mode leader, see
   * `leadsGroup`, and to a replica back from a crash that asks, see `onResend`), and whether it
   * led its group at its last step.
   */
  private readonly recentItems = new RecentItems();
  private leading = false;
  /**
   * Crash mode: each other group's leader as it last said so (its `resend` with a term), the one
   * replica of that group its stream items go to (see `sendItem`); every replica while unknown.
   */
  private readonly leaderOf = new Map<GroupId, { readonly replica: ProcessId; readonly term: number }>();
  /** `sendItem` as one function for `OutgoingStreams.release` (not a closure per decided batch). */
  private readonly sendItemOut = (to: GroupId, messages: readonly QueuedMessage[]): void =>
    this.sendItem(to, messages);
  /** When (tick) this replica last answered each asking replica's `resend`: one answer per `RESEND_ANSWER_TICKS_MIN`. */
  private readonly resentAtTick = new Map<ProcessId, number>();

  constructor(spec: ReplicaSpec<M>) {
    const replicas = spec.membership.replicas(spec.group);
    assert(replicas.includes(spec.id), () => `${spec.id} is not a replica of ${spec.group}`);
    assert(
      replicas.length === replicaCount(spec.mode, spec.f),
      () =>
        `${spec.group} has ${replicas.length} replicas, ${spec.mode} mode with f=${spec.f} needs ${replicaCount(spec.mode, spec.f)}`,
    );
    assert(
      spec.mode !== "byzantine" || (spec.signer !== undefined && spec.verifier !== undefined),
      "Byzantine mode needs signatures",
    );
    assert(spec.signer === undefined || spec.signer.id === spec.id, "a replica signs as itself");
    assert(
      spec.signer === undefined || spec.verifier === undefined || spec.signer.digest === spec.verifier.digest,
      "a replica's signer and verifier digest alike (one signature scheme)",
    );
    this.id = spec.id;
    this.group = spec.group;
    this.mode = spec.mode;
    this.spec = spec;
    this.wantsTicks = spec.mode !== "solo";
    this.context = systemContext(spec);
    this.logic = spec.protocol.createGroup({ ...this.context, group: spec.group });
    this.incoming = new IncomingStreams(
      () => streamQuorum(spec.mode, spec.f),
      spec.streamWindowMax ?? DEFAULT_STREAM_WINDOW,
    );
    const ordering: OrderingOptions = { ...DEFAULT_ORDERING, ...spec.ordering };
    this.checkpoints =
      spec.mode !== "solo" &&
      spec.codec !== undefined &&
      this.logic.snapshot !== undefined &&
      this.logic.restore !== undefined;
    const host: OrdererHost = {
      self: spec.id,
      replicas,
      send: (to, message, bytes, label) => {
        // One envelope per message however many replicas it goes to (a broadcast): a runtime
        // then encodes it once.
        if (this.consensusEnvelope?.body !== message)
          this.consensusEnvelope = { t: "consensus", body: message };
        const envelope = this.consensusEnvelope;
        this.out.output({
          kind: "send",
          to,
          body: envelope,
          bytes: ENVELOPE_BYTES + bytes,
          label,
          protocol: true,
        });
      },
      decide: (batch) => {
        if (this.decisions !== undefined) this.deciding = batch;
        // What the batch sends to a group leaves as one stream item (see OutgoingStreams).
        this.outgoing.hold();
        for (const input of batch) this.execute(input);
        this.outgoing.release(this.sendItemOut);
      },
      useful: (input) => this.useful(input),
      copiesNeeded: (copy) =>
        streamQuorum(spec.mode, spec.f) - this.incoming.votesFor(copy.fromGroup, copy.k, copy.itemDigest),
      now: () => this.ticks,
      checkpoints: this.checkpoints,
      executed: (position, mark) => {
        this.executedPosition = position;
        this.executedMark = mark;
        if (this.decisions !== undefined) {
          this.decisions.push({ position, mark, batch: this.deciding });
          this.deciding = NO_INPUTS;
        }
        if (this.checkpoints && position % ordering.checkpointEntries === 0)
          this.takeCheckpoint(position, mark);
      },
      latestCheckpoint: () =>
        this.latest === undefined
          ? undefined
          : { position: this.latest.position, root: this.latest.state.manifest.root },
      fetchState: (abovePosition, trusted) => this.fetchState(abovePosition, trusted, ordering),
    };
    this.ordererHost = host;
    switch (spec.mode) {
      case "solo":
        this.orderer = new SoloOrderer(host);
        break;
      case "crash":
        this.orderer = new RaftOrderer(
          host,
          ordering,
          new Prng(spec.seed ?? 0).derive(`raft/${spec.id}`),
          spec.hardState as ConstructorParameters<typeof RaftOrderer>[3],
        );
        break;
      case "byzantine":
        this.orderer = new PbftOrderer(
          host,
          ordering,
          spec.f,
          spec.signer as Signer,
          spec.verifier as Verifier,
          (input, pooled) => {
            const valid = this.validRelayedInput(input);
            // One of ours that fails its check before we propose it: its sender signed it wrongly.
            if (!valid && pooled) this.drop("bad-signature");
            return valid;
          },
          spec.hardState as ConstructorParameters<typeof PbftOrderer>[6],
        );
        break;
      default:
        this.orderer = assertNever(spec.mode, "replication mode");
    }
  }

  /** Stream copies that lost to the identical copies of f+1 replicas (forged or altered items). */
  get outvotedCopies(): number {
    return this.incoming.outvotedCopies;
  }

  /** Inputs executed so far (client requests and stream copies, repeats excluded). */
  get executed(): number {
    return this.executedInputs;
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    this.take(from, body);
    return this.flush();
  }

  receiveInto(from: ProcessId, body: unknown, sink: ProcessOutputSink): void {
    // What was made outside a step (before this one) leaves first, as `receive` would return it.
    this.collector.drainInto(sink);
    this.out = sink;
    try {
      this.take(from, body);
      if (this.mode === "crash") this.leadsGroup();
    } finally {
      this.out = this.collector;
    }
  }

  /** One input from `from`: its outputs go to `out`. */
  private take(from: ProcessId, body: unknown): void {
    const envelope = readEnvelope(body);
    if (envelope === undefined) {
      this.drop("malformed");
      return;
    }
    switch (envelope.t) {
      case "request":
        this.onRequest(from, envelope);
        break;
      case "copy":
        this.onCopy(from, envelope);
        break;
      case "consensus":
        if (this.spec.membership.groupOf(from) !== this.group || from === this.id) {
          this.drop("unknown-sender");
          return;
        }
        this.orderer.receive(from, envelope.body);
        break;
      case "state":
        if (this.spec.membership.groupOf(from) !== this.group || from === this.id) {
          this.drop("unknown-sender");
          return;
        }
        this.onState(from, envelope.body);
        break;
      case "resend":
        this.onResend(from, envelope);
        break;
      case "reply":
      case "redirect":
      case "under-way":
        this.drop("malformed");
        return;
      default:
        assertNever(envelope, "envelope");
    }
  }

  tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    this.orderer.tick();
    this.fetching?.tick();
    return this.flush();
  }

  /**
   * What this replica's disk keeps across a crash that loses its memory (ReplicaSpec.hardState).
   * While it journals its decisions, with the orderer's log past the last decided position: a
   * restart from that journal then has its whole log back (Raft's term, vote and log) and may
   * vote at once.
   */
  hardState(): unknown {
    return this.orderer.hardState(this.decisions !== undefined);
  }

  /**
   * This replica was rebuilt from its disk (its journal replayed): its replayed sends did not go
   * out again, so it asks its group where it stands (`Orderer.restarted`).
   */
  restarted(): void {
    this.orderer.restarted?.();
    this.askResend();
  }

  /**
   * This replica is back from a crash that kept its memory (the simulator's durable crash). What
   * other groups sent to it while it was down is lost; when its whole group was down, no replica
   * of it has those stream items, and their senders send each item once: it asks them again.
   */
  recovered(): readonly ProcessOutput[] {
    // Another group may have changed leader while this replica was down, its word lost: its
    // items go to every replica of every group until each leader says so again.
    this.leaderOf.clear();
    this.askResend();
    return this.flush();
  }

  /**
   * Asks every replica of every other group for the items of its stream to this group from the
   * next one taken; `term`: as this group's leader in that term (crash mode, see `leadsGroup`).
   */
  private askResend(term?: number): void {
    if (this.mode === "solo") return;
    for (const group of this.spec.membership.groups) {
      if (group === this.group) continue;
      const k = this.incoming.nextExpected(group);
      const envelope: GroupWire = term === undefined ? { t: "resend", k } : { t: "resend", k, term };
      for (const replica of this.spec.membership.replicas(group))
        this.out.output({
          kind: "send",
          to: replica,
          body: envelope,
          bytes: ENVELOPE_BYTES + 8,
          label: RESEND_LABEL,
          protocol: true,
        });
    }
  }

  /**
   * A replica of another group asks for this group's stream to its group from item `k` on: the
   * items this replica still keeps (`RecentItems`) go to it again, its own copies (signed by it
   * in Byzantine mode, so f+1 answering replicas make a quorum). Bounded: what is kept, once per
   * `RESEND_ANSWER_TICKS_MIN` per asking replica.
   */
  private onResend(from: ProcessId, envelope: Extract<GroupWire, { t: "resend" }>): void {
    const fromGroup = this.spec.membership.groupOf(from);
    if (fromGroup === undefined || fromGroup === this.group) {
      this.drop("unknown-sender");
      return;
    }
    const { term } = envelope;
    if (
      !Number.isSafeInteger(envelope.k) ||
      envelope.k < 0 ||
      (term !== undefined && (!Number.isSafeInteger(term) || term < 0))
    ) {
      this.drop("malformed");
      return;
    }
    let newLeader = false;
    if (this.mode === "crash" && term !== undefined) {
      // A leader of a later term than the one known (Raft has one leader per term).
      const known = this.leaderOf.get(fromGroup);
      newLeader = known === undefined || term > known.term || (term === known.term && from !== known.replica);
      if (newLeader) this.leaderOf.set(fromGroup, { replica: from, term });
    }
    // Crash mode: the leader answers for its group (one that becomes leader sends its kept items
    // again anyway, see `leadsGroup`); the followers' copies would only be dropped as repeats.
    if (this.mode === "crash" && !this.leadsGroup()) return;
    // A new leader's ask is always answered: items sent since any earlier answer to it went to
    // its predecessor, and may have died there.
    const answeredAt = this.resentAtTick.get(from);
    if (!newLeader && answeredAt !== undefined && this.ticks - answeredAt < RESEND_ANSWER_TICKS_MIN) return;
    this.resentAtTick.set(from, this.ticks);
    for (const item of this.recentItems.itemsFrom(fromGroup, envelope.k)) this.sendCopy(item, from);
  }

  /** The latest checkpoint this replica took or installed. */
  get latestCheckpoint(): ReplicaCheckpoint | undefined {
    return this.latest;
  }

  /** Whether the replica is fetching a checkpoint from its group. */
  get fetchingState(): boolean {
    return this.fetching !== undefined;
  }

  /**
   * The replica's whole state as named partitions of plain data (see snapshot.ts): the group
   * layer's, the protocol's and the application's. Throws when the protocol cannot snapshot.
   */
  snapshotState(position: number, mark: number | string): Map<string, unknown> {
    const logic = this.logic;
    if (logic.snapshot === undefined)
      throw new Error(
        `protocol ${this.spec.protocol.name} cannot snapshot its group state (no GroupLogic.snapshot)`,
      );
    const partitions = new Map<string, unknown>([
      [PARTITION.order, { position, mark }],
      [PARTITION.replica, { executed: this.executedInputs }],
      [PARTITION.clients, this.clients.snapshot()],
      [PARTITION.streams, { outgoing: this.outgoing.snapshot(), incoming: this.incoming.snapshot() }],
      [PARTITION.protocol, logic.snapshot()],
    ]);
    const state = this.spec.state;
    if (state !== undefined)
      for (const name of state.partitions())
        partitions.set(`${APPLICATION_PARTITION_PREFIX}${name}`, state.snapshot(name));
    return partitions;
  }

  /**
   * The log position this replica executed last and the root of its whole state now: what a
   * checkpoint there would hold, so replicas that executed the same log report the same root
   * whether or not a checkpoint fell there (undefined for a replica that does not checkpoint).
   */
  stateNow(): { readonly position: number; readonly root: string } | undefined {
    if (!this.checkpoints) return undefined;
    return {
      position: this.executedPosition,
      root: this.seal(this.executedPosition, this.executedMark).manifest.root,
    };
  }

  private seal(position: number, mark: number | string): SealedState {
    const codec = this.spec.codec as StateCodec;
    const partitions = this.snapshotState(position, mark);
    return codec.seal([...partitions].map(([name, value]) => [name, codec.encode(value)] as const));
  }

  /** Takes a checkpoint at `position`, and lets the orderer drop what the previous one covers. */
  private takeCheckpoint(position: number, mark: number | string): void {
    const state = this.seal(position, mark);
    this.latest = { position, state };
    this.orderer.compact(this.previousCheckpointPosition);
    this.previousCheckpointPosition = position;
  }

  private fetchState(
    abovePosition: number,
    trusted: TrustedCheckpoint | undefined,
    ordering: OrderingOptions,
  ): void {
    const current = this.fetching?.target;
    // One fetch at a time; a leader's offer of a newer checkpoint replaces one it made before.
    if (
      !this.checkpoints ||
      (this.fetching !== undefined &&
        (trusted === undefined || (current !== undefined && current.position >= trusted.position)))
    )
      return;
    const peers = this.spec.membership.replicas(this.group).filter((replica) => replica !== this.id);
    this.fetching = new StateFetch(
      {
        self: this.id,
        peers,
        send: (to, message, bytes, label) =>
          this.out.output({
            kind: "send",
            to,
            body: { t: "state", body: message },
            bytes: ENVELOPE_BYTES + bytes,
            label,
            protocol: true,
          }),
        now: () => this.ticks,
      },
      this.spec.codec as StateCodec,
      {
        vouchesNeeded: this.mode === "byzantine" ? this.spec.f + 1 : 1,
        inFlightPerSource: 2,
        requestTimeoutTicks: ordering.requestTimeoutTicks,
      },
      abovePosition,
      trusted,
    );
    for (const server of this.faultyServers) this.fetching.faulty.add(server);
  }

  private onState(from: ProcessId, message: TransferMessage): void {
    if (typeof message !== "object" || message === null) {
      this.drop("malformed");
      return;
    }
    if (message.type === "manifest-request" || message.type === "partition-request") {
      serveTransfer(this.latest, from, message, (to, reply, bytes, label) =>
        this.out.output({
          kind: "send",
          to,
          body: { t: "state", body: reply },
          bytes: ENVELOPE_BYTES + bytes,
          label,
          protocol: true,
        }),
      );
      return;
    }
    const fetch = this.fetching;
    if (fetch === undefined) return;
    const done = fetch.onMessage(from, message);
    for (const server of fetch.faulty) this.faultyServers.add(server);
    if (done === undefined) return;
    this.fetching = undefined;
    this.transferredBytes += fetch.bytesReceived;
    // Caught up through the log meanwhile: an older state must not replace a newer one.
    if (done.position > this.executedPosition) this.install(done);
  }

  /**
   * Keeps every position this replica decides, with its batch and the orderer's mark there, for
   * a journal to take (`takeDecisions`) and write before the outputs they caused leave: a
   * restart then rebuilds the replica exactly from its last checkpoint and the positions decided
   * after it (`restoreCheckpoint`, `executeDecided`). False (nothing kept) when the replica
   * takes no checkpoints (solo mode, or a protocol that cannot snapshot).
   */
  journalDecisions(): boolean {
    if (!this.checkpoints) return false;
    this.decisions ??= [];
    return true;
  }

  /** The positions decided since the last call, in order (`journalDecisions`). */
  takeDecisions(): readonly DecidedPosition[] {
    const decisions = this.decisions;
    if (decisions === undefined || decisions.length === 0) return NO_DECISIONS;
    this.decisions = [];
    return decisions;
  }

  /**
   * Starts a fresh replica from a checkpoint it wrote to its own disk before a restart (its
   * journal was truncated there; the disk's checksums vouch for it). Not an install: the same
   * replica continues, its journal's later positions executed again (`executeDecided`), so
   * nothing is traced. Built with the hard state recorded last, its orderer takes back its log
   * after the last decided position once the positions before it are executed again (Raft R8,
   * PBFT B7).
   */
  restoreCheckpoint(checkpoint: ReplicaCheckpoint): void {
    if (this.spec.codec === undefined || this.executedPosition > 0)
      throw new Error("restoreCheckpoint: a fresh replica with a state codec starts from a checkpoint");
    this.install(checkpoint, false);
  }

  /**
   * Executes a position its journal recorded (`takeDecisions`) again, as its orderer did before
   * a restart, after the checkpoint (`restoreCheckpoint`) or the position before it; the orderer
   * then continues after it. Returns the outputs: the deliveries are the same again, and the
   * sends left before the restart (or were lost with it).
   */
  executeDecided(decided: DecidedPosition): readonly ProcessOutput[] {
    if (decided.position !== this.executedPosition + 1)
      throw new Error(
        `executeDecided: position ${decided.position} does not follow the last executed, ${this.executedPosition}`,
      );
    if (decided.batch.length > 0) this.ordererHost.decide(decided.batch);
    this.ordererHost.executed(decided.position, decided.mark);
    this.orderer.install(decided.position, decided.mark);
    return this.flush();
  }

  /**
   * Rebuilds the replica from a verified checkpoint, then lets the orderer continue after it.
   * `fetched`: an install of its group's checkpoint (the positions between are skipped, traced
   * as such); else the replica's own, from its disk.
   */
  private install(checkpoint: ReplicaCheckpoint, fetched = true): void {
    const codec = this.spec.codec as StateCodec;
    const read = (name: string): unknown => codec.decode(checkpoint.state.partitions.get(name) as Uint8Array);
    const order = read(PARTITION.order) as { position: number; mark: number | string };
    if (order.position !== checkpoint.position) {
      this.drop("bad-state");
      return;
    }
    const logic = this.spec.protocol.createGroup({ ...this.context, group: this.group });
    logic.restore?.(read(PARTITION.protocol));
    this.logic = logic;
    const clients = new ClientRequests();
    clients.restore(read(PARTITION.clients) as Parameters<ClientRequests["restore"]>[0]);
    this.clients = clients;
    const streams = read(PARTITION.streams) as {
      outgoing: Parameters<OutgoingStreams["restore"]>[0];
      incoming: Parameters<IncomingStreams["restore"]>[0];
    };
    this.outgoing.restore(streams.outgoing);
    this.incoming.reset();
    this.incoming.restore(streams.incoming);
    this.executedInputs = (read(PARTITION.replica) as { executed: number }).executed;
    const state = this.spec.state;
    if (state !== undefined)
      for (const { name } of checkpoint.state.manifest.partitions)
        if (name.startsWith(APPLICATION_PARTITION_PREFIX))
          state.restore(name.slice(APPLICATION_PARTITION_PREFIX.length), read(name));
    this.latest = checkpoint;
    this.previousCheckpointPosition = checkpoint.position;
    if (fetched) {
      this.installedCheckpoints += 1;
      this.lastInstall = { from: this.executedPosition, to: checkpoint.position };
      this.out.output({ kind: "install", group: this.group, position: checkpoint.position });
    }
    this.executedPosition = checkpoint.position;
    this.executedMark = order.mark;
    this.orderer.install(checkpoint.position, order.mark);
  }

  idle(): boolean {
    return this.orderer.idle();
  }

  /** Keeps a driver's delay measurement for the next reply that reports delays (clients' are not groups' delays). */
  observeDelay(from: ProcessId, delayMs: number): void {
    if (!Number.isFinite(delayMs) || delayMs < 0) return;
    // Called on every message from a replica: a sender already noted is known to be a replica
    // (membership does not change), so its group is looked up only when it is first noted.
    const stats = this.observed.get(from);
    if (stats !== undefined) {
      stats.sumMs += delayMs;
      stats.samples += 1;
    } else if (this.spec.membership.groupOf(from) !== undefined)
      this.observed.set(from, { sumMs: delayMs, samples: 1 });
  }

  /**
   * The delays observed since the last report, per sending group: the median over its replicas of
   * each one's mean (so a minority of slow or lying senders moves it little), and all samples.
   * Then forgotten: each report covers the time since the previous one.
   */
  private takeObservedDelays(): DelayEntry[] {
    const means = new Map<GroupId, number[]>();
    const samples = new Map<GroupId, number>();
    for (const [from, stats] of this.observed) {
      const group = this.spec.membership.groupOf(from) as GroupId;
      const list = means.get(group);
      if (list === undefined) means.set(group, [stats.sumMs / stats.samples]);
      else list.push(stats.sumMs / stats.samples);
      samples.set(group, (samples.get(group) ?? 0) + stats.samples);
    }
    this.observed.clear();
    return [...means].map(([group, list]) => [group, median(list), samples.get(group) as number]);
  }

  private onRequest(from: ProcessId, envelope: Extract<GroupWire, { t: "request" }>): void {
    const { message, seq, signature } = envelope;
    const view = envelope.view ?? 0;
    const settled = envelope.settled ?? 0;
    // A client whose request passed these checks before is no replica (membership does not
    // change), and the destinations it sent then are valid: a workload in the simulator repeats
    // one read-only array per client, so most requests skip those lookups (a decoded request has
    // a fresh array and is checked in full).
    const checkedDst = this.clients.checkedDst(from);
    // Only the client itself may send its request; the link says who sent it.
    if (
      (checkedDst === undefined && this.spec.membership.groupOf(from) !== undefined) ||
      !wellFormed(message, seq, from, checkedDst)
    ) {
      this.drop("malformed");
      return;
    }
    if (message.dst !== checkedDst) {
      for (const group of message.dst) {
        if (!this.spec.membership.hasGroup(group)) {
          this.drop("malformed");
          return;
        }
      }
    }
    const signedWith = envelope.signedWith;
    if (
      !Number.isSafeInteger(view) ||
      view < 0 ||
      !Number.isSafeInteger(settled) ||
      settled < 0 ||
      settled > seq ||
      (signedWith !== undefined && !isSignedWith(signedWith))
    ) {
      this.drop("malformed");
      return;
    }
    // A reconfigurable protocol checks (and redirects) itself: its entry groups change with views.
    if (
      this.spec.protocol.checksEntry !== true &&
      !this.spec.protocol.entryGroups(message.dst, this.context).includes(this.group)
    ) {
      this.drop("not-an-entry-group");
      return;
    }
    // Solo: one replica, nothing to agree on; a new request runs now, in arrival order, without
    // becoming an input to order (so it is marked executed here, where the others check).
    const fresh =
      this.mode === "solo"
        ? this.clients.markExecuted(from, seq, view, settled)
        : !this.clients.isExecuted(from, seq, view);
    this.clients.rememberCheckedDst(from, message.dst);
    if (!fresh) {
      // A retry: answer from the reply cache; executing twice is never an option. Not delivered
      // yet (a slow network, a barrier): say it is under way, so the client does not give up.
      this.drop("duplicate-request");
      const reply = this.clients.cachedReply(from, seq);
      if (reply !== undefined) this.sendReply(from, reply);
      else this.sendReply(from, { t: "under-way", id: message.id });
      return;
    }
    if (this.mode === "solo") {
      this.runRequest(message, seq, view);
      return;
    }
    const bytes =
      ENVELOPE_BYTES +
      multicastBytes(message) +
      this.signatureBytes() +
      (signedWith === undefined ? 0 : 2 + signedWith.path.length * DIGEST_BYTES);
    const input = makeRequestInput(
      from,
      seq,
      message,
      view,
      settled,
      signature,
      bytes,
      this.signedDigest(),
      signedWith,
    );
    // Not checked here: the link proved who sent it. Its signature is checked when it is shown to
    // another replica (PbftOrderer, B1), the one place a forged one could mislead.
    this.orderer.submit(input);
  }

  private onCopy(from: ProcessId, envelope: Extract<GroupWire, { t: "copy" }>): void {
    const fromGroup = this.spec.membership.groupOf(from);
    if (fromGroup === undefined || fromGroup === this.group) {
      this.drop("unknown-sender");
      return;
    }
    if (
      !Number.isSafeInteger(envelope.k) ||
      envelope.k < 0 ||
      typeof envelope.signature !== "string" ||
      !isStreamItem(envelope.body)
    ) {
      this.drop("malformed");
      return;
    }
    if (!this.incoming.accepts(fromGroup, envelope.k)) {
      this.drop("stale-copy");
      return;
    }
    if (this.mode === "solo") {
      this.executeCopy(fromGroup, from, envelope.k, envelope.body);
      return;
    }
    const bytes = ENVELOPE_BYTES + 8 + this.itemBytes(envelope.body) + this.signatureBytes();
    const input = makeCopyInput(
      from,
      fromGroup,
      envelope.k,
      envelope.body,
      envelope.signature,
      bytes,
      this.signedDigest(),
    );
    // As for requests: the link proved who sent it; the signature is checked when it is shown to others.
    this.orderer.submit(input);
  }

  /**
   * Checks an input shown to this replica by another (a proposal's inputs, forwarded ones) or by
   * this replica to others (its own, before it proposes them): its digest is recomputed from its
   * content and its signature checked against that. Byzantine mode only.
   */
  private validRelayedInput(input: OrderedInput): boolean {
    const verifier = this.spec.verifier;
    if (verifier === undefined) return true;
    if (typeof input !== "object" || input === null || typeof input.signature !== "string") return false;
    if (input.kind === "request") {
      return (
        wellFormed(input.message, input.seq, input.client) &&
        Number.isSafeInteger(input.view) &&
        input.key === requestKey(input.client, input.seq, input.view) &&
        this.spec.membership.groupOf(input.client) === undefined &&
        Number.isSafeInteger(input.settled) &&
        input.settled >= 0 &&
        input.settled <= input.seq &&
        requestDigest(verifier.digest, input.client, input.seq, input.message, input.view, input.settled) ===
          input.digest &&
        this.signedRequest(verifier, input)
      );
    }
    if (input.kind !== "copy") return false;
    const fromGroup = this.spec.membership.groupOf(input.sender);
    if (
      !isStreamItem(input.body) ||
      fromGroup !== input.fromGroup ||
      fromGroup === this.group ||
      input.key !== `${input.sender}#${input.k}`
    )
      return false;
    const digests = copyDigests(verifier.digest, input.sender, input.fromGroup, input.k, input.body);
    return (
      digests.item === input.itemDigest &&
      digests.signed === input.digest &&
      verifier.verify(input.sender, input.digest, input.signature)
    );
  }

  /**
   * Whether the client signed `input`: its digest alone, or the root of a requests tree its place
   * leads to (checked once per tree: the verifier remembers a signature it passed).
   */
  private signedRequest(verifier: Verifier, input: RequestInput): boolean {
    const { signedWith } = input;
    if (signedWith === undefined) return verifier.verify(input.client, input.digest, input.signature);
    if (!isSignedWith(signedWith)) return false;
    const root = requestsRoot(verifier.digest, input.digest, signedWith);
    return verifier.verify(
      input.client,
      requestsDigest(verifier.digest, input.client, root),
      input.signature,
    );
  }

  private useful(input: OrderedInput): boolean {
    return input.kind === "request"
      ? !this.clients.isExecuted(input.client, input.seq, input.view)
      : this.incoming.accepts(input.fromGroup, input.k);
  }

  /** Runs one decided input through the protocol logic (repeats are dropped here). */
  private execute(input: OrderedInput): void {
    if (input.kind === "request")
      this.executeRequest(input.client, input.seq, input.message, input.view, input.settled);
    else if (this.incoming.takeNext(input.fromGroup, input.k)) this.executeItem(input.fromGroup, input.body);
    else for (const item of this.incoming.onOrderedCopy(input)) this.executeItem(item.fromGroup, item.body);
  }

  private executeRequest(
    client: ProcessId,
    seq: number,
    message: Multicast,
    view: number,
    settled: number,
  ): void {
    if (this.clients.markExecuted(client, seq, view, settled)) this.runRequest(message, seq, view);
  }

  /** Runs a request marked executed through the logic. */
  private runRequest(message: Multicast, seq: number, view: number): void {
    this.executedInputs += 1;
    this.lastRequest = message;
    this.lastRequestSeq = seq;
    const logic = this.logic;
    if (logic.stepInto === undefined) {
      this.apply(logic.step({ kind: "request", message, view }));
      return;
    }
    // One input object per replica, refilled (a logic keeps an input's fields, not the object).
    const input = this.requestInput;
    input.message = message;
    input.view = view;
    logic.stepInto(input, this.logicSink);
  }

  /** A solo replica's copy, decided on arrival: taken now if next in its stream, else counted. */
  private executeCopy(fromGroup: GroupId, sender: ProcessId, k: number, body: unknown): void {
    if (this.incoming.takeNext(fromGroup, k)) this.executeItem(fromGroup, body);
    else this.execute(makeCopyInput(sender, fromGroup, k, body, "", 0, undefined));
  }

  /** Item of another group's stream, taken in stream order: a step of the logic per message it carries. */
  private executeItem(fromGroup: GroupId, item: unknown): void {
    this.executedInputs += 1;
    // Taken items are well formed: checked on arrival, or vouched for by a correct sender.
    const logic = this.logic;
    for (const body of item as readonly unknown[]) {
      if (logic.stepInto === undefined) {
        this.apply(logic.step({ kind: "peer", from: fromGroup, body: body as M }));
        continue;
      }
      const input = this.peerInput;
      input.from = fromGroup;
      input.body = body as M;
      logic.stepInto(input, this.logicSink);
    }
  }

  /** Carries out the logic's outputs. */
  private apply(outputs: readonly GroupOutput<M>[]): void {
    for (const output of outputs) this.applyOne(output);
  }

  /** Carries out one of the logic's outputs. */
  private applyOne(output: GroupOutput<M>): void {
    switch (output.kind) {
      case "view":
        this.out.output({ kind: "view", group: this.group, view: output.view });
        break;
      case "redirect":
        this.redirect(output);
        break;
      case "send":
        this.sendToGroup(output.to, output.body);
        break;
      case "deliver":
        // A reconfigurable protocol answers its own control messages; the application the rest.
        this.deliver(output.message, "result" in output, output.result, output.withDelays === true);
        break;
    }
  }

  /** The logic's message to group `to`: the next item of the stream to it, or batched into one. */
  private sendToGroup(to: GroupId, body: M): void {
    if (to === this.group) assert(false, `group ${this.group} sends to itself`);
    const description = this.spec.protocol.describe(body);
    const item = this.outgoing.add(to, { body, description });
    if (item !== undefined) this.sendItem(to, item);
  }

  /**
   * The logic delivers `message`: the driver is told, and the client gets the result (the
   * logic's own when `ownResult`, else the application's), with the observed delays if asked.
   */
  private deliver(message: Multicast, ownResult: boolean, logicResult: unknown, withDelays: boolean): void {
    if (!message.dst.includes(this.group))
      assert(false, `group ${this.group} delivers ${message.id}, not addressed to it`);
    this.out.deliver(this.group, message);
    const result = ownResult ? logicResult : (this.spec.application?.(message, this.group) ?? null);
    const seq = message === this.lastRequest ? this.lastRequestSeq : sequenceOf(message);
    const answersNow = seq === undefined || this.answersNow();
    const reply: GroupWire =
      withDelays && answersNow
        ? { t: "reply", id: message.id, group: this.group, result, delays: this.takeObservedDelays() }
        : { t: "reply", id: message.id, group: this.group, result };
    const cached = seq !== undefined && this.clients.recordReplyIfExecuted(message.client, seq, reply);
    if (answersNow || !cached) this.sendReply(message.client, reply);
  }

  /**
   * Item k of this group's stream to group `to`, carrying `bodies`: copied to every replica of
   * `to`, signed by this replica in Byzantine mode (one signature for all the messages it carries).
   */
  private sendItem(to: GroupId, messages: readonly QueuedMessage[]): void {
    const k = this.outgoing.next(to);
    const bodies = messages.map((message) => message.body);
    const signer = this.spec.signer;
    const signature =
      signer === undefined
        ? ""
        : signer.sign(copyDigests(signer.digest, this.id, this.group, k, bodies).signed);
    const envelope: GroupWire = { t: "copy", k, body: bodies, signature };
    const first = (messages[0] as QueuedMessage).description;
    // Several messages: labelled as a batch, about the multicast they share if they share one,
    // and listing the multicast of each message it carries (what genuineness counts).
    let label = first.kind;
    let id = first.id;
    let ids: MessageId[] | undefined;
    let bytes = ENVELOPE_BYTES + 8 + this.signatureBytes() + first.bytes;
    for (let index = 1; index < messages.length; index += 1) {
      const description = (messages[index] as QueuedMessage).description;
      if (ids === undefined) {
        label = STREAM_BATCH_LABEL;
        ids = first.id === undefined ? [] : [first.id];
      }
      if (description.id !== id) id = undefined;
      if (description.id !== undefined) ids.push(description.id);
      bytes += description.bytes;
    }
    const carried = ids !== undefined && ids.length > 0 ? ids : undefined;
    if (this.mode === "solo") {
      // Nothing keeps a solo item (it is never sent again): its copies go out as they are made.
      for (const replica of this.spec.membership.replicas(to))
        this.out.send(replica, envelope, bytes, label, true, id, carried);
      return;
    }
    const item: RecentItem = { to, k, envelope, bytes, label, id, ids: carried };
    this.recentItems.add(item);
    if (this.mode === "crash" && !this.leadsGroup()) return;
    for (const replica of this.itemReceivers(to)) this.sendCopy(item, replica);
  }

  /** Sends `item`'s copy to `replica`. */
  private sendCopy(item: RecentItem, replica: ProcessId): void {
    this.out.send(replica, item.envelope, item.bytes, item.label, true, item.id, item.ids);
  }

  /**
   * Who gets this group's stream items to group `to`: in crash mode its leader alone once it said
   * which replica that is (`resend` with a term: a replica that becomes leader asks for the items
   * its group has not taken yet, see `leadsGroup`), so the other replicas there decode each item
   * once, inside their leader's append; otherwise every replica of `to`.
   */
  private itemReceivers(to: GroupId): readonly ProcessId[] {
    const leader = this.mode === "crash" ? this.leaderOf.get(to) : undefined;
    return leader === undefined ? this.spec.membership.replicas(to) : [leader.replica];
  }

  /**
   * Crash mode: whether this replica leads its group. Only the leader sends stream items (any
   * replica of a group is trusted, so one copy per receiving replica is enough); every replica
   * keeps the last ones it made (`RecentItems`), and one that becomes leader sends those again
   * first: the items a leader that crashed made last may have died with it unsent (on real
   * processes, in its sockets' buffers), and its successor made them too unless it makes them
   * now, as leader. Receivers drop the copies of items they already took. It also tells every
   * replica of every other group that it leads (`askResend` with its term): their leaders then
   * send it their items to this group alone, from the first this group has not taken.
   */
  private leadsGroup(): boolean {
    const leading = this.orderer.leader() === this.id;
    if (leading && !this.leading) {
      for (const item of this.recentItems.items())
        for (const replica of this.itemReceivers(item.to)) this.sendCopy(item, replica);
      // Items to this group go to its leader alone: what the previous one received and its group
      // did not order yet is lost with it unless sent again to this one.
      this.askResend((this.orderer as RaftOrderer).term);
    }
    this.leading = leading;
    return leading;
  }

  /**
   * The logic refused a request it took (now or earlier: one may wait inside it for a view and be
   * refused on a later peer input): the client sends it again under the view the redirect names.
   * The redirect carries the version (view) the request was sent under, which the client's
   * count of f+1 matching refusals is per.
   */
  private redirect(output: Extract<GroupOutput<M>, { kind: "redirect" }>): void {
    const { message } = output;
    const seq = sequenceOf(message);
    assert(seq !== undefined, () => `${this.group} redirects ${message.id}, which no client sent`);
    assert(
      Number.isSafeInteger(output.requestView) && output.requestView >= 0,
      () => `${this.group} redirects ${message.id} with request view ${output.requestView}`,
    );
    const redirect: GroupWire = {
      t: "redirect",
      id: message.id,
      requestView: output.requestView,
      view: output.view,
      overlay: output.overlay,
    };
    // Not executed after all: the request sent again under the new view (possibly to this very
    // group) must run, so (client, seq) is forgotten, but as refused under its view: a copy of
    // that version still pooled at a replica is stale, and a retry of it gets this redirect. One
    // the client settled since, or that was answered here, is not awaited: no redirect.
    if (!this.clients.forget(message.client, seq, redirect)) return;
    this.sendReply(message.client, redirect);
  }

  /**
   * Answers a client. In crash mode only the leader does (the others execute alike and keep the
   * reply for a retry, but send nothing): one reply is all a crash-mode client needs, it comes
   * over an authenticated link from a replica of the group, and the client learns from it whom
   * to send its next requests to. A leader that crashed before answering costs the client a
   * retry, which goes to every replica and is answered by the next leader, from its reply cache.
   */
  /**
   * Byzantine mode: whether this replica answers the delivery of (client, seq) at once. A client
   * acts on f+1 matching replies, so f+1 replicas of the group answer, chosen by the position
   * being executed (rank `position` mod n and the f after it): the replies to one ordered batch
   * come from the same f+1 replicas, so each of them answers a client's requests of that batch in
   * one frame and the client completes them in one turn (and sends its next requests together),
   * and the work still spreads over the group from one batch to the next. The others keep the
   * reply in their cache. This holds only where the group executed the client's
   * own request (the caller checks the reply was cached): the client's retry then reaches every
   * replica of the group, which all answer it from the cache, so a silent or lying chosen replica
   * costs a retry, never the answer. A group that delivers what another group carried to it
   * (ByzCast below the entry group) never sees the client's retries: all its replicas answer.
   */
  private answersNow(): boolean {
    if (this.mode !== "byzantine") return true;
    const replicas = this.spec.membership.replicas(this.group);
    const rank = replicas.indexOf(this.id);
    // Deliveries happen while a decided position executes: the one after the last executed.
    const first = (this.executedPosition + 1) % replicas.length;
    return (rank - first + replicas.length) % replicas.length <= this.spec.f;
  }

  private sendReply(client: ProcessId, reply: GroupWire): void {
    assert(
      reply.t === "reply" || reply.t === "redirect" || reply.t === "under-way",
      "an envelope for a client",
    );
    if (this.mode === "crash" && this.orderer.leader() !== this.id) return;
    const bytes =
      reply.t === "reply"
        ? replyBytes(reply.id, reply.group) + DELAY_ENTRY_BYTES * (reply.delays?.length ?? 0)
        : replyBytes(reply.id, "") + (reply.t === "redirect" ? 64 : 0);
    this.out.send(client, reply, bytes, reply.t, false, reply.id, undefined);
  }

  /** Modelled bytes of a stream item's messages (one a sender's protocol cannot describe: 64). */
  private itemBytes(bodies: readonly unknown[]): number {
    let bytes = 0;
    for (const body of bodies) {
      try {
        bytes += this.spec.protocol.describe(body as M).bytes;
      } catch {
        bytes += 64;
      }
    }
    return bytes;
  }

  /** The digest of what is signed, in Byzantine mode only (the only mode that digests inputs). */
  private signedDigest(): SignedDigest | undefined {
    return this.mode === "byzantine" ? this.spec.verifier?.digest : undefined;
  }

  private signatureBytes(): number {
    return this.mode === "byzantine" ? SIGNATURE_BYTES : 0;
  }

  private flush(): readonly ProcessOutput[] {
    if (this.mode === "crash") this.leadsGroup();
    return this.collector.take();
  }

  /** Counts an input dropped for `reason` (what the step made before it still leaves). */
  private drop(reason: DropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }
}

const NO_INPUTS: readonly OrderedInput[] = [];
const NO_DECISIONS: readonly DecidedPosition[] = [];

/** A log position a replica decided: what its journal keeps to execute it again after a restart. */
export interface DecidedPosition {
  readonly position: number;
  /** The orderer's mark there (Raft: the entry's term; PBFT: the digest chain). */
  readonly mark: number | string;
  readonly batch: readonly OrderedInput[];
}

/**
 * The stream items a replica made last. Crash mode: sent again when it becomes leader — what a
 * crashed leader may have failed to send is what it made in its last turns (on real processes,
 * what its sockets had not taken yet), and so what its successor made last. Every replicated
 * mode: sent again to a replica back from a crash that asks (`resend`). The most recent items
 * are kept whatever their destination, within this many and this many modelled bytes: a bound on
 * the memory and on the resend, far above the few decided batches of a leader's last turns (a
 * group down for longer than its senders take to make that many items stays behind).
 */
const RECENT_ITEMS_MAX = 256;
const RECENT_ITEM_BYTES_MAX = 1024 * 1024;
/** Ticks between two answers to one replica's `resend` (a replica asks once per restart). */
const RESEND_ANSWER_TICKS_MIN = 10;
/** Trace label of a `resend` request. */
const RESEND_LABEL = "stream-resend";

/** The sends of the stream items made last (one send per receiving replica), oldest first. */
class RecentItems {
  private kept: RecentItem[] = [];
  private head = 0;
  private bytes = 0;

  add(item: RecentItem): void {
    this.kept.push(item);
    this.bytes += item.bytes;
    while (
      this.kept.length - this.head > 1 &&
      (this.kept.length - this.head > RECENT_ITEMS_MAX || this.bytes > RECENT_ITEM_BYTES_MAX)
    ) {
      this.bytes -= (this.kept[this.head] as RecentItem).bytes;
      this.head += 1;
    }
    // Compacted now and then: dropping one item per item made would copy the list each time.
    if (this.head >= RECENT_ITEMS_MAX) {
      this.kept = this.kept.slice(this.head);
      this.head = 0;
    }
  }

  /** The kept items, oldest first. */
  *items(): Iterable<RecentItem> {
    for (let index = this.head; index < this.kept.length; index += 1) yield this.kept[index] as RecentItem;
  }

  /** The kept items of the stream to `group` from item `fromK` on, oldest first. */
  *itemsFrom(group: GroupId, fromK: number): Iterable<RecentItem> {
    for (const item of this.items()) if (item.to === group && item.k >= fromK) yield item;
  }
}

/** A stream item as made: what each of its sends carries. */
interface RecentItem {
  readonly to: GroupId;
  readonly k: number;
  readonly envelope: GroupWire;
  /** Modelled bytes of one copy. */
  readonly bytes: number;
  readonly label: string;
  /** The multicast all its messages are about, if one. */
  readonly id: MessageId | undefined;
  /** The multicast of each message it carries, when it carries several. */
  readonly ids: readonly MessageId[] | undefined;
}

/** Trace label of a stream item carrying several protocol messages. */
export const STREAM_BATCH_LABEL = "stream-batch";

/**
 * A request's message is the client's own: its id is "<client>:<seq>" and its fields have their
 * types. `validDst`: a destination array already found valid, not checked again.
 */
function wellFormed(message: Multicast, seq: number, client: ProcessId, validDst?: DestinationSet): boolean {
  if (typeof message !== "object" || message === null || !Number.isSafeInteger(seq) || seq < 0) return false;
  if (message.client !== client || typeof message.id !== "string") return false;
  if (!message.id.startsWith(client) || sequenceAt(message.id, client.length) !== seq) return false;
  if (typeof message.payloadBytes !== "number" || !(message.payloadBytes >= 0)) return false;
  const dst = message.dst as unknown;
  if (dst === validDst && validDst !== undefined) return true;
  if (!Array.isArray(dst) || dst.length === 0) return false;
  for (let i = 0; i < dst.length; i += 1) {
    if (typeof dst[i] !== "string" || (i > 0 && !(dst[i - 1] < dst[i]))) return false;
  }
  return true;
}

/** The median of a non-empty list (the mean of the middle two for an even length). */
function median(values: number[]): number {
  values.sort((a, b) => a - b);
  const middle = values.length >> 1;
  return values.length % 2 === 1
    ? (values[middle] as number)
    : ((values[middle - 1] as number) + (values[middle] as number)) / 2;
}

/** The sequence number in a message id "<client>:<seq>". */
function sequenceOf(message: Multicast): number | undefined {
  const at = message.id.lastIndexOf(":");
  if (at <= 0) return undefined;
  // Plain decimal digits, the common case, without building a substring.
  const seq = sequenceAt(message.id, at);
  if (seq !== undefined) return seq;
  const parsed = Number(message.id.slice(at + 1));
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}

/**
 * A replica rebuilt as a journal of decided positions rebuilds it (the simulator's `journal`
 * crashes; on the network runtime the journal does the same from disk): built by `make` with the
 * hard state written last (its orderer's log past the last decided position included: Raft R8,
 * PBFT B7), its latest checkpoint restored (`restoreCheckpoint`), the positions decided after it
 * executed again (`executeDecided`; their outputs left before the crash). `kept`: the positions
 * decided since the latest checkpoint, carried from one incarnation to the next (updated here).
 * `previous` journals its decisions (`journalDecisions`); so does the replica returned. Last, as
 * the network runtime's host does after a replay, it is told it `restarted`: it asks its group
 * where it stands and the other groups for the stream items sent while it was down (their
 * outputs leave with its next step).
 */
export function restartFromDecisions(
  previous: Replica<unknown>,
  kept: DecidedPosition[],
  make: (hardState: unknown) => Replica<unknown>,
): Replica<unknown> {
  const checkpoint = previous.latestCheckpoint;
  const decided = [...kept, ...previous.takeDecisions()].filter(
    (position) => position.position > (checkpoint?.position ?? 0),
  );
  const replica = make(previous.hardState());
  if (checkpoint !== undefined) replica.restoreCheckpoint(checkpoint);
  for (const position of decided)
    if (position.position === replica.executedPosition + 1) replica.executeDecided(position);
  replica.journalDecisions();
  kept.splice(0, kept.length, ...decided);
  replica.restarted();
  return replica;
}

export function createReplica<M>(spec: ReplicaSpec<M>): Replica<M> {
  return new Replica(spec);
}
