import type { ProcessId } from "@amcast/core";
import { assert } from "@amcast/core";
import type { Signer, Verifier } from "./auth.js";
import { SIGNATURE_BYTES } from "./auth.js";
import { BackoffLevel } from "./backoff.js";
import type { OrderedInput } from "./inputs.js";
import {
  batchBytes,
  batchDigest,
  chainDigest,
  InputPool,
  ProposedInputs,
  sameBatchDigest,
} from "./inputs.js";
import type { Orderer, OrdererHost, OrderingOptions } from "./orderer.js";

/**
 * `byzantine` mode: 3f+1 replicas agree on a sequence of batches, PBFT-style (Castro and Liskov,
 * OSDI 1999), with signed messages so certificates can be relayed in a view change.
 *
 * - B1 (normal case): the primary of view v (replica v mod n) assigns sequence number s to a
 *   batch of pooled inputs and sends PRE-PREPARE(v, s, digest, batch). A backup accepts it if v is
 *   its view, s is within its watermarks, it accepted no other digest for (v, s), the digest
 *   matches the batch, and every input in the batch is valid (requests validated before ordered:
 *   a request must carry its client's signature, a stream copy its sending replica's); it then
 *   sends PREPARE(v, s, d) to all. An input a replica received directly is authentic without its
 *   signature (the authenticated link names its sender, the client or the sending replica), so a
 *   replica checks a signature only when the input is shown to it by another (in a pre-prepare or
 *   forwarded, unless it holds the same input, by digest, itself) or by it to others (the
 *   primary checks what it proposes, so a correct primary never proposes what backups refuse).
 *   Likewise a vote that came from its signer counts as it is. A prepare's signature is checked
 *   when it joins this replica's prepared certificate (shown in a view change, which must not
 *   fail for want of it: a replica prepares only on 2f prepares whose signatures check). Commits
 *   are shown only in catch-up answers (B4): a replica decides on 2f+1 commits as their signers
 *   sent them, keeps every commit it received, and checks signatures when an answer shows them
 *   (the first 2f+1 that check; with fewer, another replica answers). With the pre-prepare and 2f
 *   matching prepares from distinct backups, (v, s, d) is prepared and the replica sends
 *   COMMIT(v, s, d); with 2f+1 matching commits it is committed. Batches execute in sequence
 *   order.
 * - B1a (batching): the primary keeps up to `pipelineMax` batches undecided; while one is, it
 *   proposes only full batches (`batchInputsMax`), and what is left leaves as one batch at the next
 *   execution. Each batch costs the same signatures, checks and votes whatever it holds, so under
 *   load batches fill up; an idle primary proposes what arrives at once.
 * - B1b (holding): with nothing in flight, a primary whose last batch was at least a quarter full
 *   (load) proposes a batch that is not full only once its oldest input waited a tick (the tick
 *   proposes it): in a closed loop the replies of one batch bring the next requests over several
 *   turns, and proposing each turn's few alone costs a full round of votes and signatures for
 *   each. Under light load (small batches) nothing waits.
 * - B2 (checkpoints): every `checkpointInterval` sequence numbers a replica signs the digest chain
 *   of what it executed; 2f+1 matching signatures make a stable checkpoint, which moves the low
 *   watermark and lets old votes go.
 * - B3 (view change): a replica whose pooled inputs wait longer than half the suspicion timeout S
 *   forwards them to the primary; after S, or when a batch it accepted in its view has not executed
 *   after S (it may not hold that batch's inputs itself), it suspects the primary and sends
 *   VIEW-CHANGE(v+1) with its stable checkpoint (and its proof) and a certificate for every batch
 *   it prepared above it.
 *   A replica that sees f+1 view changes for higher views joins the smallest. The new primary,
 *   with 2f+1 valid view changes, sends NEW-VIEW with them and a pre-prepare for every sequence
 *   number between the highest stable checkpoint and the highest prepared one: the batch prepared
 *   in the highest view, or an empty batch. Backups recompute that set from the included view
 *   changes and reject a NEW-VIEW that differs (a primary lying during the view change).
 *   Safety: a committed batch was prepared by 2f+1 replicas, f+1 of them correct, and any 2f+1
 *   view changes include one of those, whose certificate cannot be forged; so the new view
 *   re-proposes the committed batch at its sequence number.
 * - B3a (view-change timer; Castro and Liskov, TOCS 2002, 4.5.2): a replica starts the timer of
 *   its view change to v only once it holds 2f+1 view changes for v, its own included; if no valid
 *   NEW-VIEW comes before it expires, it moves on to v+1. A replica that suspects alone therefore
 *   waits in its view change (sending it again now and then, in case it was lost) and keeps
 *   executing what the others decide (B4), rather than running through views nobody follows.
 * - B3b (patience): every timeout is its base times 2^level. The level rises at each view change
 *   the replica goes through (a primary failed, or the timeouts were too short to tell a slow
 *   network from a faulty primary; consecutive view changes thus double the timer, as in PBFT),
 *   and when an input executes after waiting more than S/2 in an installed view (the network nears
 *   the limit: a primary making progress is not suspected for being slow). It falls one step after
 *   a calm of `CALM_SUSPICION_TIMEOUTS` times S without a view change in which every executed
 *   input waited less than S/8, so failover is fast again once the network calms down. The
 *   primary of each view is fixed (v mod n), so there is no split vote for random timeouts to
 *   break: the timeouts are not drawn at random.
 * - B3c (view relay): a replica in an installed view that receives a view change for that view or
 *   an older one answers with the NEW-VIEW that installed it (it carries its own proof), so a
 *   replica that missed it (a partition, a crash) joins instead of waiting alone.
 * - B3d (votes again): a replica installing a new view votes (prepare, commit) for every
 *   sequence number the NEW-VIEW re-proposes above the stable checkpoint, also those it already
 *   executed or holds committed, as PBFT's backups do; it executes nothing twice. Otherwise the
 *   replicas that did not see such a number decided may be too few (fewer than 2f+1) to decide it
 *   again, and when those that did cannot show its commits (executed again from a journal, or
 *   dropped at a checkpoint) while no checkpoint above is reported by f+1, the ones behind stall.
 * - B4 (catch-up): a replica that learns it is behind (a stable checkpoint, 2f+1 commits or f+1
 *   status claims above what it executed) fetches decided batches from the others; each comes with
 *   its 2f+1 signed commits, so one correct answer suffices and a Byzantine one cannot mislead.
 * - B5 (checkpoints of state): a replica that can snapshot checkpoints its state every
 *   `checkpointEntries` sequence numbers and drops decided batches before its previous checkpoint.
 *   The checkpoint message of a sequence number where the replica snapshotted carries the
 *   snapshot's root, so a stable checkpoint there is a root 2f+1 replicas signed. A fetch for a
 *   batch no longer kept is answered `behind-log`; the replica then fetches the checkpoint of its
 *   stable proof's root, or the newest one f+1 replicas report alike (one of them is correct),
 *   verifying every partition against that root (transfer.ts), installs it and catches up from
 *   there (B4).
 * - B6 (amnesia): a replica restarted with only its hard state (view, prepared certificates, the
 *   highest sequence number it signed anything for) never signs a pre-prepare, prepare or commit
 *   at or below that number again: it cannot contradict what it said before it lost its memory.
 *   The floor is kept in any hard state written after such a restart (`signedFloor` of B7's log).
 * - B7 (durable restart): a replica that journals its decided positions writes with them a hard
 *   state that adds (`hardState(true)`), in the turn that changed it, before that turn's outputs
 *   leave: its stable checkpoint with its 2f+1 signatures and, per sequence number above its last
 *   executed one in its current view, the digest it sent a pre-prepare (a primary) or prepare for
 *   and whether it signed the commit there; a primary keeps its own pre-prepare too, until a
 *   prepared certificate of the hard state holds it. Restarted from that journal, it has its
 *   view, watermarks and those records back once the journal's positions are executed again
 *   (`install` drops what they cover), and at its first tick says again exactly what it said
 *   before: a primary its pre-prepares, a backup its prepares, and the commits it had signed
 *   (signed again, identical: same view, sequence number and digest), so the group finishes them
 *   in that view, or a view change carries them as prepared certificates. It signs nothing that
 *   conflicts: a backup that kept only a digest (a pledge) accepts the primary's pre-prepare there
 *   only with that digest, in that view (what was only prepared binds no later view), and a
 *   primary goes on after its own. B6's floor therefore applies only after amnesia (no log in the
 *   hard state). A replica that stopped in a view change sends its view change again at its
 *   first tick (after amnesia too): with the whole group stopped at once, nothing else would
 *   start that view change's timers. Bound of the log: one view's records within the watermark
 *   window (`4 * checkpointInterval` = 128 sequence numbers) above the last executed one; in
 *   practice the primary's pipeline (`pipelineMax` batches).
 */
