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

/** Bits of `Vertex.flags`. */
const TO_ME = 1;
const DELIVERED = 2;
const DEAD = 4;
const CLEAR = 8;
const DESTINATIONS_ABOVE = 16;
/** `Vertex.flags` holds the flags in its low bits and the slot count above them. */
const FLAG_BITS = 5;
const FLAGS_MASK = (1 << FLAG_BITS) - 1;
/** `Vertex.counts` holds the appearances in its low 16 bits and the joins above them. */
const COUNT_BITS = 16;
const COUNT_MASK = (1 << COUNT_BITS) - 1;
/** Counts of histories (at most one per group) fit in COUNT_BITS. */
const GROUPS_MAX = COUNT_MASK;

/**
 * A message of the graph and where it sits in the known histories. There is one per retained
 * message at every group below its destinations, so these are many — at 48 groups hundreds of
 * thousands, most of them outliving young collections — and every field counts: the flags share
 * one number, and the first two places (most messages have two destinations, so a vertex joins
 * at most two histories) are fields rather than an array of their own, which was a second object
 * per vertex, a second cache line to read at every step of a graph walk, and a third of the bytes.
 */
export class Vertex {
  readonly entry: HistoryEntry;
  /** TO_ME, DELIVERED, DEAD, CLEAR, DESTINATIONS_ABOVE (see the accessors), and `slotCount`. */
  private flags: number;
  /** `appearances` and `joins`. */
  private counts: number;
  /** Number of the last graph search that visited this vertex. */
  searched = 0;
  /**
   * Where each retained entry of this message sits: `slotCount` pairs (history owner, absolute
   * offset) in the order the entries joined (searches follow it, so it steers which blocker a
   * search finds): the first two in `owner0`/`index0` and `owner1`/`index1`, the others flat in
   * `more`, made once with room for every further history the message can join here
   * (`Knowledge.historiesOf`): no array per append or drop.
   */
  private owner0 = 0;
  private index0 = 0;
  private owner1 = 0;
  private index1 = 0;
  private more: number[] | null = null;

  constructor(entry: HistoryEntry, toMe: boolean, slotPairs: number) {
    if (!(slotPairs <= GROUPS_MAX)) assert(false, `a vertex joins at most ${GROUPS_MAX} histories`);
    this.entry = entry;
    this.flags = toMe ? TO_ME : 0;
    this.counts = slotPairs << COUNT_BITS;
  }

  /** Number of slots: retained entries of this message. */
  get slotCount(): number {
    return this.flags >>> FLAG_BITS;
  }

  set slotCount(value: number) {
    this.flags = (this.flags & FLAGS_MASK) | (value << FLAG_BITS);
  }

  /** Histories this message has joined here, retained or not (see `Knowledge.tombstones`). */
  get appearances(): number {
    return this.counts & COUNT_MASK;
  }

  set appearances(value: number) {
    if (!(value <= COUNT_MASK)) assert(false, `${this.entry.id} joined more histories than there are`);
    this.counts = (this.counts & ~COUNT_MASK) | value;
  }

  /** Histories held here that this message joins in the end (`Knowledge.historiesOf`). */
  get joins(): number {
    return this.counts >>> COUNT_BITS;
  }

  /** Addressed to this group. */
  get toMe(): boolean {
    return (this.flags & TO_ME) !== 0;
  }

  get delivered(): boolean {
    return (this.flags & DELIVERED) !== 0;
  }

  set delivered(value: boolean) {
    this.flags = value ? this.flags | DELIVERED : this.flags & ~DELIVERED;
  }

  /** Reaches a message this group delivered (see the class comment of the module). */
  get dead(): boolean {
    return (this.flags & DEAD) !== 0;
  }

  set dead(value: boolean) {
    this.flags = value ? this.flags | DEAD : this.flags & ~DEAD;
  }

  /**
   * Known clear: no undelivered message for this group is this one or precedes it. Set on what a
   * search that found no blocker walked through; taken back when an append may have brought one
   * (see `append`). Only with garbage collection (the naive reference searches everything).
   */
  get clear(): boolean {
    return (this.flags & CLEAR) !== 0;
  }

  set clear(value: boolean) {
    this.flags = value ? this.flags | CLEAR : this.flags & ~CLEAR;
  }

  /**
   * Every destination is above this group: rule 4 counts no group of it (only groups below count).
   * Kept here so that marking it dead need not read the entry.
   */
  get destinationsAbove(): boolean {
    return (this.flags & DESTINATIONS_ABOVE) !== 0;
  }

  set destinationsAbove(value: boolean) {
    this.flags = value ? this.flags | DESTINATIONS_ABOVE : this.flags & ~DESTINATIONS_ABOVE;
  }

