import { checkRun } from "@amcast/check";
import type { DestinationSet, Prng, ProcessLogic, ProcessOutput, TraceEvent } from "@amcast/core";
import { percent } from "@amcast/core";
import type { CrashFault, PartitionFault, SimClient, SimProcess } from "@amcast/sim";
import { simulate } from "@amcast/sim";
import { skeen } from "@amcast/skeen";
import { describe, expect, it } from "vitest";
import type { ByzantineStrategy, ReplicationMode, Signer } from "../src/index.js";
import {
  BYZANTINE_STRATEGIES,
  ByzantineReplica,
  createClient,
  createReplica,
  Membership,
  mostNamedLeader,
  type PbftOrderer,
  type Replica,
  replicaCount,
  SimulatedSignatures,
} from "../src/index.js";
import { copyDigests } from "../src/inputs.js";
import { PAIR_TOPOLOGY } from "./pair-topology.js";

const topology = PAIR_TOPOLOGY;

interface RunOptions {
  readonly mode: ReplicationMode;
  readonly f?: number;
  readonly crashes?: readonly CrashFault[];
  readonly partitions?: readonly PartitionFault[];
  readonly byzantine?: ReadonlyMap<string, ByzantineStrategy>;
  readonly multicastsPerClient?: number;
  /** Multicasts each client keeps in flight (default 2). */
  readonly outstanding?: number;
  readonly seed?: number;
  /** Every message held back by up to this much more (links stay FIFO); none when absent. */
  readonly extraDelayMsMax?: number;
  /** Replicas (counted as Byzantine) whose prepares and commits carry a signature of other data. */
  readonly badVoteSigners?: readonly string[];
  /** Replicas (counted as Byzantine) that also send, signed, a copy of each item far ahead of it. */
  readonly farAheadCopiers?: readonly string[];
  /** Sees every message a correct replica sends. */
  readonly observe?: (from: string, send: Extract<ProcessOutput, { kind: "send" }>) => void;
  /** The replicas of this group lose the stream copies they send as leader between these ticks of theirs. */
  readonly leaderLosesCopies?: {
    readonly group: string;
    readonly fromTick: number;
    readonly untilTick: number;
  };
}

/**
 * A replica run as it is, its outputs passed through `rewrite` on their way out: what the tests
 * below change (a Byzantine replica) or watch (a correct one).
 */
abstract class RewritesOutputs implements ProcessLogic {
  readonly id: string;
  readonly wantsTicks: boolean;

  constructor(protected readonly inner: Replica<unknown>) {
    this.id = inner.id;
    this.wantsTicks = inner.wantsTicks;
  }

  receive(from: string, body: unknown): readonly ProcessOutput[] {
    return this.rewrite(this.inner.receive(from, body));
  }

  tick(): readonly ProcessOutput[] {
    return this.rewrite(this.inner.tick());
  }

  idle(): boolean {
    return this.inner.idle();
  }

  protected abstract rewrite(outputs: readonly ProcessOutput[]): readonly ProcessOutput[];
}

/**
 * A Byzantine replica that runs correctly and, with each stream copy it sends, sends a copy of the
 * same item numbered `FAR_AHEAD` items later, rightly signed: a copy no other replica matches,
 * for an item its group will not reach in the run.
 */
const FAR_AHEAD = 500;
class FarAheadCopier extends RewritesOutputs {
  farCopiesSent = 0;

  constructor(
    inner: Replica<unknown>,
    private readonly signer: Signer,
  ) {
    super(inner);
  }

  override idle(): boolean {
    return true;
  }

  protected rewrite(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    const result: ProcessOutput[] = [];
    for (const output of outputs) {
      result.push(output);
      const wire =
        output.kind === "send" ? (output.body as { t: string; k: number; body: unknown }) : undefined;
      if (output.kind !== "send" || wire?.t !== "copy") continue;
      const k = wire.k + FAR_AHEAD;
      const signed = copyDigests(this.signer.digest, this.id, this.inner.group, k, wire.body).signed;
      result.push({ ...output, body: { ...wire, k, signature: this.signer.sign(signed) } });
      this.farCopiesSent += 1;
    }
    return result;
  }
}

/** A correct replica whose sends are shown to `observe` on their way out. */
class Observed extends RewritesOutputs {
  constructor(
    inner: Replica<unknown>,
    private readonly observe: NonNullable<RunOptions["observe"]>,
  ) {
    super(inner);
  }