interface PrePrepare {
  readonly type: "pre-prepare";
  readonly view: number;
  readonly seq: number;
  readonly digest: string;
  readonly batch: readonly OrderedInput[];
  readonly signer: ProcessId;
  readonly signature: string;
}
interface Vote {
  readonly type: "prepare" | "commit";
  readonly view: number;
  readonly seq: number;
  readonly digest: string;
  readonly signer: ProcessId;
  readonly signature: string;
}
interface Checkpoint {
  readonly type: "checkpoint";
  readonly seq: number;
  readonly chain: string;
  /** B5: the root of the replica's state snapshot at `seq`, when it took one there. */
  readonly root?: string;
  readonly signer: ProcessId;
  readonly signature: string;
}
/** A prepared certificate: the pre-prepare and 2f prepares from distinct backups. */
interface PreparedProof {
  readonly prePrepare: PrePrepare;
  readonly prepares: readonly Vote[];
}
interface StableProof {
  readonly seq: number;
  readonly chain: string;
  /** B5: the state root 2f+1 replicas signed with the chain (absent: no snapshot there). */
  readonly root?: string;
  readonly checkpoints: readonly Checkpoint[];
}
interface ViewChange {
  readonly type: "view-change";
  readonly view: number;
  readonly stable: StableProof;
  readonly prepared: readonly PreparedProof[];
  readonly signer: ProcessId;
  readonly signature: string;
}
interface NewView {
  readonly type: "new-view";
  readonly view: number;
  readonly viewChanges: readonly ViewChange[];
  readonly prePrepares: readonly PrePrepare[];
  readonly signer: ProcessId;
  readonly signature: string;
}
/** A decided batch with its commit certificate (2f+1 signed commits). */
interface DecidedEntry {
  readonly seq: number;
  readonly batch: readonly OrderedInput[];
  readonly commits: readonly Vote[];
}
/**
 * A batch this replica decided itself: the commits it holds are every one it received for it
 * (the vote set, which later ones still join), their signatures checked only when a catch-up
 * answer shows them (`certifiedEntry`); `commits` is empty. A batch learnt from a catch-up answer
 * is a `DecidedEntry` with its checked certificate.
 */
interface LocalDecision extends DecidedEntry {
  readonly received: ReadonlyMap<ProcessId, Vote>;
}
export type PbftMessage =
  | PrePrepare
  | Vote
  | Checkpoint
  | ViewChange
  | NewView
  | { readonly type: "fetch"; readonly fromSeq: number }
  /** `ask`: sent by a replica restarted after amnesia; the receiver answers with its own status. */
  | { readonly type: "status"; readonly lastExecuted: number; readonly ask?: true }
  | { readonly type: "fetch-reply"; readonly entries: readonly DecidedEntry[] }
  | { readonly type: "forward"; readonly inputs: readonly OrderedInput[] }
  /** B5: the batch asked for is no longer kept: fetch a checkpoint. */
  | { readonly type: "behind-log" };

/** What Byzantine mode's disk keeps across a crash that loses memory (B6), or not (B7: `log`). */
export interface PbftHardState {
  readonly view: number;
  readonly viewActive: boolean;
  readonly signedSeq: number;
  readonly prepared: readonly PreparedProof[];
  /** B7: with a journal of decided positions; lost with it (`amnesiaHardState`). */
  readonly log?: PbftLog;
}

/**
 * B7: what a replica that journals its decided positions adds to its hard state, so a restart
 * from that journal can say again exactly what it said before, and nothing else.
 */
interface PbftLog {
  /** The stable checkpoint and its 2f+1 signatures: the low watermark of what is accepted. */
  readonly stable: StableProof;
  /**
   * What this replica signed in the current view above its last executed sequence number: per
   * sequence number, the digest it sent a pre-prepare (a primary) or prepare for, and whether it
   * signed the commit there. Its votes are signed again from these, identical.
   */
  readonly accepted: readonly AcceptedPrePrepare[];
  /** B6 still holding after an earlier amnesia: nothing at or below this is signed. */
  readonly signedFloor: number;
}
interface AcceptedPrePrepare {
  readonly seq: number;
  readonly digest: string;
  /**
   * A primary's own pre-prepare, to send again; absent once the prepared certificate at `seq`
   * (`PbftHardState.prepared`) holds it. A backup keeps only the digest: it needs no batch to
   * sign its prepare again, and takes the batch from the primary's pre-prepare, which must match.
   */
  readonly prePrepare?: PrePrepare;
  readonly commitSent: boolean;
}

interface Slot {
  /** The accepted pre-prepare for this sequence number (the one of the highest view). */
  prePrepare: PrePrepare;
  prepared: boolean;
  commitSent: boolean;
}

interface VoteSet {
  readonly view: number;
  readonly digest: string;
  /** The set of another (view, digest) at the same seq. */
  next: VoteSet | undefined;
  readonly prepares: Map<ProcessId, Vote>;
  readonly commits: Map<ProcessId, Vote>;
}

const HEADER_BYTES = 24;
/** B3b: highest patience level (timeouts up to 64x their base). */
const PATIENCE_LEVEL_MAX = 6;
/** B3b: calm needed before the patience level drops, in suspicion timeouts of the current level. */
const CALM_SUSPICION_TIMEOUTS = 10;

export class PbftOrderer implements Orderer {
  private view = 0;
  /** False between sending a view change and installing the new view. */
  private viewActive = true;
  /** B3a: when the current view change gives up on its new primary; infinite until 2f+1 joined it. */
  private viewChangeDeadline = Number.POSITIVE_INFINITY;
  /**
   * B3a: this replica's view change for the current view, when to send it again while fewer than
   * 2f+1 joined, and the wait before that (doubling with each resend).
   */
  private ownViewChange: ViewChange | undefined;
  private viewChangeResendTick = 0;
  private viewChangeResendTicks = 0;
  /** B3c: the NEW-VIEW that installed the current view (none for view 0). */
  private installedBy: NewView | undefined;
  private readonly newViewSentTick = new Map<ProcessId, number>();
  /** B3b: the patience level; its calm watches how long executed inputs waited. */
  private readonly patience = new BackoffLevel(PATIENCE_LEVEL_MAX);
  private lastExecuted = 0;
  /** The digest chain of the empty log (the scheme's digest of "genesis"). */
  private readonly genesisChain: string;
  private chain: string;
  private stable: StableProof;
  private nextSeq = 1;
  /** B1a: inside `maybePropose` (an execution it causes, with f = 0, must not propose again). */
  private proposing = false;
  /** B1b: inputs in the batch this replica last proposed (as primary). */
  private lastBatchInputs = 0;
  private readonly slots = new Map<number, Slot>();
  /**
   * Votes by seq, one set per (view, digest) voted on at it, chained (nearly always one: more
   * only across view changes or from an equivocating primary); they may arrive before the
   * pre-prepare they are about. Keyed by what a vote carries, not by a string built per vote:
   * every replica looks its votes up several times per vote received.
   */
  private readonly votes = new Map<number, VoteSet>();
  /** The highest-view prepared certificate per sequence number above the stable checkpoint. */
  private readonly preparedProofs = new Map<number, PreparedProof>();
  /** Committed batches waiting for their turn to execute, with their certificates. */
  private readonly committed = new Map<number, DecidedEntry | LocalDecision>();
  /** Executed batches kept for replicas that catch up (at most `retainedEntriesMax`). */
  private readonly decided = new Map<number, DecidedEntry | LocalDecision>();
  private readonly checkpointVotes = new Map<string, Map<ProcessId, Checkpoint>>();
  private readonly viewChanges = new Map<number, Map<ProcessId, ViewChange>>();
  /**
   * Highest sequence number known to be decided: from commit quorums, stable checkpoints and f+1
   * status claims. A pre-prepare alone proves nothing (a view change may drop it).
   */
  private highestDecidedSeq = 0;
  /** Highest sequence number accepted in the current view (decided, or being decided while it lasts). */
  private highestAcceptedSeq = 0;
  private lastFetchTick = Number.NEGATIVE_INFINITY;
  /** Which other replica the next fetch asks. */
  private fetchTurn = 0;
  /** How far each other replica says it executed (see onStatus), and when we last told each. */
  private readonly statusClaims = new Map<ProcessId, number>();
  private readonly statusSentTick = new Map<ProcessId, number>();
  /**
   * Since when this replica waits for its next execution: its last execution, the install of its
   * view, or the acceptance of a pre-prepare while it had nothing left to execute. Tells a
   * pipeline in progress from a replica left behind (B4) and a primary that stopped (B3).
   */
  private waitingSinceTick = 0;
  private readonly pool: InputPool;
  /** Inputs whose digest and signature this replica checked (see `checked`). */
  private readonly checkedInputs = new WeakSet<OrderedInput>();
  /** Votes whose signature this replica checked, or made (see `certifiedVotes`). */
  private readonly checkedVotes = new WeakSet<Vote>();
  private readonly proposedKeys = new ProposedInputs();
  private readonly n: number;
  private readonly quorum: number;
  private readonly windowSize: number;
  private readonly checkpointInterval = 32;
  /** View changes and new views that failed validation: evidence of lying replicas. */
  rejectedMessages = 0;
  /** B6: the highest sequence number this replica signed a pre-prepare, prepare or commit for. */
  private signedSeq = 0;
  /** B6: after amnesia, nothing at or below this is signed again. */
  private signedFloor = 0;
  /** B6: a replica restarted after amnesia asks the others how far they got, once, at its first tick. */
  private askStatus = false;
  /** B7: restarted with its hard state: says again, at its first tick, what it said before. */
  private resendRestored = false;
  /** B7: restarted from a journal of decided positions (its hard state had a log). */
  private restoredFromLog = false;
  /** B7: each accepted slot's record in the hard state's log (`acceptedRecord`). */
  private readonly acceptedRecords = new WeakMap<Slot, AcceptedPrePrepare>();
  /**
   * B7: after a restart, the digests this replica prepared (in the current view) for sequence
   * numbers whose batch it did not keep: no other digest is accepted there in that view. Void
   * once it leaves that view (what was not prepared binds no later view).
   */
  private readonly pledges = new Map<number, AcceptedPrePrepare>();

