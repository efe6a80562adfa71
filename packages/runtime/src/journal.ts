import { createHash } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import type { ProcessId, ProcessLogic, ProcessOutput } from "@amcast/core";
import { InputError } from "@amcast/core";
import type { FsyncPolicy, LogEntry } from "@amcast/storage";
import {
  decodeSnapshot,
  encodeSnapshot,
  FSYNC_POLICIES,
  ReplicaLog,
  type Snapshot,
  StorageCorruptError,
} from "@amcast/storage";
import { Packr, Unpackr } from "msgpackr";
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
   * Write each of the group's checkpoints into the journal and truncate it there: replay stays
   * bounded, and a restart installs the latest checkpoint (with the hard state recorded after
   * it) and catches up from its group — a new incarnation in the trace, not an exact replay.
   */
  readonly truncate?: boolean;
}

/** A checkpoint of the group's state the journal holds, and the hard state recorded after it. */
export interface JournalCheckpoint {
  /** The group log position the state covers. */
  readonly position: number;
  readonly state: Snapshot;
  readonly hardState: unknown;
}

/** What a replica shows the journal: its hard state and latest checkpoint (`@amcast/group`'s Replica). */
export interface JournalledReplica {
  hardState(): unknown;
  readonly latestCheckpoint?: { readonly position: number; readonly state: Snapshot } | undefined;
}

/** The first entry of every journal: whose it is (format version, replica, run digest). */
const HEADER_TAG = "amcast-replica-journal";
const FORMAT_VERSION = 1;
/** Entries of steps without outputs are written once this many bytes of them wait (or sooner). */
const UNFORCED_BYTES_MAX = 1 << 20;
/** Entry kinds after the header. */
const TICK = 0;
const RECEIVE = 1;
/** The orderer's hard state, written whenever it changed before a step's outputs leave. */
const HARD_STATE = 2;
/**
 * The hard state a replica started from, first in a journal begun by an amnesia restart (a kind
 * of its own: a fresh start's first turn may record a hard state first too, and a replay must
 * not take that one for a kept one).
 */
const STARTING_HARD_STATE = 3;

/** A step's outputs, held until the inputs that caused them are durable. */
interface HeldStep {
  readonly logic: ProcessLogic;
  readonly outputs: readonly ProcessOutput[];
}

/** What replaying a journal did. */
export interface ReplayStats {
  readonly inputs: number;
  readonly ticks: number;
  readonly ms: number;
  /** Bytes a crash cut off the journal's tail (an entry being written). */
  readonly truncatedBytes: number;
}

