import { Prng } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { OrderingOptions, PbftHardState } from "../src/index.js";
import { DEFAULT_ORDERING, PbftOrderer, SimulatedSignatures } from "../src/index.js";
import { request } from "./requests.js";

/**
 * B3d: a whole Byzantine group (4 replicas) stopped at once, some replicas ahead of the others
 * (votes to a backup lost before the stop), and restarted from journals of decided positions one
 * after the other. What a journal keeps is what `Replica` keeps: the hard state written last and
 * the positions executed, executed again at the restart (no commit certificates: a replica that
 * executed a position from its journal answers a catch-up for it `behind-log`), and a replica
 * checkpoint every `CHECKPOINT_ENTRIES` positions, at which the orderer drops the decided batches
 * the previous one covers (`compact`). A checkpoint transfer (B5) takes only a checkpoint f+1
 * other replicas report alike (each keeps its latest), newer than what the fetching replica
 * executed. Without B3d these seeds stalled for good: a replica ahead alone, the others stopped
 * a few positions behind what it executed, a new view unable to decide those again with the
 * votes of the replicas behind only.
 */
const REPLICAS = ["r0", "r1", "r2", "r3"];
const CHECKPOINT_ENTRIES = 4;
const KEYS = 200;
const signatures = new SimulatedSignatures(1);

interface Journal {
  hardState: PbftHardState | undefined;
  /** Each executed position with its digest chain and how many keys were delivered up to it. */
  readonly positions: { readonly seq: number; readonly chain: string; readonly delivered: number }[];
  readonly decided: string[];
  readonly executed: Set<string>;
}

type Drop = (to: string, message: { readonly type: string }) => boolean;

class Group {
  readonly journals = new Map<string, Journal>();
  readonly orderers = new Map<string, PbftOrderer>();
  readonly down = new Set<string>();
  drop: Drop | undefined;
  /** Extra delay of every message to a replica. */
  readonly slowTo = new Map<string, number>();
  tick = 0;
  private readonly fetching = new Set<string>();
  private queue: { at: number; from: string; to: string; message: unknown }[] = [];
  private readonly random: Prng;

  constructor(
    seed: number,
    private readonly options: OrderingOptions,
  ) {
    this.random = new Prng(seed);
    for (const self of REPLICAS) {
      this.journals.set(self, { hardState: undefined, positions: [], decided: [], executed: new Set() });
      this.start(self);
    }
  }

  /** A replica (re)started from its journal, told it `restarted` as `Replica` tells it. */
  start(self: string): void {
    const journal = this.journal(self);
    const { executed } = journal;
    let replaying = true;
    const compaction: { orderer?: PbftOrderer; previous: number } = { previous: 0 };
    const orderer = new PbftOrderer(
      {
        self,
        replicas: REPLICAS,
        send: (to, message) => {
          if (this.drop?.(to, message as { type: string })) return;
          this.queue.push({
            at: this.tick + 1 + this.random.int(3) + (this.slowTo.get(to) ?? 0),
            from: self,
            to,
            message,
          });
        },
        decide: (batch) => {
          if (replaying) return;
          for (const input of batch) {
            if (executed.has(input.key)) continue;
            executed.add(input.key);
            journal.decided.push(input.key);
          }
        },
        useful: (input) => !executed.has(input.key),
        now: () => this.tick,
        checkpoints: true,
        executed: (seq, chain) => {
          if (!replaying)
            journal.positions.push({ seq, chain: chain as string, delivered: journal.decided.length });
          // `Replica.takeCheckpoint`: the orderer drops what the previous checkpoint covers.
          if (seq % CHECKPOINT_ENTRIES === 0) {
            compaction.orderer?.compact(compaction.previous);
            compaction.previous = seq;
          }
        },
        latestCheckpoint: () => {
          const position = this.checkpointOf(self);
          return position === 0 ? undefined : { position, root: `root${position}` };
        },
        fetchState: () => this.fetching.add(self),
      },
      this.options,
      1,
      signatures.signerFor(self),
      signatures,
      () => true,
      journal.hardState,
    );
    compaction.orderer = orderer;
    for (const { seq, chain } of journal.positions) orderer.install(seq, chain);
    replaying = false;
    this.orderers.set(self, orderer);
    this.down.delete(self);
    orderer.restarted();
  }

  executedOf(id: string): number {
    return this.journal(id).positions.at(-1)?.seq ?? 0;
  }

  private checkpointOf(id: string): number {
    return Math.floor(this.executedOf(id) / CHECKPOINT_ENTRIES) * CHECKPOINT_ENTRIES;
  }

  stopAll(): void {
    for (const id of REPLICAS) this.down.add(id);
    this.queue = [];
  }

  private turn(id: string, step: (orderer: PbftOrderer) => void): void {
    const orderer = this.orderers.get(id) as PbftOrderer;
    step(orderer);
    this.journal(id).hardState = orderer.hardState(true);
  }

