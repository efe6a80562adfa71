import {
  appendFileSync,
  existsSync,
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
import { buildSnapshot } from "@amcast/storage";
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

describe("a journal truncated at the group's checkpoints", () => {
  it("keeps one checkpoint and the entries since; a restart starts from it with the hard state recorded after it", async () => {
    const where = { ...storage("truncated", "none"), truncate: true };
    const journal = await ReplicaJournal.open(where, "g/0", "run-1");
    const toy = new Toy();
    let term = 0;
    let latestCheckpoint: { position: number; state: ReturnType<typeof buildSnapshot> } | undefined;
    journal.bind(
      () => {},
      (error) => {
        throw error;
      },
      {
        hardState: () => ({ term }),
        get latestCheckpoint() {
          return latestCheckpoint;
        },
      },
    );
    const bytesOnDisk = () =>
      readdirSync(where.dataDir).reduce((sum, file) => sum + statSync(join(where.dataDir, file)).size, 0);
    for (let n = 1; n <= 300; n += 1) {
      const body = { n, text: "x".repeat(200) };
      journal.recordReceive("p", body, 0);
      journal.hold(toy, toy.receive("p", body));
      // The group checkpoints every 100 inputs here.
      if (n % 100 === 0)
        latestCheckpoint = { position: n, state: buildSnapshot([["app/s", Buffer.from(`state at ${n}`)]]) };
      if (n === 250) term = 7;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Closing waits for the checkpoint being written.
    await journal.close();
    // 300 inputs of ~220 bytes; what is left is the last checkpoint and the inputs after it.
    expect(bytesOnDisk()).toBeLessThan(150 * 220);
    const again = await ReplicaJournal.open(where, "g/0", "run-1");
    expect(again.restarted).toBe(true);
    expect(again.recoveredInputs).toBe(0);
    expect(again.recoveredCheckpoint?.position).toBe(300);
    expect(Buffer.from(again.recoveredCheckpoint?.state.partitions.get("app/s") ?? []).toString()).toBe(
      "state at 300",
    );
    expect(again.recoveredCheckpoint?.hardState).toEqual({ term: 7 });
    await again.close();
    // Another replica's journal is still refused (the header travels in the checkpoint).
    await expect(ReplicaJournal.open(where, "g/1", "run-1")).rejects.toThrow(/journal of replica g\/0/);
  });
});