  protected rewrite(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    for (const output of outputs) if (output.kind === "send") this.observe(this.id, output);
    return outputs;
  }
}

/**
 * A correct replica whose stream copies, sent while it leads its group within a window of its
 * ticks, are lost: what a leader's crash does on real processes to what it made last and had not
 * yet written to its sockets.
 */
class LeaderLosesCopies extends RewritesOutputs {
  private ticks = 0;
  lostCopies = 0;

  constructor(
    inner: Replica<unknown>,
    private readonly window: NonNullable<RunOptions["leaderLosesCopies"]>,
  ) {
    super(inner);
  }

  override tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    return super.tick();
  }

  protected rewrite(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    if (
      this.ticks < this.window.fromTick ||
      this.ticks >= this.window.untilTick ||
      this.inner.orderer.leader() !== this.id
    )
      return outputs;
    return outputs.filter((output) => {
      const lost = output.kind === "send" && (output.body as { t: string }).t === "copy";
      if (lost) this.lostCopies += 1;
      return !lost;
    });
  }
}

/**
 * A replica that runs correctly but signs its prepares and commits wrongly (each carries its
 * signature of its first vote): they come over its own link, so only their signatures are wrong.
 */
class BadVoteSigner extends RewritesOutputs {
  private firstSignature: string | undefined;
  /** The one vote it signed rightly: its first. */
  first: { type: string; view: number; seq: number } | undefined;

  override idle(): boolean {
    return true;
  }

  protected rewrite(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    return outputs.map((output) => this.corrupt(output));
  }

  private corrupt(output: ProcessOutput): ProcessOutput {
    if (output.kind !== "send") return output;
    const wire = output.body as {
      t: string;
      body?: { type?: string; signature?: string; view: number; seq: number };
    };
    const vote = wire.body;
    if (wire.t !== "consensus" || (vote?.type !== "prepare" && vote?.type !== "commit")) return output;
    if (this.firstSignature === undefined) {
      this.firstSignature = vote.signature;
      this.first = { type: vote.type, view: vote.view, seq: vote.seq };
    }
    if (vote.signature === this.firstSignature) return output;
    return { ...output, body: { ...wire, body: { ...vote, signature: this.firstSignature } } };
  }
}

