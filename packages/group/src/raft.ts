import type { Prng, ProcessId } from "@amcast/core";
import { assert } from "@amcast/core";
import { BackoffLevel } from "./backoff.js";
import type { OrderedInput } from "./inputs.js";
import { batchBytes, InputPool, ProposedInputs } from "./inputs.js";
import type { Orderer, OrdererHost, OrderingOptions } from "./orderer.js";

/**
 * `crash` mode: 2f+1 replicas agree on a log of batches, Raft-style (Ongaro and Ousterhout, 2014).
 *
 * - R1 (election): a follower that hears no leader for its election timeout becomes a candidate
 *   for the next term and asks for votes; a replica votes once per term, and only for a candidate
 *   whose log is at least as up to date as its own (last term, then length). A majority elects.
 * - R1a (pre-vote): before that, it asks whether it could win (Ongaro's thesis, 9.6): a replica
 *   says yes to a term above its own and an up-to-date log, changing nothing; only a majority of
 *   yeses starts the real election. A replica cut off for a while therefore cannot raise the term
 *   and depose a leader that works.
 * - R1b (leader lease and check-quorum): a replica that heard from a working leader within the
 *   shortest election timeout refuses pre-votes and votes, and does not take up their term; the
 *   leader in turn steps down when it has not heard from a majority for four mean election
 *   timeouts, so a leader cut off from a majority cannot hold the lease of the few it still reaches.
 * - R1c (timeouts that back off): election timeouts are drawn in [T/2, 3T/2) from the replica's
 *   seeded random stream, T = `electionTimeoutTicks` * 2^level. The level rises when the network
 *   proved slower than T assumed: an election round of this replica ran out of time, a replica
 *   that gave up on its leader hears from it again, a leader that was replaced turns out alive
 *   (its append arrives in a later term; once per term), or a leader steps down for want of a
 *   majority. It falls one step after a long calm in which the leader's (for a leader, a
 *   majority's) longest silence stayed within half of what the lower level allows, so fast
 *   failover comes back once the network calms down.
 * - R2 (replication): the leader appends a batch of pooled inputs per entry, at most
 *   `pipelineMax` undecided entries at a time (while one is undecided, only full batches), and sends each follower the entries after what it
 *   is known to hold, with the index and term of the entry before them; a follower accepts only if
 *   it holds that entry (log matching), dropping any conflicting suffix.
 * - R2a (one copy per stream item): of the copies of another group's stream item, the leader
 *   proposes only as many as its group needs to take the item (`OrdererHost.copiesNeeded`: one in
 *   crash mode); the rest stay pooled until the item is taken, and are proposed if the entry
 *   holding the first is lost with its leader (every replica pools what it received, R4).
 * - R3 (commit): an entry of the leader's current term stored by a majority is committed, and so
 *   is everything before it; replicas apply committed entries in index order. A new leader first
 *   appends an empty entry of its own term, which commits whatever earlier terms left undecided.
 *   Followers learn the commit index from the leader's next append or heartbeat.
 * - R4 (no input lost): every replica pools the inputs it received; a follower forwards those
 *   waiting longer than `requestTimeoutTicks` to the leader, and a new leader proposes from its
 *   own pool, so failover loses nothing. Repeats are dropped at execution.
 * - R5 (catch-up): a lagging or recovered follower is sent the entries it misses, in chunks,
 *   starting after its last match; the leader moves back on a mismatch.
 *
 * - R6 (checkpoints): a replica that can snapshot checkpoints every `checkpointEntries` positions
 *   and drops the entries before its previous checkpoint; a follower that needs an entry the
 *   leader dropped is sent the leader's latest checkpoint (position and root), fetches it from the
 *   group (transfer.ts), installs it and continues from there.
 * - R7 (amnesia): a replica restarted with only its hard state (term, vote) grants no votes until
 *   it has caught up with a commit index a leader told it: it may have acknowledged entries it no
 *   longer holds, and must not help elect a leader that lacks them.
 * - R8 (durable restart): a journal of decided positions keeps the log up to the last executed
 *   position as those positions; the hard state it writes with them (`hardState(true)`) adds the
 *   rest of the log, the entries past that position, written in the turn that appended them,
 *   before the acknowledgement leaves. Restarted from that journal, the replica has term, vote
 *   and its whole log back once the journal's positions are executed again up to the log's start
 *   (`install` at that position and term): R7 does not hold it, it may campaign and vote at once,
 *   so a whole group restarted together elects a leader. A log that does not join what was
 *   rebuilt (a journal cut short) is dropped and R7 holds. While R7 still holds a replica, its
 *   hard state carries no log (a restart then stays under R7). Bound: the entries past the last
 *   executed position, at most the leader's pipeline (`pipelineMax`, plus its empty entry) past
 *   its commit index and the entries committed since the follower last heard of it.
 *
 * Term, vote and log are the state a real deployment keeps on disk; the simulator's durable
 * crashes keep them too (a process resumes with its state), and lose only what is in flight.
 */
