/**
 * An orderer's hard state, written to a journal as what changed rather than whole.
 *
 * The shape of a hard state (`Orderer.hardState`) is a plain object, nested in plain objects at any
 * depth. Every array in it is a collection of records (Raft: the log entries past the last
 * executed position, R8; PBFT: the prepared certificates, B6) whose elements are never changed in
 * place: a record that changes is a new object. Everything else, with each array emptied, is the
 * hard state's skeleton (Raft: term, vote, where its log suffix starts; PBFT: view and highest
 * signed sequence number): small, compared and written whole when it changed.
 *
 * A change lists, for each collection, how its new contents are made of runs of the old one (by
 * identity, so unchanged records cost nothing to find and nothing to write) and of new records,
 * which alone are written. Raft's suffix that lost its executed head and gained an entry is one
 * run and one entry; a PBFT certificate replaced is two runs and one certificate.
 *
 * Every written hard state has a version, one more than the one before it in the journal: a
 * change applies to the version before it, and a rebuild starts from the newest whole one it
 * has (the journal's checkpoint carries one) and applies the changes after it in order.
 */

/** A collection of records and the path to it (field names joined by "."). */
type Collections = Map<string, readonly unknown[]>;

/** A hard state split into its skeleton (every array emptied) and its collections. */
interface SplitHardState {
  readonly skeleton: unknown;
  readonly collections: Collections;
}

/**
 * How a collection's new contents are made: each piece is `[start, count]`, a run of the old
 * contents, or `[-1, ...records]`, records written here.
 */
type Piece = readonly number[] | readonly [-1, ...unknown[]];
/** A collection's change: its path and its pieces. */
type CollectionChange = readonly [string, readonly Piece[]];
/** A written change: the collections that changed, and the skeleton when it changed. */
export type HardStateChange = readonly [changes: readonly CollectionChange[], skeleton?: unknown];

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

function split(hardState: unknown): SplitHardState {
  const collections: Collections = new Map();
  const walk = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) {
      collections.set(path, value);
      return [];
    }
    if (!isPlainObject(value)) return value;
    const skeleton: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value))
      skeleton[key] = walk(field, path === "" ? key : `${path}.${key}`);
    return skeleton;
  };
  return { skeleton: walk(hardState, ""), collections };
}

function join({ skeleton, collections }: SplitHardState): unknown {
  const fill = (value: unknown, path: string): unknown => {
    if (Array.isArray(value)) return [...(collections.get(path) ?? [])];
    if (!isPlainObject(value)) return value;
    const whole: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value))
      whole[key] = fill(field, path === "" ? key : `${path}.${key}`);
    return whole;
  };
  return fill(skeleton, "");
}

/** Skeletons hold primitives, plain objects and empty arrays only. */
function sameSkeleton(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b);
  if (!isPlainObject(a) || !isPlainObject(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => key in b && sameSkeleton(a[key], b[key]));
}

function sameRecords(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false;
  return true;
}

/** The pieces that make `next` from `previous`: runs of identical records, and the records that are new. */
function pieces(previous: readonly unknown[], next: readonly unknown[]): Piece[] {
  const where = new Map<unknown, number>();
  for (let index = 0; index < previous.length; index++) where.set(previous[index], index);
  const made: Piece[] = [];
  let written: unknown[] | undefined;
  for (let index = 0; index < next.length; ) {
    const start = where.get(next[index]);
    if (start === undefined) {
      if (written === undefined) {
        written = [-1];
        made.push(written as unknown as Piece);
      }
      written.push(next[index]);
      index += 1;
      continue;
    }
    written = undefined;
    let count = 1;
    while (index + count < next.length && previous[start + count] === next[index + count]) count += 1;
    made.push([start, count]);
    index += count;
  }
  return made;
}