/** Runs Skeen on the replicated groups and returns the trace and the correct replicas. */
function run(options: RunOptions) {
  const f = options.f ?? (options.mode === "solo" ? 0 : 1);
  const membership = Membership.uniform(topology.groupIds, replicaCount(options.mode, f));
  const signatures = options.mode === "byzantine" ? new SimulatedSignatures(7) : undefined;
  const correct: Replica<unknown>[] = [];
  const badVoteSigners = new Map<string, BadVoteSigner>();
  const farAheadCopiers = new Map<string, FarAheadCopier>();
  const copyLosers: LeaderLosesCopies[] = [];
  const processes: SimProcess[] = membership.processes().map(({ id, group }) => {
    const signer = signatures?.signerFor(id);
    const replica = createReplica({
      protocol: skeen,
      group,
      id,
      membership,
      overlay: null,
      mode: options.mode,
      f,
      ...(signer === undefined || signatures === undefined ? {} : { signer, verifier: signatures }),
    }) as Replica<unknown>;
    const strategy = options.byzantine?.get(id);
    const badVotes = options.badVoteSigners?.includes(id) === true;
    const farAhead = options.farAheadCopiers?.includes(id) === true && signer !== undefined;
    if (strategy === undefined && !badVotes && !farAhead) correct.push(replica);
    if (badVotes) badVoteSigners.set(id, new BadVoteSigner(replica));
    if (farAhead) farAheadCopiers.set(id, new FarAheadCopier(replica, signer));
    const losesCopies = options.leaderLosesCopies?.group === group ? options.leaderLosesCopies : undefined;
    if (losesCopies !== undefined) copyLosers.push(new LeaderLosesCopies(replica, losesCopies));
    const logic = farAhead
      ? (farAheadCopiers.get(id) as FarAheadCopier)
      : losesCopies !== undefined
        ? (copyLosers.at(-1) as LeaderLosesCopies)
        : badVotes
          ? (badVoteSigners.get(id) as BadVoteSigner)
          : strategy === undefined || signer === undefined
            ? options.observe === undefined
              ? replica
              : new Observed(replica, options.observe)
            : new ByzantineReplica(replica, strategy, signer, membership);
    return { logic, region: topology.groupRegion(group), group };
  });
  const dsts: DestinationSet[] = [["a"], ["b"], ["a", "b"]];
  const clients: SimClient[] = ["c0", "c1", "c2", "c3"].map((id, index) => ({
    logic: createClient({
      id,
      protocol: skeen,
      membership,
      overlay: null,
      mode: options.mode,
      f,
      outstandingMax: options.outstanding ?? 2,
      ...(signatures === undefined ? {} : { signer: signatures.signerFor(id) }),
    }),
    region: index < 2 ? "A" : "B",
    loop: {
      kind: "closed",
      multicasts: options.multicastsPerClient ?? 40,
      outstanding: options.outstanding ?? 2,
      thinkMs: 5,
    },
    payloadBytes: 16,
    startMs: index,
    destinations: (prng: Prng) => prng.pick(dsts),
  }));
  const events: TraceEvent[] = [];
  // The leader most correct replicas of the group follow.
  const leaderOf = (group: string) =>
    mostNamedLeader(
      correct.map((replica) => (replica.group === group ? replica.orderer.leader() : undefined)),
    );
  const result = simulate({
    seed: options.seed ?? 1,
    topology,
    processes,
    clients,
    network: {
      jitterSdFraction: 0.1,
      reorder:
        options.extraDelayMsMax === undefined
          ? null
          : { chance: percent(100), extraDelayMsMax: options.extraDelayMsMax },
    },
    processing: { perMessageUs: 20, perByteNs: 1 },
    faults: {
      crashes: options.crashes ?? [],
      partitions: options.partitions ?? [],
      byzantine: [
        ...(options.byzantine?.keys() ?? []),
        ...(options.badVoteSigners ?? []),
        ...(options.farAheadCopiers ?? []),
      ],
    },
    tickMs: 10,
    timeLimitMs: 300_000,
    recordSends: false,
    leaderOf,
    onEvent: (event) => events.push(event),
  });
  const report = checkRun(events, { liveness: true });
  const deliveredBy = (proc: string) =>
    events.flatMap((event) => (event.ev === "deliver" && event.proc === proc ? [String(event.id)] : []));
  return { result, report, correct, deliveredBy, events, badVoteSigners, farAheadCopiers, copyLosers };
}

function expectClean(outcome: ReturnType<typeof run>): void {
  expect(outcome.report.violations.map((violation) => violation.message)).toEqual([]);
  expect(outcome.result.stoppedBy).toBe("drained");
  expect(outcome.result.completed).toBe(outcome.result.multicasts);
}