  constructor(
    private readonly host: OrdererHost,
    private readonly options: OrderingOptions,
    private readonly f: number,
    private readonly signer: Signer,
    private readonly verifier: Verifier,
    /**
     * Whether an input is valid: its content's digest and its signature check. `pooled`: one this
     * replica received directly, checked before this replica proposes it (as primary).
     */
    private readonly validInput: (input: OrderedInput, pooled: boolean) => boolean,
    hardState?: PbftHardState,
  ) {
    this.n = host.replicas.length;
    assert(this.n === 3 * f + 1, () => `Byzantine mode needs 3f+1 replicas, got ${this.n} for f=${f}`);
    assert(signer.id === host.self, "a replica signs as itself");
    this.quorum = 2 * f + 1;
    this.windowSize = 4 * this.checkpointInterval;
    this.pool = new InputPool(options.poolInputsMax);
    this.genesisChain = verifier.digest("genesis");
    this.chain = this.genesisChain;
    this.stable = { seq: 0, chain: this.genesisChain, checkpoints: [] };
    if (hardState !== undefined) {
      this.view = hardState.view;
      this.viewActive = hardState.viewActive;
      this.signedSeq = hardState.signedSeq;
      this.askStatus = true;
      this.resendRestored = true;
      for (const proof of hardState.prepared) this.preparedProofs.set(proof.prePrepare.seq, proof);
      const log = hardState.log;
      // B6: after amnesia nothing it may have signed is signed again; B7: from its journal it
      // knows what it signed, and says it again (see `resend`).
      this.signedFloor = log === undefined ? hardState.signedSeq : log.signedFloor;
      if (log !== undefined) this.restoreLog(log);
    }
  }

  /** B6's question, asked after a restart from the journal too (its replay consumed any earlier one). */
  restarted(): void {
    this.askStatus = true;
  }

  /**
   * B6, and B7 with `withLog` (a journal of decided positions keeps the executed batches): what
   * this replica signed past its last executed sequence number, and its stable checkpoint.
   */
  hardState(withLog = false): PbftHardState {
    const hard = {
      view: this.view,
      viewActive: this.viewActive,
      signedSeq: this.signedSeq,
      prepared: [...this.preparedProofs.values()],
    };
    if (!withLog) return hard;
    const accepted: AcceptedPrePrepare[] = [];
    for (const [seq, slot] of this.slots)
      if (seq > this.lastExecuted && slot.prePrepare.view === this.view)
        accepted.push(this.acceptedRecord(seq, slot));
    for (const [seq, pledge] of this.pledges)
      if (seq > this.lastExecuted && !this.slots.has(seq) && this.viewActive) accepted.push(pledge);
    return { ...hard, log: { stable: this.stable, accepted, signedFloor: this.signedFloor } };
  }

  /**
   * B7: the record of `slot` in the hard state's log, the same object while it is unchanged (a
   * journal then writes only the records that changed; see `Orderer.hardState`).
   */
  private acceptedRecord(seq: number, slot: Slot): AcceptedPrePrepare {
    const { prePrepare, commitSent } = slot;
    const whole =
      prePrepare.signer === this.host.self && this.preparedProofs.get(seq)?.prePrepare !== prePrepare;
    const kept = this.acceptedRecords.get(slot);
    if (kept !== undefined && kept.commitSent === commitSent && (kept.prePrepare !== undefined) === whole)
      return kept;
    const record: AcceptedPrePrepare = whole
      ? { seq, digest: prePrepare.digest, prePrepare, commitSent }
      : { seq, digest: prePrepare.digest, commitSent };
    this.acceptedRecords.set(slot, record);
    return record;
  }

  /**
   * B7: takes back the stable checkpoint and the pre-prepares accepted in the current view. The
   * journal's positions, executed again next (`install`), drop those they cover; the votes on the
   * rest are sent again at the first tick.
   */
  private restoreLog(log: PbftLog): void {
    this.restoredFromLog = true;
    this.stable = log.stable;
    this.noteSeq(log.stable.seq);
    for (const accepted of log.accepted) {
      const proof = this.preparedProofs.get(accepted.seq);
      const prePrepare =
        accepted.prePrepare ??
        (proof?.prePrepare.view === this.view && proof.prePrepare.digest === accepted.digest
          ? proof.prePrepare
          : undefined);
      this.highestAcceptedSeq = Math.max(this.highestAcceptedSeq, accepted.seq);
      if (prePrepare === undefined) {
        // A backup's prepare without its batch: the primary's pre-prepare brings it (B1).
        this.pledges.set(accepted.seq, accepted);
        continue;
      }
      if (prePrepare.seq !== accepted.seq || prePrepare.view !== this.view) continue;
      const { commitSent } = accepted;
      const prepared =
        commitSent ||
        (proof?.prePrepare.view === prePrepare.view && proof.prePrepare.digest === prePrepare.digest);
      this.slots.set(prePrepare.seq, { prePrepare, prepared, commitSent });
      for (const input of prePrepare.batch) this.proposedKeys.add(input);
      // A primary's own pre-prepares: the next one follows them.
      this.nextSeq = Math.max(this.nextSeq, prePrepare.seq + 1);
    }
  }

  /**
   * B7 (and B3 after any restart): says again what this replica said before it stopped, as it
   * said it: its pre-prepares (a primary) or prepares, and commits, for what it accepted in its
   * view and has not executed; or its view change, when it stopped in one (nothing else would
   * start that view change's timers when the whole group stopped at once).
   */
  private resend(): void {
    if (!this.viewActive) {
      this.sendViewChange();
      return;
    }
    for (const [seq, slot] of [...this.slots]) {
      if (seq <= this.lastExecuted || slot.prePrepare.view !== this.view) continue;
      const { view, digest: batchHash } = slot.prePrepare;
      if (slot.prePrepare.signer === this.host.self)
        this.broadcast(
          slot.prePrepare,
          HEADER_BYTES + SIGNATURE_BYTES + batchBytes(slot.prePrepare.batch),
          "pbft.pre-prepare",
        );
      else {
        const prepare = this.signVote("prepare", view, seq, batchHash);
        this.broadcast(prepare, HEADER_BYTES + SIGNATURE_BYTES, "pbft.prepare");
        this.recordVote(prepare);
      }
      if (slot.commitSent) {
        const commit = this.signVote("commit", view, seq, batchHash);
        this.broadcast(commit, HEADER_BYTES + SIGNATURE_BYTES, "pbft.commit");
        this.recordVote(commit);
      }
      this.progress(seq);
    }
    for (const [seq, pledge] of this.pledges) {
      if (seq <= this.lastExecuted || this.slots.has(seq)) continue;
      for (const type of pledge.commitSent ? (["prepare", "commit"] as const) : (["prepare"] as const)) {
        const vote = this.signVote(type, this.view, seq, pledge.digest);
        this.broadcast(vote, HEADER_BYTES + SIGNATURE_BYTES, `pbft.${type}`);
        this.recordVote(vote);
      }
    }
  }

  compact(position: number): void {
    for (const seq of this.decided.keys()) if (seq <= position) this.decided.delete(seq);
  }

  /** B5: continues after a checkpoint at `position` whose digest chain is `mark`. */
  install(position: number, mark: number | string): void {
    if (position <= this.lastExecuted || typeof mark !== "string") return;
    this.lastExecuted = position;
    this.chain = mark;
    this.noteSeq(position);
    this.waitingSinceTick = this.host.now();
    for (const seq of this.committed.keys()) if (seq <= position) this.committed.delete(seq);
    for (const seq of this.slots.keys()) if (seq <= position) this.slots.delete(seq);
    for (const seq of this.pledges.keys()) if (seq <= position) this.pledges.delete(seq);
    this.highestAcceptedSeq = Math.max(this.highestAcceptedSeq, position);
    this.nextSeq = Math.max(this.nextSeq, position + 1);
    this.executeReady();
  }

  leader(): ProcessId {
    return this.primaryOf(this.view);
  }

  get currentView(): number {
    return this.view;
  }

  get executedSeq(): number {
    return this.lastExecuted;
  }

