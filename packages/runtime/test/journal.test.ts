import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProcessId, ProcessLogic, ProcessOutput } from "@amcast/core";
import { InputError } from "@amcast/core";
import type { DecidedPosition } from "@amcast/group";
import type { Snapshot } from "@amcast/storage";
import { buildSnapshot, ReplicaLog } from "@amcast/storage";
import { Packr } from "msgpackr";
import { afterAll, describe, expect, it } from "vitest";
import type { DeployedNode, Deployment, FsyncPolicy } from "../src/index.js";
import { FSYNC_POLICIES, forgetJournal, nodeStorage, ReplicaJournal, resumeTrace } from "../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "amcast-journal-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A deterministic replica stand-in: its state is a function of its inputs in order (a running
 * hash of messages and ticks), it answers each message and delivers every third.
 */
class Toy implements ProcessLogic {
  readonly id = "g/0";
  readonly wantsTicks = true;
  state = 0;
  ticks = 0;
  readonly delayed: number[] = [];
  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    const { n, text } = body as { n: number; text: string };
    this.state = (this.state * 31 + n + text.length + from.length) % 1_000_000_007;
    const outputs: ProcessOutput[] = [
      { kind: "send", to: from, body: { ack: n }, bytes: 8, label: "ack", protocol: true },
    ];
    if (n % 3 === 0)
      outputs.push({
        kind: "deliver",
        group: "g",
        message: { id: `m${n}`, client: "c0", dst: ["g"], payloadBytes: 1 },
      });
    return outputs;
  }
  tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    this.state = (this.state * 7 + 1) % 1_000_000_007;
    return [];
  }
  observeDelay(_from: ProcessId, delayMs: number): void {
    this.delayed.push(delayMs);
  }
}

const storage = (name: string, fsync: FsyncPolicy = "batch") => ({ dataDir: join(dir, name), fsync });

/** Runs `inputs` through a journal the way NodeHost does: record, step, hold. */
async function journalRun(
  name: string,
  inputs: readonly ("tick" | { from: string; n: number })[],
  fsync: FsyncPolicy = "batch",
): Promise<{ toy: Toy; released: ProcessOutput[][]; releasedInTurn: number }> {
  const journal = await ReplicaJournal.open(storage(name, fsync), "g/0", "run-1");
  const toy = new Toy();
  const released: ProcessOutput[][] = [];
  journal.bind(
    (_logic, outputs) => released.push([...outputs]),
    (error) => {
      throw error;
    },
  );
  for (const input of inputs) {
    if (input === "tick") {
      journal.recordTick();
      journal.hold(toy, toy.tick());
    } else {
      const body = { n: input.n, text: "x".repeat(input.n % 5) };
      journal.recordReceive(input.from, body, input.n / 10);
      toy.observeDelay(input.from, input.n / 10);
      journal.hold(toy, toy.receive(input.from, body));
    }
  }
  // Nothing leaves in the turn the inputs were taken: only once they are on disk.
  const releasedInTurn = released.length;
  expect(journal.holding).toBe(true);
  await journal.close();
  expect(journal.holding).toBe(false);
  return { toy, released, releasedInTurn };
}

const INPUTS = Array.from({ length: 40 }, (_, index) =>
  index % 4 === 3 ? ("tick" as const) : { from: index % 2 === 0 ? "g/1" : "c0", n: index },
);

