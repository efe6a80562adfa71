import { createHash } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import type { ProcessId, ProcessLogic, ProcessOutput } from "@amcast/core";
import { InputError } from "@amcast/core";
import type { DecidedPosition } from "@amcast/group";
import { amnesiaHardState } from "@amcast/group";
import type { FsyncPolicy } from "@amcast/storage";
import {
  decodeSnapshot,
  encodeSnapshot,
  FSYNC_POLICIES,
  ReplicaLog,
  type Snapshot,
  StorageCorruptError,
} from "@amcast/storage";
import { Packr, Unpackr } from "msgpackr";
import { type HardStateChange, HardStateRebuild, HardStateWriter } from "./hard-state-changes.js";
import type { TracedOutputs } from "./trace-writer.js";
import { resumeTrace, TraceFile } from "./trace-writer.js";

export type { FsyncPolicy };
/** The fsync policies a replica's journal takes (`@amcast/storage`). */
export { FSYNC_POLICIES };

/** Where a replica keeps its journal, and when it fsyncs. */
export interface ReplicaStorage {
  readonly dataDir: string;
  readonly fsync: FsyncPolicy;
  /**
   * Default true: the journal records the positions the replica decides (not every input), writes
   * each of the group's checkpoints into the journal and is truncated there, so a restart replays
   * at most the positions since one checkpoint. False keeps the whole journal of inputs, replayed
   * in full on a restart. Either way the restart is the same replica (no new incarnation).
   */
  readonly truncate?: boolean;
}

/** A checkpoint of the group's state the journal holds. */
export interface JournalCheckpoint {
  /** The group log position the state covers. */
  readonly position: number;
  readonly state: Snapshot;
}

/**
 * What a replica shows the journal (`@amcast/group`'s Replica): its hard state and latest
 * checkpoint, and the positions it decides, for a journal of decisions.
 */
export interface JournalledReplica {
  hardState(): unknown;
  readonly latestCheckpoint?: { readonly position: number; readonly state: Snapshot } | undefined;
  journalDecisions?(): boolean;
  takeDecisions?(): readonly DecidedPosition[];
  executeDecided?(decided: DecidedPosition): readonly ProcessOutput[];
}

/**
 * What a journal records. `inputs`: every message and tick, replayed in full (the whole journal
 * is kept). `decided`: the positions the replica decided and its checkpoints, truncated at each.
 */
export type JournalKind = "inputs" | "decided";

/** The first entry of every journal: whose it is (format version, replica, run digest). */
const HEADER_TAG = "amcast-replica-journal";
/**
 * 3: the hard state is written as changes (journals of an older format are refused). 2: the
 * header names the journal's kind.
 */
const FORMAT_VERSION = 3;
/** Elements of the header: [tag, format version, replica, run digest, kind]. */
const HEADER_LENGTH = 5;
/** Entries of steps without outputs are written once this many bytes of them wait (or sooner). */
const UNFORCED_BYTES_MAX = 1 << 20;
/** Entry kinds after the header. */
const TICK = 0;
const RECEIVE = 1;
/**
 * The orderer's hard state, whole: [kind, version, hard state]. The first one a process writes;
 * after it, `HARD_STATE_CHANGE`s (see hard-state-changes.ts).
 */
const HARD_STATE = 2;
/**
 * The hard state a replica started from, first in a journal begun by an amnesia restart (a kind
 * of its own: a fresh start's first turn may record a hard state first too, and a replay must
 * not take that one for a kept one).
 */
const STARTING_HARD_STATE = 3;
/** A position the replica decided: [kind, position, mark, batch] (`decided` journals). */
const DECIDED = 4;
/**
 * What changed in the orderer's hard state, written in every turn it changed, before the turn's
 * outputs leave: [kind, version, collection changes, skeleton if it changed].
 */
const HARD_STATE_CHANGE = 5;
/** Entry kinds that carry the hard state. */
const HARD_STATE_KINDS: ReadonlySet<number> = new Set([HARD_STATE, STARTING_HARD_STATE, HARD_STATE_CHANGE]);