interface Entry {
  readonly term: number;
  readonly batch: readonly OrderedInput[];
}

export type RaftMessage =
  | {
      readonly type: "append";
      readonly term: number;
      readonly prevIndex: number;
      readonly prevTerm: number;
      readonly entries: readonly Entry[];
      readonly commit: number;
    }
  | {
      readonly type: "append-reply";
      readonly term: number;
      readonly success: boolean;
      readonly matchIndex: number;
    }
  | { readonly type: "vote"; readonly term: number; readonly lastIndex: number; readonly lastTerm: number }
  | { readonly type: "vote-reply"; readonly term: number; readonly granted: boolean }
  /** R1a: "would you vote for me in `term`?" (the sender's term plus one; nobody changes state). */
  | {
      readonly type: "pre-vote";
      readonly term: number;
      readonly lastIndex: number;
      readonly lastTerm: number;
    }
  /** `term`: the term asked about when granted, the voter's own term when refused. */
  | { readonly type: "pre-vote-reply"; readonly term: number; readonly granted: boolean }
  | { readonly type: "forward"; readonly inputs: readonly OrderedInput[] }
  /**
   * R6: the leader no longer holds the entries the follower needs: fetch the checkpoint at
   * `position` whose root is `root` (the leader vouches for it in `term`).
   */
  | { readonly type: "snapshot"; readonly term: number; readonly position: number; readonly root: string };

/** What crash mode's disk keeps across a crash that loses memory (R7), and across a restart (R8). */
export interface RaftHardState {
  readonly term: number;
  readonly votedFor: ProcessId | null;
  /** R8: the log past the last executed position (with a journal of decided positions only). */
  readonly log?: RaftLogSuffix;
}

/** R8: the entries after position `after`, whose entry was of term `afterTerm`. */
export interface RaftLogSuffix {
  readonly after: number;
  readonly afterTerm: number;
  readonly entries: readonly Entry[];
}

type Role = "follower" | "pre-candidate" | "candidate" | "leader";

type AppendMessage = Extract<RaftMessage, { type: "append" }>;

/** An append built for followers whose next entry is `next` (one broadcast's shared message). */
interface AppendSent {
  readonly next: number;
  readonly message: AppendMessage;
  readonly bytes: number;
}

/** Modelled bytes of a Raft message's header (type, term, indices). */
const HEADER_BYTES = 24;
/** R1c: highest backoff level (timeouts up to 64x the base). */
const BACKOFF_LEVEL_MAX = 6;
/**
 * R1b: a leader steps down after this many mean election timeouts without hearing from a
 * majority. Its only task is to end the lease of the few a cut-off leader still reaches, so it
 * can be patient: a leader that gives up early under delay costs an election.
 */
const QUORUM_WINDOW_TIMEOUTS = 4;
/** R1c: calm needed before a level is dropped, in mean election timeouts of the current level. */
const CALM_TIMEOUTS = 10;
/** Resolution of the random part of a timeout (an integer draw; decisions never use floats). */
const SPREAD_STEPS = 1024;