  run(ticks: number, submit?: () => string | undefined): void {
    for (let end = this.tick + ticks; this.tick < end; ) {
      this.tick += 1;
      const key = submit?.();
      if (key !== undefined) this.submit(key);
      const due = this.queue.filter((item) => item.at <= this.tick);
      this.queue = this.queue.filter((item) => item.at > this.tick);
      for (const { from, to, message } of due)
        if (!this.down.has(to)) this.turn(to, (orderer) => orderer.receive(from, message));
      for (const id of this.fetching) if (!this.down.has(id)) this.transfer(id);
      this.fetching.clear();
      for (const id of REPLICAS) if (!this.down.has(id)) this.turn(id, (orderer) => orderer.tick());
    }
  }

  /** B5: the newest checkpoint f+1 other live replicas report alike, if newer than what `id` executed. */
  private transfer(id: string): void {
    const reports = new Map<number, string[]>();
    for (const other of REPLICAS)
      if (other !== id && !this.down.has(other))
        reports.set(this.checkpointOf(other), [...(reports.get(this.checkpointOf(other)) ?? []), other]);
    const newest = [...reports]
      .filter(([position, by]) => by.length >= 2 && position > this.executedOf(id))
      .sort((a, b) => b[0] - a[0])[0];
    if (newest === undefined) return;
    const [position, by] = newest;
    const source = this.journal(by[0] as string);
    const upTo = source.positions.filter((entry) => entry.seq <= position);
    const last = upTo.at(-1) as Journal["positions"][number];
    const journal = this.journal(id);
    journal.decided.splice(0, journal.decided.length, ...source.decided.slice(0, last.delivered));
    journal.positions.splice(0, journal.positions.length, ...upTo);
    journal.executed.clear();
    for (const key of journal.decided) journal.executed.add(key);
    this.turn(id, (orderer) => orderer.install(last.seq, last.chain));
  }

  journal(id: string): Journal {
    return this.journals.get(id) as Journal;
  }

  /** Each input with a digest of its own, so a batch's digest names its content. */
  submit(key: string): void {
    for (const id of REPLICAS)
      if (!this.down.has(id)) this.turn(id, (orderer) => orderer.submit({ ...request(key), digest: key }));
  }
}

/**
 * Load, one replica's messages possibly late; for `dropTicks` before the stop, each vote or pre-prepare to a `victims` replica lost
 * with probability `dropTenths`/10; the whole group stopped, restarted one replica after another
 * (`restartGaps` ticks apart); clients send again, every 200 ticks, what fewer than f+1 replicas
 * executed.
 */
function stopBehindAndRestart(seed: number): Group {
  const random = new Prng(seed * 7919);
  const options = { ...DEFAULT_ORDERING, batchInputsMax: 2 + random.int(4) };
  // Before the stop, one replica's messages may come late (a slow process), by `slowTicks`.
  const slow = random.int(2) === 0 ? undefined : (REPLICAS[random.int(4)] as string);
  const slowTicks = random.int(40);
  const stopTick = 20 + random.int(200);
  const restartGaps = REPLICAS.map(() => random.int(300));
  const victims = REPLICAS.filter((id) => id !== "r0" && random.int(2) === 0);
  const dropTenths = random.int(10);
  const dropTicks = random.int(150);
  const losses = new Prng(seed);
  const group = new Group(seed, options);
  if (slow !== undefined) group.slowTo.set(slow, slowTicks);
  let next = 0;
  const load = () => (next < KEYS && group.tick % 2 === 0 ? `k${next++}` : undefined);
  group.run(stopTick, load);
  group.drop = (to, message) =>
    victims.includes(to) &&
    (message.type === "commit" || message.type === "prepare" || message.type === "pre-prepare") &&
    losses.int(10) < dropTenths;
  group.run(dropTicks, load);
  group.drop = undefined;
  group.slowTo.clear();
  group.stopAll();
  group.tick += 50;
  for (const [index, id] of REPLICAS.entries()) {
    group.start(id);
    group.run(restartGaps[index] as number);
  }
  for (let ticks = 0; ticks < 6_000 && !drained(group); ticks += 1) {
    if (ticks % 200 === 0)
      for (let index = 0; index < next; index += 1) {
        const key = `k${index}`;
        if (REPLICAS.filter((id) => group.journal(id).executed.has(key)).length < 2) group.submit(key);
      }
    group.run(1, load);
  }
  return group;
}

function drained(group: Group): boolean {
  return REPLICAS.every((id) => group.journal(id).decided.length === KEYS);
}

describe("B3d: a whole Byzantine group restarted from journals with one replica ahead of the others", () => {
  // Seeds that stalled without B3d (one replica ahead, the others stopped behind it for good).
  for (const seed of [45, 101, 231])
    it(`seed ${seed}: every replica delivers everything, in one order, at one digest chain`, () => {
      const group = stopBehindAndRestart(seed);
      const executed = REPLICAS.map((id) => group.executedOf(id));
      expect(
        REPLICAS.map((id) => group.journal(id).decided.length),
        `executed ${executed.join("/")}`,
      ).toEqual(REPLICAS.map(() => KEYS));
      const orders = REPLICAS.map((id) => group.journal(id).decided);
      for (const order of orders) expect(order).toEqual(orders[0]);
      const chains = REPLICAS.map((id) => group.journal(id).positions.at(-1)?.chain);
      expect(new Set(executed).size).toBe(1);
      expect(new Set(chains).size).toBe(1);
    });
});
