import type { MessageId } from "@amcast/core";
import { assert } from "@amcast/core";
import type { HistoryEntry, HistoryWindow, Position } from "./messages.js";

/**
 * What one group knows of the delivery sequences of the groups above it and of its own: the
 * history graph of FlexCast. Vertices are message ids; each known sequence contributes an edge
 * between consecutive entries. `x precedes y` means a path x ~> y exists.
 *
 * Garbage collection (rule 7) drops a prefix of a history once both hold:
 * - every dropped entry is *dead* here: it reaches (has a path to) a message this group already
 *   delivered. A path from an undelivered message for this group through a dead vertex would
 *   reach a delivered one, i.e. the order would already hold a cycle; so in a run that is
 *   correct (and FlexCast's runs are), no path that the delivery rule looks for goes through a
 *   dead vertex, and dropping them changes no decision;
 * - every descendant has been sent the dropped entries in a window, so nobody will ask for them.
 * Dead entries form a prefix of every history (everything before a dead entry reaches it), so
 * dropping is a cut at the front. The periodic flush (rule 7) guarantees both cuts advance.
 */

/**
 * Slot space for `pairs` (history owner, offset) pairs, zeroed (literals for the usual few). A
 * vertex gets room once for every history it can join here (`Knowledge.historiesOf`), so an
 * append writes into it and a collection shifts within it: no array per append or drop (they
 * outlived young collections and were most of the history's garbage).
 */
function slotSpace(pairs: number): number[] {
  switch (pairs) {
    case 1:
      return [0, 0];
    case 2:
      return [0, 0, 0, 0];
    case 3:
      return [0, 0, 0, 0, 0, 0];
    default: {
      const slots: number[] = [];
      for (let at = 0; at < 2 * pairs; at += 1) slots.push(0);
      return slots;
    }
  }
}

/** A message of the graph and where it sits in the known histories. */
export class Vertex {
  readonly entry: HistoryEntry;
  /** Addressed to this group. */
  readonly toMe: boolean;
  delivered = false;
  /** Reaches a message this group delivered (see the class comment). */
  dead = false;
  /** Number of the last graph search that visited this vertex. */
  searched = 0;
  /**
   * Known clear: no undelivered message for this group is this one or precedes it. Set on what a
   * search that found no blocker walked through; taken back when an append may have brought one
   * (see `append`). Only with garbage collection (the naive reference searches everything).
   */
  clear = false;
  /**
   * Where each retained entry of this message sits: pairs (history owner, absolute offset), flat,
   * in `slots[0 .. slotEnd)`, in the order the entries joined (searches follow it, so it steers
   * which blocker a search finds). The array has room for every history the message can join
   * here (see `slotSpace`): a vertex has a few, and there is one per retained message at every
   * group below its destinations, so these are many.
   */
  slots: number[];
  slotEnd = 0;
  /** Histories this message has joined here, retained or not (see `Knowledge.tombstones`). */
  appearances = 0;
  /** Histories held here that this message joins in the end (`Knowledge.historiesOf`). */
  readonly joins: number;
  /**
   * Every destination is above this group: rule 4 counts no group of it (only groups below count).
   * Kept here so that marking it dead need not read the entry.
   */
  destinationsAbove = false;

  constructor(entry: HistoryEntry, toMe: boolean, slotPairs: number) {
    this.entry = entry;
    this.toMe = toMe;
    this.joins = slotPairs;
    this.slots = slotSpace(slotPairs);
  }

  /** Records the entry at absolute offset `index` of history `owner` as this vertex's next slot. */
  addSlot(owner: Position, index: number): void {
    const end = this.slotEnd;
    // Room was made for every history the message can join here; more would be a second entry
    // in one history, which the caller's checks rule out. Grown all the same rather than lost.
    if (end === this.slots.length) this.slots = [...this.slots, 0, 0];
    this.slots[end] = owner;
    this.slots[end + 1] = index;
    this.slotEnd = end + 2;
  }

  /** Removes the slot of history `owner` (which it has), the others keeping their order. */
  dropSlot(owner: Position): void {
    const slots = this.slots;
    const end = this.slotEnd;
    let at = 0;
    while (at < end && slots[at] !== owner) at += 2;
    if (!(at < end)) assert(false, `${this.entry.id} has no entry in ${owner}'s history to drop`);
    for (let from = at + 2; from < end; from += 1) slots[from - 2] = slots[from] as number;
    this.slotEnd = end - 2;
  }
}

