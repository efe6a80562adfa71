import type { ProcessId, Ratio } from "@amcast/core";
import { BinaryHeap, Prng } from "@amcast/core";
import { QueueOverflowError } from "./limits.js";

/**
 * Latency emulation: kernel netem is not available on the machines this runs on, so WAN delays
 * are injected in the transport. The sender holds each message until its one-way delay has
 * passed, then hands it to the link. The delay is drawn exactly as the simulator draws it: the
 * topology's one-way delay plus seeded normal jitter (plus optional reordering delay), from a
 * stream per (sender, receiver) pair; messages of one pair never overtake each other.
 */
export interface LatencyEmulation {
  readonly seed: number;
  /** One-way delay in ms from process `from` to process `to` (the topology's matrix). */
  readonly delayMs: (from: ProcessId, to: ProcessId) => number;
  /** Standard deviation of normal jitter, as a fraction of the delay. */
  readonly jitterSdFraction: number;
  /** With probability `chance`, up to `extraDelayMsMax` more (FIFO per pair still holds). */
  readonly reorder: { readonly chance: Ratio; readonly extraDelayMsMax: number } | null;
}

/** Items due within this much are released now: half the timers' resolution. */
const TOLERANCE_MS = 0.5;
/**
 * Timers fire late (a busy event loop, a descheduled process): the line learns by how much, on
 * average, and aims that much earlier, so that releases are on time on average. The correction
 * follows the mean error of released items (gain per item) and stays within [0, BIAS_MAX_MS].
 */
const BIAS_GAIN = 0.02;
const BIAS_MAX_MS = 1.5;

interface Held<T> {
  readonly dueMs: number;
  readonly seq: number;
  readonly item: T;
}

interface PairState {
  readonly prng: Prng;
  readonly baseMs: number;
  lastDueMs: number;
}

/**
 * A delay line for items of many (sender, receiver) pairs, released by one timer. `release` is
 * called with every item whose time has come, in due order (ties in scheduling order).
 */
export class DelayLine<T> {
  private readonly heap = new BinaryHeap<Held<T>>(
    (a, b) => a.dueMs < b.dueMs || (a.dueMs === b.dueMs && a.seq < b.seq),
  );
  private readonly pairs = new Map<string, PairState>();
  private readonly root: Prng;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDueMs = Number.POSITIVE_INFINITY;
  private closed = false;
  /** How much earlier than due the line aims (learned lateness of its timers), in ms. */
  private biasMs = 0;

  constructor(
    private readonly emulation: LatencyEmulation,
    private readonly now: () => number,
    private readonly release: (item: T) => void,
    /** Items held at once (across pairs); more is an overload error, as for send queues. */
    private readonly heldMax: number,
  ) {
    this.root = new Prng(emulation.seed);
  }

  get size(): number {
    return this.heap.size;
  }

  /** The learned correction for late timers, in ms (see BIAS_GAIN). */
  get correctionMs(): number {
    return this.biasMs;
  }

  /** Holds `item`, sent now from `from` to `to`, for the pair's delay. */
  hold(from: ProcessId, to: ProcessId, item: T): void {
    if (this.heap.size >= this.heldMax)
      throw new QueueOverflowError(`latency emulation holds more than ${this.heldMax} messages: overloaded`);
    const key = `${from}\u0000${to}`;
    let pair = this.pairs.get(key);
    if (pair === undefined) {
      pair = {
        prng: this.root.derive(`link/${from}->${to}`),
        baseMs: this.emulation.delayMs(from, to),
        lastDueMs: 0,
      };
      this.pairs.set(key, pair);
    }
    const { jitterSdFraction, reorder } = this.emulation;
    let delayMs =
      jitterSdFraction === 0
        ? pair.baseMs
        : Math.max(0, pair.baseMs * (1 + jitterSdFraction * pair.prng.normal()));
    if (reorder !== null && pair.prng.chance(reorder.chance))
      delayMs += pair.prng.float() * reorder.extraDelayMsMax;
    const nowMs = this.now();
    const dueMs = Math.max(nowMs + delayMs, pair.lastDueMs);
    pair.lastDueMs = dueMs;
    if (dueMs - this.biasMs <= nowMs + TOLERANCE_MS) {
      // Due already (a zero delay) and nothing of the pair waits before it (lastDueMs <= due):
      // straight through, rather than through a timer that cannot fire before a millisecond.
      this.release(item);
      return;
    }
    this.heap.push({ dueMs, seq: this.seq, item });
    this.seq += 1;
    this.arm();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const head = this.heap.peek();
    if (head === undefined || this.closed || head.dueMs >= this.timerDueMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerDueMs = head.dueMs;
    // Node's timers fire 0.1-0.3 ms after the whole milliseconds they are given (more on a busy
    // machine), never before, and a 0 ms timer waits a full millisecond: aim early by the learned
    // lateness and let `fire` release within the tolerance.
    const remainingMs = head.dueMs - this.biasMs - this.now();
    this.timer = setTimeout(() => this.fire(), remainingMs < 1.5 ? 1 : Math.round(remainingMs - 0.2));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDueMs = Number.POSITIVE_INFINITY;
    const nowMs = this.now();
    const limitMs = nowMs + TOLERANCE_MS + this.biasMs;
    for (;;) {
      const head = this.heap.peek();
      if (head === undefined || head.dueMs > limitMs || this.closed) break;
      this.heap.pop();
      // Late (positive) or early (negative) by this much: the correction follows the mean.
      this.biasMs = Math.min(BIAS_MAX_MS, Math.max(0, this.biasMs + BIAS_GAIN * (nowMs - head.dueMs)));
      this.release(head.item);
    }
    this.arm();
  }
}