/** A step's outputs, held until the inputs that caused them are durable. */
interface HeldStep {
  readonly logic: ProcessLogic;
  readonly outputs: readonly ProcessOutput[];
}

/** What replaying a journal did. */
export interface ReplayStats {
  readonly kind: JournalKind;
  /** Inputs (a journal of inputs) or decided positions (a journal of decisions) replayed. */
  readonly inputs: number;
  readonly ticks: number;
  readonly ms: number;
  /** Bytes a crash cut off the journal's tail (an entry being written). */
  readonly truncatedBytes: number;
}

/** A checkpoint to write into the log once the turn that took it is written. */
interface PendingCheckpoint {
  /** The last log entry it covers. */
  readonly cover: number;
  readonly payload: Buffer;
  /** Installed from the group: the positions before it were skipped, so it is durable before anything after it leaves. */
  readonly installed: boolean;
}

/**
 * A replica's journal on disk, written before the replica's outputs leave. Of one of two kinds
 * (`JournalKind`), chosen when it is started (`ReplicaStorage.truncate`) and named in its header:
 *
 * - `decided` (the default): the positions the replica decides, each with its batch and its
 *   orderer's mark, what changed in the orderer's hard state (hard-state-changes.ts), and each of the group's
 *   checkpoints, at which the log is truncated. The replica's executed state is a deterministic
 *   function of its last checkpoint and the positions decided after it, so a restart restores
 *   the checkpoint and executes those positions again: the same replica, which delivers what
 *   follows without gap or repeat. Its orderer comes back with its hard state only (Raft's term
 *   and vote, PBFT's view, certificates and highest signed sequence number), not the entries it
 *   accepted beyond its last decided position, so it votes again only once caught up (R7/B6).
 * - `inputs`: every message and tick. The replica is a deterministic function of its inputs
 *   (its random choices come from its seeded stream), so a restart replays them all into a
 *   fresh replica, orderer included. Never truncated: replay grows with the run. Used with
 *   `truncate: false`, and for replicas that take no checkpoints (solo mode, Byzantine
 *   strategies).
 *
 * Outputs of a step are released only once what the step recorded is durable (per the fsync
 * policy): what a crash loses was never seen outside, as if the input had been lost on the
 * network. Steps taken in one event-loop turn share one write and one fsync (with `interval` and
 * `none`, one synchronous write, after which the outputs leave in the same turn).
 */
export class ReplicaJournal {
  private readonly packr = new Packr({ useRecords: false });
  private held: HeldStep[] = [];
  private syncScheduled = false;
  /** Steps appended to the log and not yet released. */
  private unreleased = 0;
  /** Releases go out in order: each waits for the one before. */
  private releases: Promise<void> = Promise.resolve();
  /** Turns whose outputs wait for an awaited `sync()`: later turns queue behind them. */
  private waiting = 0;
  private failed = false;
  private release: (logic: ProcessLogic, outputs: readonly ProcessOutput[]) => void = () => {};
  /** Runs before a checkpoint is written (the host writes out its trace: see `writeCheckpoint`). */
  private beforeCheckpoint: () => void = () => {};
  private replica: JournalledReplica | undefined;
  /** What this journal records: from its header, or chosen when it is bound (a new journal). */
  private recording: JournalKind | undefined;
  /** The position of the last entry appended. */
  private lastAppended = 0;
  /** The group position of the last checkpoint written into the journal. */
  private checkpointWritten: number;
  /** The last position decided (recorded, or replayed). */
  private lastDecided: number;
  /** Decided positions not yet covered by a checkpoint, with their log entries: [position, entry]. */
  private uncovered: [number, number][] = [];
  /** The last checkpoint handed to the log, written (or failed). */
  private checkpointsWritten: Promise<void> = Promise.resolve();
  /** The hard state last written, to write what changed since. */
  private readonly hardStates: HardStateWriter;
  /** Bytes and entries of hard state written by this process (a measure of the journal's cost). */
  hardStateBytes = 0;
  hardStateEntries = 0;
  private onFatal: (error: Error) => void = (error) => {
    throw error;
  };