/** Capacity of a history's rings when it starts (a power of two). */
const RING_CAPACITY_MIN = 16;

/** A ring of `capacity` empty places (filled one by one: an array of holes would be read slower). */
function emptyRing<T>(capacity: number): (T | undefined)[] {
  const ring: (T | undefined)[] = [];
  for (let at = 0; at < capacity; at += 1) ring.push(undefined);
  return ring;
}

/** Where a flush this group delivered sits in an ancestor's history, and the epoch it began (rule 4). */
interface FlushMark {
  readonly index: number;
  readonly epoch: number;
}

/** The retained suffix of one group's delivery sequence, addressed by absolute offsets. */
export class History {
  readonly owner: Position;
  /** Absolute offset of the first retained entry. */
  base = 0;
  /** Every retained entry below this absolute offset is dead. */
  deadEnd = 0;
  /**
   * Absolute offset up to which garbage collection has cut (`base` when it runs; the naive
   * reference that keeps everything still counts it): rule 4 looks only at entries from here,
   * so both make the same decisions.
   */
  collected = 0;
  /** Retained entries: absolute offsets [base, base + count). */
  private count = 0;
  /**
   * The retained entries and their vertices in two rings: absolute offset i sits at `i & mask`,
   * the capacity is a power of two, doubled when full, and a dropped entry's place is emptied.
   * A history is cut at the front and grows at the back all run long, so arrays cut and grown
   * again allocated a new backing store per cycle — large, long-lived and copied by the
   * collector; a ring allocates only when the history holds more than ever before.
   */
  private entries: (HistoryEntry | undefined)[] = emptyRing(RING_CAPACITY_MIN);
  private vertices: (Vertex | undefined)[] = emptyRing(RING_CAPACITY_MIN);
  private mask = RING_CAPACITY_MIN - 1;
  /**
   * Absolute offsets of the entries addressed to this group that it has not delivered yet, in
   * order (only for histories of groups above it). This group delivers them in exactly this
   * order, because each precedes the next in the graph.
   */
  private readonly undeliveredToMe: number[] = [];
  private undeliveredHead = 0;
  /** The last stretch `slice` handed out: entries [lastSliceFrom, lastSliceEnd). */
  private lastSlice: readonly HistoryEntry[] = [];
  private lastSliceFrom = -1;
  private lastSliceEnd = -1;

  constructor(owner: Position) {
    this.owner = owner;
  }

  get end(): number {
    return this.base + this.count;
  }

  get length(): number {
    return this.count;
  }

  vertexAt(index: number): Vertex {
    const vertex =
      index >= this.base && index < this.base + this.count ? this.vertices[index & this.mask] : undefined;
    if (vertex === undefined) assert(false, `history of ${this.owner} has no retained entry ${index}`);
    return vertex;
  }

  entryAt(index: number): HistoryEntry {
    return this.vertexAt(index).entry;
  }

  /**
   * Whether the retained entry at absolute offset `index` is `entry`'s message: the same object
   * (a relayed window shares its entries, so usually without reading either), else the same id.
   */
  agreesAt(index: number, entry: HistoryEntry | undefined): boolean {
    const held =
      index >= this.base && index < this.base + this.count ? this.entries[index & this.mask] : undefined;
    return held !== undefined && entry !== undefined && (held === entry || held.id === entry.id);
  }

  /** The vertex just before absolute offset `index` (a retained one), or undefined when that entry is not retained. */
  before(index: number): Vertex | undefined {
    return index - 1 >= this.base ? this.vertices[(index - 1) & this.mask] : undefined;
  }

  /** The vertex just after absolute offset `index` (a retained one), or undefined when it is the last. */
  after(index: number): Vertex | undefined {
    return index + 1 < this.base + this.count ? this.vertices[(index + 1) & this.mask] : undefined;
  }

  push(entry: HistoryEntry, vertex: Vertex): number {
    if (this.count > this.mask) this.resize(2 * (this.mask + 1));
    const index = this.base + this.count;
    this.entries[index & this.mask] = entry;
    this.vertices[index & this.mask] = vertex;
    this.count += 1;
    return index;
  }

  /** Moves the retained entries into rings of `capacity` (a power of two, at least `count`). */
  private resize(capacity: number): void {
    const entries = emptyRing<HistoryEntry>(capacity);
    const vertices = emptyRing<Vertex>(capacity);
    const mask = capacity - 1;
    for (let index = this.base; index < this.base + this.count; index += 1) {
      entries[index & mask] = this.entries[index & this.mask];
      vertices[index & mask] = this.vertices[index & this.mask];
    }
    this.entries = entries;
    this.vertices = vertices;
    this.mask = mask;
  }

