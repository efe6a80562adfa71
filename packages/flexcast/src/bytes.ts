import type { HistoryEntry, HistoryWindow } from "./messages.js";

/**
 * Modelled wire bytes of history windows (`describe`): each window 6 bytes and each entry 2 plus
 * its id and its destinations. Counting a window means reading every entry, its id and its
 * destination list — at 48 groups mostly cold, since a window to a descendant that was last sent
 * the history long ago is long (a flush's copies carry every history to every group below) — so
 * a history keeps running sums of its entries' bytes as they join (`History.slice` notes a
 * stretch's bytes as it makes it), and a stretch sent to many descendants is counted once:
 * what was counted is remembered per entries array. Short arrays are cheaper to count than to
 * look up.
 */
const ENTRIES_BYTES_CACHED_FROM = 16;
const entriesBytesCache = new WeakMap<readonly HistoryEntry[], number>();

/** Modelled wire bytes of one history entry. */
export function historyEntryBytes(entry: HistoryEntry): number {
  return 2 + entry.id.length + entry.dst.length;
}

/** Notes that the entries `entries` take `bytes` (their `historyEntryBytes`, summed). */
export function noteEntriesBytes(entries: readonly HistoryEntry[], bytes: number): void {
  if (entries.length >= ENTRIES_BYTES_CACHED_FROM) entriesBytesCache.set(entries, bytes);
}

/** Modelled wire bytes of `windows`. */
export function windowsBytes(windows: readonly HistoryWindow[]): number {
  let bytes = 0;
  for (const window of windows) {
    const entries = window.entries;
    let windowBytes = entries.length < ENTRIES_BYTES_CACHED_FROM ? undefined : entriesBytesCache.get(entries);
    if (windowBytes === undefined) {
      windowBytes = 0;
      for (const entry of entries) windowBytes += historyEntryBytes(entry);
      noteEntriesBytes(entries, windowBytes);
    }
    bytes += 6 + windowBytes;
  }
  return bytes;
}
