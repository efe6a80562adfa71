import { Prng } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { OrderingOptions, PbftHardState } from "../src/index.js";
import { amnesiaHardState, DEFAULT_ORDERING, PbftOrderer, SimulatedSignatures } from "../src/index.js";
import { request } from "./requests.js";

/**
 * B7: a whole Byzantine group (4 replicas) stopped at once and restarted from what a journal of
 * decided positions keeps: the hard state written last (`hardState(true)`, written in the turn
 * before its outputs leave, so after every call here) and the positions executed, which the
 * restart executes again (`install`, as `Replica.executeDecided` does). Messages in flight are
 * lost with the processes. The network is driven tick by tick with random delays; clients send
 * every request to every replica, and send again after the restart what is not decided yet.
 */
const REPLICAS = ["r0", "r1", "r2", "r3"];
/** Small batches: more sequence numbers, past the watermark window (128) before the stop. */
const OPTIONS: OrderingOptions = { ...DEFAULT_ORDERING, batchInputsMax: 2 };
const signatures = new SimulatedSignatures(1);

interface Journal {
  hardState: PbftHardState | undefined;
  readonly positions: { readonly seq: number; readonly chain: string }[];
  /** What was delivered, in order (the state machine: survives the stop, as its checkpoint would). */
  readonly decided: string[];
  readonly executed: Set<string>;
}

class Group {
  readonly journals = new Map<string, Journal>();
  readonly orderers = new Map<string, PbftOrderer>();
  readonly down = new Set<string>();
  /** Replicas whose sends are lost (a primary cut off). */
  readonly mute = new Set<string>();
  tick = 0;
  /** Replicas that asked for a checkpoint (B5). */
  private readonly fetching = new Set<string>();
  private queue: { at: number; from: string; to: string; message: unknown }[] = [];
  private readonly random: Prng;

  constructor(seed: number) {
    this.random = new Prng(seed);
    for (const self of REPLICAS) {
      this.journals.set(self, { hardState: undefined, positions: [], decided: [], executed: new Set() });
      this.start(self);
    }
  }

  /** A replica (re)started from its journal: its last hard state, then its positions again. */
  start(self: string, forget = false): void {
    const journal = this.journal(self);
    const { executed } = journal;
    let replaying = true;
    const hardState =
      journal.hardState === undefined || !forget
        ? journal.hardState
        : (amnesiaHardState(journal.hardState) as PbftHardState);
    const orderer = new PbftOrderer(
      {
        self,
        replicas: REPLICAS,
        send: (to, message) => {
          if (this.mute.has(self)) return;
          this.queue.push({ at: this.tick + 1 + this.random.int(3), from: self, to, message });
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
          if (!replaying) journal.positions.push({ seq, chain: chain as string });
        },
        latestCheckpoint: () => undefined,
        // B5: a replica behind what the others retain (a restart keeps no decided batches to
        // serve) fetches a checkpoint; here, at its next tick, the state of the one furthest on.
        fetchState: () => this.fetching.add(self),
      },
      OPTIONS,
      1,
      signatures.signerFor(self),
      signatures,
      () => true,
      hardState,
    );
    for (const { seq, chain } of journal.positions) orderer.install(seq, chain);
    replaying = false;
    this.orderers.set(self, orderer);
    this.down.delete(self);
  }

  /** Every replica stops at once: what is in flight is lost. */
  stopAll(): void {
    for (const id of REPLICAS) this.down.add(id);
    this.queue = [];
  }