describe("crash mode (2f+1 replicas, Raft-style log)", () => {
  it("orders every input once, in the same order at every replica", () => {
    const outcome = run({ mode: "crash" });
    expectClean(outcome);
    expect(outcome.result.multicasts).toBe(160);
    for (const group of ["a", "b"]) {
      const [first, ...others] = [0, 1, 2].map((index) => outcome.deliveredBy(`${group}/${index}`));
      expect(first?.length).toBeGreaterThan(40);
      for (const sequence of others) expect(sequence).toEqual(first);
    }
  });

  it("fails over when the leader crashes, losing and duplicating nothing; the old leader catches up on recovery", () => {
    const outcome = run({
      mode: "crash",
      crashes: [{ leaderOf: "a", atMs: 400, recoverAtMs: 1500 }],
      multicastsPerClient: 80,
    });
    expectClean(outcome);
    const crashed = outcome.events.find((event) => event.ev === "fault" && event.kind === "crash");
    expect(crashed).toBeDefined();
    const crashedProc = String((crashed as { proc: string }).proc);
    expect(crashedProc.startsWith("a/")).toBe(true);
    const survivor = ["a/0", "a/1", "a/2"].find((proc) => proc !== crashedProc) as string;
    // Integrity (checked above) rules out duplicates; the recovered leader has everything now.
    expect(outcome.deliveredBy(crashedProc)).toEqual(outcome.deliveredBy(survivor));
    const leaders = outcome.correct
      .filter((replica) => replica.group === "a")
      .map((replica) => replica.orderer.leader());
    expect(new Set(leaders).size).toBe(1);
  });

  it("sends each stream item from the sending group's leader alone to the receiving group's leader, and orders one copy of it", () => {
    /** Per item "<fromGroup>#<k>": the replicas that sent a copy, and to whom. */
    const senders = new Map<string, Set<string>>();
    const receivers = new Map<string, string[]>();
    /** Per item: the input keys its receiving group's leader put into log entries. */
    const proposed = new Map<string, Set<string>>();
    const outcome = run({
      mode: "crash",
      multicastsPerClient: 60,
      outstanding: 8,
      observe: (from, send) => {
        const wire = send.body as { t: string; k?: number; body?: unknown };
        const group = from.split("/")[0] as string;
        if (wire.t === "copy") {
          const item = `${group}#${wire.k}`;
          senders.set(item, (senders.get(item) ?? new Set()).add(from));
          receivers.set(item, [...(receivers.get(item) ?? []), send.to]);
        }
        const append = wire.body as {
          type?: string;
          entries?: { batch: { kind: string; key: string; fromGroup: string; k: number }[] }[];
        };
        if (wire.t !== "consensus" || append.type !== "append") return;
        for (const entry of append.entries ?? [])
          for (const input of entry.batch) {
            if (input.kind !== "copy") continue;
            const item = `${input.fromGroup}#${input.k}`;
            proposed.set(item, (proposed.get(item) ?? new Set()).add(input.key));
          }
      },
    });
    expectClean(outcome);
    expect(senders.size).toBeGreaterThan(20);
    const leaderOf = (group: string): string | undefined =>
      outcome.correct.find((replica) => replica.group === group)?.orderer.leader();
    let toLeaderAlone = 0;
    for (const [item, from] of senders) {
      // One sender (the leader: no faults), one copy to the receiving group's leader; to each of
      // the 3 receivers only before that leader said it leads (an item made before that goes to
      // it again, answering what it said).
      expect([item, from.size]).toEqual([item, 1]);
      const receiving = item.startsWith("a") ? "b" : "a";
      const to = [...new Set(receivers.get(item))].sort();
      if (to.length === 1) {
        expect([item, to]).toEqual([item, [leaderOf(receiving)]]);
        toLeaderAlone += 1;
      } else expect([item, to]).toEqual([item, [0, 1, 2].map((index) => `${receiving}/${index}`)]);
    }
    expect(toLeaderAlone).toBeGreaterThan(senders.size * 0.9);
    expect(proposed.size).toBe(senders.size);
    for (const [item, keys] of proposed) expect([item, keys.size]).toEqual([item, 1]);
  });

  it("a new leader sends again the stream items its crashed predecessor made last and never sent", () => {
    const outcome = run({
      mode: "crash",
      crashes: [{ leaderOf: "a", atMs: 800, recoverAtMs: 2000 }],
      leaderLosesCopies: { group: "a", fromTick: 50, untilTick: 81 },
      multicastsPerClient: 60,
    });
    // Without the resend, b never gets the items a's first leader made in its last 300 ms (its
    // successor had made them too, as a follower): the global multicasts among them never
    // complete (checked: 36 violations and no drain).
    expect(outcome.copyLosers.reduce((sum, loser) => sum + loser.lostCopies, 0)).toBeGreaterThan(0);
    expectClean(outcome);
  });

  it("a receiving group's new leader gets again the stream items its crashed predecessor had not ordered", () => {
    // Items go to b's leader alone: what was in flight to it or pooled there when it crashed is
    // lost with it. Its successor asks a for b's stream from the first item b has not taken.
    const sentTo = new Map<string, Set<string>>();
    let resentToSuccessor = 0;
    const outcome = run({
      mode: "crash",
      crashes: [{ leaderOf: "b", atMs: 800 }],
      multicastsPerClient: 60,
      observe: (from, send) => {
        const wire = send.body as { t: string; k?: number };
        if (wire.t !== "copy" || !from.startsWith("a/")) return;
        const earlier = sentTo.get(String(wire.k));
        if (earlier !== undefined && !earlier.has(send.to)) resentToSuccessor += 1;
        sentTo.set(String(wire.k), (earlier ?? new Set()).add(send.to));
      },
    });
    // Without the successor's ask answered, b never takes the items its first leader lost: the
    // global multicasts among them never complete (checked: 24 violations, no drain).
    expectClean(outcome);
    expect(resentToSuccessor).toBeGreaterThan(0);
  });

  it("lets a follower that was down catch up from the leader", () => {
    const outcome = run({
      mode: "crash",
      crashes: [{ proc: "b/2", atMs: 100, recoverAtMs: 2500 }],
      multicastsPerClient: 80,
    });
    expectClean(outcome);
    expect(outcome.deliveredBy("b/2")).toEqual(outcome.deliveredBy("b/0"));
  });

  it("keeps going with f=2 while two replicas of a group are down", () => {
    const outcome = run({
      mode: "crash",
      f: 2,
      crashes: [
        { leaderOf: "a", atMs: 300 },
        { proc: "a/4", atMs: 350 },
      ],
    });
    expectClean(outcome);
  });
});