  private constructor(
    readonly log: ReplicaLog,
    readonly storage: ReplicaStorage,
    /** Entries written before this start, to replay (inputs, or decided positions). */
    private recovered: number,
    private readonly truncatedBytes: number,
    /** The kind of a journal that was there before this start. */
    private readonly existing: JournalKind | undefined,
    /** The checkpoint the journal starts from (a journal of decisions), if any. */
    readonly recoveredCheckpoint: JournalCheckpoint | undefined,
    /** Whose journal it is: [tag, format version, replica, run digest]; the kind follows. */
    private readonly header: readonly unknown[],
    /**
     * The hard state the replica starts from, if it does not start from nothing: in a journal of
     * decisions the last one recorded (or its checkpoint's); in a journal of inputs the one an
     * amnesia restart kept (the replay rebuilds the later ones).
     */
    readonly startingHardState?: unknown,
    /** The version of the last hard state in the journal (0: none). */
    hardStateVersion = 0,
  ) {
    this.hardStates = new HardStateWriter(hardStateVersion);
    this.recording = existing;
    this.checkpointWritten = recoveredCheckpoint?.position ?? 0;
    this.lastDecided = this.checkpointWritten;
  }

  /**
   * Who carries out a step's outputs once its input is durable, who hears of a disk failure (the
   * replica cannot go on: it would act on inputs it could lose), the replica (its hard state,
   * checkpoints and decisions; none for one running a Byzantine strategy), and what runs before
   * a checkpoint is written. A new journal gets its header here, naming its kind.
   */
  bind(
    release: (logic: ProcessLogic, outputs: readonly ProcessOutput[]) => void,
    onFatal: (error: Error) => void,
    replica?: JournalledReplica,
    beforeCheckpoint?: () => void,
  ): void {
    this.release = release;
    this.onFatal = onFatal;
    this.replica = replica;
    if (beforeCheckpoint !== undefined) this.beforeCheckpoint = beforeCheckpoint;
    const decisions = replica?.journalDecisions?.() === true;
    if (this.recording === undefined) {
      this.recording = this.storage.truncate !== false && decisions ? "decided" : "inputs";
      this.append(this.packr.pack([...this.header, this.recording]));
    } else if (this.recording === "decided" && !decisions)
      throw new InputError(
        this.storage.dataDir,
        "",
        "holds a journal of decided positions, and this replica takes no checkpoints (solo mode or a Byzantine strategy): give an empty directory",
      );
  }

  /** What the journal records (known once bound, or from a journal that was there). */
  get kind(): JournalKind | undefined {
    return this.recording;
  }

