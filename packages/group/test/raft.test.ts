import { Prng } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { RaftHardState } from "../src/index.js";
import { amnesiaHardState, DEFAULT_ORDERING, RaftOrderer } from "../src/index.js";
import { request } from "./requests.js";

/**
 * The crash-mode orderer alone, three replicas on a network this file controls tick by tick: how
 * long each message takes (or whether it is lost) is a function of sender, receiver and tick, and
 * links are FIFO as the drivers' are (a late message holds up the ones behind it).
 * Elections are checked where they are fragile: replicas cut off and back, a leader that only
 * talks, and networks slower than the election timeouts.
 */
type Delay = (from: string, to: string, tick: number) => number | null;

const REPLICAS = ["r0", "r1", "r2"];
const T = DEFAULT_ORDERING.electionTimeoutTicks;

class Cluster {
  readonly orderers = new Map<string, RaftOrderer>();
  readonly decided = new Map<string, string[]>();
  readonly crashed = new Set<string>();
  tick = 0;
  private queue: { at: number; from: string; to: string; message: unknown }[] = [];
  /** Per link, when its last message arrives: nothing sent later arrives earlier. */
  private readonly linkFree = new Map<string, number>();

  constructor(
    seed: number,
    public delay: Delay,
  ) {
    for (const self of REPLICAS) {
      const decided: string[] = [];
      this.decided.set(self, decided);
      const executed = new Set<string>();
      const orderer = new RaftOrderer(
        {
          self,
          replicas: REPLICAS,
          send: (to, message) => {
            const ticks = this.delay(self, to, this.tick);
            if (ticks === null) return;
            const link = `${self}->${to}`;
            const at = Math.max(this.tick + ticks, this.linkFree.get(link) ?? 0);
            this.linkFree.set(link, at);
            this.queue.push({ at, from: self, to, message });
          },
          decide: (batch) => {
            for (const input of batch) {
              if (executed.has(input.key)) continue;
              executed.add(input.key);
              decided.push(input.key);
            }
          },
          useful: (input) => !executed.has(input.key),
          now: () => this.tick,
          // No checkpoints here: the log is retained (retainedEntriesMax).
          checkpoints: false,
          executed: () => {},
          latestCheckpoint: () => undefined,
          fetchState: () => {},
        },
        DEFAULT_ORDERING,
        new Prng(seed).derive(`raft/${self}`),
      );
      this.orderers.set(self, orderer);
    }
  }

  /** Runs `ticks` ticks: messages due by each tick arrive (in send order), then every live replica ticks. */
  run(ticks: number): void {
    for (let end = this.tick + ticks; this.tick < end; ) {
      this.tick += 1;
      const due = this.queue.filter((item) => item.at <= this.tick);
      this.queue = this.queue.filter((item) => item.at > this.tick);
      for (const { from, to, message } of due)
        if (!this.crashed.has(to)) this.orderer(to).receive(from, message);
      for (const [id, orderer] of this.orderers) if (!this.crashed.has(id)) orderer.tick();
    }
  }

  /** Runs until `done` holds (checked every tick), at most `ticks`; returns the ticks it took. */
  runUntil(done: () => boolean, ticks: number): number {
    const start = this.tick;
    while (!done() && this.tick - start < ticks) this.run(1);
    return this.tick - start;
  }

  orderer(id: string): RaftOrderer {
    const orderer = this.orderers.get(id);
    if (orderer === undefined) throw new Error(`no replica ${id}`);
    return orderer;
  }