  /**
   * Entries from absolute offset `from` to the end. Windows are never mutated, so the same stretch
   * asked for again is the same array: a group sends the same stretch of a history to many
   * descendants (a flush's copy and acknowledgements go to every group below, and descendants sent
   * the same before are sent the same again), and at 48 groups most window entries are such
   * repeats.
   */
  slice(from: number): readonly HistoryEntry[] {
    if (from < this.base) assert(false, `history of ${this.owner} cut at ${this.base}, asked from ${from}`);
    const end = this.end;
    if (from !== this.lastSliceFrom || end !== this.lastSliceEnd) {
      const stretch: HistoryEntry[] = [];
      for (let index = from; index < end; index += 1)
        stretch.push(this.entries[index & this.mask] as HistoryEntry);
      this.lastSlice = stretch;
      this.lastSliceFrom = from;
      this.lastSliceEnd = end;
    }
    return this.lastSlice;
  }

  /** Drops the entries before absolute offset `cut`, emptying their places. */
  dropBefore(cut: number): void {
    assert(cut >= this.base && cut <= this.end, "a cut inside the retained history");
    for (let index = this.base; index < cut; index += 1) {
      this.entries[index & this.mask] = undefined;
      this.vertices[index & this.mask] = undefined;
    }
    this.count -= cut - this.base;
    this.base = cut;
  }

  /**
   * Gives back the array space beyond what is retained now rather than never (the rings keep
   * their size) or at the next compaction (`markDeliveredToMe`): nothing else changes, and a
   * snapshot then holds little more than what is retained.
   */
  compactStorage(): void {
    // Down to the least power of two that holds them (a quiet history's rings are one place).
    let capacity = 1;
    while (capacity < this.count) capacity *= 2;
    if (capacity <= this.mask) this.resize(capacity);
    if (this.undeliveredHead > 0) {
      this.undeliveredToMe.splice(0, this.undeliveredHead);
      this.undeliveredHead = 0;
    }
  }

  addUndeliveredToMe(index: number): void {
    // The last entry is read only when one is still undelivered (usually none is): the read
    // was 4-5% of a 48-group run (a cache miss, or index -1 of an empty array, a lookup by name).
    const count = this.undeliveredToMe.length;
    if (this.undeliveredHead !== count && !((this.undeliveredToMe[count - 1] as number) < index))
      assert(false, "entries for this group are recorded in history order");
    this.undeliveredToMe.push(index);
  }

  markDeliveredToMe(index: number): void {
    const first = this.undeliveredToMe[this.undeliveredHead];
    if (first !== index)
      assert(
        false,
        `delivery out of ${this.owner}'s order: delivering its entry ${index}, but entry ${first} comes first`,
      );
    this.undeliveredHead += 1;
    if (this.undeliveredHead > 1024 && this.undeliveredHead * 2 > this.undeliveredToMe.length) {
      this.undeliveredToMe.splice(0, this.undeliveredHead);
      this.undeliveredHead = 0;
    }
  }
}