  /** The stable checkpoint: its sequence number and the state root 2f+1 replicas signed there, if any (B5). */
  get stableCheckpoint(): { readonly seq: number; readonly root: string | undefined } {
    return { seq: this.stable.seq, root: this.stable.root };
  }

  /** The patience level (B3b): timeouts are their base times 2^level. */
  get patienceLevel(): number {
    return this.patience.level;
  }

  /**
   * Nothing pooled, everything known to be decided executed, nothing accepted in the current view
   * left undecided. A replica left alone in a view change (it suspected a primary the others still
   * follow) can be idle: it keeps executing what the others decide through catch-up (B4) and owes
   * nothing else.
   */
  idle(): boolean {
    return this.pool.size === 0 && this.lastExecuted >= this.expectedSeq();
  }

  /**
   * How far this replica expects to execute: what it knows is decided and, in an installed view,
   * what it accepted there (decided unless the view fails; if the messages deciding it were lost,
   * say while this replica was down, it is fetched, B4). Pre-prepares of a view being left count
   * for nothing: the new view may drop them.
   */
  private expectedSeq(): number {
    return this.viewActive
      ? Math.max(this.highestDecidedSeq, this.highestAcceptedSeq)
      : this.highestDecidedSeq;
  }

  submit(input: OrderedInput): void {
    if (!this.pool.add(input, this.host.now())) return;
    this.maybePropose();
  }

  receive(from: ProcessId, raw: unknown): void {
    if (
      !this.host.replicas.includes(from) ||
      from === this.host.self ||
      typeof raw !== "object" ||
      raw === null
    )
      return;
    const message = raw as PbftMessage;
    switch (message.type) {
      case "pre-prepare":
        if (message.signer === from) this.onPrePrepare(message);
        break;
      case "prepare":
      case "commit":
        if (message.signer === from) this.onVote(message);
        break;
      case "checkpoint":
        if (message.signer === from) this.onCheckpoint(message);
        break;
      case "view-change":
        if (message.signer === from) this.onViewChange(message);
        break;
      case "new-view":
        // Signed by its primary, so any replica may pass it on (B3c).
        this.onNewView(message, from);
        break;
      case "fetch":
        this.onFetch(from, message.fromSeq);
        break;
      case "status":
        this.onStatus(from, message.lastExecuted);
        if (message.ask === true) this.sendStatus(from);
        break;
      case "fetch-reply":
        this.onFetchReply(message.entries);
        break;
      case "behind-log":
        // Anyone may say so; the checkpoint fetched is still one 2f+1 signed (a stable proof with
        // a root) or f+1 replicas report alike.
        if (this.host.checkpoints)
          this.host.fetchState(
            this.lastExecuted,
            this.stable.root !== undefined && this.stable.seq > this.lastExecuted
              ? { position: this.stable.seq, root: this.stable.root }
              : undefined,
          );
        break;
      case "forward":
        for (const input of Array.isArray(message.inputs) ? message.inputs : []) {
          // Useful ones only: a forward replayed long after its inputs executed must not refill
          // the pool (that would keep the replica from ever being idle).
          if (!this.pool.has(input?.key) && this.checked(input, false) && this.host.useful(input))
            this.pool.add(input, this.host.now());
        }
        this.maybePropose();
        break;
      default:
        break;
    }
  }

  tick(): void {
    const now = this.host.now();
    if (this.resendRestored) {
      this.resendRestored = false;
      // What it accepted gets the time of a normal case before the primary is suspected (B3).
      if (this.restoredFromLog) this.waitingSinceTick = now;
      this.resend();
    }
    if (this.askStatus) {
      this.askStatus = false;
      this.broadcast(
        { type: "status", lastExecuted: this.lastExecuted, ask: true },
        HEADER_BYTES,
        "pbft.status",
      );
    }
    this.pool.prune(this.host.useful);
    const waitedTicks = now - this.waitingSinceTick;
    const suspicion = this.suspicionTicks();
    if (
      this.lastExecuted < this.expectedSeq() &&
      // Known decided: soon. Only accepted: it is being decided, so not before the forwarding
      // timeout (under delay the normal case takes seconds, and nobody could answer earlier).
      waitedTicks >=
        (this.lastExecuted < this.highestDecidedSeq ? this.options.requestTimeoutTicks : suspicion) / 2 &&
      now - this.lastFetchTick >= this.options.heartbeatTicks * 4
    ) {
      // B4: something above what we executed is (being) decided, and nothing moved for a while:
      // ask. A replica left alone in a view change catches up this way too.
      if (!this.committed.has(this.lastExecuted + 1)) this.fetch();
    }
    if (!this.viewActive) {
      // B3a: the round ran out of time (2f+1 joined it, no valid NEW-VIEW came): the next view.
      if (now >= this.viewChangeDeadline) this.startViewChange(this.view + 1);
      else if (
        this.viewChangeDeadline === Number.POSITIVE_INFINITY &&
        now >= this.viewChangeResendTick &&
        this.ownViewChange !== undefined
      ) {
        // Still short of 2f+1: ours may have been lost (a partition, a crash), so send it again,
        // less and less often (a replica that suspected alone may wait here a long time).
        this.viewChangeResendTicks = Math.min(
          2 * this.viewChangeResendTicks,
          2 ** PATIENCE_LEVEL_MAX * this.options.requestTimeoutTicks,
        );
        this.viewChangeResendTick = now + this.viewChangeResendTicks;
        this.broadcastViewChange(this.ownViewChange);
      }
      return;
    }
    this.patience.observe(now, 0, CALM_SUSPICION_TIMEOUTS * suspicion, suspicion / 8);
    // B3: suspect the primary when inputs wait too long, or when what this view accepted does not
    // execute (a backup need not hold the inputs of a batch: without this it would wait forever
    // behind a pre-prepare too few replicas are left in the view to decide).
    if (
      this.pool.oldestAgeTicks(now) >= suspicion ||
      (this.lastExecuted < this.highestAcceptedSeq && waitedTicks >= suspicion)
    ) {
      this.startViewChange(this.view + 1);
      return;
    }
    if (this.primaryOf(this.view) !== this.host.self) {
      const stale = this.pool.takeForForwarding(now, suspicion / 2, this.options.batchInputsMax);
      if (stale.length > 0) {
        this.host.send(
          this.primaryOf(this.view),
          { type: "forward", inputs: stale },
          HEADER_BYTES + batchBytes(stale),
          "pbft.forward",
        );
      }
    }
    this.maybePropose();
  }

  private primaryOf(view: number): ProcessId {
    return this.host.replicas[view % this.n] as ProcessId;
  }

  /** B3b: S, how long a pooled input may wait before the primary is suspected. */
  private suspicionTicks(): number {
    return this.patience.scale(2 * this.options.requestTimeoutTicks);
  }

  /**
   * B3a/B3b: how long a view change that 2f+1 joined may take before the next view is tried: S/2,
   * the forwarding timeout. It covers two message delays (the last view changes reaching the new
   * primary, its NEW-VIEW reaching us), where S covers the four or five of the normal case.
   */
  private viewChangeTimeout(): number {
    return this.patience.scale(this.options.requestTimeoutTicks);
  }

  // B1: normal case.

  private maybePropose(): void {
    if (!this.viewActive || this.primaryOf(this.view) !== this.host.self || this.proposing) return;
    this.proposing = true;
    try {
      this.proposeBatches();
    } finally {
      this.proposing = false;
    }
  }

  private proposeBatches(): void {
    this.nextSeq = Math.max(this.nextSeq, this.lastExecuted + 1, this.signedFloor + 1);
    while (
      this.nextSeq - 1 - this.lastExecuted < this.options.pipelineMax &&
      this.nextSeq <= this.stable.seq + this.windowSize
    ) {
      // B1a: with a batch in flight, only a full batch goes now; the rest waits for the next
      // execution and leaves then as one batch. A batch costs the replicas the same signatures,
      // checks and 2n(n-1) votes however many inputs it holds, so under load fewer, fuller
      // batches; with nothing in flight, whatever is pooled goes at once (no added latency).
      const waiting = this.pool.size - this.proposedKeys.size;
      if (this.nextSeq - 1 > this.lastExecuted && waiting < this.options.batchInputsMax) return;
      // B1b: with nothing in flight, a batch that is not full waits for the inputs of the current
      // tick when the last batch showed load (a quarter full or more): the next tick proposes it.
      if (
        this.lastBatchInputs * 4 >= this.options.batchInputsMax &&
        waiting < this.options.batchInputsMax &&
        this.pool.oldestAgeTicks(this.host.now()) < 1
      )
        return;
      // An input is checked when it is shown to others: a primary proposes only what it checked
      // (one that fails leaves the pool), so a client or a sender cannot make a correct primary
      // propose what the backups would refuse.
      const batch = this.pool.take(
        this.options.batchInputsMax,
        this.options.batchBytesMax,
        this.proposedKeys,
        this.host.useful,
        (input) => this.proposable(input),
      );
      if (batch.length === 0) return;
      this.lastBatchInputs = batch.length;
      const prePrepare = this.signPrePrepare(this.view, this.nextSeq, batch);
      this.nextSeq += 1;
      this.broadcast(prePrepare, HEADER_BYTES + SIGNATURE_BYTES + batchBytes(batch), "pbft.pre-prepare");
      this.acceptPrePrepare(prePrepare);
    }
  }

