import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writevSync,
} from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/**
 * When the log calls fsync:
 * - `batch`: every `sync()` writes what was appended and fsyncs before it resolves: an entry is
 *   on disk before the replica acts on it. Concurrent `sync()` calls share one write and one fsync
 *   (group commit).
 * - `interval`: `sync()` resolves once the entries are written to the OS; an fsync runs every
 *   `fsyncIntervalMs` if anything was written. A machine crash loses at most that window; a
 *   process crash (SIGKILL) loses nothing written.
 * - `none`: never fsyncs while running (the OS writes back when it likes); `close()` still does.
 */
export type FsyncPolicy = "batch" | "interval" | "none";
export const FSYNC_POLICIES: readonly FsyncPolicy[] = ["batch", "interval", "none"];

export interface LogOptions {
  readonly fsync?: FsyncPolicy;
  /** With `fsync: "interval"`: the period (default 10 ms). */
  readonly fsyncIntervalMs?: number;
  /** Bytes appended but not yet written that `append` accepts before it refuses (default 64 MiB). */
  readonly pendingBytesMax?: number;
  /** A segment file is closed and a new one started once it holds this many bytes (default 64 MiB). */
  readonly segmentBytesMax?: number;
  /** The largest record payload (default 16 MiB); a longer length field on disk is damage. */
  readonly recordBytesMax?: number;
  /**
   * false: `open` checks every entry but keeps none in memory (`recovery.entries` is empty,
   * `recovery.entryCount` says how many there are); read them with `forEachEntry`, one segment
   * at a time. Default true.
   */
  readonly keepEntries?: boolean;
}

export const DEFAULT_LOG_OPTIONS: Required<LogOptions> = {
  fsync: "batch",
  fsyncIntervalMs: 10,
  pendingBytesMax: 64 * 1024 * 1024,
  segmentBytesMax: 64 * 1024 * 1024,
  recordBytesMax: 16 * 1024 * 1024,
  keepEntries: true,
};

/** One decided entry: its position in the log (1, 2, …) and the bytes the replica appended. */
export interface LogEntry {
  readonly position: number;
  readonly payload: Buffer;
}

/** The latest checkpoint: the state after every entry up to `position`. */
export interface Checkpoint {
  readonly position: number;
  readonly state: Buffer;
}

/** What `open` found, and what it repaired. */
export interface Recovery {
  readonly checkpoint: Checkpoint | null;
  /** The entries after the checkpoint, in order (none kept with `keepEntries: false`). */
  readonly entries: readonly LogEntry[];
  /** How many entries follow the checkpoint. */
  readonly entryCount: number;
  /** Bytes cut off a torn tail (a write the crash interrupted), 0 if none. */
  readonly truncatedBytes: number;
}

/** The directory's contents are damaged in a way a crash cannot explain; says which file and where. */
export class StorageCorruptError extends Error {
  override readonly name = "StorageCorruptError";
}

const SEGMENT_MAGIC = Buffer.from("AMCLOG01", "ascii");
const CHECKPOINT_MAGIC = Buffer.from("AMCCKPT1", "ascii");
/** Record header: payload length (u32), CRC-32 of position and payload (u32), position (u64). */
const HEADER_BYTES = 16;
const CHECKPOINT_HEADER_BYTES = CHECKPOINT_MAGIC.length + 16;
const CHECKPOINT_FILE = "checkpoint";
const CHECKPOINT_TEMP = "checkpoint.tmp";
const SEGMENT_PATTERN = /^log-(\d{16})\.seg$/;

function segmentName(firstPosition: number): string {
  return `log-${String(firstPosition).padStart(16, "0")}.seg`;
}

function writePosition(buffer: Buffer, offset: number, position: number): void {
  buffer.writeUInt32LE(position % 2 ** 32, offset);
  buffer.writeUInt32LE(Math.floor(position / 2 ** 32), offset + 4);
}

function readPosition(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset) + buffer.readUInt32LE(offset + 4) * 2 ** 32;
}

interface Segment {
  readonly firstPosition: number;
  readonly path: string;
}