  /**
   * Opens (or starts) the journal of `replica` in `storage.dataDir`. `runDigest` identifies the
   * run: a journal of another replica or run is refused, since replaying it would build a
   * different state.
   */
  static async open(storage: ReplicaStorage, replica: ProcessId, runDigest: string): Promise<ReplicaJournal> {
    const { log, recovery } = await openLog(storage);
    const header = [HEADER_TAG, FORMAT_VERSION, replica, runDigest];
    /** The kind a journal's header names, or an error saying whose journal it is. */
    const checkHeader = (found: unknown[] | undefined): JournalKind => {
      if (found === undefined || found[0] !== HEADER_TAG)
        throw new InputError(
          storage.dataDir,
          "",
          "does not hold a replica journal (give an empty directory)",
        );
      if (found[1] !== FORMAT_VERSION || (found[4] !== "inputs" && found[4] !== "decided"))
        throw new InputError(
          storage.dataDir,
          "",
          `holds a replica journal of format ${String(found[1])}, this version reads ${FORMAT_VERSION}: give an empty directory`,
        );
      if (found[2] !== replica || found[3] !== runDigest)
        throw new InputError(
          storage.dataDir,
          "",
          found[2] !== replica
            ? `holds the journal of replica ${String(found[2])}, not of ${replica}: give each replica its own data directory`
            : `holds the journal of ${replica} in another run (the deployment's system changed): give an empty directory to start afresh`,
        );
      return found[4];
    };
    let kind: JournalKind | undefined;
    let checkpoint: JournalCheckpoint | undefined;
    const hardStates = new HardStateRebuild();
    if (recovery.checkpoint !== null) {
      kind = checkHeader(decodeHeader(recovery.checkpoint.state)?.slice(0, HEADER_LENGTH));
      const read = readCheckpoint(recovery.checkpoint.state);
      checkpoint = read.checkpoint;
      hardStates.whole(read.hardStateVersion, read.hardState);
    }
    let decided = 0;
    const unpackr = new Unpackr({ useRecords: false });
    log.forEachEntry((entry) => {
      if (kind === undefined) {
        kind = checkHeader(decodeHeader(entry.payload));
        return true;
      }
      // Every entry is a msgpack array whose first element is its kind: only that byte is read.
      const entryKind = entry.payload[1] as number;
      if (entryKind === DECIDED) decided += 1;
      else if (entryKind === STARTING_HARD_STATE || (kind === "decided" && HARD_STATE_KINDS.has(entryKind)))
        readHardState(storage, hardStates, unpackr.unpack(entry.payload) as unknown[]);
      // A journal of inputs keeps only the starting hard state (right after the header): the
      // replay rebuilds the rest, so the inputs are not read here.
      else if (kind === "inputs") return false;
      return true;
    });
    return new ReplicaJournal(
      log,
      storage,
      kind === "decided" ? decided : Math.max(0, recovery.entryCount - 1),
      recovery.truncatedBytes,
      kind,
      checkpoint,
      header,
      hardStates.hardState(),
      hardStates.version,
    );
  }

  /** True when the journal was there before this start: the replica is restarting. */
  get restarted(): boolean {
    return this.existing !== undefined;
  }

  /** Entries the journal holds from before this start, to replay before the replica runs. */
  get recoveredInputs(): number {
    return this.recovered;
  }

  /**
   * Feeds what the journal recorded before this start to `logic` (a fresh replica, already
   * restored from the journal's checkpoint if there is one) in order — the inputs, or the
   * decided positions — and hands each step's outputs to `onReplayed`: their sends left (or were
   * lost) before the restart and are not sent again; the caller decides what else to make of
   * them (deliveries the trace lacks).
   */
  replay(
    logic: ProcessLogic,
    onReplayed: (outputs: readonly ProcessOutput[]) => void,
    onError: (input: string, error: unknown) => void,
  ): ReplayStats {
    const started = performance.now();
    const stats =
      this.recording === "decided"
        ? this.replayDecided(onReplayed, onError)
        : this.replayInputs(logic, onReplayed, onError);
    // Replayed once.
    this.recovered = 0;
    return { ...stats, ms: performance.now() - started, truncatedBytes: this.truncatedBytes };
  }

  private replayInputs(
    logic: ProcessLogic,
    onReplayed: (outputs: readonly ProcessOutput[]) => void,
    onError: (input: string, error: unknown) => void,
  ): { kind: JournalKind; inputs: number; ticks: number } {
    const unpackr = new Unpackr({ useRecords: false });
    const inputs = this.recovered;
    let ticks = 0;
    let seen = 0;
    this.log.forEachEntry((entry) => {
      // The header first; then the inputs written before this start (nothing else is written yet).
      if (entry.position === 1 || seen === inputs) return seen < inputs;
      seen += 1;
      if (HARD_STATE_KINDS.has(entry.payload[1] as number)) return true;
      const input = unpackr.unpack(entry.payload) as [number, ProcessId?, unknown?, number?];
      // An input the logic threw on was dropped when it ran; it is dropped again here.
      if (input[0] === TICK) {
        ticks += 1;
        try {
          onReplayed(logic.tick());
        } catch (error) {
          onError("a tick", error);
        }
      } else {
        const from = input[1] as ProcessId;
        logic.observeDelay?.(from, input[3] as number);
        try {
          onReplayed(logic.receive(from, input[2]));
        } catch (error) {
          onError(`a message from ${from}`, error);
        }
      }
      return true;
    });
    return { kind: "inputs", inputs, ticks };
  }

