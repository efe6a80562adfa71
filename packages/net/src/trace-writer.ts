import { closeSync, openSync, writeSync } from "node:fs";

/** Where a host writes its trace lines (JSON Lines, one event per line, without the newline). */
export interface TraceSink {
  write(line: string): void;
  flush(): void;
  close(): void;
}

/** Buffered characters after which lines are written out. */
const FLUSH_CHARS = 1 << 16;
/** Lines are written out at least this often, so a killed process loses little. */
const FLUSH_INTERVAL_MS = 200;

/**
 * A JSON Lines file written synchronously in 64 KiB chunks: cheap per line, ordered, and complete
 * once `close` returns.
 */
export class TraceFile implements TraceSink {
  private readonly fd: number;
  private buffer: string[] = [];
  private bufferedChars = 0;
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  lines = 0;

  constructor(readonly file: string) {
    this.fd = openSync(file, "w");
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  write(line: string): void {
    if (this.closed) return;
    this.buffer.push(line);
    this.bufferedChars += line.length + 1;
    this.lines += 1;
    if (this.bufferedChars >= FLUSH_CHARS) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0 || this.closed) return;
    writeSync(this.fd, `${this.buffer.join("\n")}\n`);
    this.buffer = [];
    this.bufferedChars = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    clearInterval(this.timer);
    closeSync(this.fd);
    this.closed = true;
  }
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