  /**
   * Whether the primary proposes `input` now (it is then counted as proposed). A stream item is
   * taken once f+1 identical copies of it are ordered: the primary proposes that many, together
   * (it waits until it holds them all: one ordered batch per item rather than one per copy), and
   * leaves the other copies in the pool, unchecked, where they go once the item is taken. A copy
   * that waited the forwarding timeout without its matches is proposed alone, as every copy was
   * before: a Byzantine sender's copies that nobody matches (an item far ahead, an altered one)
   * thus leave the pool in bounded time instead of filling it. What the primary proposes it
   * checks first; one that fails leaves the pool.
   */
  private proposable(input: OrderedInput): boolean {
    if (input.kind === "copy" && this.host.copiesNeeded !== undefined) {
      const proposed = this.proposedKeys.copiesOf(input);
      const needed = this.host.copiesNeeded(input) - proposed;
      if (needed <= 0) return false;
      if (proposed === 0 && this.pool.copiesOf(input) < needed) {
        const waitedTicks = this.host.now() - (this.pool.receivedTick(input.key) ?? this.host.now());
        if (waitedTicks < this.options.requestTimeoutTicks) return false;
      }
    }
    if (!this.checked(input, true)) {
      this.pool.delete(input.key);
      return false;
    }
    this.proposedKeys.add(input);
    return true;
  }

  private signPrePrepare(view: number, seq: number, batch: readonly OrderedInput[]): PrePrepare {
    const batchHash = batchDigest(this.verifier.digest, batch);
    this.signedSeq = Math.max(this.signedSeq, seq);
    return {
      type: "pre-prepare",
      view,
      seq,
      digest: batchHash,
      batch,
      signer: this.host.self,
      signature: this.signer.sign(prePrepareText(view, seq, batchHash)),
    };
  }

  /** `validInput`, once per input object (a forwarded or re-proposed input is not checked again). */
  private checked(input: OrderedInput, pooled: boolean): boolean {
    if (typeof input !== "object" || input === null) return false;
    if (this.checkedInputs.has(input)) return true;
    if (!this.validInput(input, pooled)) return false;
    this.checkedInputs.add(input);
    return true;
  }

  private validPrePrepare(message: PrePrepare): boolean {
    return (
      Number.isSafeInteger(message.view) &&
      Number.isSafeInteger(message.seq) &&
      Array.isArray(message.batch) &&
      message.signer === this.primaryOf(message.view) &&
      this.verifier.verify(
        message.signer,
        prePrepareText(message.view, message.seq, message.digest),
        message.signature,
      ) &&
      batchDigest(this.verifier.digest, message.batch) === message.digest
    );
  }

  private onPrePrepare(message: PrePrepare): void {
    if (!this.viewActive || message.view !== this.view || !this.validPrePrepare(message)) return;
    if (message.seq <= this.stable.seq || message.seq > this.stable.seq + this.windowSize) return;
    const existing = this.slots.get(message.seq);
    if (existing !== undefined && existing.prePrepare.view === message.view) return; // one digest per (v, s)
    // Requests validated before they are ordered: a batch with any invalid input is refused whole.
    const batch = this.checkedBatch(message.batch);
    if (batch === undefined) {
      this.rejectedMessages += 1;
      return;
    }
    this.acceptPrePrepare(batch === message.batch ? message : { ...message, batch });
  }

  /**
   * The batch with every input checked: an input this replica received itself (same key, same
   * digest) is replaced by its own copy (authentic: it came over the sender's own link); any other
   * is verified in full. Undefined when one is invalid.
   */
  private checkedBatch(batch: readonly OrderedInput[]): readonly OrderedInput[] | undefined {
    let checked: OrderedInput[] | undefined;
    for (let index = 0; index < batch.length; index += 1) {
      const input = batch[index] as OrderedInput;
      const own = typeof input === "object" && input !== null ? this.pool.get(input.key) : undefined;
      if (own !== undefined && own.digest === input.digest) {
        if (own !== input) {
          checked ??= batch.slice(0, index);
          checked.push(own);
        } else checked?.push(own);
        continue;
      }
      if (!this.checked(input, false)) return undefined;
      checked?.push(input);
    }
    if (checked === undefined) return batch;
    sameBatchDigest(checked, batch);
    return checked;
  }

  private acceptPrePrepare(message: PrePrepare): void {
    // B6: what this replica may have voted on before it lost its memory, it leaves to the others.
    if (message.seq <= this.signedFloor) return;
    // B7: one digest per (view, sequence number), across a restart too.
    const pledge = this.pledges.get(message.seq);
    if (pledge !== undefined) {
      if (message.digest !== pledge.digest) return;
      this.pledges.delete(message.seq);
    }
    if (this.lastExecuted >= this.expectedSeq()) this.waitingSinceTick = this.host.now();
    this.highestAcceptedSeq = Math.max(this.highestAcceptedSeq, message.seq);
    const previous = this.slots.get(message.seq);
    if (previous !== undefined)
      for (const input of previous.prePrepare.batch) this.proposedKeys.delete(input.key);
    this.slots.set(message.seq, { prePrepare: message, prepared: false, commitSent: false });
    for (const input of message.batch) this.proposedKeys.add(input);
    if (message.signer !== this.host.self) {
      const prepare = this.signVote("prepare", message.view, message.seq, message.digest);
      this.broadcast(prepare, HEADER_BYTES + SIGNATURE_BYTES, "pbft.prepare");
      this.recordVote(prepare);
    }
    this.progress(message.seq);
  }

  /**
   * B3d: a sequence number a new view re-proposes that this replica already knows decided (it
   * executed it, or holds its 2f+1 commits behind an earlier gap). It votes for it again in the
   * new view, as PBFT's backups do for every pre-prepare of a NEW-VIEW, and executes nothing
   * twice (`progress` commits only above the last executed sequence number, once). Without these
   * votes the replicas that did not see it decided may be too few to decide it again: after a
   * whole group restarted from journals, replicas ahead executed it from their journals (so they
   * hold no commit certificate to answer a catch-up with) and no checkpoint above the others is
   * reported alike by f+1, so the ones behind could neither fetch it nor order it. Safe: what
   * this replica saw decided at that sequence number is what the NEW-VIEW (checked against 2f+1
   * view changes, B3) re-proposes there; a batch it still holds that differs is not voted for.
   */
  private voteAgain(prePrepare: PrePrepare): void {
    const { seq, view, digest } = prePrepare;
    // B6: nothing at or below the floor is signed again.
    if (seq <= this.signedFloor) return;
    const known = this.decided.get(seq) ?? this.committed.get(seq);
    if (known !== undefined && batchDigest(this.verifier.digest, known.batch) !== digest) return;
    this.slots.set(seq, { prePrepare, prepared: false, commitSent: false });
    if (prePrepare.signer !== this.host.self) {
      const prepare = this.signVote("prepare", view, seq, digest);
      this.broadcast(prepare, HEADER_BYTES + SIGNATURE_BYTES, "pbft.prepare");
      this.recordVote(prepare);
    }
    this.progress(seq);
  }

  private signVote(type: "prepare" | "commit", view: number, seq: number, batchHash: string): Vote {
    this.signedSeq = Math.max(this.signedSeq, seq);
    const vote: Vote = {
      type,
      view,
      seq,
      digest: batchHash,
      signer: this.host.self,
      signature: this.signer.sign(voteText(type, view, seq, batchHash, this.host.self)),
    };
    this.checkedVotes.add(vote);
    return vote;
  }

  private validVote(vote: Vote): boolean {
    return this.wellFormedVote(vote) && this.signedVote(vote);
  }

  private wellFormedVote(vote: Vote): boolean {
    // View and digest typed as they are used (a vote's view and digest key its set).
    return (
      this.host.replicas.includes(vote.signer) &&
      Number.isSafeInteger(vote.seq) &&
      Number.isSafeInteger(vote.view) &&
      typeof vote.digest === "string"
    );
  }

  private signedVote(vote: Vote): boolean {
    if (this.checkedVotes.has(vote)) return true;
    if (
      !this.verifier.verify(
        vote.signer,
        voteText(vote.type, vote.view, vote.seq, vote.digest, vote.signer),
        vote.signature,
      )
    )
      return false;
    this.checkedVotes.add(vote);
    return true;
  }

  /**
   * Up to `count` of `votes` whose signatures check, for a certificate (shown to others in a view
   * change or a catch-up); those that fail are forgotten. A vote that came from its signer is
   * authentic by the link, so its signature is checked only here, when it joins a certificate.
   */
  private certifiedVotes(votes: Map<ProcessId, Vote>, candidates: readonly Vote[], count: number): Vote[] {
    const certified: Vote[] = [];
    for (const vote of candidates) {
      if (certified.length >= count) break;
      if (this.signedVote(vote)) certified.push(vote);
      else {
        votes.delete(vote.signer);
        this.rejectedMessages += 1;
      }
    }
    return certified;
  }