export class Knowledge {
  /** `histories[a]` for every group a at or above this one; `histories[self]` is its own. */
  readonly histories: readonly History[];
  readonly self: Position;
  readonly groupCount: number;
  /**
   * Rule 4, per group t: the latest flush epoch in which a message for t died here (-1: never).
   * Epoch k starts when this group delivers its k-th flush (0 before the first). A message dies
   * when it first reaches one this group delivered; everything this group delivered precedes its
   * latest delivery, so the messages dead here are exactly those known to precede it. One that
   * died before epoch k started precedes epoch k's flush, which *covers* it for any message
   * known to follow that flush (flexcast.ts, rule 4). So `deadSeenEpoch[t] >= k` says this group
   * knows a message for t that precedes its latest delivery and that no flush from epoch k on
   * covers. Epochs only grow.
   */
  private readonly deadSeenEpoch: number[];
  /** Flushes this group delivered: the current flush epoch. */
  private flushEpoch = 0;
  /**
   * `flushMarks[a]`: where the flushes this group delivered sit in ancestor a's history, as
   * (absolute offset, epoch) in history order, from the last one before the retained part on
   * (rule 4: a notified message that follows one of them in a history follows its epoch's flush).
   */
  private readonly flushMarks: FlushMark[][];
  /** `sent[a][d - self - 1]`: how much of history a has been sent to descendant d. */
  private readonly sent: number[][];
  /**
   * `sentToAll[a]`: how much of history a has been sent to every descendant (the minimum of
   * `sent[a]`), and `atMinimum[a]` how many descendants are at that minimum: kept as windows go
   * out, so a garbage-collection pass does not scan every descendant of every history.
   */
  private readonly sentToAll: number[];
  private readonly atMinimum: number[];
  /**
   * Every vertex held here, by id. (Taking a vertex out once nothing here can ask for it by id —
   * all its destinations above and all their entries joined — kept the map small but cost more
   * than it saved: each such vertex was set and deleted within a short while, and the map's
   * tables, reallocated as it shrank and grew, added young-generation collection work.)
   */
  private readonly vertices = new Map<MessageId, Vertex>();
  /**
   * Messages whose every retained entry was collected while some destination above this group
   * had not yet shown its entry for them here (by id: how many histories they had joined). Such
   * an entry comes back in that destination's window; it is dead (everything collected was), and
   * its vertex comes back dead, as if never collected, so rule 4 counts it the same either way.
   * At most the messages whose entries are still on their way here.
   */
  private readonly tombstones = new Map<MessageId, number>();
  private readonly collect: boolean;
  private search = 0;
  /** Retained entries over all histories (kept as entries come and go). */
  private retained = 0;
  /** Scratch stack of the graph walks (they never nest), and what a search walked through. */
  private readonly stack: Vertex[] = [];
  private readonly walked: Vertex[] = [];
  /** Something may be collectable: a dead prefix grew or a window was sent since the last pass. */
  private collectable = false;

  constructor(self: Position, groupCount: number, collectGarbage: boolean) {
    assert(self >= 0 && self < groupCount, "a position in the order");
    this.self = self;
    this.groupCount = groupCount;
    this.collect = collectGarbage;
    this.histories = Array.from({ length: self + 1 }, (_, owner) => new History(owner));
    this.deadSeenEpoch = Array.from({ length: groupCount }, () => -1);
    this.flushMarks = Array.from({ length: self }, () => []);
    this.sent = Array.from({ length: self + 1 }, () =>
      Array.from({ length: groupCount - self - 1 }, () => 0),
    );
    // With no descendant, everything counts as sent to all of them.
    const descendants = groupCount - self - 1;
    this.sentToAll = Array.from({ length: self + 1 }, () =>
      descendants === 0 ? Number.POSITIVE_INFINITY : 0,
    );
    this.atMinimum = Array.from({ length: self + 1 }, () => descendants);
  }

  get mine(): History {
    return this.histories[this.self] as History;
  }

  vertex(id: MessageId): Vertex | undefined {
    return this.vertices.get(id);
  }

  /** Retained history entries, all histories together. */
  get entryCount(): number {
    return this.retained;
  }

  /**
   * Entries of this group's own history not yet sent to every descendant: what it must hold of
   * its own history (its own entries are dead as soon as it delivers them), with or without
   * garbage collection.
   */
  get ownEntriesUnsent(): number {
    return Math.max(0, this.mine.end - (this.sentToAll[this.self] as number));
  }

  get vertexCount(): number {
    return this.vertices.size;
  }

  /**
   * Rule 4 for a message this group just delivered (the latest delivery): the groups t it must
   * notify are those with a message known to precede it that no flush of the current epoch
   * covers; marks them in `targets` (indexed by position).
   */
  targetsOfDelivered(targets: boolean[]): void {
    const epoch = this.flushEpoch;
    for (let group = this.self + 1; group < this.groupCount; group += 1)
      targets[group] = (this.deadSeenEpoch[group] as number) >= epoch;
  }

