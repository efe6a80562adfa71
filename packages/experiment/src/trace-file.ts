import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { TraceEvent } from "@amcast/core";
import { formatTraceLine } from "@amcast/core";

/** Chunk size at which buffered trace lines are written out. */
const FLUSH_CHARS = 1 << 16;

/** Writes trace events to a JSON Lines file, buffered. */
export class TraceFileWriter {
  private readonly fd: number;
  private buffer: string[] = [];
  private bufferedChars = 0;
  private closed = false;
  lines = 0;

  constructor(readonly file: string) {
    mkdirSync(dirname(file), { recursive: true });
    this.fd = openSync(file, "w");
  }

  write(event: TraceEvent): void {
    this.writeLine(formatTraceLine(event));
  }

  /** Any JSON Lines line (e.g. a client history's), without its newline. */
  writeLine(line: string): void {
    this.buffer.push(line);
    this.bufferedChars += line.length + 1;
    this.lines += 1;
    if (this.bufferedChars >= FLUSH_CHARS) this.flush();
  }

  flush(): void {
    if (this.buffer.length === 0) return;
    writeSync(this.fd, `${this.buffer.join("\n")}\n`);
    this.buffer = [];
    this.bufferedChars = 0;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }
}