  /** The replica that leads, if exactly one live replica believes it does. */
  leader(): string | undefined {
    const leaders = REPLICAS.filter((id) => !this.crashed.has(id) && this.orderer(id).isLeader);
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  terms(): number[] {
    return REPLICAS.map((id) => this.orderer(id).term);
  }

  submitEverywhere(key: string): void {
    for (const id of REPLICAS) if (!this.crashed.has(id)) this.orderer(id).submit(request(key));
  }
}

const lan: Delay = () => 1;

describe("crash-mode elections (pre-vote, leader lease, check-quorum, backoff)", () => {
  it("elects one leader and orders inputs identically at every replica", () => {
    const cluster = new Cluster(1, lan);
    cluster.runUntil(() => cluster.leader() !== undefined, 10 * T);
    expect(cluster.leader()).toBeDefined();
    for (let i = 0; i < 20; i += 1) cluster.submitEverywhere(`m${i}`);
    cluster.run(T);
    const orders = REPLICAS.map((id) => cluster.decided.get(id));
    expect(orders[0]).toHaveLength(20);
    expect(orders[1]).toEqual(orders[0]);
    expect(orders[2]).toEqual(orders[0]);
  });

  it("does not let a follower cut off for many timeouts depose the leader when it comes back", () => {
    const cluster = new Cluster(2, lan);
    cluster.runUntil(() => cluster.leader() !== undefined, 10 * T);
    const leader = cluster.leader();
    const term = cluster.orderer(leader ?? "").term;
    const follower = REPLICAS.find((id) => id !== leader) ?? "";
    const cutUntil = cluster.tick + 20 * T;
    cluster.delay = (from, to, tick) =>
      (from === follower || to === follower) && tick < cutUntil ? null : 1;
    cluster.run(20 * T);
    // Pre-vote: cut off, it asked and heard nothing, so it never raised its term.
    expect(cluster.orderer(follower).term).toBe(term);
    cluster.run(10 * T);
    expect(cluster.leader()).toBe(leader);
    expect(cluster.terms()).toEqual([term, term, term]);
    cluster.submitEverywhere("after");
    cluster.run(T);
    for (const id of REPLICAS) expect(cluster.decided.get(id)).toContain("after");
  });

  it("lets a leader that hears from no one step down, so the others elect a new one", () => {
    const cluster = new Cluster(3, lan);
    cluster.runUntil(() => cluster.leader() !== undefined, 10 * T);
    const deaf = cluster.leader() ?? "";
    const term = cluster.orderer(deaf).term;
    // The leader's messages go out, but nothing reaches it: its followers keep hearing heartbeats
    // (so they hold its lease), while it can commit nothing.
    cluster.delay = (_from, to) => (to === deaf ? null : 1);
    cluster.submitEverywhere("stuck");
    const ticks = cluster.runUntil(() => {
      const leader = cluster.leader();
      return leader !== undefined && leader !== deaf;
    }, 100 * T);
    expect(cluster.leader()).not.toBe(deaf);
    expect(cluster.leader()).toBeDefined();
    // Check-quorum (4 mean timeouts), the followers' leases, then a pre-vote and a vote.
    expect(ticks).toBeLessThan(8 * T);
    expect(cluster.orderer(cluster.leader() ?? "").term).toBeGreaterThan(term);
    cluster.run(T);
    for (const id of REPLICAS.filter((id) => id !== deaf)) expect(cluster.decided.get(id)).toContain("stuck");
  });

  it("settles on a leader when every round trip takes far longer than the election timeout", () => {
    const cluster = new Cluster(4, () => 3 * T);
    cluster.run(200 * T);
    const leader = cluster.leader();
    expect(leader).toBeDefined();
    const terms = cluster.terms();
    for (let i = 0; i < 5; i += 1) cluster.submitEverywhere(`slow${i}`);
    // Once settled, no more elections: the same leader and terms for another 100 timeouts.
    cluster.run(100 * T);
    expect(cluster.leader()).toBe(leader);
    expect(cluster.terms()).toEqual(terms);
    for (const id of REPLICAS) expect(cluster.decided.get(id)).toHaveLength(5);
  });

  it("stays with its leader when some messages arrive a few timeouts late", () => {
    const late = new Prng(5).derive("late");
    // 5% of messages take 1-4 mean timeouts; the rest one tick.
    const cluster = new Cluster(5, () => (late.int(100) < 5 ? T + late.int(3 * T) : 1));
    cluster.run(100 * T);
    const terms = cluster.terms();
    cluster.run(300 * T);
    expect(cluster.terms()).toEqual(terms);
  });

  it("fails over fast again once a slow network has calmed down", () => {
    const cluster = new Cluster(6, () => 3 * T);
    cluster.run(200 * T);
    cluster.delay = lan;
    // Calm: every level is dropped after 10 of its timeouts without a long silence.
    cluster.run(400 * T);
    const leader = cluster.leader() ?? "";
    cluster.crashed.add(leader);
    const failoverTicks = cluster.runUntil(() => cluster.leader() !== undefined, 100 * T);
    // At the lowest level: at most the longest timeout (3T/2) after the last heartbeat, plus a
    // pre-vote and a vote round trip.
    expect(failoverTicks).toBeLessThanOrEqual((3 * T) / 2 + 6);
  });

  it("draws election timeouts from the seed: the same seed elects the same way, others differ", () => {
    const firstElection = (seed: number): string => {
      const cluster = new Cluster(seed, lan);
      const ticks = cluster.runUntil(() => cluster.leader() !== undefined, 10 * T);
      return `${cluster.leader()}@${ticks}`;
    };
    expect(firstElection(7)).toBe(firstElection(7));
    const outcomes = new Set([1, 2, 3, 4, 5, 6, 7, 8].map(firstElection));
    expect(outcomes.size).toBeGreaterThan(1);
  });
});

describe("R8: a restart from a journal of decided positions", () => {
  /** One replica alone, its sends kept: what it answered is read from them. */
  const standalone = (hardState?: RaftHardState) => {
    const sent: { to: string; message: { type: string; granted?: boolean } }[] = [];
    const orderer = new RaftOrderer(
      {
        self: "r0",
        replicas: REPLICAS,
        send: (to, message) => sent.push({ to, message: message as { type: string } }),
        decide: () => {},
        useful: () => true,
        now: () => 0,
        checkpoints: true,
        executed: () => {},
        latestCheckpoint: () => undefined,
        fetchState: () => {},
      },
      DEFAULT_ORDERING,
      new Prng(1).derive("raft/r0"),
      hardState,
    );
    /** Whether it grants r2 its vote in term 3 for a log ending at `lastIndex` of term 2. */
    const grants = (lastIndex: number): boolean => {
      orderer.receive("r2", { type: "vote", term: 3, lastIndex, lastTerm: 2 });
      const reply = sent.filter(({ message }) => message.type === "vote-reply").at(-1);
      return reply?.message.granted === true;
    };
    return { orderer, grants };
  };
  const entry = { term: 2, batch: [request("x")] };
  /** r0 followed r1 in term 2: three entries accepted, the first of them committed and applied. */
  const before = (): RaftHardState => {
    const { orderer } = standalone();
    orderer.receive("r1", {
      type: "append",
      term: 2,
      prevIndex: 0,
      prevTerm: 0,
      entries: [entry, entry, entry],
      commit: 1,
    });
    return orderer.hardState(true);
  };

  it("keeps the log past the last executed position in the hard state it writes, and amnesia drops it", () => {
    const hard = before();
    expect(hard.term).toBe(2);
    expect(hard.log?.after).toBe(1);
    expect(hard.log?.afterTerm).toBe(2);
    expect(hard.log?.entries).toHaveLength(2);
    expect(standalone().orderer.hardState()).not.toHaveProperty("log");
    expect(amnesiaHardState(hard)).toEqual({ term: 2, votedFor: null });
  });

  it("votes at once once the positions before that log are executed again, and only for a log as long as its own", () => {
    const { orderer, grants } = standalone(before());
    orderer.install(1, 2);
    // Its log is 3 entries long again: a candidate with 2 lacks what it may have acknowledged.
    expect(grants(2)).toBe(false);
    expect(grants(3)).toBe(true);
  });

  it("keeps the journal's positions as its log: leading, it sends them to a follower whose log is empty", () => {
    let now = 0;
    /** The fields of the messages read here (the append's). */
    type Sent = { type: string; entries?: readonly { term: number; batch: unknown }[] };
    const sent: { to: string; message: Sent }[] = [];
    const orderer = new RaftOrderer(
      {
        self: "r0",
        replicas: REPLICAS,
        send: (to, message) => sent.push({ to, message: message as Sent }),
        decide: () => {},
        useful: () => true,
        now: () => now,
        checkpoints: true,
        executed: () => {},
        // No checkpoint taken yet: nothing covers the journal's positions but the log.
        latestCheckpoint: () => undefined,
        fetchState: () => {},
      },
      DEFAULT_ORDERING,
      new Prng(1).derive("raft/r0"),
      // The hard state written with the journal: its log ends at the journal's last position.
      { term: 2, votedFor: null, log: { after: 3, afterTerm: 2, entries: [] } },
    );
    const batches = ["a", "b", "c"].map((key) => [request(key)]);
    batches.forEach((batch, index) => {
      orderer.restoreDecided(index + 1, 2, batch);
    });
    // Elected in term 3 with r1's votes.
    now = 10 * T;
    orderer.tick();
    orderer.receive("r1", { type: "pre-vote-reply", term: 3, granted: true });
    orderer.receive("r1", { type: "vote-reply", term: 3, granted: true });
    expect(orderer.isLeader).toBe(true);
    // r2 restarted from an older journal, its log empty: it is sent the journal's positions.
    sent.length = 0;
    orderer.receive("r2", { type: "append-reply", term: 3, success: false, matchIndex: 0 });
    const append = sent.find(({ to, message }) => to === "r2" && message.type === "append")?.message;
    expect(append).toMatchObject({ type: "append", term: 3, prevIndex: 0 });
    const entries = append?.entries ?? [];
    expect(entries.slice(0, 3).map((entry) => entry.batch)).toEqual(batches);
    expect(entries.slice(0, 3).map((entry) => entry.term)).toEqual([2, 2, 2]);
  });

  it("stays under R7 when that log does not join what was rebuilt, or after amnesia", () => {
    const stopped = standalone(before());
    // The journal's positions stop before the log starts (a gap), then a later position.
    stopped.orderer.install(2, 2);
    expect(stopped.grants(3)).toBe(false);
    const forgot = standalone(amnesiaHardState(before()) as RaftHardState);
    forgot.orderer.install(1, 2);
    expect(forgot.grants(3)).toBe(false);
    // Under R7 its hard state carries no log: a restart then stays under R7 too.
    expect(forgot.orderer.hardState(true)).not.toHaveProperty("log");
  });
});