/**
 * A replica's durable state in one directory: an append-only log of decided entries, in segment
 * files of length-framed records each with a CRC-32, and the latest checkpoint (a snapshot and the
 * log position it covers), replaced atomically. A checkpoint lets the log drop the segments it
 * covers. `open` reloads both, cuts a torn tail off the last segment (the record a crash
 * interrupted) and refuses, with the file and offset, damage a crash cannot explain.
 *
 * One writer per directory; not safe for two processes at once.
 */
export class ReplicaLog {
  readonly directory: string;
  readonly options: Required<LogOptions>;
  private segments: Segment[];
  private handle: FileHandle | null = null;
  private segmentBytes: number;
  private next: number;
  private checkpointPosition: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private pendingFirst: number;
  /** Entries up to here are written (and, with `fsync: "batch"`, fsynced). */
  private written: number;
  private unsyncedWrites = false;
  private flushing: Promise<void> | null = null;
  /**
   * The periodic fsync of `interval`, in flight. Writes go on meanwhile (an fsync covers what was
   * written before it, and what comes after waits for the next period); only closing or replacing
   * the file waits for it.
   */
  private periodic: Promise<void> | null = null;
  private failure: Error | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Set when `close()` is called: no new append, write or checkpoint is taken from then on. */
  private closing: Promise<void> | null = null;
  private closed = false;
  private checkpoints: Promise<void> = Promise.resolve();

  private constructor(
    directory: string,
    options: Required<LogOptions>,
    segments: Segment[],
    segmentBytes: number,
    next: number,
    checkpointPosition: number,
  ) {
    this.directory = directory;
    this.options = options;
    this.segments = segments;
    this.segmentBytes = segmentBytes;
    this.next = next;
    this.pendingFirst = next;
    this.written = next - 1;
    this.checkpointPosition = checkpointPosition;
  }

  /** Opens (creating if needed) the log in `directory` and reloads what it holds. */
  static async open(
    directory: string,
    options: LogOptions = {},
  ): Promise<{ log: ReplicaLog; recovery: Recovery }> {
    const resolved = { ...DEFAULT_LOG_OPTIONS, ...options };
    checkOptions(resolved);
    mkdirSync(directory, { recursive: true });
    rmSync(join(directory, CHECKPOINT_TEMP), { force: true });
    const checkpoint = readCheckpoint(directory);
    const covered = checkpoint?.position ?? 0;
    const entries: LogEntry[] = [];
    const scan = scanSegments(
      directory,
      covered,
      resolved.recordBytesMax,
      resolved.keepEntries ? (entry) => entries.push(entry) : () => {},
    );
    const last = scan.lastPosition;
    const next = Math.max(last, covered) + 1;
    const log = new ReplicaLog(directory, resolved, scan.segments, scan.lastSegmentBytes, next, covered);
    if (scan.lastSegmentBytes === 0 || last < covered) {
      // No segment to continue, or nothing after the checkpoint on disk: start one at the next position.
      await log.startSegment(next);
    } else {
      const current = log.segments.at(-1) as Segment;
      log.handle = await open(current.path, "a");
    }
    await log.dropSegmentsThrough(covered);
    if (resolved.fsync === "interval") {
      log.timer = setInterval(() => log.periodicSync(), resolved.fsyncIntervalMs);
      log.timer.unref();
    }
    return {
      log,
      recovery: {
        checkpoint,
        entries,
        entryCount: Math.max(0, last - covered),
        truncatedBytes: scan.truncatedBytes,
      },
    };
  }

  /**
   * Hands every written entry after the checkpoint to `onEntry`, in order, reading one segment
   * at a time (a log too large to hold in memory can be replayed); `onEntry` returning false
   * stops. Entries appended and not yet written are not read.
   */
  forEachEntry(onEntry: (entry: LogEntry) => boolean | undefined): void {
    this.checkUsable();
    for (const segment of this.segments) {
      const contents = readFileSync(segment.path);
      let offset = SEGMENT_MAGIC.length;
      let position = segment.firstPosition;
      while (offset + HEADER_BYTES <= contents.length && position <= this.written) {
        const length = contents.readUInt32LE(offset);
        if (position > this.checkpointPosition) {
          const payload = contents.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
          if (onEntry({ position, payload }) === false) return;
        }
        offset += HEADER_BYTES + length;
        position += 1;
      }
    }
  }

  /** The position the next `append` gets. */
  get nextPosition(): number {
    return this.next;
  }

  /** The position the latest checkpoint covers (0: none). */
  get checkpointedPosition(): number {
    return this.checkpointPosition;
  }