  /**
   * Executes the decided positions after the checkpoint again, in order. One that does not follow
   * the position before it ends the replay: it was decided after an install of the group's
   * checkpoint whose journal checkpoint a crash cut off, and nothing it caused left the process
   * (such a turn's outputs wait for that checkpoint); the group catches the replica up from there.
   */
  private replayDecided(
    onReplayed: (outputs: readonly ProcessOutput[]) => void,
    onError: (input: string, error: unknown) => void,
  ): { kind: JournalKind; inputs: number; ticks: number } {
    const replica = this.replica;
    if (replica?.executeDecided === undefined)
      throw new Error("a journal of decisions replays into a bound replica");
    const unpackr = new Unpackr({ useRecords: false });
    const expected = this.recovered;
    let replayed = 0;
    let seen = 0;
    this.log.forEachEntry((entry) => {
      if (seen === expected) return false;
      if (entry.payload[1] !== DECIDED) return true;
      seen += 1;
      const [, position, mark, batch] = unpackr.unpack(entry.payload) as [
        number,
        number,
        number | string,
        DecidedPosition["batch"],
      ];
      if (position !== this.lastDecided + 1) {
        onError(
          `decided position ${position} (the last one executed is ${this.lastDecided}: the rest is left to the group)`,
          undefined,
        );
        return false;
      }
      try {
        onReplayed(replica.executeDecided?.({ position, mark, batch }) ?? []);
      } catch (error) {
        onError(`decided position ${position}`, error);
        return false;
      }
      this.lastDecided = position;
      this.uncovered.push([position, entry.position]);
      replayed += 1;
      return true;
    });
    // Already in the journal.
    replica.takeDecisions?.();
    return { kind: "decided", inputs: replayed, ticks: 0 };
  }

  /** Records a message before the replica takes it (a journal of inputs). */
  recordReceive(from: ProcessId, body: unknown, delayMs: number): void {
    if (this.recording === "inputs") this.append(this.packr.pack([RECEIVE, from, body, delayMs]));
  }

  /** Records a tick before the replica takes it (a journal of inputs). */
  recordTick(): void {
    if (this.recording === "inputs") this.append(this.packr.pack([TICK]));
  }

  /**
   * Holds the outputs of the step just recorded until what it recorded is durable. A step without
   * outputs (a follower's tick, most often) waits for nothing: its entries go to disk with the
   * next step that has outputs (the log is in order), and if a crash loses them first, nothing
   * anyone saw depended on them. A journal of decisions looks at the replica every turn (what it
   * decided and checkpointed waits in the replica's memory until then).
   */
  hold(logic: ProcessLogic, outputs: readonly ProcessOutput[]): void {
    if (this.failed) return;
    if (outputs.length > 0) {
      this.held.push({ logic, outputs });
      this.unreleased += 1;
    } else if (this.recording !== "decided" && this.log.bufferedBytes < UNFORCED_BYTES_MAX) return;
    if (this.syncScheduled) return;
    this.syncScheduled = true;
    // Every step of this event-loop turn (a frame's messages, a tick) shares the write and fsync.
    setImmediate(() => this.syncHeld());
  }

  /** True while outputs wait for the disk. */
  get holding(): boolean {
    return this.unreleased > 0;
  }

  /** Waits until every held step is released (before stopping). */
  async drain(): Promise<void> {
    while (this.syncScheduled || this.unreleased > 0) {
      if (this.failed) return;
      await new Promise((resolve) => setImmediate(resolve));
      await this.releases;
    }
  }

  /** Releases what is held and closes the log (fsync included). */
  async close(): Promise<void> {
    await this.drain();
    await this.releases;
    await this.log.close();
  }

