import { assert } from "@amcast/core";

/** Slots a table starts with (it doubles on demand, up to its maximum). */
const SLOTS_MIN = 8;
const EMPTY = -1;

/**
 * A map from sequence numbers (safe integers >= 0) to values, for keys that come mostly in order
 * and stay within a window of each other: a client's multicasts in flight, a replica's executed
 * requests of one client. Key k lives in slot `k mod slots` of a ring, so a lookup, an insert and
 * a delete are an index and a comparison — no hashing, and a table that never has to shrink or
 * rehash as entries come and go (a `Map` emptied and refilled per request does both).
 *
 * Two keys meeting in one slot (they are `slots` or more apart) double the ring, up to
 * `slotsMax`; beyond it the newer key waits in a small overflow map, so any keys fit, and memory
 * stays at `slotsMax` slots plus what overflows. `ToInt32` takes an integer modulo 2^32, so
 * `k & mask` is `k mod slots` for every safe integer.
 */
export class SequenceMap<V> {
  private keys: Float64Array;
  private values: (V | undefined)[];
  private mask: number;
  /** Keys that found their slot taken with the ring at its maximum. */
  private overflow: Map<number, V> | undefined;
  private count = 0;
  private readonly slotsMax: number;

  /** `slotsMax`: the most slots the ring grows to (rounded up to a power of two). */
  constructor(slotsMax: number) {
    assert(Number.isSafeInteger(slotsMax) && slotsMax >= 1, "a sequence map holds something");
    this.slotsMax = Math.max(SLOTS_MIN, powerOfTwoAtLeast(slotsMax));
    this.keys = new Float64Array(SLOTS_MIN).fill(EMPTY);
    this.values = new Array<V | undefined>(SLOTS_MIN).fill(undefined);
    this.mask = SLOTS_MIN - 1;
  }

  get size(): number {
    return this.count;
  }

  get(key: number): V | undefined {
    const slot = key & this.mask;
    if (this.keys[slot] === key) return this.values[slot];
    return this.overflow?.get(key);
  }

  has(key: number): boolean {
    return this.keys[key & this.mask] === key || this.overflow?.has(key) === true;
  }

  set(key: number, value: V): void {
    let slot = key & this.mask;
    if (this.keys[slot] === key) {
      this.values[slot] = value;
      return;
    }
    const overflow = this.overflow;
    if (overflow?.has(key)) {
      overflow.set(key, value);
      return;
    }
    if (!(Number.isSafeInteger(key) && key >= 0))
      assert(false, `sequence number ${key} is not a safe integer >= 0`);
    while (this.keys[slot] !== EMPTY && this.keys.length < this.slotsMax) {
      this.grow();
      slot = key & this.mask;
    }
    this.count += 1;
    if (this.keys[slot] === EMPTY) {
      this.keys[slot] = key;
      this.values[slot] = value;
    } else {
      this.overflow ??= new Map();
      this.overflow.set(key, value);
    }
  }

  /** Removes `key`; true if it was there. */
  delete(key: number): boolean {
    const slot = key & this.mask;
    if (this.keys[slot] === key) {
      this.keys[slot] = EMPTY;
      this.values[slot] = undefined;
      this.count -= 1;
      return true;
    }
    if (this.overflow === undefined || !this.overflow.delete(key)) return false;
    this.count -= 1;
    if (this.overflow.size === 0) this.overflow = undefined;
    return true;
  }

  /**
   * Removes every key below `floor`, given that none is below `from`: one by one when that range is
   * shorter than the ring, else in one pass over it.
   */
  deleteBelow(floor: number, from = 0): void {
    if (this.count === 0) return;
    const keys = this.keys;
    if (floor - from < keys.length) {
      for (let key = from; key < floor; key += 1) this.delete(key);
      return;
    }
    for (let slot = 0; slot < keys.length; slot += 1) {
      const key = keys[slot] as number;
      if (key !== EMPTY && key < floor) {
        keys[slot] = EMPTY;
        this.values[slot] = undefined;
        this.count -= 1;
      }
    }
    if (this.overflow === undefined) return;
    for (const key of [...this.overflow.keys()]) {
      if (key < floor) {
        this.overflow.delete(key);
        this.count -= 1;
      }
    }
    if (this.overflow.size === 0) this.overflow = undefined;
  }

  /** Whether `predicate` holds for some value (in no particular order; nothing allocated). */
  some(predicate: (value: V) => boolean): boolean {
    if (this.count === 0) return false;
    const keys = this.keys;
    for (let slot = 0; slot < keys.length; slot += 1)
      if (keys[slot] !== EMPTY && predicate(this.values[slot] as V)) return true;
    if (this.overflow !== undefined)
      for (const value of this.overflow.values()) if (predicate(value)) return true;
    return false;
  }

  /** Every entry, keys ascending. */
  entries(): [number, V][] {
    const entries: [number, V][] = [];
    if (this.count === 0) return entries;
    const keys = this.keys;
    for (let slot = 0; slot < keys.length; slot += 1) {
      const key = keys[slot] as number;
      if (key !== EMPTY) entries.push([key, this.values[slot] as V]);
    }
    if (this.overflow !== undefined) for (const entry of this.overflow) entries.push(entry);
    return entries.sort((a, b) => a[0] - b[0]);
  }

  /** Doubles the ring and moves its keys (and any overflow that now finds a free slot) over. */
  private grow(): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    const slots = oldKeys.length * 2;
    this.keys = new Float64Array(slots).fill(EMPTY);
    this.values = new Array<V | undefined>(slots).fill(undefined);
    this.mask = slots - 1;
    for (let slot = 0; slot < oldKeys.length; slot += 1) {
      const key = oldKeys[slot] as number;
      if (key === EMPTY) continue;
      const to = key & this.mask;
      this.keys[to] = key;
      this.values[to] = oldValues[slot];
    }
    const overflow = this.overflow;
    if (overflow === undefined) return;
    for (const [key, value] of [...overflow]) {
      const to = key & this.mask;
      if (this.keys[to] !== EMPTY) continue;
      this.keys[to] = key;
      this.values[to] = value;
      overflow.delete(key);
    }
    if (overflow.size === 0) this.overflow = undefined;
  }
}

function powerOfTwoAtLeast(value: number): number {
  let power = 1;
  while (power < value) power *= 2;
  return power;
}