  /** The history owner of slot `slot` (< `slotCount`). */
  slotOwner(slot: number): Position {
    return slot === 0
      ? this.owner0
      : slot === 1
        ? this.owner1
        : ((this.more as number[])[2 * slot - 4] as number);
  }

  /** The absolute offset in its history of slot `slot` (< `slotCount`). */
  slotIndex(slot: number): number {
    return slot === 0
      ? this.index0
      : slot === 1
        ? this.index1
        : ((this.more as number[])[2 * slot - 3] as number);
  }

  private setSlot(slot: number, owner: Position, index: number): void {
    if (slot === 0) {
      this.owner0 = owner;
      this.index0 = index;
    } else if (slot === 1) {
      this.owner1 = owner;
      this.index1 = index;
    } else {
      // Room was made for every history the message can join here; more would be a second entry
      // in one history, which the caller's checks rule out. Grown all the same rather than lost.
      let more = this.more;
      if (more === null) {
        // Made at its size (pushes would first make room for 16 and grow from there): a flush's
        // vertex joins the history of every group from its issuer to this one.
        const length = Math.max(2, 2 * (this.joins - 2));
        more = new Array<number>(length);
        for (let at = 0; at < length; at += 1) more[at] = 0;
        this.more = more;
      }
      while (more.length < 2 * slot - 2) more.push(0);
      more[2 * slot - 4] = owner;
      more[2 * slot - 3] = index;
    }
  }

  /** Records the entry at absolute offset `index` of history `owner` as this vertex's next slot. */
  addSlot(owner: Position, index: number): void {
    this.setSlot(this.slotCount, owner, index);
    this.slotCount += 1;
  }

  /** Removes the slot of history `owner` (which it has), the others keeping their order. */
  dropSlot(owner: Position): void {
    const count = this.slotCount;
    let slot = 0;
    while (slot < count && this.slotOwner(slot) !== owner) slot += 1;
    if (!(slot < count)) assert(false, `${this.entry.id} has no entry in ${owner}'s history to drop`);
    for (let from = slot + 1; from < count; from += 1)
      this.setSlot(from - 1, this.slotOwner(from), this.slotIndex(from));
    this.slotCount = count - 1;
  }
}

/** The window list of a message that carries nothing new (never changed: windows are read only). */
const NO_WINDOWS: readonly HistoryWindow[] = [];