  private onVote(vote: Vote): void {
    // Not checked here (B1): it came from its signer; see certifiedVotes.
    if (
      !this.wellFormedVote(vote) ||
      vote.seq <= this.stable.seq ||
      vote.seq > this.stable.seq + this.windowSize
    )
      return;
    const set = this.recordVote(vote);
    // 2f+1 commits prove the batch was decided, even if its pre-prepare never reached us (B4).
    if (set.commits.size >= this.quorum) this.noteSeq(vote.seq);
    this.progress(vote.seq);
  }

  /** Keeps `vote` with the others for its (view, seq, digest); returns them. */
  private recordVote(vote: Vote): VoteSet {
    const first = this.votes.get(vote.seq);
    let set = first === undefined ? undefined : chainedVotes(first, vote.view, vote.digest);
    if (set === undefined) {
      set = {
        view: vote.view,
        digest: vote.digest,
        next: undefined,
        prepares: new Map(),
        commits: new Map(),
      };
      // Appended: the sets made first (usually the one the primary proposed) stay first to find.
      if (first === undefined) this.votes.set(vote.seq, set);
      else {
        let last = first;
        while (last.next !== undefined) last = last.next;
        last.next = set;
      }
    }
    (vote.type === "prepare" ? set.prepares : set.commits).set(vote.signer, vote);
    return set;
  }

  /** The votes for (view, seq, digest), if any arrived. */
  private votesFor(view: number, seq: number, batchHash: string): VoteSet | undefined {
    const first = this.votes.get(seq);
    return first === undefined ? undefined : chainedVotes(first, view, batchHash);
  }

  /** Moves a sequence number along: prepared -> commit sent -> committed -> executed. */
  private progress(seq: number): void {
    const slot = this.slots.get(seq);
    if (slot !== undefined && slot.prePrepare.view === this.view && this.viewActive) {
      const { view, digest: batchHash } = slot.prePrepare;
      const set = this.votesFor(view, seq, batchHash);
      // Counted before the candidates are listed: most votes arrive before a quorum does.
      const primarySigner = slot.prePrepare.signer;
      if (
        !slot.prepared &&
        set !== undefined &&
        set.prepares.size - (set.prepares.has(primarySigner) ? 1 : 0) >= 2 * this.f
      ) {
        const candidates = [...set.prepares.values()].filter((vote) => vote.signer !== primarySigner);
        const prepares = this.certifiedVotes(set.prepares, candidates, 2 * this.f);
        if (prepares.length >= 2 * this.f) {
          slot.prepared = true;
          const best = this.preparedProofs.get(seq);
          if (best === undefined || best.prePrepare.view <= view)
            this.preparedProofs.set(seq, { prePrepare: slot.prePrepare, prepares });
        }
      }
      if (slot.prepared && !slot.commitSent) {
        slot.commitSent = true;
        const commit = this.signVote("commit", view, seq, batchHash);
        this.broadcast(commit, HEADER_BYTES + SIGNATURE_BYTES, "pbft.commit");
        this.recordVote(commit);
      }
      if (
        slot.prepared &&
        set !== undefined &&
        set.commits.size >= this.quorum &&
        !this.committed.has(seq) &&
        seq > this.lastExecuted
      ) {
        // Committed: 2f+1 commits from distinct replicas, each from its signer (B1). Their
        // signatures matter only to a replica shown them, so they are checked when a catch-up
        // answer shows them (`certifiedEntry`); every commit received is kept for that.
        this.committed.set(seq, { seq, batch: slot.prePrepare.batch, commits: [], received: set.commits });
      }
    }
    this.executeReady();
  }

  private executeReady(): void {
    const now = this.host.now();
    const before = this.lastExecuted;
    for (;;) {
      const entry = this.committed.get(this.lastExecuted + 1);
      if (entry === undefined) break;
      this.committed.delete(entry.seq);
      this.lastExecuted = entry.seq;
      this.waitingSinceTick = now;
      this.chain = chainDigest(this.verifier.digest, this.chain, entry.batch);
      for (const input of entry.batch) {
        this.noteWait(now, this.pool.receivedTick(input.key));
        this.pool.delete(input.key);
        this.proposedKeys.delete(input.key);
      }
      this.decided.set(entry.seq, entry);
      if (!this.host.checkpoints) this.decided.delete(entry.seq - this.options.retainedEntriesMax);
      if (entry.batch.length > 0) this.host.decide(entry.batch);
      this.host.executed(entry.seq, this.chain);
      if (entry.seq % this.checkpointInterval === 0) this.sendCheckpoint();
    }
    // B1a: the pipeline has room again, and what waited for it leaves as one batch.
    if (this.lastExecuted > before) this.maybePropose();
  }

  /**
   * B3b: how long an input of our pool waited to execute, counted from its arrival or from the
   * install of the current view. Only in an installed view: a replica out of the view waits for
   * the others, which says nothing about the network.
   */
  private noteWait(now: number, receivedTick: number | undefined): void {
    if (receivedTick === undefined || !this.viewActive) return;
    const waited = now - receivedTick;
    const suspicion = this.suspicionTicks();
    if (waited > suspicion / 2) this.patience.raise(now);
    else this.patience.observe(now, waited, CALM_SUSPICION_TIMEOUTS * suspicion, suspicion / 8);
  }

  // B2: checkpoints.

  private sendCheckpoint(): void {
    const snapshot = this.host.checkpoints ? this.host.latestCheckpoint() : undefined;
    const root = snapshot?.position === this.lastExecuted ? snapshot.root : undefined;
    const signature = this.signer.sign(checkpointText(this.lastExecuted, this.chain, root, this.host.self));
    const checkpoint: Checkpoint =
      root === undefined
        ? { type: "checkpoint", seq: this.lastExecuted, chain: this.chain, signer: this.host.self, signature }
        : {
            type: "checkpoint",
            seq: this.lastExecuted,
            chain: this.chain,
            root,
            signer: this.host.self,
            signature,
          };
    this.broadcast(checkpoint, HEADER_BYTES + SIGNATURE_BYTES, "pbft.checkpoint");
    this.onCheckpoint(checkpoint);
  }

  private onCheckpoint(checkpoint: Checkpoint): void {
    if (checkpoint.seq <= this.stable.seq || !this.validCheckpoint(checkpoint)) return;
    const key = `${checkpoint.seq}|${checkpoint.chain}|${checkpoint.root ?? ""}`;
    let signers = this.checkpointVotes.get(key);
    if (signers === undefined) {
      signers = new Map();
      this.checkpointVotes.set(key, signers);
    }
    signers.set(checkpoint.signer, checkpoint);
    if (signers.size >= this.quorum)
      this.installStable({
        seq: checkpoint.seq,
        chain: checkpoint.chain,
        ...(checkpoint.root === undefined ? {} : { root: checkpoint.root }),
        checkpoints: [...signers.values()].slice(0, this.quorum),
      });
  }

  private validCheckpoint(checkpoint: Checkpoint): boolean {
    return (
      this.host.replicas.includes(checkpoint.signer) &&
      Number.isSafeInteger(checkpoint.seq) &&
      this.verifier.verify(
        checkpoint.signer,
        checkpointText(checkpoint.seq, checkpoint.chain, checkpoint.root, checkpoint.signer),
        checkpoint.signature,
      )
    );
  }

  private validStable(proof: StableProof): boolean {
    if (proof.seq === 0) return proof.chain === this.genesisChain;
    if (!Array.isArray(proof.checkpoints)) return false;
    const signers = new Set<ProcessId>();
    for (const checkpoint of proof.checkpoints) {
      if (
        checkpoint.seq !== proof.seq ||
        checkpoint.chain !== proof.chain ||
        checkpoint.root !== proof.root ||
        !this.validCheckpoint(checkpoint)
      )
        return false;
      signers.add(checkpoint.signer);
    }
    return signers.size >= this.quorum;
  }

  private installStable(proof: StableProof): void {
    if (proof.seq <= this.stable.seq) return;
    this.stable = proof;
    this.noteSeq(proof.seq);
    // Everything at or below a stable checkpoint is settled: its votes and slots can go.
    for (const seq of this.slots.keys()) if (seq <= proof.seq) this.slots.delete(seq);
    for (const seq of this.preparedProofs.keys()) if (seq <= proof.seq) this.preparedProofs.delete(seq);
    for (const seq of this.votes.keys()) if (seq <= proof.seq) this.votes.delete(seq);
    for (const key of this.checkpointVotes.keys())
      if (Number(key.slice(0, key.indexOf("|"))) <= proof.seq) this.checkpointVotes.delete(key);
    this.maybePropose();
  }

  // B3: view changes.

