import { assert } from "./assert.js";

/**
 * A probability as an integer ratio. Decisions never compare floats, so a probability means the
 * same thing on every machine and `numerator / denominator` rounding cannot drift a run.
 */
export interface Ratio {
  readonly numerator: number;
  readonly denominator: number;
}

export function ratio(numerator: number, denominator: number): Ratio {
  assert(
    Number.isInteger(numerator) && numerator >= 0,
    `ratio numerator ${numerator} is not a whole number >= 0`,
  );
  assert(Number.isInteger(denominator) && denominator > 0, `ratio denominator ${denominator} is not > 0`);
  assert(numerator <= denominator, `ratio ${numerator}/${denominator} is above 1`);
  return { numerator, denominator };
}

export function percent(value: number): Ratio {
  return ratio(value, 100);
}

const UINT32 = 0x1_0000_0000;

/** 32-bit avalanche mix (the finaliser of murmur3): spreads every input bit over the output. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2_ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `text`, continued from `hash`. */
function hashText(hash: number, text: string): number {
  let h = hash >>> 0;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x0100_0193);
  }
  return h >>> 0;
}

/**
 * Seeded pseudo-random generator: xoshiro128** (Blackman and Vigna), 32-bit arithmetic only.
 *
 * Sub-streams: `derive(label)` returns an independent generator that depends only on the root
 * seed and the path of labels, never on how many numbers were drawn before. One process, link or
 * client drawing one extra number therefore never reshuffles the rest of a run.
 */
export class Prng {
  readonly seed: number;
  readonly path: string;
  /**
   * The four state words, as int32 (the same bits as unsigned: every operation on them is
   * bitwise). A typed array, because words above 2^30 in plain fields would be boxed as heap
   * numbers, and every draw would allocate.
   */
  private readonly state = new Int32Array(4);
  /** Box-Muller yields normals in pairs; the second waits here for the next call. */
  private spareNormal = Number.NaN;

  constructor(seed: number, path = "") {
    assert(Number.isSafeInteger(seed) && seed >= 0, `seed ${seed} is not a whole number >= 0`);
    this.seed = seed;
    this.path = path;
    const low = seed % UINT32;
    const high = Math.floor(seed / UINT32);
    const base = hashText(mix32(low ^ 0x9e37_79b9) ^ mix32(high + 0x7f4a_7c15), path);
    // Four words from one hash with distinct offsets; xoshiro must not start all-zero.
    const state = this.state;
    state[0] = mix32(base + 0x243f_6a88);
    state[1] = mix32(base + 0x85a3_08d3);
    state[2] = mix32(base + 0x1319_8a2e);
    state[3] = mix32(base + 0x0370_7344);
    if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1;
  }

  /** An independent stream for `label` (e.g. "link/a->b", "client/c3"). */
  derive(label: string): Prng {
    assert(label.length > 0, "a derived stream needs a label");
    return new Prng(this.seed, this.path === "" ? label : `${this.path}/${label}`);
  }

  /** Next 32 random bits as an unsigned integer. */
  uint32(): number {
    const state = this.state;
    let s0 = state[0] as number;
    let s1 = state[1] as number;
    let s2 = state[2] as number;
    let s3 = state[3] as number;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    state[0] = s0;
    state[1] = s1;
    state[2] = s2;
    state[3] = rotl(s3, 11);
    return result;
  }

  /** Uniform integer in [0, bound), without modulo bias. `bound` is at most 2^32. */
  int(bound: number): number {
    assert(Number.isInteger(bound) && bound > 0 && bound <= UINT32, `int bound ${bound} is out of range`);
    // Reject the top partial block so every residue is equally likely.
    const limit = UINT32 - (UINT32 % bound);
    for (;;) {
      const value = this.uint32();
      if (value < limit) return value % bound;
    }
  }

  /** Uniform integer in [min, max], both included. */
  intBetween(min: number, max: number): number {
    assert(Number.isInteger(min) && Number.isInteger(max) && min <= max, `bad range [${min}, ${max}]`);
    return min + this.int(max - min + 1);
  }

  /** True with probability `chance` (an integer ratio: no float comparison). */
  chance(chance: Ratio): boolean {
    if (chance.numerator === 0) return false;
    if (chance.numerator === chance.denominator) return true;
    return this.int(chance.denominator) < chance.numerator;
  }

  /**
   * Uniform float in [0, 1) with 53 random bits. Only for modelled quantities (delays, jitter),
   * never for decisions.
   */
  float(): number {
    const high = this.uint32() >>> 5; // 27 bits
    const low = this.uint32() >>> 6; // 26 bits
    return (high * 67_108_864 + low) / 9_007_199_254_740_992;
  }

  /** Standard normal sample (Box-Muller; each pair of uniforms yields two samples). */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const spare = this.spareNormal;
      this.spareNormal = Number.NaN;
      return spare;
    }
    // Two `float()` draws, written out: a double returned from a call that is not inlined is
    // boxed, and this runs for every jittered message. u1 is in (0, 1]: its log stays finite.
    const u1 = 1 - ((this.uint32() >>> 5) * 67_108_864 + (this.uint32() >>> 6)) / 9_007_199_254_740_992;
    const u2 = ((this.uint32() >>> 5) * 67_108_864 + (this.uint32() >>> 6)) / 9_007_199_254_740_992;
    const radius = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  }

  /** Exponential sample with the given mean (Poisson inter-arrival times). */
  exponential(mean: number): number {
    assert(mean > 0, `exponential mean ${mean} is not > 0`);
    return -Math.log(1 - this.float()) * mean;
  }

  /** One element of a non-empty array, uniformly. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "pick from an empty array");
    return items[this.int(items.length)] as T;
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i -= 1) {
      const j = this.int(i + 1);
      const swap = items[i] as T;
      items[i] = items[j] as T;
      items[j] = swap;
    }
    return items;
  }

  /** `count` distinct elements of `items`, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    assert(count >= 0 && count <= items.length, `cannot sample ${count} of ${items.length}`);
    const copy = [...items];
    // Partial Fisher-Yates: only the first `count` slots are drawn.
    for (let i = 0; i < count; i += 1) {
      const j = i + this.int(copy.length - i);
      const swap = copy[i] as T;
      copy[i] = copy[j] as T;
      copy[j] = swap;
    }
    return copy.slice(0, count);
  }
}

function rotl(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}