/** Longest stretch `History.slice` makes at its size. */
const STRETCH_PREALLOCATED_MAX = 4096;

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
    if (this.count > this.mask) this.grow();
    const index = this.base + this.count;
    this.entries[index & this.mask] = entry;
    this.vertices[index & this.mask] = vertex;
    this.count += 1;
    return index;
  }

  /**
   * Doubles the full rings. Each is concatenated with itself (one allocation of the exact size: an
   * empty ring built place by place was reallocated as it grew, and at 48 groups the rings' growth
   * was a tenth of all the bytes a run allocated); every retained entry then sits at its new place
   * in one of the two copies, and the other copy's place is emptied.
   */
  private grow(): void {
    const capacity = this.mask + 1;
    const mask = 2 * capacity - 1;
    const entries = this.entries.concat(this.entries);
    const vertices = this.vertices.concat(this.vertices);
    // Full: the retained entries take every place once, so this empties every stale copy.
    for (let index = this.base; index < this.base + this.count; index += 1) {
      const stale = (index & mask) ^ capacity;
      entries[stale] = undefined;
      vertices[stale] = undefined;
    }
    this.entries = entries;
    this.vertices = vertices;
    this.mask = mask;
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
      // Made at its size (one grown by pushes starts with room for 16; most stretches are short),
      // but a long one by pushes: an array made at a size in the hundred thousands is a dictionary.
      const length = end - from;
      const stretch = length <= STRETCH_PREALLOCATED_MAX ? new Array<HistoryEntry>(length) : [];
      for (let index = from; index < end; index += 1)
        stretch[index - from] = this.entries[index & this.mask] as HistoryEntry;
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
  /**
   * `sentTo[d - self - 1][a]`: how much of history a has been sent to descendant d. By descendant
   * first: a window list for d reads one array front to back (one per history, at 48 groups up to
   * 48 arrays, was a cache line each per message sent).
   */
  private readonly sentTo: number[][];
  /**
   * `sentToAll[a]`: how much of history a has been sent to every descendant (the minimum over
   * `sentTo`), and `atMinimum[a]` how many descendants are at that minimum: kept as windows go
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
  /**
   * Scratch stack of the graph walks (they never nest), and what a search walked through: each
   * walk fills them from the start and keeps its own count. Never cut short (an array's length
   * set to 0 lets its store go, and one that shrinks gives it back in pops), so a walk allocates
   * nothing once they are as long as the longest walk; what a walk left behind is overwritten by
   * the next (or dropped before a snapshot).
   */
  private readonly stack: Vertex[] = [];
  private readonly walked: Vertex[] = [];
  /**
   * `collectDue[a]`: history a's cut (rule 7) may have moved since the last garbage-collection
   * pass — its dead prefix grew or every descendant has now been sent more of it — and
   * `collectDueAny` whether any is. A pass looks at those histories only: looking at every one
   * after every step read one object per history (at 48 groups up to 48, most of them cold).
   */
  private readonly collectDue: boolean[];
  private collectDueAny = false;
  /**
   * `ends[a]`: the end of history a (`History.end`), kept here as entries join, so that building
   * a window list reads this array rather than every history object.
   */
  private readonly ends: number[];

  constructor(self: Position, groupCount: number, collectGarbage: boolean) {
    assert(self >= 0 && self < groupCount, "a position in the order");
    assert(groupCount <= GROUPS_MAX, `at most ${GROUPS_MAX} groups`);
    this.self = self;
    this.groupCount = groupCount;
    this.collect = collectGarbage;
    this.histories = Array.from({ length: self + 1 }, (_, owner) => new History(owner));
    this.deadSeenEpoch = Array.from({ length: groupCount }, () => -1);
    this.flushMarks = Array.from({ length: self }, () => []);
    this.sentTo = Array.from({ length: groupCount - self - 1 }, () =>
      Array.from({ length: self + 1 }, () => 0),
    );
    // With no descendant, everything counts as sent to all of them.
    const descendants = groupCount - self - 1;
    this.sentToAll = Array.from({ length: self + 1 }, () =>
      descendants === 0 ? Number.POSITIVE_INFINITY : 0,
    );
    this.atMinimum = Array.from({ length: self + 1 }, () => descendants);
    this.collectDue = Array.from({ length: self + 1 }, () => false);
    this.ends = Array.from({ length: self + 1 }, () => 0);
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
      stack[0] = vertex;
      let top = 1;
      while (top > 0 && open > 0) {
        top -= 1;
        const current = stack[top] as Vertex;
        if (current !== vertex && current.entry.flush !== true)
          for (const group of current.entry.dst) if (this.markTarget(group, last, dst, targets)) open -= 1;
        const slotCount = current.slotCount;
        for (let slot = 0; slot < slotCount; slot += 1) {
          const index = current.slotIndex(slot);
          if (index === 0) continue;
          const history = this.histories[current.slotOwner(slot)] as History;
          let dead = index - 1 < history.collected;
          if (!dead) {
            const before = history.before(index) as Vertex;
            if (before.searched === search) continue;
            before.searched = search;
            if (before.dead) dead = true;
            else {
              stack[top] = before;
              top += 1;
            }
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
    const slotCount = vertex.slotCount;
    for (let slot = 0; slot < slotCount; slot += 1) {
      const history = this.histories[vertex.slotOwner(slot)] as History;
      const index = vertex.slotIndex(slot);
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
   * scratch stacks (each walk overwrites them from the start), are let go; no decision changes.
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
    this.ends[owner] = index + 1;
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
      this.markCollectDue(owner);
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
    const slotCount = vertex.slotCount;
    for (let slot = 0; slot < slotCount; slot += 1) {
      const owner = vertex.slotOwner(slot);
      assert(owner !== this.self, "an undelivered message is not in this group's history");
      (this.histories[owner] as History).markDeliveredToMe(vertex.slotIndex(slot));
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
    const slotCount = flush.slotCount;
    for (let slot = 0; slot < slotCount; slot += 1) {
      const owner = flush.slotOwner(slot);
      const index = flush.slotIndex(slot);
      if (owner === this.self) continue;
      const marks = this.flushMarks[owner] as FlushMark[];
      const last = marks[marks.length - 1];
      assert(last === undefined || last.index < index, "flushes are delivered in every history's order");
      marks.push({ index, epoch: this.flushEpoch });
    }
  }

  private markDead(start: Vertex): void {
    const stack = this.stack;
    stack[0] = start;
    let top = 1;
    while (top > 0) {
      top -= 1;
      const vertex = stack[top] as Vertex;
      if (vertex.dead) continue;
      vertex.dead = true;
      // Rule 4 reads the epochs of groups below this one only.
      if (!vertex.destinationsAbove && vertex.entry.flush !== true)
        for (const group of vertex.entry.dst) this.deadSeenEpoch[group] = this.flushEpoch;
      const slotCount = vertex.slotCount;
      for (let slot = 0; slot < slotCount; slot += 1) {
        const owner = vertex.slotOwner(slot);
        const history = this.histories[owner] as History;
        const index = vertex.slotIndex(slot);
        if (index + 1 > history.deadEnd) {
          history.deadEnd = index + 1;
          this.markCollectDue(owner);
        }
        const before = history.before(index);
        if (before !== undefined) {
          stack[top] = before;
          top += 1;
        }
      }
    }
  }

  /**
   * Takes back "clear" from `start` and everything after it that is marked: marks are closed
   * under predecessors, so what is not marked has nothing marked after it.
   */
  private unclearFrom(start: Vertex): void {
    const stack = this.stack;
    stack[0] = start;
    let top = 1;
    while (top > 0) {
      top -= 1;
      const vertex = stack[top] as Vertex;
      if (!vertex.clear) continue;
      vertex.clear = false;
      const slotCount = vertex.slotCount;
      for (let slot = 0; slot < slotCount; slot += 1) {
        const after = (this.histories[vertex.slotOwner(slot)] as History).after(vertex.slotIndex(slot));
        if (after?.clear === true) {
          stack[top] = after;
          top += 1;
        }
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
    stack[0] = vertex;
    let top = 1;
    const walked = this.walked;
    let walkedCount = 0;
    while (top > 0) {
      top -= 1;
      const current = stack[top] as Vertex;
      if (current !== vertex) {
        if (this.collect && (current.dead || current.clear)) continue;
        if (current.toMe && !current.delivered) return current.entry.id;
      }
      if (this.collect) {
        walked[walkedCount] = current;
        walkedCount += 1;
      }
      const slotCount = current.slotCount;
      for (let slot = 0; slot < slotCount; slot += 1) {
        const before = (this.histories[current.slotOwner(slot)] as History).before(current.slotIndex(slot));
        if (before !== undefined && before.searched !== search) {
          before.searched = search;
          stack[top] = before;
          top += 1;
        }
      }
    }
    // Nothing undelivered for this group precedes `vertex`: all it walked through is clear, and
    // so is `vertex` unless it is itself such a message (a queue head being checked).
    for (let at = 0; at < walkedCount; at += 1) (walked[at] as Vertex).clear = true;
    if (vertex.toMe && !vertex.delivered) vertex.clear = false;
    return undefined;
  }

  /** Rule 1: the windows for descendant `to`: every history from what `to` was sent before. */
  windowsFor(to: Position): readonly HistoryWindow[] {
    if (!(to > this.self && to < this.groupCount)) assert(false, `${this.self} sends down to ${to}`);
    const sent = this.sentTo[to - this.self - 1] as number[];
    // Counted first, so that the list is made at its size: one grown by pushes starts with room
    // for 16, and every message sent carries one (most hold one or two windows).
    const ends = this.ends;
    const owners = ends.length;
    let count = 0;
    for (let owner = 0; owner < owners; owner += 1)
      if ((ends[owner] as number) > (sent[owner] as number)) count += 1;
    if (count === 0) return NO_WINDOWS;
    const windows = new Array<HistoryWindow>(count);
    let at = 0;
    for (let owner = 0; owner < owners; owner += 1) {
      const from = sent[owner] as number;
      const end = ends[owner] as number;
      if (end > from) {
        windows[at] = { group: owner, from, entries: (this.histories[owner] as History).slice(from) };
        at += 1;
        sent[owner] = end;
        if (from === this.sentToAll[owner]) this.leftMinimum(owner);
      }
    }
    return windows;
  }

  /** A descendant's `sentTo` of history `owner` moved up from the minimum. */
  private leftMinimum(owner: Position): void {
    const left = (this.atMinimum[owner] as number) - 1;
    this.atMinimum[owner] = left;
    if (left > 0) return;
    let minimum = Number.POSITIVE_INFINITY;
    let count = 0;
    for (const sentTo of this.sentTo) {
      const sent = sentTo[owner] as number;
      if (sent < minimum) {
        minimum = sent;
        count = 1;
      } else if (sent === minimum) count += 1;
    }
    // Only a higher minimum can move the cut (it never falls: sent counts only grow).
    if (minimum > (this.sentToAll[owner] as number)) this.markCollectDue(owner);
    this.sentToAll[owner] = minimum;
    this.atMinimum[owner] = count;
  }

  private markCollectDue(owner: Position): void {
    this.collectDue[owner] = true;
    this.collectDueAny = true;
  }

  /** How many histories held here a message joins in the end: those of its destinations at or above this group. */
  private historiesOf(entry: HistoryEntry): number {
    let count = 0;
    for (const group of entry.dst) if (group <= this.self) count += 1;
    return count;
  }

  /** Rule 7: drops every history prefix that is dead here and already sent to every descendant. */
  collectGarbage(): void {
    if (!this.collectDueAny) return;
    this.collectDueAny = false;
    const due = this.collectDue;
    // In the order of the histories, as when every one was looked at: the same drops in the same order.
    for (let owner = 0; owner < due.length; owner += 1) {
      if (!due[owner]) continue;
      due[owner] = false;
      const history = this.histories[owner] as History;
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
        if (vertex.slotCount === 0) {
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
