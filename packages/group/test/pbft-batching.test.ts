import { describe, expect, it } from "vitest";
import type { OrderingOptions } from "../src/index.js";
import { DEFAULT_ORDERING, PbftOrderer, SimulatedSignatures } from "../src/index.js";
import { request } from "./requests.js";

/**
 * B1b: a primary holds a batch that is not full for the current tick only under load (its last
 * batch at least a quarter full); under light load what arrives is proposed at once. Four
 * orderers, messages delivered within the same tick (no delay), every request to every replica.
 */
const REPLICAS = ["r0", "r1", "r2", "r3"];
const OPTIONS: OrderingOptions = { ...DEFAULT_ORDERING, batchInputsMax: 8 };
const signatures = new SimulatedSignatures(1);

class Group {
  readonly orderers = new Map<string, PbftOrderer>();
  /** Sizes of the batches the primary proposed, in order. */
  readonly proposed: number[] = [];
  readonly decided: string[] = [];
  tick = 0;
  private queue: { from: string; to: string; message: unknown }[] = [];

  constructor() {
    for (const self of REPLICAS) {
      const executed = new Set<string>();
      const orderer = new PbftOrderer(
        {
          self,
          replicas: REPLICAS,
          send: (to, message, _bytes, label) => {
            if (label === "pbft.pre-prepare" && to === "r1")
              this.proposed.push((message as { batch: unknown[] }).batch.length);
            this.queue.push({ from: self, to, message });
          },
          decide: (batch) => {
            for (const input of batch) {
              executed.add(input.key);
              if (self === "r0") this.decided.push(input.key);
            }
          },
          useful: (input) => !executed.has(input.key),
          now: () => this.tick,
          checkpoints: false,
          executed: () => {},
          latestCheckpoint: () => undefined,
          fetchState: () => {},
        },
        OPTIONS,
        1,
        signatures.signerFor(self),
        signatures,
        () => true,
      );
      this.orderers.set(self, orderer);
    }
  }

  /** Requests `keys` reach every replica now; what they cause is delivered within this tick. */
  submit(keys: readonly string[]): void {
    for (const key of keys) for (const orderer of this.orderers.values()) orderer.submit(request(key));
    this.deliver();
  }

  nextTick(): void {
    this.tick += 1;
    for (const orderer of this.orderers.values()) orderer.tick();
    this.deliver();
  }

  private deliver(): void {
    while (this.queue.length > 0) {
      const { from, to, message } = this.queue.shift() as (typeof this.queue)[number];
      this.orderers.get(to)?.receive(from, message);
    }
  }
}

const keys = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}`);

describe("PBFT batching (B1b)", () => {
  it("proposes at once under light load: batches of one, each decided in the tick it arrived", () => {
    const group = new Group();
    for (const key of keys("a", 5)) {
      group.submit([key]);
      expect(group.decided.at(-1)).toBe(key);
      group.nextTick();
    }
    expect(group.proposed).toEqual([1, 1, 1, 1, 1]);
  });

  it("under load holds a batch that is not full until the next tick, and a full one goes at once", () => {
    const group = new Group();
    // Idle: the first request goes at once; the two behind it wait for it to be decided (B1a)
    // and go together, a quarter full (2 of 8): load.
    group.submit(keys("a", 3));
    expect(group.proposed).toEqual([1, 2]);
    expect(group.decided).toHaveLength(3);
    // What arrives over the rest of this tick waits for it and leaves as one batch.
    group.submit(["b0"]);
    group.submit(["b1", "b2"]);
    expect(group.proposed).toEqual([1, 2]);
    group.nextTick();
    expect(group.proposed).toEqual([1, 2, 3]);
    expect(group.decided).toEqual(["a0", "a1", "a2", "b0", "b1", "b2"]);
    // A full batch does not wait.
    group.submit(keys("c", 8));
    expect(group.proposed).toEqual([1, 2, 3, 8]);
    // After the full batch a lone request waits for its tick; after that batch of one (light
    // load again) nothing waits.
    group.nextTick();
    group.submit(["d0"]);
    expect(group.proposed).toEqual([1, 2, 3, 8]);
    group.nextTick();
    expect(group.proposed).toEqual([1, 2, 3, 8, 1]);
    group.submit(["e0"]);
    expect(group.proposed).toEqual([1, 2, 3, 8, 1, 1]);
  });
});