  /**
   * Rule 4 for a notified message (not delivered here; `vertex` undefined once collected): the
   * groups of the messages known to precede it that no flush of epoch `epoch` (one it is known to
   * follow) covers. The live ones (not yet dead) are found by walking back from it; they all sit
   * after the retained part's start, since only dead entries are collected. Where the walk meets
   * a dead or collected one, every message dead here since `epoch` may precede it, and all their
   * groups count (a superset, found the same way with or without collection).
   */
  targetsOfNotified(
    vertex: Vertex | undefined,
    epoch: number,
    dst: readonly Position[],
    targets: boolean[],
  ): void {
    // Only the groups between this one and the last destination that are no destination count;
    // once all of them are found, nothing more can change the answer.
    const last = dst[dst.length - 1] as number;
    let open = 0;
    for (let group = this.self + 1; group < this.groupCount; group += 1) {
      targets[group] = false;
      if (group < last && !dst.includes(group)) open += 1;
    }
    // Reaching something dead adds every group a message died for since `epoch`, whatever else
    // the walk finds: they are marked as soon as it is known, so the walk stops once only groups
    // that no live message could add are left (the answer is the same set).
    let reachesDead = vertex === undefined || vertex.dead;
    if (reachesDead) open -= this.markDeadSince(epoch, last, dst, targets);
    if (vertex !== undefined && !vertex.dead && open > 0) {
      this.search += 1;
      const search = this.search;
      vertex.searched = search;
      const stack = this.stack;
      if (stack.length > 0) stack.length = 0;
      stack.push(vertex);
      for (let current = stack.pop(); current !== undefined && open > 0; current = stack.pop()) {
        if (current !== vertex && current.entry.flush !== true)
          for (const group of current.entry.dst) if (this.markTarget(group, last, dst, targets)) open -= 1;
        const slots = current.slots;
        const slotEnd = current.slotEnd;
        for (let at = 0; at < slotEnd; at += 2) {
          const index = slots[at + 1] as number;
          if (index === 0) continue;
          const history = this.histories[slots[at] as number] as History;
          let dead = index - 1 < history.collected;
          if (!dead) {
            const before = history.before(index) as Vertex;
            if (before.searched === search) continue;
            before.searched = search;
            if (before.dead) dead = true;
            else stack.push(before);
          }
          if (dead && !reachesDead) {
            reachesDead = true;
            open -= this.markDeadSince(epoch, last, dst, targets);
          }
        }
      }
    }
  }

  /**
   * Marks the groups `targetsOfNotified` looks for that a message died for here since `epoch`
   * (flush epochs, see `deadSeenEpoch`): how many of them were not marked yet.
   */
  private markDeadSince(epoch: number, last: Position, dst: readonly Position[], targets: boolean[]): number {
    let marked = 0;
    for (let group = this.self + 1; group < last; group += 1)
      if ((this.deadSeenEpoch[group] as number) >= epoch && this.markTarget(group, last, dst, targets))
        marked += 1;
    return marked;
  }

  /**
   * Marks `group` in `targets` if it is one `targetsOfNotified` looks for (after this group and
   * before `last` in the order, no destination) and not marked yet: true when it was just marked.
   */
  private markTarget(group: Position, last: Position, dst: readonly Position[], targets: boolean[]): boolean {
    if (group <= this.self || group >= last || targets[group] === true || dst.includes(group)) return false;
    targets[group] = true;
    return true;
  }

  /**
   * Rule 4, for a message this group has not delivered (a notified one): the latest epoch whose
   * flush precedes `vertex` in a history this group knows (0 when none does, or when the vertex
   * is gone). The flush's entry comes before the message's in that history, so every descendant
   * that is sent the history sees the flush before the message.
   */
  epochBefore(vertex: Vertex | undefined): number {
    if (vertex === undefined) return 0;
    let latest = 0;
    const slots = vertex.slots;
    const slotEnd = vertex.slotEnd;
    for (let at = 0; at < slotEnd; at += 2) {
      const history = this.histories[slots[at] as number] as History;
      const index = slots[at + 1] as number;
      if (history.owner === this.self || index < history.collected) continue;
      const marks = this.flushMarks[history.owner] as FlushMark[];
      for (let at = marks.length - 1; at >= 0; at -= 1) {
        const mark = marks[at] as FlushMark;
        if (mark.index < index) {
          if (mark.epoch > latest) latest = mark.epoch;
          break;
        }
      }
    }
    return latest;
  }

  /**
   * Before a snapshot: every history's array space before its retained part, and the walks'
   * scratch stacks (each walk empties them first), are let go; no decision changes.
   */
  compactStorage(): void {
    for (const history of this.histories) history.compactStorage();
    this.stack.length = 0;
    this.walked.length = 0;
  }