describe("a whole group crashed at once and restarted with its memory (durable)", () => {
  // Every replica of b is down together: the stream items a sends meanwhile reach no replica of
  // b, and a sends each item once. Back up, b's replicas ask a for its stream from the next item
  // they take (`resend`); without that, b never takes the lost item, and every item after it
  // waits behind it: the run stops at its time limit.
  for (const mode of ["crash", "byzantine"] as const)
    it(`drains in ${mode} mode, oracles clean, over several seeds and down times`, () => {
      const replicas = replicaCount(mode, 1);
      for (const [seed, atMs, downMs] of [
        [2, 300, 200],
        [3, 500, 400],
        [6, 200, 300],
        [7, 400, 100],
      ] as const) {
        const outcome = run({
          mode,
          seed,
          multicastsPerClient: 30,
          crashes: Array.from({ length: replicas }, (_, index) => ({
            proc: `b/${index}`,
            atMs,
            recoverAtMs: atMs + downMs,
            kind: "durable" as const,
          })),
        });
        // Messages did reach b while it was down (so the run tests what it means to).
        expect(outcome.result.lostToCrashes).toBeGreaterThan(0);
        expectClean(outcome);
      }
    });
});

describe("Byzantine mode (3f+1 replicas, PBFT-style)", () => {
  it("orders every input once, in the same order at every replica, fault free", () => {
    const outcome = run({ mode: "byzantine" });
    expectClean(outcome);
    for (const group of ["a", "b"]) {
      const [first, ...others] = [0, 1, 2, 3].map((index) => outcome.deliveredBy(`${group}/${index}`));
      for (const sequence of others) expect(sequence).toEqual(first);
    }
  });

  it("sends what a decided batch sends to a group as one stream item, and orders f+1 = 2 identical copies of each, together", () => {
    /** Per receiving primary and item "<fromGroup>#<k>": the pre-prepares (by seq) its copies were proposed in. */
    const proposedIn = new Map<string, number[]>();
    let items = 0;
    let itemsCarryingSeveral = 0;
    const outcome = run({
      mode: "byzantine",
      multicastsPerClient: 60,
      outstanding: 16,
      observe: (from, send) => {
        const wire = send.body as { t: string; k?: number; body?: unknown };
        if (wire.t === "copy" && send.to.endsWith("/0")) {
          items += 1;
          const carried = wire.body as { id: string }[];
          if (carried.length > 1) {
            itemsCarryingSeveral += 1;
            // The trace says which multicast each carried message is about (genuineness counts them).
            expect([send.label, send.ids]).toEqual(["stream-batch", carried.map((message) => message.id)]);
          } else expect([send.label, send.id, send.ids]).toEqual(["propose", carried[0]?.id, undefined]);
        }
        const message = wire.body as {
          type?: string;
          seq: number;
          batch: { kind: string; fromGroup: string; k: number }[];
        };
        // The primaries of view 0 (a/0, b/0), each pre-prepare counted once (the one to x/1).
        if (wire.t !== "consensus" || message.type !== "pre-prepare" || !send.to.endsWith("/1")) return;
        for (const input of message.batch) {
          if (input.kind !== "copy") continue;
          const key = `${from}:${input.fromGroup}#${input.k}`;
          proposedIn.set(key, [...(proposedIn.get(key) ?? []), message.seq]);
        }
      },
    });
    expectClean(outcome);
    // Every sender replica copies every item to every receiver; the receiver's primary orders two.
    expect(items).toBeGreaterThan(0);
    expect(proposedIn.size * 4).toBe(items);
    for (const [item, seqs] of proposedIn)
      expect([item, seqs.length, new Set(seqs).size]).toEqual([item, 2, 1]);
    // Batches of several requests make items of several messages (Skeen's proposals).
    expect(itemsCarryingSeveral).toBeGreaterThan(0);
  });

  it("a sender's copies of items far ahead, which nobody matches, leave the receivers' pools: ordered alone after the forwarding timeout", () => {
    // a/1 sends b, besides each item, a copy of an item 500 further on; b's primary waits for a
    // second copy that never comes, so without the timeout those copies would stay pooled (the
    // backups suspecting the primary for them) and the run would never settle.
    const outcome = run({ mode: "byzantine", farAheadCopiers: ["a/1"], multicastsPerClient: 20 });
    expectClean(outcome);
    expect(outcome.farAheadCopiers.get("a/1")?.farCopiesSent).toBeGreaterThan(0);
    for (const replica of outcome.correct) expect(replica.idle()).toBe(true);
  });

  for (const strategy of BYZANTINE_STRATEGIES) {
    it(`holds with a Byzantine primary (a/0) and a Byzantine backup (b/3): ${strategy}`, () => {
      const byzantine = new Map<string, ByzantineStrategy>([
        ["a/0", strategy],
        ["b/3", strategy],
      ]);
      const outcome = run({ mode: "byzantine", byzantine, multicastsPerClient: 30 });
      expectClean(outcome);
      for (const group of ["a", "b"]) {
        const sequences = outcome.correct
          .filter((replica) => replica.group === group)
          .map((replica) => outcome.deliveredBy(replica.id));
        for (const sequence of sequences) expect(sequence).toEqual(sequences[0]);
      }
    });
  }

  it("refuses wrongly signed prepares and commits when it certifies: a backup's (a/2) and the primary's (b/0)", () => {
    const outcome = run({ mode: "byzantine", badVoteSigners: ["a/2", "b/0"], multicastsPerClient: 30 });
    expectClean(outcome);
    for (const group of ["a", "b"]) {
      const replicas = outcome.correct.filter((replica) => replica.group === group);
      const sequences = replicas.map((replica) => outcome.deliveredBy(replica.id));
      for (const sequence of sequences) expect(sequence).toEqual(sequences[0]);
      // No commit certificate a correct replica would show in a catch-up answer holds one: every
      // batch it decided has 2f+1 well-signed commits to show.
      type ShownVote = { signer: string; type: string; view: number; seq: number };
      for (const replica of replicas) {
        const orderer = replica.orderer as unknown as {
          decided: Map<number, unknown>;
          certifiedEntry(entry: unknown): { commits: ShownVote[] } | undefined;
        };
        expect(orderer.decided.size).toBeGreaterThan(0);
        for (const decided of orderer.decided.values()) {
          const entry = orderer.certifiedEntry(decided);
          expect(entry?.commits.length).toBe(3);
          for (const vote of entry?.commits ?? []) {
            const bad = outcome.badVoteSigners.get(vote.signer);
            if (bad !== undefined)
              expect({ type: vote.type, view: vote.view, seq: vote.seq }).toEqual(bad.first);
          }
        }
      }
      // The bad votes reached the certificates' checks and were refused there.
      const refused = replicas.map((replica) => (replica.orderer as PbftOrderer).rejectedMessages);
      expect(refused.reduce((sum, count) => sum + count, 0)).toBeGreaterThan(0);
    }
  });

  it("answers a client from f+1 = 2 replicas of a group that ran its request, the work spread over all four", () => {
    /** Replies sent per "<multicast>@<group>", and per replica. */
    const replies = new Map<string, number>();
    const byReplica = new Map<string, number>();
    const outcome = run({
      mode: "byzantine",
      multicastsPerClient: 30,
      observe: (from, send) => {
        const wire = send.body as { t: string; id?: string; group?: string };
        if (wire.t !== "reply") return;
        const key = `${wire.id}@${wire.group}`;
        replies.set(key, (replies.get(key) ?? 0) + 1);
        byReplica.set(from, (byReplica.get(from) ?? 0) + 1);
      },
    });
    expectClean(outcome);
    // An answer for every multicast delivered, in each of its destination groups.
    expect(replies.size).toBe(
      outcome.events.filter((event) => event.ev === "deliver" && String(event.proc).endsWith("/0")).length,
    );
    // At least f+1 each; more only where the client retried (the others answer from their cache).
    for (const [key, count] of replies) expect([key, count >= 2]).toEqual([key, true]);
    const answeredOnce = [...replies.values()].filter((count) => count === 2).length;
    expect(answeredOnce / replies.size).toBeGreaterThan(0.9);
    expect([...byReplica.keys()].sort()).toEqual(["a/0", "a/1", "a/2", "a/3", "b/0", "b/1", "b/2", "b/3"]);
  });

  it("completes every multicast when a replica chosen to answer is silent (the client's retry reaches the others)", () => {
    const outcome = run({
      mode: "byzantine",
      byzantine: new Map([
        ["a/1", "silent"],
        ["b/2", "silent"],
      ]),
      multicastsPerClient: 12,
    });
    expectClean(outcome);
  });

  it("a replica rebuilt from its journal asks its group where it stands at its next tick (the replay's question did not go out)", () => {
    const membership = Membership.uniform(topology.groupIds, replicaCount("byzantine", 1));
    const signatures = new SimulatedSignatures(7);
    const [{ id, group }] = membership.processes() as [{ id: string; group: string }];
    const replica = createReplica({
      protocol: skeen,
      group,
      id,
      membership,
      overlay: null,
      mode: "byzantine",
      f: 1,
      signer: signatures.signerFor(id),
      verifier: signatures,
    }) as Replica<unknown>;
    const asks = (outputs: readonly ProcessOutput[]) =>
      outputs.filter((output) => output.kind === "send" && output.label === "pbft.status").length;
    // A fresh replica, or one whose replay already ticked: nothing to ask.
    expect(asks(replica.tick())).toBe(0);
    replica.restarted();
    // Its three peers, once.
    expect(asks(replica.tick())).toBe(3);
    expect(asks(replica.tick())).toBe(0);
  });

  it("changes view when the primary is silent, and the new primary takes over", () => {
    const outcome = run({
      mode: "byzantine",
      byzantine: new Map([["a/0", "silent"]]),
      multicastsPerClient: 20,
    });
    expectClean(outcome);
    const views = outcome.correct
      .filter((replica) => replica.group === "a")
      .map((replica) => replica.orderer.leader());
    expect(views.every((leader) => leader !== "a/0")).toBe(true);
  });

  it("rides through a crashed primary that recovers", () => {
    const outcome = run({
      mode: "byzantine",
      crashes: [{ proc: "b/0", atMs: 300, recoverAtMs: 2000 }],
      multicastsPerClient: 40,
    });
    expectClean(outcome);
    expect(outcome.deliveredBy("b/0")).toEqual(outcome.deliveredBy("b/1"));
  });
});