export class RaftOrderer implements Orderer {
  private role: Role = "follower";
  private currentTerm = 0;
  private votedFor: ProcessId | null = null;
  private leaderId: ProcessId | undefined;
  /** Log entries from `firstIndex` on; earlier ones were applied and dropped (`retainedEntriesMax`). */
  private entries: Entry[] = [];
  private firstIndex = 1;
  /** Term of the entry just before `firstIndex` (0 for the empty log). */
  private droppedTerm = 0;
  private commitIndex = 0;
  private lastApplied = 0;
  private electionDeadline = 0;
  /** R1c: the random part of the election timeout, in 1/SPREAD_STEPS of T, drawn at each reset. */
  private spreadSteps = 0;
  /** R1c: the backoff level; its calm watches the leader's (for a leader, a majority's) silences. */
  private readonly backoff = new BackoffLevel(BACKOFF_LEVEL_MAX);
  /** R1c: the term in which a live leader of an earlier term last raised the level (once per term). */
  private stalePenaltyTerm = -1;
  /** R1b: tick at which this follower last heard from its leader. */
  private leaderHeardAt = Number.NEGATIVE_INFINITY;
  private readonly votes = new Set<ProcessId>();
  private readonly nextIndex = new Map<ProcessId, number>();
  private readonly matchIndex = new Map<ProcessId, number>();
  /** Tick at which each follower last answered the leader: silent ones do not hold up `idle`. */
  private readonly lastHeard = new Map<ProcessId, number>();
  private lastHeartbeat = 0;
  private readonly pool: InputPool;
  /**
   * Inputs in log entries not yet applied: the leader must not propose them again, nor more copies
   * of a stream item than its group needs to take it (R2a).
   */
  private readonly proposedKeys = new ProposedInputs();
  private readonly majority: number;
  private readonly peers: readonly ProcessId[];
  /**
   * Reused for the per-replica numbers a leader ranks (match indexes with its own last index on
   * every append reply, peers' last heard times on every tick): a fresh array each time was a
   * steady share of crash mode's garbage. Typed arrays of fixed length: emptying and refilling a
   * plain array reallocates its storage.
   */
  private readonly matchScratch: Float64Array;
  private readonly heardScratch: Float64Array;
  /** Followers that fell further behind than the retained log reaches (without checkpoints). */
  readonly followersBeyondLog = new Set<ProcessId>();
  /** R6: tick at which each follower was last offered a checkpoint. */
  private readonly snapshotOfferedTick = new Map<ProcessId, number>();
  /** R7: after amnesia, the commit index to reach before voting again (infinite until a leader says). */
  private recoveringTo: number | undefined;
  /** R8: the log a restart brought back, until the positions before it are executed again. */
  private restoredLog: RaftLogSuffix | undefined;

  /** `random`: this replica's own stream of the run's seed; it only spreads election timeouts. */
  constructor(
    private readonly host: OrdererHost,
    private readonly options: OrderingOptions,
    private readonly random: Prng,
    hardState?: RaftHardState,
  ) {
    assert(host.replicas.includes(host.self), "a replica is one of its group's replicas");
    assert(
      host.replicas.length % 2 === 1,
      () => `crash mode needs 2f+1 replicas, got ${host.replicas.length}`,
    );
    this.majority = Math.floor(host.replicas.length / 2) + 1;
    this.peers = host.replicas.filter((replica) => replica !== host.self);
    this.matchScratch = new Float64Array(this.peers.length + 1);
    this.heardScratch = new Float64Array(this.peers.length);
    this.pool = new InputPool(options.poolInputsMax);
    if (hardState !== undefined) {
      this.currentTerm = hardState.term;
      this.votedFor = hardState.votedFor;
      this.recoveringTo = Number.POSITIVE_INFINITY;
      this.restoredLog = hardState.log;
      // Nothing was executed before it: it joins the empty log at once.
      this.joinRestoredLog(0, 0);
    }
    this.resetElectionTimer();
  }

  hardState(withLog = false): RaftHardState {
    const hard = { term: this.currentTerm, votedFor: this.votedFor };
    // R8: not while R7 holds this replica (its log may lack what it acknowledged before).
    if (!withLog || (this.recoveringTo !== undefined && this.lastApplied < this.recoveringTo)) return hard;
    const log: RaftLogSuffix = {
      after: this.lastApplied,
      afterTerm: this.termAt(this.lastApplied),
      entries: this.entries.slice(this.lastApplied + 1 - this.firstIndex),
    };
    return { ...hard, log };
  }

  /**
   * R8: once the journal's positions are executed again up to `position` (of term `mark`), the
   * restored log continues there: the replica has its whole log back and R7 no longer holds it.
   * A log that does not join there is dropped.
   */
  private joinRestoredLog(position: number, mark: number | string): void {
    const restored = this.restoredLog;
    if (restored === undefined || position < restored.after) return;
    this.restoredLog = undefined;
    if (position !== restored.after || mark !== restored.afterTerm || this.lastIndex() !== position) return;
    this.entries = [...restored.entries];
    for (const entry of this.entries) for (const input of entry.batch) this.proposedKeys.add(input);
    this.recoveringTo = undefined;
  }

  /** R7: still catching up after amnesia (no votes). */
  private recovering(): boolean {
    if (this.recoveringTo === undefined) return false;
    if (this.lastApplied < this.recoveringTo) return true;
    this.recoveringTo = undefined;
    return false;
  }

  leader(): ProcessId | undefined {
    return this.leaderId;
  }

  get term(): number {
    return this.currentTerm;
  }

  get isLeader(): boolean {
    return this.role === "leader";
  }

  get applied(): number {
    return this.lastApplied;
  }