  private append(payload: Buffer): void {
    if (this.failed) return;
    try {
      this.lastAppended = this.log.append(payload);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private syncHeld(): void {
    this.syncScheduled = false;
    const steps = this.held;
    this.held = [];
    this.recordHardState();
    this.recordDecisions();
    const checkpoint = this.checkpointToWrite();
    // Without an fsync per batch (`interval`, `none`), one synchronous write hands the turn's
    // entries to the OS, and the outputs leave at once, unless earlier ones still wait.
    if (this.waiting === 0 && checkpoint?.installed !== true) {
      let written: boolean;
      try {
        written = this.log.writeNow();
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      if (written) {
        this.releaseSteps(steps);
        if (checkpoint !== undefined) this.writeCheckpoint(checkpoint);
        return;
      }
    }
    this.waiting += 1;
    // An installed checkpoint is durable before the turn's outputs leave (the install among them).
    const synced = checkpoint?.installed === true ? this.writeCheckpoint(checkpoint) : this.log.sync();
    this.releases = Promise.all([this.releases, synced]).then(
      () => {
        this.waiting -= 1;
        this.releaseSteps(steps);
        if (checkpoint !== undefined && !checkpoint.installed) this.writeCheckpoint(checkpoint);
      },
      (error: Error) => this.fail(error),
    );
  }

  /**
   * Writes the hard state the bound replica starts from after the journal's header and makes it
   * durable, before the replica takes any input. An amnesia restart starts from the hard state
   * its old journal kept, and that journal is gone: without this, a later restart of the new
   * journal would rebuild the replica from nothing (term 0, no vote) and could vote twice in a
   * term.
   */
  async recordStartingHardState(): Promise<void> {
    // A replica running a Byzantine strategy shows no hard state: nothing to keep.
    if (this.replica === undefined) return;
    if (this.lastAppended !== 1 || this.existing !== undefined)
      throw new Error("the starting hard state goes first into a new journal");
    const hardState = this.replica.hardState();
    // Whole, and the base of the changes written after it.
    const { version } = this.hardStates.next(hardState, true) as { version: number };
    this.appendHardState(STARTING_HARD_STATE, [version, hardState]);
    await this.log.sync();
  }

  /**
   * Writes what changed in the orderer's hard state (Raft's term, vote and log past its last
   * executed position; PBFT's view, prepared certificates and highest signed sequence number),
   * with the inputs that changed it: a replica that loses its memory (amnesia), or restarts from a
   * journal of decisions, keeps only this. The first one a process writes is whole.
   */
  private recordHardState(): void {
    if (this.replica === undefined) return;
    const entry = this.hardStates.next(this.replica.hardState());
    if (entry === undefined) return;
    if (entry.whole) this.appendHardState(HARD_STATE, [entry.version, entry.hardState]);
    else this.appendHardState(HARD_STATE_CHANGE, [entry.version, ...entry.change]);
  }

  private appendHardState(kind: number, fields: readonly unknown[]): void {
    const payload = this.packr.pack([kind, ...fields]);
    this.hardStateBytes += payload.length;
    this.hardStateEntries += 1;
    this.append(payload);
  }

  /** A journal of decisions: appends what the replica decided since the last turn. */
  private recordDecisions(): void {
    if (this.recording !== "decided") return;
    for (const decided of this.replica?.takeDecisions?.() ?? []) {
      this.append(this.packr.pack([DECIDED, decided.position, decided.mark, decided.batch]));
      this.uncovered.push([decided.position, this.lastAppended]);
      this.lastDecided = decided.position;
    }
  }

  /**
   * A journal of decisions: the replica's latest checkpoint, if the journal does not hold it yet,
   * as the log's checkpoint (with the hard state now), covering the log up to the last position
   * it includes. One the replica installed from its group (past every position it decided)
   * covers the whole log.
   */
  private checkpointToWrite(): PendingCheckpoint | undefined {
    const latest = this.replica?.latestCheckpoint;
    if (this.recording !== "decided" || latest === undefined || latest.position <= this.checkpointWritten)
      return undefined;
    this.checkpointWritten = latest.position;
    const installed = latest.position > this.lastDecided;
    if (installed) this.lastDecided = latest.position;
    // The first decided position after the checkpoint starts what stays.
    let kept = this.uncovered.findIndex(([position]) => position > latest.position);
    if (kept === -1) kept = this.uncovered.length;
    const cover =
      kept < this.uncovered.length ? (this.uncovered[kept] as [number, number])[1] - 1 : this.lastAppended;
    this.uncovered.splice(0, kept);
    // The hard state written this turn (recordHardState ran first), with its version: a rebuild
    // skips the entries after `cover` that led to it.
    const hardState = this.hardStates.lastWritten();
    const payload = Buffer.from(
      this.packr.pack([
        ...this.header,
        "decided",
        latest.position,
        hardState?.hardState,
        encodeSnapshot(latest.state),
        hardState?.version ?? 0,
      ]),
    );
    return { cover, payload, installed };
  }

  /**
   * Writes a checkpoint into the log, which then drops the segments it covers. What the positions
   * it covers delivered is in the trace by now (`beforeCheckpoint` writes it out): a restart
   * executes only the positions after it again, so a delivery before it that a kill kept out of
   * the trace would be missing for good.
   */
  private writeCheckpoint(checkpoint: PendingCheckpoint): Promise<void> {
    this.beforeCheckpoint();
    const written = this.log.checkpoint(checkpoint.cover, checkpoint.payload);
    written.catch((error: Error) => this.fail(error));
    this.checkpointsWritten = written.catch(() => undefined);
    return written;
  }

  /** Resolves once every checkpoint handed to the log so far is written (and its segments dropped). */
  async checkpointed(): Promise<void> {
    await this.releases.catch(() => undefined);
    await this.checkpointsWritten;
  }

  private releaseSteps(steps: readonly HeldStep[]): void {
    for (const step of steps) this.release(step.logic, step.outputs);
    this.unreleased -= steps.length;
  }

  private fail(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.held = [];
    this.onFatal(new Error(`the replica journal in ${this.storage.dataDir} failed: ${error.message}`));
  }
}

/**
 * Opens a journal's log. The entries are checked here and read again, a segment at a time, when
 * replayed: a long journal need not fit in memory. Damage no crash explains is named.
 */
async function openLog(storage: ReplicaStorage): ReturnType<typeof ReplicaLog.open> {
  try {
    return await ReplicaLog.open(storage.dataDir, { fsync: storage.fsync, keepEntries: false });
  } catch (error) {
    if (error instanceof StorageCorruptError)
      throw new InputError(storage.dataDir, "", `the replica journal is damaged: ${error.message}`);
    throw error;
  }
}

/**
 * A journal checkpoint's payload: [header (its kind last), group position, hard state, encoded
 * snapshot, the hard state's version].
 */
function readCheckpoint(payload: Buffer): {
  checkpoint: JournalCheckpoint;
  hardState: unknown;
  hardStateVersion: number;
} {
  const [position, hardState, state, hardStateVersion] = (decodeHeader(payload) as unknown[]).slice(
    HEADER_LENGTH,
  ) as [number, unknown, Uint8Array, number];
  return { checkpoint: { position, state: decodeSnapshot(state) }, hardState, hardStateVersion };
}

/** Reads a hard-state entry ([kind, version, ...]) into `hardStates`; a change it cannot apply names the journal damaged. */
function readHardState(storage: ReplicaStorage, hardStates: HardStateRebuild, entry: unknown[]): void {
  const [kind, version] = entry as [number, number];
  if (kind !== HARD_STATE_CHANGE) {
    hardStates.whole(version, entry[2]);
    return;
  }
  try {
    hardStates.change(version, entry.slice(2) as unknown as HardStateChange);
  } catch (error) {
    throw new InputError(storage.dataDir, "", `the replica journal is damaged: ${(error as Error).message}`);
  }
}

function decodeHeader(payload: Buffer): unknown[] | undefined {
  try {
    const value = new Unpackr({ useRecords: false }).unpack(payload) as unknown;
    return Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A digest of a run's system (its JSON form): a journal replays only into the same run. */
export function runDigest(systemJson: unknown): string {
  return createHash("sha256").update(JSON.stringify(systemJson)).digest("hex").slice(0, 32);
}

/**
 * An amnesia crash on the network runtime: the replica's memory and journal are lost, and only
 * what a real replica's disk must keep to never contradict itself — its orderer's hard state
 * (Raft's term and vote, PBFT's view, prepared certificates and highest signed sequence number;
 * the simulator's amnesia keeps the same) — survives. Reads the last hard state the journal
 * recorded, then deletes the journal: the replica starts over with an empty one and fetches the
 * rest of its state from its group. `found` is false without a journal (a wiped data directory)
 * or when none was recorded yet.
 */
export async function forgetJournal(
  storage: ReplicaStorage,
): Promise<{ readonly found: boolean; readonly hardState: unknown }> {
  if (!existsSync(storage.dataDir)) return { found: false, hardState: undefined };
  const opened = await openLog(storage);
  // The last hard state: the checkpoint's, then what was recorded after it.
  const hardStates = new HardStateRebuild();
  const checkpointed = opened.recovery.checkpoint;
  if (checkpointed !== null) {
    const read = readCheckpoint(checkpointed.state);
    hardStates.whole(read.hardStateVersion, read.hardState);
  }
  const unpackr = new Unpackr({ useRecords: false });
  try {
    opened.log.forEachEntry((entry) => {
      // Every entry is a msgpack array whose first element is its kind: only hard states are read.
      if (entry.position > 1 && HARD_STATE_KINDS.has(entry.payload[1] as number))
        readHardState(storage, hardStates, unpackr.unpack(entry.payload) as unknown[]);
      return true;
    });
  } finally {
    await opened.log.close();
  }
  rmSync(storage.dataDir, { recursive: true, force: true });
  if (hardStates.version === 0) return { found: false, hardState: undefined };
  // The orderer's log past its last decided position (Raft R8) is lost with the journal.
  return { found: true, hardState: amnesiaHardState(hardStates.hardState()) };
}

/**
 * A replica's journal and trace, opened together: on a restart (the journal was there) the trace
 * is continued, and what it already says the replica delivered is listed so that replay does not
 * trace it again (`NodeHostOptions.traced`). `log` hears what was found.
 */
export async function openJournalAndTrace(
  storage: ReplicaStorage,
  replica: ProcessId,
  digest: string,
  traceFile: string | null,
  log: (line: string) => void,
  amnesia = false,
): Promise<{ journal: ReplicaJournal; trace: TraceFile | null; traced?: TracedOutputs }> {
  const journal = await ReplicaJournal.open(storage, replica, digest);
  const checkpoint = journal.recoveredCheckpoint;
  // A restart is the same replica (from its checkpoint too): it continues its trace.
  const traced = journal.restarted && traceFile !== null ? resumeTrace(traceFile) : undefined;
  const decided = journal.kind === "decided";
  log(
    `journal in ${storage.dataDir} (fsync ${storage.fsync}): ${
      !journal.restarted
        ? "new"
        : `${decided ? "decided positions, truncated at checkpoints" : "every input"}; ${
            checkpoint === undefined
              ? ""
              : `starts from its checkpoint at log position ${checkpoint.position}, `
          }${journal.recoveredInputs} ${decided ? "position(s)" : "input(s)"} to replay`
    }`,
  );
  return {
    journal,
    trace: openTrace(traceFile, traced !== undefined, amnesia),
    ...(traced === undefined ? {} : { traced }),
  };
}

/**
 * A node's trace file: continued after a restart (`resumed`, its deliveries listed) or an amnesia
 * restart (a new incarnation, which delivers again what it fetches: nothing listed), else new.
 */
export function openTrace(traceFile: string | null, resumed: boolean, amnesia: boolean): TraceFile | null {
  if (traceFile === null) return null;
  if (amnesia && !resumed && existsSync(traceFile)) resumeTrace(traceFile);
  return new TraceFile(traceFile, resumed || (amnesia && existsSync(traceFile)));
}