/**
 * A replica's inputs on disk, written before it acts on them. The replica is a deterministic
 * function of its inputs (messages, in arrival order, and ticks; its random choices come from
 * its seeded stream), so recording every input before the step's outputs leave the process lets
 * a restarted replica replay them into a fresh replica and be exactly where the old one was:
 * Raft's term, vote and log, PBFT's view and certificates, the client table, the streams and
 * the application. Outputs of a step are released only once the step's input is durable (per the
 * fsync policy): what a crash loses was never seen outside, as if the input had been lost on the
 * network. Steps taken in one event-loop turn share one write and one fsync (with `interval` and
 * `none`, one synchronous write, after which the outputs leave in the same turn).
 *
 * The journal holds consensus traffic too and is never truncated yet: that needs snapshots of
 * the group layer (docs/durability.md).
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
  private replica: JournalledReplica | undefined;
  /** The position of the last entry appended. */
  private lastAppended = 0;
  /** The group position of the last checkpoint written into the journal. */
  private checkpointWritten: number;
  /** The hard state last written (encoded), to write it only when it changed. */
  private hardStateWritten: Buffer | undefined;
  private onFatal: (error: Error) => void = (error) => {
    throw error;
  };

  private constructor(
    readonly log: ReplicaLog,
    readonly storage: ReplicaStorage,
    /** Inputs (entries after the header) written before this start, to replay. */
    private recovered: number,
    private readonly truncatedBytes: number,
    private readonly existed: boolean,
    /** The checkpoint the journal starts from (a truncated journal), if any. */
    readonly recoveredCheckpoint: JournalCheckpoint | undefined,
    /** Whose journal it is: [tag, format version, replica, run digest]. */
    private readonly header: readonly unknown[],
    /**
     * The hard state the replica started from, when it did not start from nothing (an amnesia
     * restart keeps its orderer's hard state): a replay must start from it too.
     */
    readonly startingHardState?: unknown,
  ) {
    this.checkpointWritten = recoveredCheckpoint?.position ?? 0;
  }

  /**
   * Who carries out a step's outputs once its input is durable, and who hears of a disk failure
   * (the replica cannot go on: it would act on inputs it could lose).
   */
  bind(
    release: (logic: ProcessLogic, outputs: readonly ProcessOutput[]) => void,
    onFatal: (error: Error) => void,
    replica?: JournalledReplica,
  ): void {
    this.release = release;
    this.onFatal = onFatal;
    this.replica = replica;
  }

  /**
   * Opens (or starts) the journal of `replica` in `storage.dataDir`. `runDigest` identifies the
   * run: a journal of another replica or run is refused, since replaying it would build a
   * different state.
   */
  static async open(storage: ReplicaStorage, replica: ProcessId, runDigest: string): Promise<ReplicaJournal> {
    const { log, recovery } = await openLog(storage);
    const header = [HEADER_TAG, FORMAT_VERSION, replica, runDigest];
    const checkHeader = (found: unknown[] | undefined): void => {
      if (found === undefined || found[0] !== HEADER_TAG || found[1] !== FORMAT_VERSION)
        throw new InputError(
          storage.dataDir,
          "",
          "does not hold a replica journal (give an empty directory)",
        );
      if (found[2] !== replica || found[3] !== runDigest)
        throw new InputError(
          storage.dataDir,
          "",
          found[2] !== replica
            ? `holds the journal of replica ${String(found[2])}, not of ${replica}: give each replica its own data directory`
            : `holds the journal of ${replica} in another run (the deployment's system changed): give an empty directory to start afresh`,
        );
    };
    let first: LogEntry | undefined;
    let hardState: Buffer | undefined;
    let startingHardState: Buffer | undefined;
    log.forEachEntry((entry) => {
      if (recovery.checkpoint === null) {
        if (first === undefined) {
          first = entry;
          return true;
        }
        // Written right after the header, before any input (`recordStartingHardState`).
        if (entry.payload[1] === STARTING_HARD_STATE) startingHardState = entry.payload;
        return false;
      }
      first ??= entry;
      // After a checkpoint only the hard state recorded since is read (the inputs are not replayed).
      if (entry.payload[1] === HARD_STATE) hardState = entry.payload;
      return true;
    });
    let checkpoint: JournalCheckpoint | undefined;
    if (recovery.checkpoint !== null) {
      // [header..., group position, hard state, encoded snapshot]
      const payload = decodeHeader(recovery.checkpoint.state);
      checkHeader(payload?.slice(0, 4));
      const [position, keptHardState, state] = (payload as unknown[]).slice(4) as [
        number,
        unknown,
        Uint8Array,
      ];
      checkpoint = {
        position,
        state: decodeSnapshot(state),
        hardState:
          hardState === undefined
            ? keptHardState
            : (new Unpackr({ useRecords: false }).unpack(hardState) as unknown[])[1],
      };
    } else if (first === undefined) {
      log.append(new Packr({ useRecords: false }).pack(header));
      await log.sync();
    } else checkHeader(decodeHeader(first.payload));
    return new ReplicaJournal(
      log,
      storage,
      checkpoint === undefined ? Math.max(0, recovery.entryCount - 1) : 0,
      recovery.truncatedBytes,
      first !== undefined || checkpoint !== undefined,
      checkpoint,
      header,
      startingHardState === undefined
        ? undefined
        : (new Unpackr({ useRecords: false }).unpack(startingHardState) as unknown[])[1],
    );
  }

  /** True when the journal was there before this start: the replica is restarting. */
  get restarted(): boolean {
    return this.existed;
  }

  /** Inputs the journal holds from before this start, to replay before the replica runs. */
  get recoveredInputs(): number {
    return this.recovered;
  }

  /**
   * Feeds the recovered inputs to `logic` (a fresh replica) in order, and hands each step's
   * outputs to `onReplayed`: their sends left (or were lost) before the restart and are not sent
   * again; the caller decides what else to make of them (deliveries the trace lacks).
   */
  replay(
    logic: ProcessLogic,
    onReplayed: (outputs: readonly ProcessOutput[]) => void,
    onError: (input: string, error: unknown) => void,
  ): ReplayStats {
    const started = performance.now();
    const unpackr = new Unpackr({ useRecords: false });
    const inputs = this.recovered;
    let ticks = 0;
    let seen = 0;
    this.log.forEachEntry((entry) => {
      // The header first; then the inputs written before this start (nothing else is written yet).
      if (entry.position === 1 || seen === inputs) return seen < inputs;
      seen += 1;
      const input = unpackr.unpack(entry.payload) as [number, ProcessId?, unknown?, number?];
      // An input the logic threw on was dropped when it ran; it is dropped again here.
      if (input[0] === HARD_STATE || input[0] === STARTING_HARD_STATE) return true;
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
    // Replayed once.
    this.recovered = 0;
    return {
      inputs,
      ticks,
      ms: performance.now() - started,
      truncatedBytes: this.truncatedBytes,
    };
  }

  /** Records a message before the replica takes it. */
  recordReceive(from: ProcessId, body: unknown, delayMs: number): void {
    this.append(this.packr.pack([RECEIVE, from, body, delayMs]));
  }

  /** Records a tick before the replica takes it. */
  recordTick(): void {
    this.append(this.packr.pack([TICK]));
  }

  /**
   * Holds the outputs of the step just recorded until its input is durable. A step without
   * outputs (a follower's tick, most often) waits for nothing: its entry goes to disk with the
   * next step that has outputs (the log is in order), and if a crash loses it first, nothing
   * anyone saw depended on it.
   */
  hold(logic: ProcessLogic, outputs: readonly ProcessOutput[]): void {
    if (this.failed) return;
    if (outputs.length > 0) {
      this.held.push({ logic, outputs });
      this.unreleased += 1;
    } else if (this.log.bufferedBytes < UNFORCED_BYTES_MAX) return;
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
    this.recordCheckpoint();
    // Without an fsync per batch (`interval`, `none`), one synchronous write hands the turn's
    // inputs to the OS, and the outputs leave at once, unless earlier ones still wait.
    if (this.waiting === 0) {
      let written: boolean;
      try {
        written = this.log.writeNow();
      } catch (error) {
        this.fail(error as Error);
        return;
      }
      if (written) {
        this.releaseSteps(steps);
        return;
      }
    }
    this.waiting += 1;
    const synced = this.log.sync();
    this.releases = Promise.all([this.releases, synced]).then(
      () => {
        this.waiting -= 1;
        this.releaseSteps(steps);
      },
      (error: Error) => this.fail(error),
    );
  }

  /**
   * Writes the hard state the bound replica starts from as the journal's first entry and makes it
   * durable, before the replica takes any input. An amnesia restart starts from the hard state
   * its old journal kept, and that journal is gone: without this, a later restart that replays
   * the new journal would rebuild the replica from nothing (term 0, no vote) and could vote
   * twice in a term.
   */
  async recordStartingHardState(): Promise<void> {
    // A replica running a Byzantine strategy shows no hard state: nothing to keep.
    if (this.replica === undefined) return;
    if (this.lastAppended !== 0 || this.existed)
      throw new Error("the starting hard state goes first into a new journal");
    const hardState = this.replica.hardState();
    // Copies: packr reuses its buffer.
    const starting = Buffer.from(this.packr.pack([STARTING_HARD_STATE, hardState]));
    // It is also the last hard state written, as far as `recordHardState` compares.
    this.hardStateWritten = Buffer.from(this.packr.pack([HARD_STATE, hardState]));
    this.append(starting);
    await this.log.sync();
  }

  /**
   * Writes the orderer's hard state (Raft's term and vote, PBFT's view, prepared certificates and
   * highest signed sequence number) when it changed, with the inputs that changed it: a replica
   * that loses its memory (amnesia) keeps only this (`readHardState`).
   */
  private recordHardState(): void {
    if (this.replica === undefined) return;
    const encoded = this.packr.pack([HARD_STATE, this.replica.hardState()]);
    if (this.hardStateWritten !== undefined && encoded.equals(this.hardStateWritten)) return;
    // packr reuses its buffer: keep a copy.
    this.hardStateWritten = Buffer.from(encoded);
    this.append(this.hardStateWritten);
  }

  /**
   * With `truncate`: writes the replica's latest checkpoint (and its hard state now) as the log's
   * checkpoint, covering every entry appended so far; the log drops the segments before it.
   */
  private recordCheckpoint(): void {
    const latest = this.replica?.latestCheckpoint;
    if (this.storage.truncate !== true || latest === undefined || latest.position <= this.checkpointWritten)
      return;
    this.checkpointWritten = latest.position;
    const payload = this.packr.pack([
      ...this.header,
      latest.position,
      this.replica?.hardState(),
      encodeSnapshot(latest.state),
    ]);
    this.log.checkpoint(this.lastAppended, Buffer.from(payload)).catch((error: Error) => this.fail(error));
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
  // The last hard state: recorded after the journal's checkpoint, else the checkpoint's own.
  let last: Buffer | undefined;
  const checkpointed = opened.recovery.checkpoint;
  if (checkpointed !== null) {
    const payload = decodeHeader(checkpointed.state);
    if (payload !== undefined) last = new Packr({ useRecords: false }).pack([HARD_STATE, payload[5]]);
  }
  opened.log.forEachEntry((entry) => {
    // Every entry is a msgpack array whose first element is its kind: only hard states are read.
    if (entry.position > 1 && (entry.payload[1] === HARD_STATE || entry.payload[1] === STARTING_HARD_STATE))
      last = entry.payload;
    return true;
  });
  await opened.log.close();
  rmSync(storage.dataDir, { recursive: true, force: true });
  if (last === undefined) return { found: false, hardState: undefined };
  return { found: true, hardState: (new Unpackr({ useRecords: false }).unpack(last) as unknown[])[1] };
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
  // A restart from a checkpoint is a new incarnation, which delivers again from there.
  const traced =
    journal.restarted && checkpoint === undefined && traceFile !== null ? resumeTrace(traceFile) : undefined;
  log(
    `journal in ${storage.dataDir} (fsync ${storage.fsync}${storage.truncate === true ? ", truncated at checkpoints" : ""}): ${
      checkpoint !== undefined
        ? `starts from its checkpoint at log position ${checkpoint.position}`
        : journal.restarted
          ? `${journal.recoveredInputs} input(s) to replay`
          : "new"
    }`,
  );
  return {
    journal,
    trace: openTrace(traceFile, traced !== undefined, amnesia || checkpoint !== undefined),
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