  idle(): boolean {
    if (this.pool.size > 0 || this.lastApplied !== this.lastIndex() || this.commitIndex !== this.lastIndex())
      return false;
    if (this.role !== "leader") return true;
    // A leader is idle once every follower it still hears from holds the whole log.
    const now = this.host.now();
    return this.peers.every(
      (peer) => (this.matchIndex.get(peer) ?? 0) === this.lastIndex() || !this.stillHears(peer, now),
    );
  }

  submit(input: OrderedInput): void {
    if (!this.pool.add(input, this.host.now())) return;
    if (this.role === "leader") this.propose();
  }

  receive(from: ProcessId, raw: unknown): void {
    if (!this.host.replicas.includes(from) || from === this.host.self) return;
    const message = raw as RaftMessage;
    switch (message.type) {
      case "append":
        this.onAppend(from, message);
        break;
      case "append-reply":
        this.onAppendReply(from, message);
        break;
      case "pre-vote":
        this.onPreVote(from, message);
        break;
      case "pre-vote-reply":
        this.onPreVoteReply(from, message);
        break;
      case "vote":
        this.onVote(from, message);
        break;
      case "vote-reply":
        this.onVoteReply(from, message);
        break;
      case "forward":
        for (const input of message.inputs) this.pool.add(input, this.host.now());
        if (this.role === "leader") this.propose();
        break;
      case "snapshot":
        this.onSnapshot(from, message);
        break;
      default:
        break;
    }
  }

  tick(): void {
    const now = this.host.now();
    this.pool.prune(this.host.useful);
    if (this.role === "leader") {
      // R1b (check-quorum): a leader no majority answered within the quorum window steps down.
      const silence = this.majoritySilence(now);
      if (silence >= this.quorumWindow()) {
        this.raiseBackoff();
        this.becomeFollower(this.currentTerm, undefined);
        return;
      }
      this.watchCalm(silence, this.quorumWindow());
      if (now - this.lastHeartbeat >= this.options.heartbeatTicks) this.broadcastAppend();
      return;
    }
    if (now >= this.electionDeadline && !this.recovering()) {
      // R1c: a round of our own that ran out of time says the network is slower than assumed.
      if (this.role !== "follower") this.raiseBackoff();
      this.startPreVote();
      return;
    }
    if (this.role === "follower" && this.leaderId !== undefined)
      this.watchCalm(now - this.leaderHeardAt, this.shortestTimeout());
    // R4: inputs the leader has not ordered in time go to it directly.
    if (this.leaderId !== undefined) {
      const stale = this.pool.takeForForwarding(
        now,
        this.options.requestTimeoutTicks,
        this.options.batchInputsMax,
      );
      if (stale.length > 0)
        this.host.send(
          this.leaderId,
          { type: "forward", inputs: stale },
          HEADER_BYTES + batchBytes(stale),
          "raft.forward",
        );
    }
  }

  // R1: elections.

  /** T: the mean election timeout at the current backoff level (R1c). */
  private meanTimeout(): number {
    return this.backoff.scale(this.options.electionTimeoutTicks);
  }

  /** T/2: the shortest election timeout, and the lease of a leader heard from (R1b). */
  private shortestTimeout(): number {
    return this.meanTimeout() / 2;
  }

  /** Draws a new timeout in [T/2, 3T/2) from now (R1c). */
  private resetElectionTimer(): void {
    this.spreadSteps = this.random.int(SPREAD_STEPS);
    this.extendElectionTimer();
  }

  /** Restarts the current timeout from now, keeping its random part (a heartbeat arrived). */
  private extendElectionTimer(): void {
    const spread = Math.floor((this.meanTimeout() * this.spreadSteps) / SPREAD_STEPS);
    this.electionDeadline = this.host.now() + this.shortestTimeout() + spread;
  }

  private raiseBackoff(): void {
    this.backoff.raise(this.host.now());
  }

  private restartCalm(): void {
    this.backoff.restartCalm(this.host.now());
  }

  /**
   * R1c: notes the current silence of the leader (of a majority, for a leader), against the
   * `limit` the current level allows it, and drops a level after a long calm in which the lower
   * level's limit (half of this one) would have had twice the room it needed.
   */
  private watchCalm(silence: number, limit: number): void {
    this.backoff.observe(this.host.now(), silence, CALM_TIMEOUTS * this.meanTimeout(), limit / 4);
  }

  /** Ticks since a majority (this leader included) was last heard from. */
  private majoritySilence(now: number): number {
    const heard = this.heardScratch;
    for (let index = 0; index < this.peers.length; index += 1)
      heard[index] = this.lastHeard.get(this.peers[index] as ProcessId) ?? Number.NEGATIVE_INFINITY;
    return now - (sortDescending(heard)[this.majority - 2] ?? now);
  }