  private startViewChange(view: number): void {
    if (view <= this.view) return;
    const now = this.host.now();
    this.view = view;
    this.viewActive = false;
    this.installedBy = undefined;
    this.pledges.clear();
    // B3b: a view change means a faulty primary or timeouts too short to tell; either way the
    // next one waits twice as long.
    this.patience.raise(now);
    // B3a: the timer starts once 2f+1 replicas are in this view change (see onViewChange).
    this.viewChangeDeadline = Number.POSITIVE_INFINITY;
    this.sendViewChange();
  }

  /** B3: sends this replica's view change for its current view (and counts it). */
  private sendViewChange(): void {
    const view = this.view;
    this.viewChangeResendTicks = this.viewChangeTimeout();
    this.viewChangeResendTick = this.host.now() + this.viewChangeResendTicks;
    const prepared = [...this.preparedProofs.values()].filter(
      (proof) => proof.prePrepare.seq > this.stable.seq,
    );
    const viewChange: ViewChange = {
      type: "view-change",
      view,
      stable: this.stable,
      prepared,
      signer: this.host.self,
      signature: this.signer.sign(viewChangeText(view, this.stable, prepared, this.host.self)),
    };
    this.ownViewChange = viewChange;
    this.broadcastViewChange(viewChange);
    this.onViewChange(viewChange);
  }

  private broadcastViewChange(viewChange: ViewChange): void {
    let bytes = HEADER_BYTES + SIGNATURE_BYTES * (1 + viewChange.stable.checkpoints.length);
    for (const proof of viewChange.prepared)
      bytes += batchBytes(proof.prePrepare.batch) + SIGNATURE_BYTES * (1 + proof.prepares.length);
    this.broadcast(viewChange, bytes, "pbft.view-change");
  }

  private validViewChange(message: ViewChange): boolean {
    if (
      !Number.isSafeInteger(message.view) ||
      !Array.isArray(message.prepared) ||
      typeof message.stable !== "object" ||
      message.stable === null
    )
      return false;
    if (
      !this.verifier.verify(
        message.signer,
        viewChangeText(message.view, message.stable, message.prepared, message.signer),
        message.signature,
      )
    )
      return false;
    if (!this.validStable(message.stable)) return false;
    return message.prepared.every((proof) =>
      this.validPreparedProof(proof, message.view, message.stable.seq),
    );
  }

  private validPreparedProof(proof: PreparedProof, beforeView: number, aboveSeq: number): boolean {
    const prePrepare = proof.prePrepare;
    if (prePrepare.view >= beforeView || prePrepare.seq <= aboveSeq || !this.validPrePrepare(prePrepare))
      return false;
    const signers = new Set<ProcessId>();
    for (const vote of proof.prepares) {
      if (
        vote.type !== "prepare" ||
        vote.view !== prePrepare.view ||
        vote.seq !== prePrepare.seq ||
        vote.digest !== prePrepare.digest
      )
        return false;
      if (vote.signer === prePrepare.signer || !this.validVote(vote)) return false;
      signers.add(vote.signer);
    }
    return signers.size >= 2 * this.f;
  }

  private onViewChange(message: ViewChange): void {
    if (this.viewActive && message.view <= this.view) {
      // B3c: the sender is still changing to a view we already installed (or an older one).
      this.relayNewView(message.signer);
      return;
    }
    if (message.view < this.view) return;
    // A replica changing view alone may have been down and missed what we decided: tell it how
    // far we got, so it can catch up (B4) whether or not the others follow it.
    if (this.viewActive && message.view > this.view) this.sendStatus(message.signer);
    if (!this.validViewChange(message)) {
      this.rejectedMessages += 1;
      return;
    }
    let forView = this.viewChanges.get(message.view);
    if (forView === undefined) {
      forView = new Map();
      this.viewChanges.set(message.view, forView);
    }
    forView.set(message.signer, message);
    if (message.stable.seq > this.lastExecuted) this.noteSeq(message.stable.seq);
    // Join rule: f+1 replicas want a higher view, so at least one correct one does.
    const higher = [...this.viewChanges.entries()].filter(
      ([view]) => view > this.view || (view === this.view && this.viewActive),
    );
    const wanting = new Set<ProcessId>();
    for (const [, changes] of higher) for (const signer of changes.keys()) wanting.add(signer);
    if (wanting.size >= this.f + 1 && higher.length > 0 && !wanting.has(this.host.self)) {
      this.startViewChange(Math.min(...higher.map(([view]) => view)));
      return;
    }
    if (message.view !== this.view || this.viewActive || forView.size < this.quorum) return;
    // B3a: 2f+1 are in this view change: from now on it has a time limit.
    if (this.viewChangeDeadline === Number.POSITIVE_INFINITY)
      this.viewChangeDeadline = this.host.now() + this.viewChangeTimeout();
    if (this.primaryOf(this.view) === this.host.self) this.sendNewView(forView);
  }

  /** B3c: sends a replica behind us the NEW-VIEW that installed our view (at most once a request timeout). */
  private relayNewView(to: ProcessId): void {
    const newView = this.installedBy;
    if (newView === undefined) return;
    const now = this.host.now();
    if (now - (this.newViewSentTick.get(to) ?? Number.NEGATIVE_INFINITY) < this.options.requestTimeoutTicks)
      return;
    this.newViewSentTick.set(to, now);
    this.host.send(to, newView, newViewBytes(newView), "pbft.new-view");
  }

  private sendNewView(forView: ReadonlyMap<ProcessId, ViewChange>): void {
    const viewChanges = [...forView.values()].slice(0, this.quorum);
    const prePrepares = this.newViewPrePrepares(this.view, viewChanges).map((entry) =>
      this.signPrePrepare(this.view, entry.seq, entry.batch),
    );
    const newView: NewView = {
      type: "new-view",
      view: this.view,
      viewChanges,
      prePrepares,
      signer: this.host.self,
      signature: this.signer.sign(newViewText(this.view, viewChanges, prePrepares)),
    };
    this.broadcast(newView, newViewBytes(newView), "pbft.new-view");
    this.installView(newView);
  }

  /** The batches a new view must re-propose: per sequence number, the highest-view prepared one. */
  private newViewPrePrepares(
    view: number,
    viewChanges: readonly ViewChange[],
  ): { seq: number; batch: readonly OrderedInput[] }[] {
    let minSeq = 0;
    let maxSeq = 0;
    const best = new Map<number, PrePrepare>();
    for (const change of viewChanges) {
      minSeq = Math.max(minSeq, change.stable.seq);
      for (const proof of change.prepared) {
        const prePrepare = proof.prePrepare;
        maxSeq = Math.max(maxSeq, prePrepare.seq);
        const current = best.get(prePrepare.seq);
        if (current === undefined || current.view < prePrepare.view) best.set(prePrepare.seq, prePrepare);
      }
    }
    assert(view >= 0, "views are not negative");
    const result: { seq: number; batch: readonly OrderedInput[] }[] = [];
    for (let seq = minSeq + 1; seq <= maxSeq; seq += 1)
      result.push({ seq, batch: best.get(seq)?.batch ?? [] });
    return result;
  }

  private onNewView(message: NewView, from: ProcessId): void {
    if (
      !Number.isSafeInteger(message.view) ||
      message.view < this.view ||
      (message.view === this.view && this.viewActive) ||
      message.signer !== this.primaryOf(message.view)
    )
      return;
    if (!this.validNewView(message)) {
      this.rejectedMessages += 1;
      // The primary we are changing to lies in its new view: do not wait for the timeout. (Only
      // that one: anyone else's bad NEW-VIEW, for whatever view, must not move us.)
      if (from === message.signer && message.view === this.view) this.startViewChange(message.view + 1);
      return;
    }
    this.view = message.view;
    this.installView(message);
  }

  private validNewView(message: NewView): boolean {
    if (!Array.isArray(message.viewChanges) || !Array.isArray(message.prePrepares)) return false;
    if (
      !this.verifier.verify(
        message.signer,
        newViewText(message.view, message.viewChanges, message.prePrepares),
        message.signature,
      )
    )
      return false;
    const signers = new Set<ProcessId>();
    for (const change of message.viewChanges) {
      if (
        change.view !== message.view ||
        !this.host.replicas.includes(change.signer) ||
        !this.validViewChange(change)
      )
        return false;
      signers.add(change.signer);
    }
    if (signers.size < this.quorum) return false;
    const expected = this.newViewPrePrepares(message.view, message.viewChanges);
    if (expected.length !== message.prePrepares.length) return false;
    return expected.every((entry, index) => {
      const prePrepare = message.prePrepares[index];
      return (
        prePrepare !== undefined &&
        prePrepare.view === message.view &&
        prePrepare.seq === entry.seq &&
        prePrepare.digest === batchDigest(this.verifier.digest, entry.batch) &&
        this.validPrePrepare(prePrepare)
      );
    });
  }