describe("the replica journal (inputs on disk before outputs leave)", () => {
  for (const fsync of FSYNC_POLICIES)
    it(`releases a step's outputs only after its input is written, in order, and replays it exactly (fsync ${fsync})`, async () => {
      const { toy, released, releasedInTurn } = await journalRun(`order-${fsync}`, INPUTS, fsync);
      expect(releasedInTurn).toBe(0);
      // One release per step with outputs (a tick of the toy has none: it waits for nothing).
      expect(released).toHaveLength(INPUTS.filter((input) => input !== "tick").length);
      const acks = released
        .flat()
        .flatMap((output) => (output.kind === "send" ? [(output.body as { ack: number }).ack] : []));
      expect(acks).toEqual(INPUTS.flatMap((input) => (input === "tick" ? [] : [input.n])));
      const journal = await ReplicaJournal.open(storage(`order-${fsync}`, fsync), "g/0", "run-1");
      const fresh = new Toy();
      journal.replay(
        fresh,
        () => {},
        () => {},
      );
      expect(fresh.state).toBe(toy.state);
      await journal.close();
    });

  it("replays into a fresh replica that ends in the same state, with the same outputs", async () => {
    const { toy, released } = await journalRun("replay", INPUTS);
    const journal = await ReplicaJournal.open(storage("replay"), "g/0", "run-1");
    expect(journal.recoveredInputs).toBe(INPUTS.length);
    const fresh = new Toy();
    const replayed: ProcessOutput[][] = [];
    const stats = journal.replay(
      fresh,
      (outputs) => replayed.push([...outputs]),
      () => {},
    );
    expect(stats.inputs).toBe(INPUTS.length);
    expect(stats.ticks).toBe(INPUTS.filter((input) => input === "tick").length);
    expect(fresh.state).toBe(toy.state);
    expect(fresh.ticks).toBe(toy.ticks);
    expect(fresh.delayed).toEqual(toy.delayed);
    expect(replayed.filter((outputs) => outputs.length > 0)).toEqual(released);
    // The journal goes on after what it replayed: a second restart replays both runs' inputs.
    journal.bind(
      () => {},
      (error) => {
        throw error;
      },
    );
    journal.recordTick();
    journal.hold(fresh, fresh.tick());
    await journal.close();
    const again = await ReplicaJournal.open(storage("replay"), "g/0", "run-1");
    const third = new Toy();
    again.replay(
      third,
      () => {},
      () => {},
    );
    expect(third.state).toBe(fresh.state);
    await again.close();
  });

  it("writes steps without outputs with the next step that has some, in order", async () => {
    for (const fsync of FSYNC_POLICIES) {
      const journal = await ReplicaJournal.open(storage(`quiet-${fsync}`, fsync), "g/0", "run-1");
      const toy = new Toy();
      let released = 0;
      journal.bind(
        () => {
          released += 1;
        },
        (error) => {
          throw error;
        },
      );
      const tick = (): void => {
        journal.recordTick();
        journal.hold(toy, toy.tick());
      };
      for (let index = 0; index < 5; index += 1) tick();
      journal.recordReceive("c0", { n: 3, text: "abc" }, 1);
      journal.hold(toy, toy.receive("c0", { n: 3, text: "abc" }));
      await journal.drain();
      expect(released).toBe(1);
      tick();
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Read as a restart after a SIGKILL would (the writer never closed): the five ticks and the
      // message are there; the last tick, which nothing released depends on, is not written yet.
      const reader = await ReplicaJournal.open(storage(`quiet-${fsync}`, fsync), "g/0", "run-1");
      expect(reader.recoveredInputs).toBe(6);
      await reader.close();
      await journal.close();
      const closed = await ReplicaJournal.open(storage(`quiet-${fsync}`, fsync), "g/0", "run-1");
      expect(closed.recoveredInputs).toBe(7);
      await closed.close();
    }
  });

  it("refuses another replica's or another run's journal, naming the directory", async () => {
    await journalRun("identity", INPUTS.slice(0, 3));
    await expect(ReplicaJournal.open(storage("identity"), "g/1", "run-1")).rejects.toThrow(
      new InputError(
        storage("identity").dataDir,
        "",
        "holds the journal of replica g/0, not of g/1: give each replica its own data directory",
      ),
    );
    await expect(ReplicaJournal.open(storage("identity"), "g/0", "run-2")).rejects.toThrow(/in another run/);
  });

  it("cuts an entry torn by a kill, and replays the ones before it", async () => {
    const { toy } = await journalRun("torn", INPUTS.slice(0, 10));
    const segment = join(storage("torn").dataDir, "log-0000000000000001.seg");
    // Half a record header: the write a SIGKILL interrupted.
    appendFileSync(segment, Buffer.from([40, 0, 0, 0, 1, 2, 3]));
    const journal = await ReplicaJournal.open(storage("torn"), "g/0", "run-1");
    const fresh = new Toy();
    const stats = journal.replay(
      fresh,
      () => {},
      () => {},
    );
    expect(stats.truncatedBytes).toBe(7);
    expect(fresh.state).toBe(toy.state);
    await journal.close();
  });
});

