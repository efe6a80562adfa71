import { closeSync, existsSync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";

/** Where a host writes its trace lines (JSON Lines, one event per line, without the newline). */
export interface TraceSink {
  write(line: string): void;
  flush(): void;
  close(): void;
}

/** Bytes buffered before they are written out. */
const BUFFER_BYTES = 1 << 16;
/** Lines are written out at least this often, so a killed process loses little. */
const FLUSH_INTERVAL_MS = 200;

/**
 * A JSON Lines file written synchronously in 64 KiB chunks: each line is encoded straight into
 * one reused buffer (no array of strings to join), so a line costs little more than building it;
 * ordered, and complete once `close` returns.
 */
export class TraceFile implements TraceSink {
  private readonly fd: number;
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  lines = 0;

  /** `append`: continue the file (a restarted replica's trace), else start it afresh. */
  constructor(
    readonly file: string,
    append = false,
  ) {
    this.fd = openSync(file, append ? "a" : "w");
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  write(line: string): void {
    if (this.closed) return;
    this.lines += 1;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = line.length * 3 + 1;
    if (this.used + most > this.buffer.length) {
      this.flush();
      if (most > this.buffer.length) this.buffer = Buffer.allocUnsafe(most);
    }
    this.used += this.buffer.write(line, this.used);
    this.buffer[this.used] = 0x0a;
    this.used += 1;
  }

  flush(): void {
    if (this.used === 0 || this.closed) return;
    let written = 0;
    while (written < this.used) written += writeSync(this.fd, this.buffer, written, this.used - written);
    this.used = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    clearInterval(this.timer);
    closeSync(this.fd);
    this.closed = true;
  }
}

/** What a replica's earlier incarnations wrote into its trace: what it must not trace again. */
export interface TracedOutputs {
  /** Ids of the messages it delivered. */
  readonly delivered: Set<string>;
  /** The views it installed, as `group/view`. */
  readonly views: Set<string>;
}

/**
 * Before a restarted replica continues its trace: cuts an unfinished last line (the old process
 * was killed while writing it) and lists what the trace already says it delivered, so replaying
 * its journal traces each delivery once. Lines a kill lost (written to the buffer, not the file)
 * are not listed: replay traces them then.
 */
export function resumeTrace(file: string): TracedOutputs {
  const traced: TracedOutputs = { delivered: new Set(), views: new Set() };
  if (!existsSync(file)) return traced;
  const text = readFileSync(file, "utf8");
  const end = text.lastIndexOf("\n") + 1;
  if (end < text.length) truncateSync(file, Buffer.byteLength(text.slice(0, end)));
  for (const line of text.slice(0, end).split("\n")) {
    if (line.startsWith('{"ev":"deliver"')) traced.delivered.add((JSON.parse(line) as { id: string }).id);
    else if (line.startsWith('{"ev":"view"')) {
      const event = JSON.parse(line) as { group: string; view: number };
      traced.views.add(`${event.group}/${event.view}`);
    }
  }
  return traced;
}

/** Keeps lines in memory (tests). */
export class MemoryTrace implements TraceSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  flush(): void {}
  close(): void {}
}

/** "000" .. "999": the fraction of a millisecond, to the microsecond. */
const MICROS = Array.from({ length: 1000 }, (_, index) => String(index).padStart(3, "0"));

/**
 * `ms` rounded to the microsecond as a JSON number ("1234.567"), built from integers: printing a
 * fractional double is the slowest part of a trace line otherwise.
 */
export function formatMs(ms: number): string {
  const micros = Math.round(ms * 1000);
  if (!Number.isSafeInteger(micros) || micros < 0) return String(micros / 1000);
  return `${Math.floor(micros / 1000)}.${MICROS[micros % 1000]}`;
}

/** Strings that are their own JSON body (no quote, backslash or control character). */
const PLAIN = /^[\w:./#@+ -]*$/;

/** `JSON.stringify(text)` for a string, fast for the plain ids traces are made of. */
export function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** `JSON.stringify(ids)` for an array of strings. */
export function jsonIds(ids: readonly string[]): string {
  if (ids.length === 1) return `[${jsonString(ids[0] as string)}]`;
  return `[${ids.map(jsonString).join(",")}]`;
}