  private installView(message: NewView): void {
    this.viewActive = true;
    this.pledges.clear();
    this.installedBy = message;
    this.ownViewChange = undefined;
    this.viewChangeDeadline = Number.POSITIVE_INFINITY;
    for (const view of this.viewChanges.keys()) if (view <= message.view) this.viewChanges.delete(view);
    let maxSeq = this.lastExecuted;
    let highestStable: StableProof = this.stable;
    for (const change of message.viewChanges)
      if (change.stable.seq > highestStable.seq) highestStable = change.stable;
    if (highestStable.seq > this.stable.seq) this.installStable(highestStable);
    // Fresh timers for what is pooled and accepted: the new primary deserves its full timeout.
    this.pool.restartClocks(this.host.now());
    this.waitingSinceTick = this.host.now();
    this.proposedKeys.clear();
    // Pre-prepares of old views that the new view does not carry will never be decided.
    for (const seq of this.slots.keys()) if (seq > this.lastExecuted) this.slots.delete(seq);
    this.highestAcceptedSeq = this.lastExecuted;
    for (const prePrepare of message.prePrepares) {
      maxSeq = Math.max(maxSeq, prePrepare.seq);
      if (prePrepare.seq > this.lastExecuted && !this.committed.has(prePrepare.seq))
        this.acceptPrePrepare(prePrepare);
      else if (prePrepare.seq > this.stable.seq) this.voteAgain(prePrepare);
    }
    this.nextSeq = Math.max(maxSeq, this.stable.seq) + 1;
    this.maybePropose();
  }

  // B4: catch-up.

  private sendStatus(to: ProcessId): void {
    const now = this.host.now();
    if (now - (this.statusSentTick.get(to) ?? Number.NEGATIVE_INFINITY) < this.options.heartbeatTicks) return;
    this.statusSentTick.set(to, now);
    this.host.send(to, { type: "status", lastExecuted: this.lastExecuted }, HEADER_BYTES, "pbft.status");
  }

  /**
   * How far others got. One claim proves nothing (it may come from a Byzantine replica), but the
   * (f+1)-th highest claim is reached by at least one correct replica, so it is safe to chase.
   */
  private onStatus(from: ProcessId, lastExecuted: number): void {
    if (!Number.isSafeInteger(lastExecuted) || lastExecuted < 0) return;
    this.statusClaims.set(from, Math.max(this.statusClaims.get(from) ?? 0, lastExecuted));
    const claims = [...this.statusClaims.values()].sort((a, b) => b - a);
    const vouched = claims[this.f];
    if (vouched !== undefined) this.noteSeq(vouched);
  }

  private noteSeq(seq: number): void {
    if (seq > this.highestDecidedSeq) this.highestDecidedSeq = seq;
  }

  /**
   * Asks one other replica (in turn) for decided batches after what we executed. One at a time:
   * answers carry certificates, so one correct replica suffices, and asking everyone at once would
   * multiply the traffic with every answer.
   */
  private fetch(): void {
    this.lastFetchTick = this.host.now();
    const others = this.host.replicas.filter((replica) => replica !== this.host.self);
    this.fetchTurn = (this.fetchTurn + 1) % others.length;
    const target = others[this.fetchTurn] as ProcessId;
    this.host.send(target, { type: "fetch", fromSeq: this.lastExecuted + 1 }, HEADER_BYTES, "pbft.fetch");
  }

  private onFetch(from: ProcessId, fromSeq: number): void {
    if (!Number.isSafeInteger(fromSeq)) return;
    if (this.host.checkpoints && fromSeq <= this.lastExecuted && !this.decided.has(Math.max(1, fromSeq))) {
      this.host.send(from, { type: "behind-log" }, HEADER_BYTES, "pbft.behind-log");
      return;
    }
    const entries: DecidedEntry[] = [];
    let bytes = HEADER_BYTES;
    for (
      let seq = Math.max(1, fromSeq);
      seq <= this.lastExecuted && entries.length < this.options.entriesPerMessageMax;
      seq += 1
    ) {
      const decided = this.decided.get(seq);
      const entry = decided === undefined ? undefined : this.certifiedEntry(decided);
      if (entry === undefined) break;
      entries.push(entry);
      bytes += batchBytes(entry.batch) + SIGNATURE_BYTES * entry.commits.length;
    }
    if (entries.length > 0) this.host.send(from, { type: "fetch-reply", entries }, bytes, "pbft.fetch-reply");
  }

  /**
   * `entry` with a commit certificate others accept: the first 2f+1 of its commits whose
   * signatures check (B1: this replica decided on commits as their signers sent them). Undefined
   * when fewer than 2f+1 check (a Byzantine replica's commit was badly signed and no other came):
   * another replica answers then.
   */
  private certifiedEntry(entry: DecidedEntry | LocalDecision): DecidedEntry | undefined {
    if (!("received" in entry)) return entry; // learnt from a catch-up answer: checked then
    const commits: Vote[] = [];
    for (const vote of entry.received.values()) {
      if (commits.length >= this.quorum) break;
      if (this.signedVote(vote)) commits.push(vote);
      else this.rejectedMessages += 1;
    }
    return commits.length >= this.quorum ? { seq: entry.seq, batch: entry.batch, commits } : undefined;
  }

  private onFetchReply(entries: readonly DecidedEntry[]): void {
    if (!Array.isArray(entries)) return;
    const executedBefore = this.lastExecuted;
    for (const entry of entries) {
      if (!Number.isSafeInteger(entry.seq) || entry.seq <= this.lastExecuted || this.committed.has(entry.seq))
        continue;
      if (!Array.isArray(entry.batch) || !this.validCommitCertificate(entry)) {
        this.rejectedMessages += 1;
        continue;
      }
      this.committed.set(entry.seq, entry);
    }
    this.executeReady();
    // Keep going while answers bring progress; the tick retries (with another replica) otherwise.
    if (this.lastExecuted > executedBefore && this.lastExecuted < this.expectedSeq()) this.fetch();
  }

  private validCommitCertificate(entry: DecidedEntry): boolean {
    const batchHash = batchDigest(this.verifier.digest, entry.batch);
    const signers = new Set<ProcessId>();
    let view: number | undefined;
    for (const vote of entry.commits) {
      if (
        vote.type !== "commit" ||
        vote.seq !== entry.seq ||
        vote.digest !== batchHash ||
        !this.validVote(vote)
      )
        return false;
      if (view !== undefined && vote.view !== view) return false;
      view = vote.view;
      signers.add(vote.signer);
    }
    return signers.size >= this.quorum;
  }

  private broadcast(message: PbftMessage, bytes: number, label: string): void {
    for (const replica of this.host.replicas)
      if (replica !== this.host.self) this.host.send(replica, message, bytes, label);
  }
}

/** Signed texts, shared with the Byzantine strategies (which sign as themselves). */
export const pbftSignedText = {
  prePrepare: (view: number, seq: number, batchHash: string): string => prePrepareText(view, seq, batchHash),
  viewChange: (
    view: number,
    stable: StableProof,
    prepared: readonly PreparedProof[],
    signer: ProcessId,
  ): string => viewChangeText(view, stable, prepared, signer),
  newView: (view: number, viewChanges: readonly ViewChange[], prePrepares: readonly PrePrepare[]): string =>
    newViewText(view, viewChanges, prePrepares),
};
export type { NewView, PrePrepare, ViewChange };

/** Modelled bytes of a NEW-VIEW: its pre-prepares' batches and signatures, and its view changes. */
function newViewBytes(newView: NewView): number {
  let bytes = HEADER_BYTES + SIGNATURE_BYTES + newView.viewChanges.length * HEADER_BYTES * 4;
  for (const prePrepare of newView.prePrepares) bytes += batchBytes(prePrepare.batch) + SIGNATURE_BYTES;
  return bytes;
}

function chainedVotes(first: VoteSet, view: number, batchHash: string): VoteSet | undefined {
  for (let set: VoteSet | undefined = first; set !== undefined; set = set.next)
    if (set.view === view && set.digest === batchHash) return set;
  return undefined;
}
function prePrepareText(view: number, seq: number, batchHash: string): string {
  return `pre-prepare|${view}|${seq}|${batchHash}`;
}
function voteText(type: string, view: number, seq: number, batchHash: string, signer: ProcessId): string {
  return `${type}|${view}|${seq}|${batchHash}|${signer}`;
}
function checkpointText(seq: number, chain: string, root: string | undefined, signer: ProcessId): string {
  return root === undefined
    ? `checkpoint|${seq}|${chain}|${signer}`
    : `checkpoint|${seq}|${chain}|${root}|${signer}`;
}
function viewChangeText(
  view: number,
  stable: StableProof,
  prepared: readonly PreparedProof[],
  signer: ProcessId,
): string {
  const proofs = prepared
    .map((proof) => `${proof.prePrepare.seq}:${proof.prePrepare.view}:${proof.prePrepare.digest}`)
    .join(",");
  return `view-change|${view}|${stable.seq}|${stable.chain}|${proofs}|${signer}`;
}
function newViewText(
  view: number,
  viewChanges: readonly ViewChange[],
  prePrepares: readonly PrePrepare[],
): string {
  return `new-view|${view}|${viewChanges.map((change) => `${change.signer}:${change.signature}`).join(",")}|${prePrepares.map((p) => `${p.seq}:${p.digest}`).join(",")}`;
}