describe("resuming a restarted replica's trace", () => {
  it("lists what the trace delivered and cuts a line a kill left unfinished", () => {
    const file = join(dir, "node.trace.jsonl");
    const lines = [
      '{"ev":"member","group":"g","proc":"g/0","t":0.000}',
      '{"ev":"deliver","id":"c0:1","group":"g","proc":"g/0","t":1.000}',
      '{"ev":"view","group":"g","view":2,"t":1.500}',
      '{"ev":"deliver","id":"c1:1","group":"g","proc":"g/0","t":2.000}',
    ];
    writeFileSync(file, `${lines.join("\n")}\n{"ev":"deliver","id":"c0:`);
    const traced = resumeTrace(file);
    expect([...traced.delivered]).toEqual(["c0:1", "c1:1"]);
    expect([...traced.views]).toEqual(["g/2"]);
    expect(readFileSync(file, "utf8")).toBe(`${lines.join("\n")}\n`);
    expect(resumeTrace(join(dir, "absent.jsonl")).delivered.size).toBe(0);
  });
});

describe("a replica's --data-dir and --fsync", () => {
  const replica: DeployedNode = { id: "g/0", role: "replica", processes: ["g/0"], host: "h", port: 1 };
  const clients: DeployedNode = { id: "clients", role: "clients", processes: ["c0"], host: "", port: 0 };
  const deployment = (fsync?: "interval") =>
    ({ ...(fsync === undefined ? {} : { storage: { fsync } }) }) as Deployment;

  it("takes the policy from the flag, else the deployment, else batch", () => {
    expect(nodeStorage(deployment(), replica, "d", undefined).storage?.fsync).toBe("batch");
    expect(nodeStorage(deployment("interval"), replica, "d", undefined).storage?.fsync).toBe("interval");
    expect(nodeStorage(deployment("interval"), replica, "d", "none").storage?.fsync).toBe("none");
    expect(nodeStorage(deployment("interval"), replica, undefined, undefined)).toEqual({});
  });

  it("refuses a policy it does not know, --fsync alone, and a client host's data directory", () => {
    expect(() => nodeStorage(deployment(), replica, "d", "sometimes")).toThrow(
      /--fsync: expected one of batch, interval or none, got "sometimes"/,
    );
    expect(() => nodeStorage(deployment(), replica, undefined, "batch")).toThrow(
      /--fsync: needs --data-dir DIR/,
    );
    expect(() => nodeStorage(deployment(), clients, "d", undefined)).toThrow(
      /--data-dir: clients is a client host: only replicas keep a data directory/,
    );
  });

  it("refuses a replica without a journal in a cluster that ran before unless --rejoin-empty, and --rejoin-empty over a journal", async () => {
    const existing = { storage: { fsync: "batch", clusterState: "existing" } } as unknown as Deployment;
    const empty = join(dir, "wiped");
    // Missing, then there but empty: both are a lost disk once the cluster has run.
    for (const made of [false, true]) {
      if (made) mkdirSync(empty);
      expect(() => nodeStorage(existing, replica, empty, undefined)).toThrow(
        /--data-dir: .*wiped holds no journal, and the deployment's storage.clusterState is "existing": .* start it with --rejoin-empty/,
      );
      expect(nodeStorage(existing, replica, empty, undefined, true).storage?.dataDir).toBe(empty);
      // A new cluster's first start.
      expect(nodeStorage(deployment(), replica, empty, undefined).storage?.dataDir).toBe(empty);
    }
    // No data directory at all is a lost disk too.
    expect(() => nodeStorage(existing, replica, undefined, undefined)).toThrow(/none given/);
    // A journal there: the replica restarts from it, with or without clusterState.
    const journal = await ReplicaJournal.open(storage("kept-journal"), "g/0", "run-1");
    bindStandIn(journal, () => ({ term: 1 }));
    await journal.close();
    expect(nodeStorage(existing, replica, join(dir, "kept-journal"), undefined).storage).toBeDefined();
    expect(() => nodeStorage(existing, replica, join(dir, "kept-journal"), undefined, true)).toThrow(
      /--rejoin-empty: .*kept-journal holds a journal: the replica restarts from it/,
    );
  });
});

/** Binds `journal` to a stand-in replica whose hard state is `hardState()`. */
function bindStandIn(
  journal: ReplicaJournal,
  hardState: () => unknown,
  release: (outputs: readonly ProcessOutput[]) => void = () => {},
): void {
  journal.bind(
    (_logic, outputs) => release(outputs),
    (error) => {
      throw error;
    },
    { hardState },
  );
}

