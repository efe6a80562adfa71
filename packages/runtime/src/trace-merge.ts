import { existsSync, readFileSync } from "node:fs";
import type { TraceEvent } from "@amcast/core";
import { BinaryHeap, parseTraceLine } from "@amcast/core";

interface Cursor {
  readonly file: number;
  readonly lines: string[];
  index: number;
  event: TraceEvent;
}

/**
 * Merges the trace files of a run's nodes into one trace, in time order: each file is already in
 * order (one node, one monotonic clock), so a k-way merge on (t, file) yields every event once,
 * keeps each node's own order, and needs one parsed line per file at a time. A missing file
 * (a node that never started) counts as empty; an unfinished last line (a node killed while
 * writing it) is left out.
 */
export function mergeTraceFiles(files: readonly string[], onEvent: (event: TraceEvent) => void): number {
  const heap = new BinaryHeap<Cursor>(
    (a, b) => a.event.t < b.event.t || (a.event.t === b.event.t && a.file < b.file),
  );
  const advance = (cursor: Cursor): boolean => {
    while (cursor.index < cursor.lines.length) {
      const line = cursor.lines[cursor.index] as string;
      cursor.index += 1;
      if (line === "") continue;
      // Without a final newline, the last line may have been cut short by a kill.
      if (cursor.index === cursor.lines.length) {
        try {
          cursor.event = parseTraceLine(line, `${files[cursor.file]}:${cursor.index}`);
        } catch {
          return false;
        }
        return true;
      }
      cursor.event = parseTraceLine(line, `${files[cursor.file]}:${cursor.index}`);
      return true;
    }
    return false;
  };
  files.forEach((file, index) => {
    if (!existsSync(file)) return;
    const cursor: Cursor = {
      file: index,
      lines: readFileSync(file, "utf8").split("\n"),
      index: 0,
      event: undefined as unknown as TraceEvent,
    };
    if (advance(cursor)) heap.push(cursor);
  });
  let count = 0;
  while (heap.size > 0) {
    const cursor = heap.pop();
    onEvent(cursor.event);
    count += 1;
    if (advance(cursor)) heap.push(cursor);
  }
  return count;
}