  /** Bytes appended and not yet written. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /**
   * Appends one entry (buffered) and returns its position. Durable once a later `sync()` resolves.
   * Throws RangeError when more than `pendingBytesMax` would be buffered: await `sync()` first.
   */
  append(payload: Uint8Array): number {
    this.checkOpen();
    if (payload.length > this.options.recordBytesMax)
      throw new RangeError(
        `log entry of ${payload.length} bytes exceeds recordBytesMax ${this.options.recordBytesMax}`,
      );
    const frameBytes = HEADER_BYTES + payload.length;
    if (this.pendingBytes + frameBytes > this.options.pendingBytesMax)
      throw new RangeError(
        `log buffer full: ${this.pendingBytes} bytes wait to be written (pendingBytesMax ${this.options.pendingBytesMax}); await sync() before appending more`,
      );
    const position = this.next;
    this.next += 1;
    const header = Buffer.allocUnsafe(HEADER_BYTES);
    header.writeUInt32LE(payload.length, 0);
    writePosition(header, 8, position);
    header.writeUInt32LE(crc32(payload, crc32(header.subarray(8, 16))), 4);
    this.pending.push(
      header,
      payload instanceof Buffer
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    );
    this.pendingBytes += frameBytes;
    return position;
  }

  /** Resolves when every entry appended before the call is written (and fsynced, per the policy). */
  async sync(): Promise<void> {
    const target = this.next - 1;
    while (this.written < target) {
      this.checkUsable();
      if (this.flushing === null)
        this.flushing = this.flush().finally(() => {
          this.flushing = null;
        });
      await this.flushing;
    }
    if (this.failure !== null) throw this.failure;
  }