  /** R1b: how long a leader waits to hear from a majority. */
  private quorumWindow(): number {
    return QUORUM_WINDOW_TIMEOUTS * this.meanTimeout();
  }

  /** Whether the leader heard from `peer` within the quorum window. */
  private stillHears(peer: ProcessId, now: number): boolean {
    return now - (this.lastHeard.get(peer) ?? Number.NEGATIVE_INFINITY) < this.quorumWindow();
  }

  /**
   * R1b: whether this replica holds a working leader's lease: it leads, or it heard from its leader
   * within the shortest election timeout. It then neither grants (pre-)votes nor takes up their term.
   */
  private inLease(): boolean {
    if (this.role === "leader") return true;
    return (
      this.role === "follower" &&
      this.leaderId !== undefined &&
      this.host.now() - this.leaderHeardAt < this.shortestTimeout()
    );
  }

  private logUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myLastTerm = this.termAt(this.lastIndex());
    return lastTerm > myLastTerm || (lastTerm === myLastTerm && lastIndex >= this.lastIndex());
  }

  /** R1a: asks whether the next term could be won, changing nothing yet. */
  private startPreVote(): void {
    this.role = "pre-candidate";
    this.leaderId = undefined;
    this.votes.clear();
    this.votes.add(this.host.self);
    this.resetElectionTimer();
    const message: RaftMessage = {
      type: "pre-vote",
      term: this.currentTerm + 1,
      lastIndex: this.lastIndex(),
      lastTerm: this.termAt(this.lastIndex()),
    };
    for (const peer of this.peers) this.host.send(peer, message, HEADER_BYTES, "raft.pre-vote");
    if (this.votes.size >= this.majority) this.startElection();
  }

  private onPreVote(from: ProcessId, message: Extract<RaftMessage, { type: "pre-vote" }>): void {
    const granted =
      message.term > this.currentTerm &&
      !this.inLease() &&
      !this.recovering() &&
      this.logUpToDate(message.lastIndex, message.lastTerm);
    this.host.send(
      from,
      { type: "pre-vote-reply", term: granted ? message.term : this.currentTerm, granted },
      HEADER_BYTES,
      "raft.pre-vote-reply",
    );
  }

  private onPreVoteReply(from: ProcessId, message: Extract<RaftMessage, { type: "pre-vote-reply" }>): void {
    if (!message.granted) {
      if (message.term > this.currentTerm) this.becomeFollower(message.term, undefined);
      return;
    }
    if (this.role !== "pre-candidate" || message.term !== this.currentTerm + 1) return;
    this.votes.add(from);
    if (this.votes.size >= this.majority) this.startElection();
  }

  private startElection(): void {
    this.role = "candidate";
    this.currentTerm += 1;
    this.votedFor = this.host.self;
    this.leaderId = undefined;
    this.votes.clear();
    this.votes.add(this.host.self);
    this.resetElectionTimer();
    const message: RaftMessage = {
      type: "vote",
      term: this.currentTerm,
      lastIndex: this.lastIndex(),
      lastTerm: this.termAt(this.lastIndex()),
    };
    for (const peer of this.peers) this.host.send(peer, message, HEADER_BYTES, "raft.vote");
    if (this.votes.size >= this.majority) this.becomeLeader();
  }

  private onVote(from: ProcessId, message: Extract<RaftMessage, { type: "vote" }>): void {
    // R1b: within a working leader's lease the request is refused without taking up its term.
    if (message.term > this.currentTerm && !this.inLease()) this.becomeFollower(message.term, undefined);
    const granted =
      message.term === this.currentTerm &&
      (this.votedFor === null || this.votedFor === from) &&
      !this.inLease() &&
      !this.recovering() &&
      this.logUpToDate(message.lastIndex, message.lastTerm);
    if (granted) {
      this.votedFor = from;
      this.resetElectionTimer();
    }
    this.host.send(
      from,
      { type: "vote-reply", term: this.currentTerm, granted },
      HEADER_BYTES,
      "raft.vote-reply",
    );
  }

  private onVoteReply(from: ProcessId, message: Extract<RaftMessage, { type: "vote-reply" }>): void {
    if (message.term > this.currentTerm) {
      this.becomeFollower(message.term, undefined);
      return;
    }
    if (this.role !== "candidate" || message.term !== this.currentTerm || !message.granted) return;
    this.votes.add(from);
    if (this.votes.size >= this.majority) this.becomeLeader();
  }

  /**
   * Follows `leader` (or nobody) in `term`. A heartbeat from the leader already followed only
   * restarts the timer; anything else draws a new one.
   */
  private becomeFollower(term: number, leader: ProcessId | undefined): void {
    assert(term >= this.currentTerm, "terms never go back");
    const sameLeader = this.role === "follower" && term === this.currentTerm && leader === this.leaderId;
    // R1c: a replica that gave up on its leader and hears from it again timed out too early.
    if (this.role === "pre-candidate" && term === this.currentTerm && leader !== undefined)
      this.raiseBackoff();
    if (term > this.currentTerm) {
      this.currentTerm = term;
      this.votedFor = null;
    }
    this.role = "follower";
    if (this.leaderId !== leader && leader !== undefined) this.pool.resetForwarding();
    if (leader !== undefined) {
      if (!sameLeader) this.restartCalm();
      this.leaderHeardAt = this.host.now();
    }
    this.leaderId = leader;
    if (sameLeader) this.extendElectionTimer();
    else this.resetElectionTimer();
  }

  private becomeLeader(): void {
    assert(this.role === "candidate", "only a candidate becomes leader");
    this.role = "leader";
    this.leaderId = this.host.self;
    this.restartCalm();
    const now = this.host.now();
    for (const peer of this.peers) {
      this.nextIndex.set(peer, this.lastIndex() + 1);
      this.matchIndex.set(peer, 0);
      this.lastHeard.set(peer, now);
    }
    // R3: an empty entry of the new term commits what earlier leaders left undecided.
    this.entries.push({ term: this.currentTerm, batch: [] });
    this.broadcastAppend();
    this.propose();
  }

  // R2: replication.

  private propose(): void {
    assert(this.role === "leader", "only the leader proposes");
    let proposed = false;
    while (this.lastIndex() - this.commitIndex < this.options.pipelineMax) {
      // With an entry in flight, only a full batch goes out now; the rest waits for a commit and
      // leaves then as one entry (fewer, fuller appends: the replicas' cost is per message and
      // frame more than per input). With nothing in flight, whatever is pooled goes at once.
      if (
        this.lastIndex() > this.commitIndex &&
        this.pool.size - this.proposedKeys.size < this.options.batchInputsMax
      )
        break;
      const batch = this.pool.take(
        this.options.batchInputsMax,
        this.options.batchBytesMax,
        this.proposedKeys,
        this.host.useful,
        this.proposable,
      );
      if (batch.length === 0) break;
      this.entries.push({ term: this.currentTerm, batch });
      proposed = true;
    }
    if (proposed) this.broadcastAppend();
  }

  /**
   * R2a: whether the leader proposes `input` now (it is then counted as proposed). Of a stream
   * item's copies it proposes only as many as its group still needs to take the item (one in
   * crash mode: any replica of the sending group is trusted); the others stay pooled and go once
   * the item is taken, or are proposed if the entry holding the first is lost with its leader.
   */
  private readonly proposable = (input: OrderedInput): boolean => {
    if (
      input.kind === "copy" &&
      this.host.copiesNeeded !== undefined &&
      this.host.copiesNeeded(input) - this.proposedKeys.copiesOf(input) <= 0
    )
      return false;
    this.proposedKeys.add(input);
    return true;
  };

  private broadcastAppend(): void {
    this.lastHeartbeat = this.host.now();
    // Followers that need the same entries (the usual case) get the very same message object: a
    // runtime encodes a message once however many processes it goes to, and an append carrying a
    // full batch is the largest thing a leader encodes.
    let shared: AppendSent | undefined;
    for (const peer of this.peers) shared = this.sendAppend(peer, shared);
  }

  /** Sends `peer` the entries it needs; reuses `previous` if it held exactly those. */
  private sendAppend(peer: ProcessId, previous?: AppendSent): AppendSent {
    const next = Math.max(this.nextIndex.get(peer) ?? this.lastIndex() + 1, this.firstIndex);
    const last = Math.min(this.lastIndex(), next + this.options.entriesPerMessageMax - 1);
    const sent = previous?.next === next ? previous : this.appendFrom(next, last);
    this.host.send(
      peer,
      sent.message,
      sent.bytes,
      sent.message.entries.length === 0 ? "raft.heartbeat" : "raft.append",
    );
    // Pipelining: assume success; a failed reply moves `nextIndex` back (R5).
    this.nextIndex.set(peer, last + 1);
    return sent;
  }

  /** The append of entries `next`..`last` in the current term, with its modelled bytes. */
  private appendFrom(next: number, last: number): AppendSent {
    const prevIndex = next - 1;
    const entries = this.entries.slice(next - this.firstIndex, last - this.firstIndex + 1);
    let bytes = HEADER_BYTES;
    for (const entry of entries) bytes += batchBytes(entry.batch);
    const message: AppendMessage = {
      type: "append",
      term: this.currentTerm,
      prevIndex,
      prevTerm: this.termAt(prevIndex),
      entries,
      commit: this.commitIndex,
    };
    return { next, message, bytes };
  }

  private onAppend(from: ProcessId, message: Extract<RaftMessage, { type: "append" }>): void {
    if (message.term < this.currentTerm) {
      // R1c: a leader of an earlier term is alive: it was replaced because its messages were slow.
      if (this.stalePenaltyTerm !== this.currentTerm) {
        this.stalePenaltyTerm = this.currentTerm;
        this.raiseBackoff();
      }
      this.replyAppend(from, false, this.lastIndex());
      return;
    }
    this.becomeFollower(message.term, from);
    if (this.recoveringTo === Number.POSITIVE_INFINITY) this.recoveringTo = message.commit;
    if (message.prevIndex > this.lastIndex()) {
      this.replyAppend(from, false, this.lastIndex());
      return;
    }
    if (message.prevIndex >= this.firstIndex - 1 && this.termAt(message.prevIndex) !== message.prevTerm) {
      // Everything up to the commit index matches any leader's log (R3), so restart from there.
      this.replyAppend(from, false, Math.min(this.commitIndex, message.prevIndex - 1));
      return;
    }
    let index = message.prevIndex;
    for (const entry of message.entries) {
      index += 1;
      if (index < this.firstIndex) continue;
      if (index <= this.lastIndex()) {
        if (this.termAt(index) === entry.term) continue;
        assert(index > this.commitIndex, () => `${this.host.self} would drop committed entry ${index}`);
        this.dropFrom(index);
      }
      this.entries.push(entry);
      for (const input of entry.batch) this.proposedKeys.add(input);
    }
    const lastNew = message.prevIndex + message.entries.length;
    if (message.commit > this.commitIndex)
      this.commitIndex = Math.min(message.commit, lastNew, this.lastIndex());
    this.apply();
    this.replyAppend(from, true, lastNew);
  }

  private replyAppend(to: ProcessId, success: boolean, matchIndex: number): void {
    this.host.send(
      to,
      { type: "append-reply", term: this.currentTerm, success, matchIndex },
      HEADER_BYTES,
      "raft.append-reply",
    );
  }

  private onAppendReply(from: ProcessId, message: Extract<RaftMessage, { type: "append-reply" }>): void {
    if (message.term > this.currentTerm) {
      this.becomeFollower(message.term, undefined);
      return;
    }
    if (this.role !== "leader" || message.term !== this.currentTerm) return;
    this.lastHeard.set(from, this.host.now());
    if (message.success) {
      const match = Math.max(this.matchIndex.get(from) ?? 0, message.matchIndex);
      this.matchIndex.set(from, match);
      this.nextIndex.set(from, Math.max(this.nextIndex.get(from) ?? 0, match + 1));
      this.advanceCommit();
      // R5: a follower far behind gets its next chunk as soon as it took the previous one.
      if ((this.nextIndex.get(from) ?? 0) <= this.lastIndex()) this.sendAppend(from);
    } else if (message.matchIndex + 1 >= this.firstIndex) {
      this.nextIndex.set(from, Math.min(this.nextIndex.get(from) ?? 1, message.matchIndex + 1));
      this.sendAppend(from);
    } else {
      // The follower needs entries this leader no longer keeps: R6, offer the checkpoint (at most
      // once a heartbeat period). Without checkpoints it stays behind: counted, not retried at once.
      const checkpoint = this.host.checkpoints ? this.host.latestCheckpoint() : undefined;
      if (checkpoint === undefined || checkpoint.position < message.matchIndex + 1) {
        this.followersBeyondLog.add(from);
        return;
      }
      const now = this.host.now();
      if (
        now - (this.snapshotOfferedTick.get(from) ?? Number.NEGATIVE_INFINITY) <
        this.options.heartbeatTicks
      )
        return;
      this.snapshotOfferedTick.set(from, now);
      this.host.send(
        from,
        { type: "snapshot", term: this.currentTerm, ...checkpoint },
        HEADER_BYTES + checkpoint.root.length,
        "raft.snapshot",
      );
    }
  }

  /** R6: the leader's checkpoint offer: fetch it if it is ahead of what this replica applied. */
  private onSnapshot(from: ProcessId, message: Extract<RaftMessage, { type: "snapshot" }>): void {
    if (message.term < this.currentTerm || !Number.isSafeInteger(message.position)) return;
    this.becomeFollower(message.term, from);
    if (message.position > this.lastApplied)
      this.host.fetchState(this.lastApplied, { position: message.position, root: message.root });
  }

  compact(position: number): void {
    const keepFrom = Math.min(position, this.lastApplied) + 1;
    if (keepFrom <= this.firstIndex) return;
    this.droppedTerm = this.termAt(keepFrom - 1);
    this.entries = this.entries.slice(keepFrom - this.firstIndex);
    this.firstIndex = keepFrom;
  }

  install(position: number, mark: number | string): void {
    if (position <= this.lastApplied || typeof mark !== "number") return;
    // Entries after the checkpoint that agree with it stay (Raft's InstallSnapshot); otherwise the log restarts there.
    const keep = position <= this.lastIndex() && this.termAt(position) === mark;
    const kept = keep ? this.entries.slice(position + 1 - this.firstIndex) : [];
    this.proposedKeys.clear();
    for (const entry of kept) for (const input of entry.batch) this.proposedKeys.add(input);
    this.entries = kept;
    this.firstIndex = position + 1;
    this.droppedTerm = mark;
    this.lastApplied = position;
    this.commitIndex = Math.max(this.commitIndex, position);
    this.joinRestoredLog(position, mark);
    this.apply();
  }

  // R3: commit and apply.

  private advanceCommit(): void {
    const matches = this.matchScratch;
    matches[0] = this.lastIndex();
    for (let index = 0; index < this.peers.length; index += 1)
      matches[index + 1] = this.matchIndex.get(this.peers[index] as ProcessId) ?? 0;
    const candidate = sortDescending(matches)[this.majority - 1] ?? 0;
    if (candidate <= this.commitIndex || this.termAt(candidate) !== this.currentTerm) return;
    this.commitIndex = candidate;
    this.apply();
    // Followers learn the new commit index with the next append or heartbeat (R3), not from a
    // message of its own: nothing waits on a follower's apply (only the leader answers clients,
    // and its stream copies are the ones taken), and one such message per commit to every
    // follower, each answered, was most of a busy group's consensus traffic.
    this.propose();
  }

  private apply(): void {
    while (this.lastApplied < this.commitIndex) {
      this.lastApplied += 1;
      const entry = this.entries[this.lastApplied - this.firstIndex];
      assert(
        entry !== undefined,
        () => `${this.host.self} applies entry ${this.lastApplied} it does not hold`,
      );
      for (const input of entry.batch) {
        this.proposedKeys.delete(input.key);
        this.pool.delete(input.key);
      }
      if (entry.batch.length > 0) this.host.decide(entry.batch);
      this.host.executed(this.lastApplied, entry.term);
    }
    this.dropApplied();
  }

  /**
   * Without checkpoints, keeps at least `retainedEntriesMax` applied entries (for lagging
   * followers), dropping older ones in chunks of a quarter of that: a drop copies the log, so
   * dropping one entry per apply would cost the whole log's length each time. With checkpoints,
   * `compact` drops them (R6).
   */
  private dropApplied(): void {
    if (this.host.checkpoints) return;
    const keepFrom = this.lastApplied - this.options.retainedEntriesMax + 1;
    const dropCount = keepFrom - this.firstIndex;
    if (dropCount <= 0 || dropCount < Math.max(1, this.options.retainedEntriesMax >> 2)) return;
    this.droppedTerm = this.termAt(keepFrom - 1);
    this.entries = this.entries.slice(dropCount);
    this.firstIndex = keepFrom;
  }

  private dropFrom(index: number): void {
    for (const entry of this.entries.slice(index - this.firstIndex))
      for (const input of entry.batch) this.proposedKeys.delete(input.key);
    this.entries.length = index - this.firstIndex;
  }

  private lastIndex(): number {
    return this.firstIndex + this.entries.length - 1;
  }

  private termAt(index: number): number {
    if (index === this.firstIndex - 1) return this.droppedTerm;
    if (index < this.firstIndex - 1) return -1;
    return this.entries[index - this.firstIndex]?.term ?? -1;
  }
}

/** Sorts a few numbers in place, largest first (insertion sort: a group's replicas, no allocation). */
function sortDescending(values: Float64Array): Float64Array {
  for (let index = 1; index < values.length; index += 1) {
    const value = values[index] as number;
    let at = index;
    while (at > 0 && (values[at - 1] as number) < value) {
      values[at] = values[at - 1] as number;
      at -= 1;
    }
    values[at] = value;
  }
  return values;
}