  /** Rule 1: merges windows received from `sender` (a group above this one). */
  merge(sender: Position, windows: readonly HistoryWindow[]): void {
    for (const window of windows) {
      if (!(window.group <= sender && window.group < this.self))
        assert(false, `${sender} sent a window of ${window.group}'s history to ${this.self}`);
      const history = this.histories[window.group] as History;
      const end = history.end;
      // The sender starts where its previous window to us ended, and we merged that one (FIFO).
      if (window.from > end)
        assert(
          false,
          `gap in ${window.group}'s history: know ${end} entries, window starts at ${window.from}`,
        );
      // What this group knows already must agree with the window. A group's windows reach a
      // descendant again through every group between them (each relays what it knows), so a
      // full comparison would cost the overlap once per relay; the overlap's two ends are
      // compared, which is where an offset out of step would show.
      const overlapEnd = Math.min(end, window.from + window.entries.length);
      const overlapStart = Math.max(window.from, history.base);
      if (overlapStart < overlapEnd) {
        if (!history.agreesAt(overlapStart, window.entries[overlapStart - window.from]))
          assert(false, `${window.group}'s history disagrees at ${overlapStart}`);
        if (!history.agreesAt(overlapEnd - 1, window.entries[overlapEnd - 1 - window.from]))
          assert(false, `${window.group}'s history disagrees at ${overlapEnd - 1}`);
      }
      for (let index = end; index < window.from + window.entries.length; index += 1)
        this.append(window.group, window.entries[index - window.from] as HistoryEntry);
    }
  }

  /** Appends an entry to the history of `owner` (a window's new entry, or this group's delivery). */
  append(owner: Position, entry: HistoryEntry): Vertex {
    const history = this.histories[owner] as History;
    // An entry in its lca's history is the message's first here: the lca delivers first, every
    // group that knows another destination's entry of it knew the lca's before (it came with the
    // copy), and windows carry the histories in order, the lca's before those below it; so it
    // has no vertex here and none was collected (a tombstone follows an appearance). No lookup:
    // the map's size says the id was new, as in `fresh`.
    if (owner === entry.dst[0]) {
      const vertex = this.vertexOf(entry);
      const known = this.vertices.size;
      this.vertices.set(entry.id, vertex);
      if (this.vertices.size <= known) assert(false, `${entry.id} known here before its lca's entry`);
      return this.join(owner, history, entry, vertex);
    }
    let vertex = this.vertices.get(entry.id);
    if (vertex === undefined) {
      vertex = this.vertexOf(entry);
      this.vertices.set(entry.id, vertex);
      const appearances = this.tombstones.size === 0 ? undefined : this.tombstones.get(entry.id);
      if (appearances !== undefined) {
        this.tombstones.delete(entry.id);
        vertex.appearances = appearances;
        vertex.dead = true;
      }
    } else {
      if (vertex.entry.dst.length !== entry.dst.length) assert(false, `${entry.id} changed destinations`);
    }
    return this.join(owner, history, entry, vertex);
  }

  /** A new vertex for `entry`. */
  private vertexOf(entry: HistoryEntry): Vertex {
    const vertex = new Vertex(entry, entry.dst.includes(this.self), this.historiesOf(entry));
    vertex.destinationsAbove = (entry.dst[entry.dst.length - 1] as number) < this.self;
    return vertex;
  }

  /** `vertex` (of `entry`) joins the history of `owner` as its next entry. */
  private join(owner: Position, history: History, entry: HistoryEntry, vertex: Vertex): Vertex {
    if (!entry.dst.includes(owner)) assert(false, `${owner} delivered ${entry.id}, not addressed to it`);
    const index = history.push(entry, vertex);
    this.retained += 1;
    vertex.addSlot(owner, index);
    vertex.appearances += 1;
    // A known message in one more history has new predecessors, and so does everything after it:
    // unless the entry before it here is clear (or dead), they may include an undelivered message
    // for this group, so what was known clear from it on is not any more.
    if (vertex.clear) {
      const before = history.before(index);
      if (before !== undefined && !before.clear && !before.dead) this.unclearFrom(vertex);
    }
    if (owner !== this.self && vertex.toMe) {
      // A group above delivers before this one (rule 5), so its entry arrives before ours.
      if (vertex.delivered)
        assert(false, `${owner}'s entry for ${entry.id} arrived after ${this.self} delivered it`);
      history.addUndeliveredToMe(index);
    }
    if (vertex.dead) {
      history.deadEnd = index + 1;
      this.collectable = true;
      const before = history.before(index);
      if (before !== undefined) this.markDead(before);
    }
    return vertex;
  }