  /** One turn of `id`, then its hard state is journalled (before what it sent can arrive). */
  private turn(id: string, step: (orderer: PbftOrderer) => void): void {
    const orderer = this.orderers.get(id) as PbftOrderer;
    step(orderer);
    (this.journals.get(id) as Journal).hardState = orderer.hardState(true);
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

  /** A checkpoint transfer: `id` takes the state of the live replica that executed the most. */
  private transfer(id: string): void {
    const from = REPLICAS.filter((other) => !this.down.has(other)).sort(
      (a, b) => this.journal(b).positions.length - this.journal(a).positions.length,
    )[0] as string;
    const source = this.journal(from);
    const last = source.positions.at(-1);
    const journal = this.journal(id);
    if (last === undefined || last.seq <= (journal.positions.at(-1)?.seq ?? 0)) return;
    journal.decided.splice(0, journal.decided.length, ...source.decided);
    journal.positions.splice(0, journal.positions.length, ...source.positions);
    journal.executed.clear();
    for (const key of source.decided) journal.executed.add(key);
    this.turn(id, (orderer) => orderer.install(last.seq, last.chain));
  }

  private journal(id: string): Journal {
    return this.journals.get(id) as Journal;
  }

  submit(key: string): void {
    for (const id of REPLICAS)
      if (!this.down.has(id)) this.turn(id, (orderer) => orderer.submit(request(key)));
  }

  decided(id: string): readonly string[] {
    return (this.journals.get(id) as Journal).decided;
  }

  /** Every replica delivered every key, in one order. */
  drained(keys: number): boolean {
    return REPLICAS.every((id) => this.decided(id).length === keys);
  }
}

/**
 * Load until the stop, the whole group stopped (`stopWhen`), restarted after a pause; the clients
 * send what is undecided again, then the rest of the load. Returns the group when it drained, or
 * how far each replica got.
 */
function stopAndRestart(
  seed: number,
  stopWhen: (group: Group) => boolean,
  cutPrimary = false,
  primaryLateTicks = 0,
): Group {
  const keys = 400;
  const group = new Group(seed);
  let next = 0;
  const load = () => (next < keys && group.tick % 2 === 0 ? `k${next++}` : undefined);
  if (cutPrimary) {
    group.run(300, load);
    // The primary of view 0 falls silent: the backups go to view 1.
    group.mute.add("r0");
  }
  for (let ticks = 0; !stopWhen(group) && ticks < 5_000; ticks += 1) group.run(1, load);
  group.stopAll();
  group.mute.clear();
  group.tick += 50;
  for (const id of REPLICAS) group.start(id);
  // The primary silent for a while after the restart: the backups change view with what they
  // prepared before the stop (not what they only accepted) and go on without it.
  if (primaryLateTicks > 0) {
    group.mute.add("r0");
    group.run(primaryLateTicks);
    group.mute.clear();
  }
  // The clients send again what they sent and saw no answer for.
  const done = new Set(group.decided("r0"));
  for (let index = 0; index < next; index += 1) if (!done.has(`k${index}`)) group.submit(`k${index}`);
  for (let ticks = 0; !group.drained(keys) && ticks < 20_000; ticks += 1) group.run(1, load);
  return group;
}

function expectDrainedInOneOrder(group: Group): void {
  const orders = REPLICAS.map((id) => group.decided(id));
  expect(
    orders.map((order) => order.length),
    `executed ${REPLICAS.map((id) => group.orderers.get(id)?.executedSeq).join("/")}`,
  ).toEqual([400, 400, 400, 400]);
  for (const order of orders) expect(order).toEqual(orders[0]);
}

describe("B7: a whole Byzantine group stopped at once and restarted from journals of decided positions", () => {
  it("keeps what it signed past its last executed position and its stable checkpoint only with `withLog`; amnesia drops them", () => {
    const group = new Group(1);
    let next = 0;
    const orderer = group.orderers.get("r1") as PbftOrderer;
    // Until r1 holds pre-prepares it accepted and has not executed.
    for (let ticks = 0; ticks < 200 && (orderer.hardState(true).log?.accepted.length ?? 0) === 0; ticks += 1)
      group.run(1, () => (next < 20 ? `k${next++}` : undefined));
    expect(orderer.hardState()).not.toHaveProperty("log");
    const hard = orderer.hardState(true);
    expect(hard.log?.signedFloor).toBe(0);
    expect(amnesiaHardState(hard)).toEqual(orderer.hardState());
    // Unchanged records stay the same objects (a journal then writes only what changed).
    const again = orderer.hardState(true);
    expect(again.log?.accepted.length).toBeGreaterThan(0);
    for (const [index, record] of (again.log?.accepted ?? []).entries())
      expect(record).toBe(hard.log?.accepted[index]);
    // A backup keeps the digests it prepared, no batch; the primary its own pre-prepares, each
    // until a prepared certificate of the hard state holds it (written once).
    for (const record of again.log?.accepted ?? []) expect(record.prePrepare).toBeUndefined();
    const primary = (group.orderers.get("r0") as PbftOrderer).hardState(true);
    for (const record of primary.log?.accepted ?? [])
      expect(
        record.prePrepare !== undefined ||
          primary.prepared.some((proof) => proof.prePrepare.seq === record.seq),
      ).toBe(true);
  });

  for (const seed of [1, 2, 3, 4, 5, 6])
    it(`mid-load, past the watermark window (seed ${seed}): every replica delivers everything, in one order`, () => {
      // Stopped with sequence numbers accepted and not executed, at a different point per seed.
      const stopAt = 130 + seed * 7;
      const group = stopAndRestart(seed, (g) => (g.orderers.get("r1")?.executedSeq ?? 0) >= stopAt);
      expectDrainedInOneOrder(group);
    });

  for (const seed of [1, 2, 3])
    it(`mid-load, then a view change after the restart (seed ${seed}): it drains`, () => {
      const stopAt = 20 + seed * 7;
      const group = stopAndRestart(
        seed,
        (g) => (g.orderers.get("r1")?.executedSeq ?? 0) >= stopAt,
        false,
        1_500,
      );
      expect(REPLICAS.some((id) => (group.orderers.get(id)?.currentView ?? 0) >= 1)).toBe(true);
      expectDrainedInOneOrder(group);
    });

  for (const seed of [1, 2, 3])
    it(`in the middle of a view change (seed ${seed}): it resumes the view change and drains`, () => {
      const group = stopAndRestart(
        seed,
        (g) => REPLICAS.some((id) => id !== "r0" && (g.orderers.get(id)?.currentView ?? 0) >= 1),
        true,
      );
      expectDrainedInOneOrder(group);
    });
});