/** `count` messages to `toy` through `journal`, a turn each; `beforeHold` runs as each is taken. */
async function takeMessages(
  journal: ReplicaJournal,
  toy: Toy,
  count: number,
  beforeHold: () => void,
): Promise<void> {
  for (let n = 1; n <= count; n += 1) {
    const body = { n, text: "" };
    journal.recordReceive("p", body, 0);
    beforeHold();
    journal.hold(toy, toy.receive("p", body));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("the hard state a replica keeps across amnesia", () => {
  it("is written with the turn's inputs when it changed; forgetJournal reads the last one and deletes the journal", async () => {
    const where = storage("hard-state", "none");
    const journal = await ReplicaJournal.open(where, "g/0", "run-1");
    const toy = new Toy();
    // The stand-in's "term" is how many messages it took.
    let term = 0;
    const released: ProcessOutput[][] = [];
    bindStandIn(
      journal,
      () => ({ term }),
      (outputs) => released.push([...outputs]),
    );
    await takeMessages(journal, toy, 5, () => {
      term += 1;
    });
    await journal.close();
    expect(released).toHaveLength(5);
    // A restart that replays it skips the hard states and rebuilds the same replica.
    const again = await ReplicaJournal.open(where, "g/0", "run-1");
    const replayed = new Toy();
    again.replay(
      replayed,
      () => {},
      () => {},
    );
    expect(replayed.state).toBe(toy.state);
    // It started from nothing: a replay starts from nothing too.
    expect(again.startingHardState).toBeUndefined();
    await again.log.close();
    const kept = await forgetJournal(where);
    expect(kept).toEqual({ found: true, hardState: { term: 5 } });
    expect(existsSync(where.dataDir)).toBe(false);
    // Nothing on disk (a wiped directory): nothing kept.
    expect(await forgetJournal(where)).toEqual({ found: false, hardState: undefined });
  });

  it("after an amnesia restart, the hard state kept goes first into the new journal: a later restart replays from it", async () => {
    const where = storage("hard-state-start", "none");
    const journal = await ReplicaJournal.open(where, "g/0", "run-1");
    const toy = new Toy();
    // Started from the kept hard state of term 9; each message taken moves the term on.
    let term = 9;
    bindStandIn(journal, () => ({ term }));
    await journal.recordStartingHardState();
    await takeMessages(journal, toy, 3, () => {
      term += 1;
    });
    await journal.close();
    // A durable restart of that journal: the replica is rebuilt from term 9, then replays.
    const again = await ReplicaJournal.open(where, "g/0", "run-1");
    expect(again.startingHardState).toEqual({ term: 9 });
    const replayed = new Toy();
    again.replay(
      replayed,
      () => {},
      () => {},
    );
    expect(replayed.state).toBe(toy.state);
    // Only a new journal starts with it.
    bindStandIn(again, () => ({ term }));
    await expect(again.recordStartingHardState()).rejects.toThrow(/new journal/);
    await again.log.close();
    // The last hard state is what a second amnesia restart keeps.
    expect(await forgetJournal(where)).toEqual({ found: true, hardState: { term: 12 } });
  });
});

describe("a journal begun by a fresh start", () => {
  it("is not taken for one begun by an amnesia restart when its first turn (the start, no input) records a hard state", async () => {
    const where = storage("hard-state-fresh", "none");
    const journal = await ReplicaJournal.open(where, "g/0", "run-1");
    const toy = new Toy();
    bindStandIn(journal, () => ({ term: 0 }));
    // The replica's start: outputs without an input, so the hard state is the first entry.
    journal.hold(toy, [{ kind: "view", group: "g", view: 0 }]);
    await new Promise((resolve) => setImmediate(resolve));
    await journal.close();
    const again = await ReplicaJournal.open(where, "g/0", "run-1");
    expect(again.startingHardState).toBeUndefined();
    await again.log.close();
  });
});

/**
 * A replica stand-in that journals decisions: each message it takes decides the next position
 * (batch: the message), its state a running hash of what it executed; it checkpoints every 100
 * positions and delivers every position. Its hard state holds, like Raft's (R8), a log past what
 * it executed: the last three messages it took, as records never changed in place.
 */
class Decider implements ProcessLogic {
  readonly id = "g/0";
  readonly wantsTicks = false;
  state = 0;
  executed = 0;
  term = 0;
  private decisions: DecidedPosition[] | undefined;
  latestCheckpoint: { position: number; state: Snapshot } | undefined;
  receive(_from: ProcessId, body: unknown): readonly ProcessOutput[] {
    return this.executeDecided({
      position: this.executed + 1,
      mark: this.term,
      batch: [body] as unknown as DecidedPosition["batch"],
    });
  }
  tick(): readonly ProcessOutput[] {
    return [];
  }
  suffix: { readonly n: number; readonly text: string }[] = [];
  hardState(): unknown {
    return { term: this.term, log: { after: this.executed - this.suffix.length, entries: [...this.suffix] } };
  }
  journalDecisions(): boolean {
    this.decisions ??= [];
    return true;
  }
  takeDecisions(): readonly DecidedPosition[] {
    const decisions = this.decisions ?? [];
    this.decisions = [];
    return decisions;
  }
  executeDecided(decided: DecidedPosition): readonly ProcessOutput[] {
    expect(decided.position).toBe(this.executed + 1);
    const { n } = decided.batch[0] as unknown as { n: number };
    this.suffix = [...this.suffix.slice(-2), { n, text: "y".repeat(100) }];
    this.state = (this.state * 31 + n + decided.position) % 1_000_000_007;
    this.executed = decided.position;
    this.decisions?.push(decided);
    if (decided.position % 100 === 0) this.checkpointAt(decided.position);
    return [
      { kind: "deliver", group: "g", message: { id: `m${n}`, client: "c0", dst: ["g"], payloadBytes: 1 } },
    ];
  }
  checkpointAt(position: number): void {
    this.latestCheckpoint = { position, state: buildSnapshot([["app/s", Buffer.from(String(this.state))]]) };
  }
  /** Starts from a checkpoint (the journal's, or one fetched from the group: an install). */
  restore(checkpoint: { position: number; state: Snapshot }): void {
    this.state = Number(Buffer.from(checkpoint.state.partitions.get("app/s") ?? []).toString());
    this.executed = checkpoint.position;
    this.latestCheckpoint = checkpoint;
  }
}

/** Runs messages `from`..`to` through `journal` into `decider`, a turn each; `each(n)` runs before each is taken. */
async function decide(
  journal: ReplicaJournal,
  decider: Decider,
  from: number,
  to: number,
  each: (n: number) => void = () => {},
): Promise<void> {
  for (let n = from; n <= to; n += 1) {
    each(n);
    const body = { n, text: "x".repeat(200) };
    journal.recordReceive("p", body, 0);
    journal.hold(decider, decider.receive("p", body));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function bindDecider(journal: ReplicaJournal, decider: Decider, released: ProcessOutput[] = []): void {
  journal.bind(
    (_logic, outputs) => released.push(...outputs),
    (error) => {
      throw error;
    },
    decider,
  );
}

const bytesOnDisk = (dataDir: string) =>
  readdirSync(dataDir).reduce((sum, file) => sum + statSync(join(dataDir, file)).size, 0);

describe("a journal of decided positions, truncated at the group's checkpoints", () => {
  it("keeps one checkpoint and the positions since; a restart rebuilds the same replica from them", async () => {
    const where = storage("decided", "none");
    const journal = await ReplicaJournal.open(where, "g/0", "run-1");
    const decider = new Decider();
    const released: ProcessOutput[] = [];
    bindDecider(journal, decider, released);
    expect(journal.kind).toBe("decided");
    // A checkpoint's files take longer than a turn, and this stand-in decides a position per
    // turn: each is let finish before going on, as it does between a group's checkpoints.
    await decide(journal, decider, 1, 100);
    await journal.checkpointed();
    await decide(journal, decider, 101, 200);
    await journal.checkpointed();
    await decide(journal, decider, 201, 250, (n) => {
      if (n === 230) decider.term = 7;
    });
    await journal.close();
    expect(released.filter((output) => output.kind === "deliver")).toHaveLength(250);
    // 250 positions of ~240 bytes each, and a hard-state change of ~150 bytes with each (the new
    // record of its log), of which the last checkpoint (200) and the positions since are left.
    expect(bytesOnDisk(where.dataDir)).toBeLessThan(60 * (240 + 160));
    const again = await ReplicaJournal.open(where, "g/0", "run-1");
    expect(again.restarted).toBe(true);
    expect(again.kind).toBe("decided");
    expect(again.recoveredCheckpoint?.position).toBe(200);
    expect(again.recoveredInputs).toBe(50);
    // The orderer is not rebuilt by the replay: it starts from the hard state recorded last,
    // rebuilt from the checkpoint's and the changes written after it.
    expect(again.startingHardState).toEqual(decider.hardState());
    expect(again.startingHardState).toMatchObject({ term: 7, log: { after: 247 } });
    // Each turn wrote what changed (one new record and where the log starts), not the whole.
    expect(journal.hardStateEntries).toBe(250);
    expect(journal.hardStateBytes / journal.hardStateEntries).toBeLessThan(200);
    const rebuilt = new Decider();
    bindDecider(again, rebuilt);
    rebuilt.restore(again.recoveredCheckpoint as { position: number; state: Snapshot });
    const delivered: string[] = [];
    const stats = again.replay(
      rebuilt,
      (outputs) => {
        for (const output of outputs) if (output.kind === "deliver") delivered.push(output.message.id);
      },
      (input, error) => {
        throw new Error(`${input}: ${String(error)}`);
      },
    );
    expect(stats).toMatchObject({ kind: "decided", inputs: 50 });
    // The same replica: the same state, and the deliveries after the checkpoint again, in order.
    expect(rebuilt.state).toBe(decider.state);
    expect(rebuilt.executed).toBe(250);
    expect(delivered).toEqual(Array.from({ length: 50 }, (_, index) => `m${201 + index}`));
    // It goes on journalling where it stopped: the replay is not written twice.
    rebuilt.term = 7;
    await decide(again, rebuilt, 251, 320);
    await again.close();
    const third = await ReplicaJournal.open(where, "g/0", "run-1");
    expect(third.recoveredCheckpoint?.position).toBe(300);
    expect(third.recoveredInputs).toBe(20);
    expect(third.startingHardState).toEqual(rebuilt.hardState());
    await third.log.close();
    // Another replica's journal is still refused (the header travels in the checkpoint).
    await expect(ReplicaJournal.open(where, "g/1", "run-1")).rejects.toThrow(/journal of replica g\/0/);
    // Amnesia keeps the rebuilt hard state but its log.
    expect(await forgetJournal(where)).toEqual({ found: true, hardState: { term: 7 } });
  });

  it("writes a checkpoint installed from the group at once, durable before the install's outputs leave", async () => {
    const where = storage("decided-install", "batch");
    const journal = await ReplicaJournal.open(where, "g/0", "run-1");
    const decider = new Decider();
    const released: ProcessOutput[] = [];
    bindDecider(journal, decider, released);
    await decide(journal, decider, 1, 30);
    // Far behind: it installs its group's checkpoint at 500 (its state: as if 500 positions ran).
    const fetched = new Decider();
    fetched.state = 4242;
    fetched.checkpointAt(500);
    decider.restore(fetched.latestCheckpoint as { position: number; state: Snapshot });
    journal.hold(decider, [{ kind: "install", group: "g", position: 500 }]);
    await decide(journal, decider, 31, 35);
    await journal.close();
    expect(released.map((output) => output.kind)).toContain("install");
    const again = await ReplicaJournal.open(where, "g/0", "run-1");
    // Not at its next own checkpoint (600): now, covering the 30 positions before it.
    expect(again.recoveredCheckpoint?.position).toBe(500);
    expect(again.recoveredInputs).toBe(5);
    const rebuilt = new Decider();
    bindDecider(again, rebuilt);
    rebuilt.restore(again.recoveredCheckpoint as { position: number; state: Snapshot });
    again.replay(
      rebuilt,
      () => {},
      () => {},
    );
    expect(rebuilt.executed).toBe(505);
    expect(rebuilt.state).toBe(decider.state);
    await again.log.close();
  });

  it("refuses a journal of the format before hard states were written as changes, in one line", async () => {
    const where = storage("format-2");
    const log = (await ReplicaLog.open(where.dataDir, { fsync: "batch", keepEntries: false })).log;
    log.append(
      new Packr({ useRecords: false }).pack(["amcast-replica-journal", 2, "g/0", "run-1", "decided"]),
    );
    await log.close();
    await expect(ReplicaJournal.open(where, "g/0", "run-1")).rejects.toThrow(
      /holds a replica journal of format 2, this version reads 3: give an empty directory$/,
    );
  });

  it("is not used for a replica that takes no checkpoints, nor with truncate: false", async () => {
    const plain = await ReplicaJournal.open(storage("not-decided"), "g/0", "run-1");
    bindStandIn(plain, () => ({ term: 0 }));
    expect(plain.kind).toBe("inputs");
    await plain.close();
    const kept = await ReplicaJournal.open({ ...storage("kept"), truncate: false }, "g/0", "run-1");
    bindDecider(kept, new Decider());
    expect(kept.kind).toBe("inputs");
    await kept.close();
  });
});