  /** The vertex of a message this group orders first, as its lca: nobody knows it yet. */
  fresh(entry: HistoryEntry): Vertex {
    // Its lca's own history is the only one here it joins.
    const vertex = new Vertex(entry, entry.dst.includes(this.self), 1);
    const known = this.vertices.size;
    this.vertices.set(entry.id, vertex);
    // A set that grew the map added the id (one lookup where `has` then `set` take two).
    if (this.vertices.size <= known) assert(false, `${entry.id} is already known to ${this.self}`);
    return vertex;
  }

  /** This group delivers `vertex`: it joins this group's own history and everything before it dies. */
  deliver(vertex: Vertex): void {
    if (vertex.delivered) assert(false, `${vertex.entry.id} delivered twice`);
    if (!vertex.toMe) assert(false, `${vertex.entry.id} is not addressed to ${this.self}`);
    if (this.collect && vertex.dead) assert(false, `${vertex.entry.id} reaches a delivered message: a cycle`);
    const slots = vertex.slots;
    const slotEnd = vertex.slotEnd;
    for (let at = 0; at < slotEnd; at += 2) {
      assert(slots[at] !== this.self, "an undelivered message is not in this group's history");
      (this.histories[slots[at] as number] as History).markDeliveredToMe(slots[at + 1] as number);
    }
    vertex.delivered = true;
    // The vertex is at hand: no lookup by id.
    this.join(this.self, this.mine, vertex.entry, vertex);
    this.markDead(vertex);
    if (vertex.entry.flush === true) this.startEpoch(vertex);
  }

  /** Rule 4: this group delivered `flush`, which starts a new epoch (see `deadSeenEpoch`). */
  private startEpoch(flush: Vertex): void {
    this.flushEpoch += 1;
    const slots = flush.slots;
    const slotEnd = flush.slotEnd;
    for (let at = 0; at < slotEnd; at += 2) {
      const owner = slots[at] as number;
      const index = slots[at + 1] as number;
      if (owner === this.self) continue;
      const marks = this.flushMarks[owner] as FlushMark[];
      const last = marks[marks.length - 1];
      assert(last === undefined || last.index < index, "flushes are delivered in every history's order");
      marks.push({ index, epoch: this.flushEpoch });
    }
  }

  private markDead(start: Vertex): void {
    const stack = this.stack;
    if (stack.length > 0) stack.length = 0; // an early return may leave some
    stack.push(start);
    for (let vertex = stack.pop(); vertex !== undefined; vertex = stack.pop()) {
      if (vertex.dead) continue;
      vertex.dead = true;
      // Rule 4 reads the epochs of groups below this one only.
      if (!vertex.destinationsAbove && vertex.entry.flush !== true)
        for (const group of vertex.entry.dst) this.deadSeenEpoch[group] = this.flushEpoch;
      this.collectable = true;
      const slots = vertex.slots;
      const slotEnd = vertex.slotEnd;
      for (let at = 0; at < slotEnd; at += 2) {
        const history = this.histories[slots[at] as number] as History;
        const index = slots[at + 1] as number;
        if (index + 1 > history.deadEnd) history.deadEnd = index + 1;
        const before = history.before(index);
        if (before !== undefined) stack.push(before);
      }
    }
  }

  /**
   * Takes back "clear" from `start` and everything after it that is marked: marks are closed
   * under predecessors, so what is not marked has nothing marked after it.
   */
  private unclearFrom(start: Vertex): void {
    const stack = this.stack;
    if (stack.length > 0) stack.length = 0; // an early return may leave some
    stack.push(start);
    for (let vertex = stack.pop(); vertex !== undefined; vertex = stack.pop()) {
      if (!vertex.clear) continue;
      vertex.clear = false;
      const slots = vertex.slots;
      const slotEnd = vertex.slotEnd;
      for (let at = 0; at < slotEnd; at += 2) {
        const after = (this.histories[slots[at] as number] as History).after(slots[at + 1] as number);
        if (after?.clear === true) stack.push(after);
      }
    }
  }

