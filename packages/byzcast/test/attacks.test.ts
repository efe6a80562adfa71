import { checkRun } from "@amcast/check";
import type { DestinationSet, Prng, ProcessLogic, ProcessOutput, TraceEvent } from "@amcast/core";
import { parseOverlay, Topology } from "@amcast/core";
import type { ByzantineStrategy, Replica } from "@amcast/group";
import {
  ByzantineReplica,
  createClient,
  createReplica,
  Membership,
  SimulatedSignatures,
} from "@amcast/group";
import type { SimClient, SimProcess } from "@amcast/sim";
import { simulate } from "@amcast/sim";
import { describe, expect, it } from "vitest";
import { byzcast } from "../src/index.js";

/**
 * Attacks on ByzCast (byzcast.md §4): Byzantine replicas of the auxiliary root try to make its two
 * children order the same two messages differently. Every group runs in Byzantine mode with
 * f = 1 (4 replicas); clients multicast to both children concurrently, so the root orders many
 * pairs of messages that both children deliver.
 */
const topology = new Topology(
  "tree-wan",
  {
    regions: ["R", "A", "B"],
    latencyMs: [
      [1, 30, 40],
      [30, 1, 25],
      [40, 25, 1],
    ],
  },
  [
    { id: "a", region: "A" },
    { id: "b", region: "B" },
    { id: "root", region: "R", role: "auxiliary" },
  ],
  [],
);
const tree = parseOverlay(
  {
    kind: "tree",
    name: "two-level",
    groups: [
      { id: "root", role: "auxiliary" },
      { id: "a", role: "target" },
      { id: "b", role: "target" },
    ],
    edges: [
      ["root", "a"],
      ["root", "b"],
    ],
  },
  "two-level.json",
);

/** A Byzantine replica whose stream copies (what its strategy made of them) are counted on their way out. */
class CountsCopies implements ProcessLogic {
  readonly id: string;
  readonly wantsTicks: boolean;
  copiesSent = 0;

  constructor(private readonly inner: ByzantineReplica) {
    this.id = inner.id;
    this.wantsTicks = inner.wantsTicks;
  }

  receive(from: string, body: unknown): readonly ProcessOutput[] {
    return this.count(this.inner.receive(from, body));
  }

  tick(): readonly ProcessOutput[] {
    return this.count(this.inner.tick());
  }

  idle(): boolean {
    return this.inner.idle?.() ?? true;
  }

  private count(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    for (const output of outputs)
      if (output.kind === "send" && (output.body as { t?: unknown }).t === "copy") this.copiesSent += 1;
    return outputs;
  }
}

function attack(byzantine: ReadonlyMap<string, ByzantineStrategy>, seed = 3) {
  const membership = Membership.uniform(["a", "b", "root"], 4);
  const signatures = new SimulatedSignatures(seed);
  const correct: Replica<unknown>[] = [];
  const faulty = new Map<string, CountsCopies>();
  const processes: SimProcess[] = membership.processes().map(({ id, group }) => {
    const signer = signatures.signerFor(id);
    const replica = createReplica({
      protocol: byzcast,
      group,
      id,
      membership,
      overlay: tree,
      mode: "byzantine",
      f: 1,
      signer,
      verifier: signatures,
    }) as Replica<unknown>;
    const strategy = byzantine.get(id);
    if (strategy === undefined) correct.push(replica);
    else faulty.set(id, new CountsCopies(new ByzantineReplica(replica, strategy, signer, membership)));
    return {
      logic: faulty.get(id) ?? replica,
      region: topology.groupRegion(group),
      group,
    };
  });
  const dsts: DestinationSet[] = [["a", "b"], ["a", "b"], ["a"], ["b"]];
  const clients: SimClient[] = ["c0", "c1", "c2", "c3"].map((id, index) => ({
    logic: createClient({
      id,
      protocol: byzcast,
      membership,
      overlay: tree,
      mode: "byzantine",
      f: 1,
      outstandingMax: 3,
      signer: signatures.signerFor(id),
    }),
    region: ["R", "A", "B", "R"][index] as string,
    loop: { kind: "closed", multicasts: 25, outstanding: 3, thinkMs: 0 },
    payloadBytes: 8,
    startMs: index,
    destinations: (prng: Prng) => prng.pick(dsts),
  }));
  const events: TraceEvent[] = [];
  const result = simulate({
    seed,
    topology,
    processes,
    clients,
    network: { jitterSdFraction: 0.2, reorder: null },
    processing: { perMessageUs: 20, perByteNs: 1 },
    faults: { crashes: [], partitions: [], byzantine: [...byzantine.keys()] },
    tickMs: 10,
    timeLimitMs: 300_000,
    recordSends: false,
    onEvent: (event) => events.push(event),
  });
  const report = checkRun(events, { liveness: true });
  return { result, report, correct, events, faulty };
}

function expectHolds(outcome: ReturnType<typeof attack>): void {
  expect(outcome.report.violations.map((violation) => violation.message)).toEqual([]);
  expect(outcome.result.stoppedBy).toBe("drained");
  expect(outcome.result.completed).toBe(100);
}

describe("ByzCast under attack by f Byzantine replicas of the auxiliary root", () => {
  it("withholding one message and sending the other early (item k+1 early, never k): fails, children keep the root's order", () => {
    expectHolds(attack(new Map([["root/2", "withhold"]])));
  });

  it("forging an item (altered copies, signed by the forger): fails, f copies never make an item", () => {
    const outcome = attack(new Map([["root/1", "forge"]]));
    expectHolds(outcome);
    // The forger sent its altered copies to every replica of both children, and no child took
    // one: a child's primary orders only the f+1 identical copies an item needs (a forgery
    // nobody matches waits unordered, or is ordered alone after the forwarding timeout and
    // loses), so the children delivered exactly the root's messages.
    expect(outcome.faulty.get("root/1")?.copiesSent).toBeGreaterThan(0);
  });

  it("replaying older items: fails, a stream takes each item once", () => {
    expectHolds(attack(new Map([["root/3", "replay"]])));
  });

  it("sending different items to different children (swapped pairs on one child's stream): fails", () => {
    expectHolds(attack(new Map([["root/0", "swap"]])));
  });

  it("an equivocating primary of the root (different batches to different replicas): fails", () => {
    expectHolds(attack(new Map([["root/0", "equivocate"]])));
  });

  it("a silent Byzantine replica (the root's primary) does not stop progress", () => {
    const outcome = attack(new Map([["root/0", "silent"]]));
    expectHolds(outcome);
    expect(
      outcome.correct
        .filter((replica) => replica.group === "root")
        .every((replica) => replica.orderer.leader() !== "root/0"),
    ).toBe(true);
  });

  it("the same forgery by f+1 replicas breaks the assumption, and the oracles catch the lost messages (they are not vacuous)", () => {
    const outcome = attack(
      new Map<string, ByzantineStrategy>([
        ["root/1", "forge"],
        ["root/2", "forge"],
      ]),
    );
    // Forged items win some streams: the real messages they replace never reach the children.
    const properties = new Set(outcome.report.violations.map((violation) => violation.property));
    expect(properties.has("validity")).toBe(true);
    expect(outcome.result.completed).toBeLessThan(100);
  });
});