  /**
   * Replaces the checkpoint with `state`, the state after every entry up to `position`, atomically
   * (temp file, fsync, rename, fsync of the directory), then drops the log segments it covers. A
   * position past the log's end (a snapshot fetched from peers) discards the whole log; the next
   * entry is then `position + 1`.
   */
  checkpoint(position: number, state: Uint8Array): Promise<void> {
    try {
      this.checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    // One at a time, in call order: they share the temp file and each drops what the last kept.
    const run = this.checkpoints.then(() => this.writeCheckpoint(position, state));
    this.checkpoints = run.catch(() => undefined);
    return run;
  }

  private async writeCheckpoint(position: number, state: Uint8Array): Promise<void> {
    this.checkUsable();
    if (!Number.isSafeInteger(position) || position < this.checkpointPosition)
      throw new RangeError(
        `checkpoint position ${position} is before the current checkpoint ${this.checkpointPosition}`,
      );
    await this.sync();
    if (position >= this.next && this.pendingBytes > 0)
      throw new RangeError(
        `checkpoint at ${position} is past entries appended meanwhile (up to ${this.next - 1})`,
      );
    const header = Buffer.alloc(CHECKPOINT_HEADER_BYTES);
    CHECKPOINT_MAGIC.copy(header, 0);
    writePosition(header, 8, position);
    header.writeUInt32LE(state.length, 16);
    header.writeUInt32LE(crc32(state, crc32(header.subarray(8, 20))), 20);
    const temp = join(this.directory, CHECKPOINT_TEMP);
    const file = await open(temp, "w");
    try {
      await file.writev([header, state]);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, join(this.directory, CHECKPOINT_FILE));
    syncDirectory(this.directory);
    this.checkpointPosition = position;
    // Segment changes and flushes take turns: wait for a flush in flight, then hold the turn.
    while (this.flushing !== null) await this.flushing.catch(() => undefined);
    this.flushing = this.rollAndDrop(position).finally(() => {
      this.flushing = null;
    });
    await this.flushing;
  }

  private async rollAndDrop(position: number): Promise<void> {
    const current = this.segments.at(-1) as Segment;
    if (position >= this.next) {
      // Installed from elsewhere: the local log is all before it.
      if (this.pendingBytes > 0)
        throw new RangeError(
          `checkpoint at ${position} is past entries appended meanwhile (up to ${this.next - 1})`,
        );
      this.next = position + 1;
      this.written = position;
      this.pendingFirst = this.next;
      await this.startSegment(this.next);
    } else if (current.firstPosition <= position && this.written >= current.firstPosition) {
      // The current segment holds covered entries: continue in a new one so that one can go.
      await this.startSegment(this.written + 1);
    }
    await this.dropSegmentsThrough(position);
  }

  /**
   * Writes and fsyncs what is buffered, and closes the files, once: later calls share the first.
   * From the call on, appends, writes and checkpoints are refused; the checkpoints, flush and
   * periodic fsync already in flight finish first. A failed log (its error thrown where it
   * happened) only closes its file.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    // No periodic fsync starts from here on: the file is about to close under it.
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // No checkpoint is queued after this one (`checkpoint` refuses while closing).
    await this.checkpoints;
    try {
      if (this.failure === null) {
        await this.sync();
        // A flush or a periodic fsync may be in flight: let it finish before the last one and the close.
        while (this.flushing !== null) await this.flushing.catch(() => undefined);
        await this.periodic;
        if (this.failure === null && this.handle !== null) await this.handle.sync();
      }
    } finally {
      // The file is closed even when the last write fails (that error is the close's).
      this.closed = true;
      const handle = this.handle;
      this.handle = null;
      await handle?.close();
    }
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
    if (this.closed) throw new Error(`the log in ${this.directory} is closed`);
  }

  /** `checkUsable`, and not closing: what would start new work after `close()` is refused. */
  private checkOpen(): void {
    this.checkUsable();
    if (this.closing !== null) throw new Error(`the log in ${this.directory} is closed`);
  }

  private async flush(): Promise<void> {
    const chunks = this.pending;
    const bytes = this.pendingBytes;
    const last = this.next - 1;
    const first = this.pendingFirst;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingFirst = this.next;
    try {
      if (chunks.length > 0) {
        if (this.segmentBytes >= this.options.segmentBytesMax) await this.startSegment(first);
        const handle = this.handle as FileHandle;
        const { bytesWritten } = await handle.writev(chunks);
        if (bytesWritten !== bytes)
          throw new Error(`short write to ${this.directory}: ${bytesWritten} of ${bytes} bytes`);
        this.segmentBytes += bytes;
        if (this.options.fsync === "batch") await handle.datasync();
        else this.unsyncedWrites = true;
      }
      this.written = last;
    } catch (error) {
      // The file's tail is unknown now: stop, and let `open` repair it after a restart.
      this.failure = error instanceof Error ? error : new Error(String(error));
      throw this.failure;
    }
  }

  /**
   * Writes what is appended to the OS now, synchronously and in one `writev`, for the policies
   * that do not fsync per batch (`interval`, `none`): the entries then survive a killed process as
   * soon as this returns, without the turns an awaited `sync()` costs. Returns false, writing
   * nothing, under `batch`, or while a write, a segment change or a checkpoint is in progress, or
   * when the segment is full: the caller then awaits `sync()`.
   */
  writeNow(): boolean {
    this.checkOpen();
    if (
      this.options.fsync === "batch" ||
      this.flushing !== null ||
      this.handle === null ||
      this.segmentBytes >= this.options.segmentBytesMax
    )
      return false;
    if (this.pending.length === 0) return true;
    const chunks = this.pending;
    const bytes = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.pendingFirst = this.next;
    try {
      const written = writevSync(this.handle.fd, chunks);
      if (written !== bytes)
        throw new Error(`short write to ${this.directory}: ${written} of ${bytes} bytes`);
    } catch (error) {
      // As in `flush`: the file's tail is unknown now.
      this.failure = error instanceof Error ? error : new Error(String(error));
      throw this.failure;
    }
    this.segmentBytes += bytes;
    this.unsyncedWrites = true;
    this.written = this.next - 1;
    return true;
  }

  private periodicSync(): void {
    // Not while a write or a segment change is in flight: a segment change closes the file.
    if (
      !this.unsyncedWrites ||
      this.handle === null ||
      this.periodic !== null ||
      this.flushing !== null ||
      this.closed
    )
      return;
    this.unsyncedWrites = false;
    const handle = this.handle;
    this.periodic = handle
      .datasync()
      .catch((error: unknown) => {
        this.failure = error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => {
        this.periodic = null;
      });
  }

  private async startSegment(firstPosition: number): Promise<void> {
    // The file a periodic fsync works on is not closed under it.
    await this.periodic;
    const path = join(this.directory, segmentName(firstPosition));
    let handle: FileHandle;
    try {
      if (this.handle !== null) {
        if (this.options.fsync !== "none") await this.handle.datasync();
        await this.handle.close();
        this.handle = null;
      }
      handle = await open(path, "w");
      await handle.write(SEGMENT_MAGIC);
      if (this.options.fsync !== "none") {
        await handle.datasync();
        syncDirectory(this.directory);
      }
    } catch (error) {
      // No segment to write to (its directory gone, the disk full): the log cannot go on, and
      // nothing may write to the closed file (a later flush or close would).
      this.failure = error instanceof Error ? error : new Error(String(error));
      throw this.failure;
    }
    this.handle = handle;
    this.segmentBytes = SEGMENT_MAGIC.length;
    this.segments = this.segments.filter((segment) => segment.firstPosition < firstPosition);
    this.segments.push({ firstPosition, path });
  }

  /** Deletes the segments whose every entry is at or before `position` (never the current one). */
  private async dropSegmentsThrough(position: number): Promise<void> {
    const keep: Segment[] = [];
    for (let index = 0; index < this.segments.length; index += 1) {
      const segment = this.segments[index] as Segment;
      const following = this.segments[index + 1];
      if (following !== undefined && following.firstPosition - 1 <= position)
        await rm(segment.path, { force: true });
      else keep.push(segment);
    }
    this.segments = keep;
  }
}

function checkOptions(options: Required<LogOptions>): void {
  if (!FSYNC_POLICIES.includes(options.fsync))
    throw new RangeError(
      `fsync: expected one of ${FSYNC_POLICIES.join(", ")}, got ${JSON.stringify(options.fsync)}`,
    );
  for (const key of ["fsyncIntervalMs", "pendingBytesMax", "segmentBytesMax", "recordBytesMax"] as const)
    if (!Number.isSafeInteger(options[key]) || options[key] < 1)
      throw new RangeError(`${key}: expected a whole number >= 1, got ${JSON.stringify(options[key])}`);
}

function syncDirectory(directory: string): void {
  const descriptor = openSync(directory, "r");
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

function readCheckpoint(directory: string): Checkpoint | null {
  const path = join(directory, CHECKPOINT_FILE);
  let contents: Buffer;
  try {
    contents = readFileSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  // Written whole to a temp file and renamed: any damage here is not a torn write.
  if (contents.length < CHECKPOINT_HEADER_BYTES || !contents.subarray(0, 8).equals(CHECKPOINT_MAGIC))
    throw new StorageCorruptError(`${path}: not a checkpoint file (bad header)`);
  const length = contents.readUInt32LE(16);
  const state = contents.subarray(CHECKPOINT_HEADER_BYTES);
  if (state.length !== length)
    throw new StorageCorruptError(`${path}: holds ${state.length} state bytes, its header says ${length}`);
  if (crc32(state, crc32(contents.subarray(8, 20))) !== contents.readUInt32LE(20))
    throw new StorageCorruptError(`${path}: checksum mismatch`);
  return { position: readPosition(contents, 8), state };
}

interface SegmentScan {
  readonly segments: Segment[];
  /** The last position on disk (before the entries, if none were read: the checkpoint's). */
  readonly lastPosition: number;
  readonly lastSegmentBytes: number;
  readonly truncatedBytes: number;
}

function scanSegments(
  directory: string,
  covered: number,
  recordBytesMax: number,
  onEntry: (entry: LogEntry) => void,
): SegmentScan {
  const segments: Segment[] = readdirSync(directory)
    .map((name) => SEGMENT_PATTERN.exec(name))
    .filter((match) => match !== null)
    .map((match) => ({ firstPosition: Number(match[1]), path: join(directory, match[0]) }))
    .sort((a, b) => a.firstPosition - b.firstPosition);
  let expected = segments[0]?.firstPosition ?? covered + 1;
  if (expected > covered + 1)
    throw new StorageCorruptError(
      `${directory}: the log starts at entry ${expected} but the checkpoint covers only up to ${covered}`,
    );
  let lastSegmentBytes = 0;
  let truncatedBytes = 0;
  segments.forEach((segment, index) => {
    const isLast = index === segments.length - 1;
    // A gap the checkpoint covers is what a crash leaves between installing a checkpoint past the
    // log's end and deleting the segments before it.
    if (
      segment.firstPosition < expected ||
      (segment.firstPosition > expected && segment.firstPosition > covered + 1)
    )
      throw new StorageCorruptError(
        `${segment.path}: starts at entry ${segment.firstPosition}, expected ${expected}`,
      );
    expected = segment.firstPosition;
    const contents = readFileSync(segment.path);
    const good = scanSegment(segment.path, contents, expected, recordBytesMax, isLast, covered, onEntry);
    expected = good.nextPosition;
    if (good.validBytes < contents.length) {
      // A torn tail of the last segment: cut it off so appends continue after the last whole record.
      truncatedBytes = contents.length - good.validBytes;
      const descriptor = openSync(segment.path, "r+");
      try {
        // Through the descriptor we fsync, so the cut is durable before anything is appended.
        ftruncateSync(descriptor, good.validBytes);
        fsyncSync(descriptor);
      } finally {
        closeSync(descriptor);
      }
    }
    if (isLast) lastSegmentBytes = good.validBytes;
  });
  if (segments.length > 0 && lastSegmentBytes < SEGMENT_MAGIC.length) {
    // The last segment's creation was interrupted before its magic was written: `open` starts it again.
    const last = segments.pop() as Segment;
    rmSync(last.path, { force: true });
    lastSegmentBytes = 0;
  }
  return { segments, lastPosition: expected - 1, lastSegmentBytes, truncatedBytes };
}

function scanSegment(
  path: string,
  contents: Buffer,
  firstPosition: number,
  recordBytesMax: number,
  isLast: boolean,
  covered: number,
  onEntry: (entry: LogEntry) => void,
): { nextPosition: number; validBytes: number } {
  if (contents.length < SEGMENT_MAGIC.length) {
    if (isLast) return { nextPosition: firstPosition, validBytes: 0 };
    throw new StorageCorruptError(`${path}: shorter than a segment header`);
  }
  if (!contents.subarray(0, SEGMENT_MAGIC.length).equals(SEGMENT_MAGIC))
    throw new StorageCorruptError(`${path}: not a log segment (bad magic)`);
  let offset = SEGMENT_MAGIC.length;
  let position = firstPosition;
  while (offset < contents.length) {
    const problem = recordProblem(contents, offset, position, recordBytesMax);
    if (problem !== null) {
      if (isLast && isTornTail(contents, offset, recordBytesMax))
        return { nextPosition: position, validBytes: offset };
      throw new StorageCorruptError(`${path}: ${problem} at byte ${offset} (entry ${position})`);
    }
    const length = contents.readUInt32LE(offset);
    if (position > covered)
      onEntry({
        position,
        payload: contents.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length),
      });
    offset += HEADER_BYTES + length;
    position += 1;
  }
  return { nextPosition: position, validBytes: offset };
}

function recordProblem(
  contents: Buffer,
  offset: number,
  position: number,
  recordBytesMax: number,
): string | null {
  if (offset + HEADER_BYTES > contents.length) return "incomplete record header";
  const length = contents.readUInt32LE(offset);
  if (length > recordBytesMax) return `record length ${length} over recordBytesMax ${recordBytesMax}`;
  if (offset + HEADER_BYTES + length > contents.length) return "record runs past the end of the file";
  const payload = contents.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length);
  if (crc32(payload, crc32(contents.subarray(offset + 8, offset + 16))) !== contents.readUInt32LE(offset + 4))
    return "checksum mismatch";
  const recorded = readPosition(contents, offset + 8);
  if (recorded !== position) return `record of entry ${recorded} where entry ${position} belongs`;
  return null;
}

/**
 * Whether a bad record at `offset` is what a crash leaves: the last record was cut short, or its
 * bytes never reached the disk (a whole record whose checksum fails and nothing after it, or zeros
 * to the end). A bad record with whole records after it is damage, not a torn write.
 */
function isTornTail(contents: Buffer, offset: number, recordBytesMax: number): boolean {
  if (offset + HEADER_BYTES > contents.length) return true;
  const length = contents.readUInt32LE(offset);
  if (length <= recordBytesMax && offset + HEADER_BYTES + length >= contents.length) return true;
  for (let index = offset; index < contents.length; index += 1) if (contents[index] !== 0) return false;
  return true;
}