  /**
   * Rule 3(4): an undelivered message for this group that precedes `vertex` in the graph, if any
   * (backward search from `vertex`, keyed by message id). With garbage collection the search stops
   * at dead vertices, which no such path crosses, and at vertices known clear (nothing undelivered
   * for this group at or before them); a search that finds nothing marks what it walked through
   * clear, so the next search stops there. Without collection it walks the whole graph (the
   * naive reference the tests compare against).
   */
  firstBlocker(vertex: Vertex): MessageId | undefined {
    if (this.collect && vertex.clear) return undefined;
    // Visited marks are search numbers on the vertices: no set to allocate per search.
    this.search += 1;
    const search = this.search;
    vertex.searched = search;
    const stack = this.stack;
    if (stack.length > 0) stack.length = 0; // an early return may leave some
    stack.push(vertex);
    const walked = this.walked;
    if (walked.length > 0) walked.length = 0;
    for (let current = stack.pop(); current !== undefined; current = stack.pop()) {
      if (current !== vertex) {
        if (this.collect && (current.dead || current.clear)) continue;
        if (current.toMe && !current.delivered) return current.entry.id;
      }
      if (this.collect) walked.push(current);
      const slots = current.slots;
      const slotEnd = current.slotEnd;
      for (let at = 0; at < slotEnd; at += 2) {
        const before = (this.histories[slots[at] as number] as History).before(slots[at + 1] as number);
        if (before !== undefined && before.searched !== search) {
          before.searched = search;
          stack.push(before);
        }
      }
    }
    // Nothing undelivered for this group precedes `vertex`: all it walked through is clear, and
    // so is `vertex` unless it is itself such a message (a queue head being checked).
    for (const walkedVertex of walked) walkedVertex.clear = true;
    if (vertex.toMe && !vertex.delivered) vertex.clear = false;
    return undefined;
  }

  /** Rule 1: the windows for descendant `to`: every history from what `to` was sent before. */
  windowsFor(to: Position): HistoryWindow[] {
    if (!(to > this.self && to < this.groupCount)) assert(false, `${this.self} sends down to ${to}`);
    const windows: HistoryWindow[] = [];
    for (const history of this.histories) {
      const sent = this.sent[history.owner] as number[];
      const from = sent[to - this.self - 1] as number;
      const end = history.end;
      if (end > from) {
        windows.push({ group: history.owner, from, entries: history.slice(from) });
        sent[to - this.self - 1] = end;
        if (from === this.sentToAll[history.owner]) this.leftMinimum(history.owner);
        this.collectable = true;
      }
    }
    return windows;
  }

  /** A descendant's `sent` of history `owner` moved up from the minimum. */
  private leftMinimum(owner: Position): void {
    const left = (this.atMinimum[owner] as number) - 1;
    this.atMinimum[owner] = left;
    if (left > 0) return;
    let minimum = Number.POSITIVE_INFINITY;
    let count = 0;
    for (const sent of this.sent[owner] as number[]) {
      if (sent < minimum) {
        minimum = sent;
        count = 1;
      } else if (sent === minimum) count += 1;
    }
    this.sentToAll[owner] = minimum;
    this.atMinimum[owner] = count;
  }

  /** How many histories held here a message joins in the end: those of its destinations at or above this group. */
  private historiesOf(entry: HistoryEntry): number {
    let count = 0;
    for (const group of entry.dst) if (group <= this.self) count += 1;
    return count;
  }

  /** Rule 7: drops every history prefix that is dead here and already sent to every descendant. */
  collectGarbage(): void {
    if (!this.collectable) return;
    this.collectable = false;
    for (const history of this.histories) {
      if (history.deadEnd <= history.collected) continue;
      const cut = Math.min(history.deadEnd, this.sentToAll[history.owner] as number);
      if (cut <= history.collected) continue;
      history.collected = cut;
      // The naive reference keeps everything, but notes the cut (see `History.collected`).
      if (!this.collect) continue;
      for (let index = history.base; index < cut; index += 1) {
        const vertex = history.vertexAt(index);
        if (!vertex.dead) assert(false, "only dead entries are dropped");
        if (vertex.toMe && !vertex.delivered && history.owner !== this.self)
          assert(false, `${vertex.entry.id} is dead but not delivered`);
        // Its slot in this history goes; the others keep their order.
        vertex.dropSlot(history.owner);
        if (vertex.slotEnd === 0) {
          this.vertices.delete(vertex.entry.id);
          if (vertex.appearances < vertex.joins) this.tombstones.set(vertex.entry.id, vertex.appearances);
        }
      }
      this.retained -= cut - history.base;
      history.dropBefore(cut);
      // Keep the last flush mark before the retained part: a retained entry may follow it.
      const marks = this.flushMarks[history.owner];
      if (marks !== undefined) {
        let drop = 0;
        while (drop + 1 < marks.length && (marks[drop + 1] as FlushMark).index < cut) drop += 1;
        if (drop > 0) marks.splice(0, drop);
      }
    }
  }
}