function applyPieces(previous: readonly unknown[], made: readonly Piece[], path: string): unknown[] {
  const next: unknown[] = [];
  for (const piece of made) {
    if (piece[0] === -1) {
      for (let index = 1; index < piece.length; index++) next.push(piece[index]);
      continue;
    }
    const [start, count] = piece as readonly [number, number];
    if (!(start >= 0 && count >= 1 && start + count <= previous.length))
      throw new Error(`a change of ${path || "the hard state"} refers to records it does not have`);
    for (let index = start; index < start + count; index++) next.push(previous[index]);
  }
  return next;
}

/** What a journal writes for the hard state now: nothing, a change, or the whole. */
export type HardStateEntry =
  | { readonly whole: true; readonly version: number; readonly hardState: unknown }
  | { readonly whole: false; readonly version: number; readonly change: HardStateChange };

/**
 * The journal's side of writing a hard state: remembers the last one written and tells what to
 * write for the next. The first one of a process is written whole (the records of a rebuilt hard
 * state are not the replica's objects, so no identity holds across a restart).
 */
export class HardStateWriter {
  private last: SplitHardState | undefined;

  /** `version`: of the last hard state in the journal (0: none). */
  constructor(private version: number) {}

  /** The version of the last hard state written. */
  get lastVersion(): number {
    return this.version;
  }

  /** The last hard state written, whole (a copy), with its version; undefined before the first. */
  lastWritten(): { readonly version: number; readonly hardState: unknown } | undefined {
    return this.last === undefined ? undefined : { version: this.version, hardState: join(this.last) };
  }

  /** What to write for `hardState`, or undefined when it did not change. `whole` forces it whole. */
  next(hardState: unknown, whole = false): HardStateEntry | undefined {
    const now = split(hardState);
    const last = this.last;
    if (whole || last === undefined) {
      this.last = now;
      this.version += 1;
      return { whole: true, version: this.version, hardState };
    }
    const changes: CollectionChange[] = [];
    for (const [path, records] of now.collections) {
      const before = last.collections.get(path) ?? [];
      if (!sameRecords(before, records)) changes.push([path, pieces(before, records)]);
    }
    const skeletonChanged = !sameSkeleton(last.skeleton, now.skeleton);
    if (changes.length === 0 && !skeletonChanged) return undefined;
    this.last = now;
    this.version += 1;
    return {
      whole: false,
      version: this.version,
      change: skeletonChanged ? [changes, now.skeleton] : [changes],
    };
  }
}

/**
 * The reading side: rebuilds the newest hard state from a whole one and the changes after it.
 * Entries at or below the version it holds are skipped (a journal's checkpoint carries a newer
 * whole than the entries its log kept right after the part it covers).
 */
export class HardStateRebuild {
  private current: SplitHardState | undefined;
  private currentVersion = 0;

  /** The version of the hard state held (0: none). */
  get version(): number {
    return this.currentVersion;
  }

  /** A whole hard state of `version`. */
  whole(version: number, hardState: unknown): void {
    if (version <= this.currentVersion) return;
    this.current = split(hardState);
    this.currentVersion = version;
  }

  /** A change to `version - 1`. Throws when the journal lacks what it changes (a damaged journal). */
  change(version: number, change: HardStateChange): void {
    if (version <= this.currentVersion) return;
    const current = this.current;
    if (current === undefined || version !== this.currentVersion + 1)
      throw new Error(
        `a change to hard state ${version - 1} follows hard state ${this.currentVersion}: the journal lacks what it changes`,
      );
    const [changes, skeleton] = change;
    const next: SplitHardState = {
      skeleton: change.length > 1 ? skeleton : current.skeleton,
      collections: new Map(current.collections),
    };
    // A collection the new skeleton no longer holds is gone (as the writer forgets it).
    if (change.length > 1) {
      const kept = split(skeleton).collections;
      for (const path of next.collections.keys()) if (!kept.has(path)) next.collections.delete(path);
    }
    for (const [path, made] of changes)
      next.collections.set(path, applyPieces(next.collections.get(path) ?? [], made, path));
    this.current = next;
    this.currentVersion = version;
  }

  /** The hard state rebuilt, whole; undefined when none was read. */
  hardState(): unknown {
    return this.current === undefined ? undefined : join(this.current);
  }
}