describe("Byzantine mode on a slow network (every message up to 2 s late, links FIFO)", () => {
  // Timeouts tuned for milliseconds meet round trips of seconds: the replicas must learn to be
  // patient (a few view changes at most), keep ordering, and settle; a crashed backup and a silent
  // one leave exactly 2f+1 replicas in each group, so no replica may wait alone in a view.
  for (const seed of [1, 2, 3]) {
    it(`settles with a crashed backup in one group and a silent one in the other: seed ${seed}`, () => {
      const outcome = run({
        mode: "byzantine",
        seed,
        extraDelayMsMax: 2000,
        multicastsPerClient: 6,
        crashes: [{ proc: "a/2", atMs: 50 }],
        byzantine: new Map([["b/3", "silent"]]),
      });
      expectClean(outcome);
      for (const replica of outcome.correct) {
        const orderer = replica.orderer as PbftOrderer;
        expect(orderer.currentView, replica.id).toBeLessThanOrEqual(4);
      }
    });
  }
});

describe("clients", () => {
  it("give up only after retries met with silence: a group saying the request is under way (f+1 replicas) is waited for", () => {
    const membership = Membership.uniform(["a", "b"], 4);
    const signatures = new SimulatedSignatures(7);
    const client = () =>
      createClient({
        id: "c0",
        protocol: skeen,
        membership,
        overlay: null,
        mode: "byzantine",
        f: 1,
        outstandingMax: 1,
        signer: signatures.signerFor("c0"),
        retryTicks: 2,
        retriesMax: 3,
      });
    // Ticks 300 times; every 10 ticks the given replicas say the multicast is under way.
    const wait = (sayers: readonly string[]) => {
      const waiting = client();
      const { message } = waiting.multicast(["a"], 8);
      for (let tick = 1; tick <= 300; tick += 1) {
        waiting.tick();
        if (tick % 10 === 0)
          for (const from of sayers) waiting.receive(from, { t: "under-way", id: message.id });
      }
      return { waiting, message };
    };
    expect(wait([]).waiting.abandoned).toBe(1);
    // One replica's word could be a Byzantine one's: not enough.
    expect(wait(["a/0"]).waiting.abandoned).toBe(1);
    // A word from another group (not asked) does not count towards a's quorum.
    expect(wait(["a/0", "b/1"]).waiting.abandoned).toBe(1);
    const { waiting, message } = wait(["a/0", "a/2"]);
    expect(waiting.abandoned).toBe(0);
    expect(waiting.inFlightCount).toBe(1);
    const reply = { t: "reply", id: message.id, group: "a", result: null };
    expect(waiting.receive("a/1", reply)).toEqual([]);
    expect(waiting.receive("a/3", reply)).toEqual([
      { kind: "complete", id: message.id, results: { a: null } },
    ]);
  });

  it("time a retried request from its first send once its group said it is under way, and wait that long next time", () => {
    const membership = Membership.uniform(["a", "b"], 3);
    const waiting = createClient({
      id: "c0",
      protocol: skeen,
      membership,
      overlay: null,
      mode: "crash",
      f: 1,
      outstandingMax: 1,
      retryTicks: 10,
    });
    /** Ticks until the client sends the multicast in flight again (at most `limit`). */
    const ticksToRetry = (limit: number) => {
      for (let tick = 1; tick <= limit; tick += 1)
        if (waiting.tick().some((output) => output.kind === "send")) return tick;
      return limit;
    };
    // A saturated group: its answer comes 150 ticks after the first send, the request having
    // been retried (at 10, then 20 ticks later) and said under way by the group's leader.
    const first = waiting.multicast(["a"], 8).message;
    expect(ticksToRetry(200)).toBe(10);
    expect(ticksToRetry(200)).toBe(20);
    waiting.receive("a/0", { t: "under-way", id: first.id });
    for (let tick = 0; tick < 120; tick += 1) waiting.tick();
    expect(waiting.receive("a/0", { t: "reply", id: first.id, group: "a", result: null })).toHaveLength(1);
    // Timed at 150 ticks: the next request waits well beyond the 10-tick floor (it retried at
    // 10 ticks when only requests answered without a retry were timed).
    waiting.multicast(["a"], 8);
    expect(ticksToRetry(2000)).toBeGreaterThanOrEqual(150);
  });

  it("crash mode: only leaders answer, and clients send to a group's leader once they know it", () => {
    const outcome = run({ mode: "crash" });
    expectClean(outcome);
    const entries = outcome.events
      .filter((event) => event.ev === "multicast")
      .reduce((sum, event) => sum + (event as { dst: readonly string[] }).dst.length, 0);
    // No faults, no retries: one reply per (multicast, destination group), from its leader.
    expect(outcome.result.sendsByLabel.get("reply")).toBe(entries);
    // Each client's first request to a group goes to its three replicas, later ones to the
    // leader alone (3 replicas each, as before, would be 3 * entries).
    const requests = outcome.result.sendsByLabel.get("request") ?? 0;
    expect(requests).toBeLessThan(1.2 * entries);
    expect(requests).toBeGreaterThanOrEqual(entries);
  });

  it("retry when cut off from a group, and replicas answer retries without executing twice", () => {
    const outcome = run({
      mode: "crash",
      partitions: [{ side: ["a/0", "a/1", "a/2"], atMs: 50, healAtMs: 1800 }],
      multicastsPerClient: 10,
    });
    expectClean(outcome);
    // Retries reached replicas that had executed the request already (crash mode's first sends
    // go to the leader alone; a retry goes to every replica), and were answered, not run again.
    const retriedAnswers = outcome.correct.reduce(
      (sum, replica) => sum + (replica.drops.get("duplicate-request") ?? 0),
      0,
    );
    expect(retriedAnswers).toBeGreaterThan(0);
  });
});
