import { checkRun } from "@amcast/check";
import type { DestinationSet, Prng, ProcessLogic, TraceEvent } from "@amcast/core";
import type { CrashFault, PartitionFault, SimClient, SimProcess } from "@amcast/sim";
import { simulate } from "@amcast/sim";
import { skeen } from "@amcast/skeen";
import { STATE_CODEC } from "@amcast/storage";
import { describe, expect, it } from "vitest";
import type { ByzantineStrategy, DecidedPosition, ReplicationMode } from "../src/index.js";
import {
  amnesiaHardState,
  ByzantineReplica,
  createClient,
  createReplica,
  Membership,
  mostNamedLeader,
  PARTITION,
  type PbftOrderer,
  type Replica,
  replicaCount,
  restartFromDecisions,
  SimulatedSignatures,
} from "../src/index.js";
import { PAIR_TOPOLOGY } from "./pair-topology.js";

const topology = PAIR_TOPOLOGY;

interface RunOptions {
  readonly mode: ReplicationMode;
  readonly crashes?: readonly CrashFault[];
  readonly partitions?: readonly PartitionFault[];
  readonly byzantine?: ReadonlyMap<string, ByzantineStrategy>;
  readonly multicastsPerClient?: number;
  readonly seed?: number;
}

/**
 * Skeen on replicated groups that checkpoint every 8 log positions, so a replica cut off for a
 * while is behind what its group retains and must fetch a checkpoint. Amnesia crashes restart a
 * replica from its hard state alone.
 */
function run(options: RunOptions) {
  const f = 1;
  const membership = Membership.uniform(topology.groupIds, replicaCount(options.mode, f));
  const signatures = options.mode === "byzantine" ? new SimulatedSignatures(7) : undefined;
  const current = new Map<string, Replica<unknown>>();
  const processes: SimProcess[] = membership.processes().map(({ id, group }) => {
    const signer = signatures?.signerFor(id);
    const make = (hardState: unknown): ProcessLogic => {
      const replica = createReplica({
        protocol: skeen,
        group,
        id,
        membership,
        overlay: null,
        mode: options.mode,
        f,
        codec: STATE_CODEC,
        ordering: { checkpointEntries: 8 },
        ...(hardState === undefined ? {} : { hardState }),
        ...(signer === undefined || signatures === undefined ? {} : { signer, verifier: signatures }),
      }) as Replica<unknown>;
      current.set(id, replica);
      const strategy = options.byzantine?.get(id);
      return strategy === undefined || signer === undefined
        ? replica
        : new ByzantineReplica(replica, strategy, signer, membership);
    };
    const logic = make(undefined);
    // `journal` crashes: rebuilt from what a journal of decided positions keeps.
    const journalled =
      options.byzantine?.has(id) !== true &&
      (options.crashes ?? []).some((crash) => crash.kind === "journal" && crash.proc === id) &&
      (current.get(id) as Replica<unknown>).journalDecisions();
    const kept: DecidedPosition[] = [];
    return {
      logic,
      region: topology.groupRegion(group),
      group,
      restart: () => make(amnesiaHardState((current.get(id) as Replica<unknown>).hardState())),
      ...(journalled
        ? {
            restartFromJournal: () =>
              restartFromDecisions(current.get(id) as Replica<unknown>, kept, (hardState) => {
                make(hardState);
                return current.get(id) as Replica<unknown>;
              }),
          }
        : {}),
    };
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
      outstandingMax: 2,
      ...(signatures === undefined ? {} : { signer: signatures.signerFor(id) }),
    }),
    region: index < 2 ? "A" : "B",
    loop: { kind: "closed", multicasts: options.multicastsPerClient ?? 150, outstanding: 2, thinkMs: 5 },
    payloadBytes: 16,
    startMs: index,
    destinations: (prng: Prng) => prng.pick(dsts),
  }));
  const events: TraceEvent[] = [];
  const leaderOf = (group: string) =>
    mostNamedLeader(
      [...current].map(([id, replica]) =>
        options.byzantine?.has(id) === true || replica.group !== group ? undefined : replica.orderer.leader(),
      ),
    );
  const result = simulate({
    seed: options.seed ?? 3,
    topology,
    processes,
    clients,
    network: { jitterSdFraction: 0.1, reorder: null },
    processing: { perMessageUs: 20, perByteNs: 1 },
    faults: {
      crashes: options.crashes ?? [],
      partitions: options.partitions ?? [],
      byzantine: [...(options.byzantine?.keys() ?? [])],
    },
    tickMs: 10,
    timeLimitMs: 300_000,
    recordSends: false,
    leaderOf,
    onEvent: (event) => events.push(event),
  });
  const report = checkRun(events, { liveness: true });
  return { result, report, current, events };
}

function expectClean(outcome: ReturnType<typeof run>): void {
  expect(outcome.report.violations.map((violation) => violation.message)).toEqual([]);
  expect(outcome.result.stoppedBy).toBe("drained");
  expect(outcome.result.completed).toBe(outcome.result.multicasts);
}

/** The roots of the group's replicas' checkpoints at their common latest position. */
function rootsAt(outcome: ReturnType<typeof run>, ids: readonly string[]) {
  const checkpoints = ids.map((id) => outcome.current.get(id)?.latestCheckpoint);
  const position = Math.min(...checkpoints.map((checkpoint) => checkpoint?.position ?? 0));
  return { position, checkpoints };
}

/** The replicas executed the same log position last and hold one whole state there (`stateNow`). */
function expectOneStateNow(outcome: ReturnType<typeof run>, ids: readonly string[]): void {
  const states = ids.map((id) => (outcome.current.get(id) as Replica<unknown>).stateNow());
  expect(states.every((state) => state !== undefined)).toBe(true);
  expect(new Set(states.map((state) => `${state?.position}/${state?.root}`)).size).toBe(1);
}

describe("checkpoints and state transfer inside a group", () => {
  it("crash mode: a replica down (durably) past the retained log fetches the leader's checkpoint and catches up", () => {
    // What reaches a crashed replica is lost (a partition would hold it and deliver it later).
    const outcome = run({ mode: "crash", crashes: [{ proc: "b/2", atMs: 100, recoverAtMs: 2500 }] });
    expectClean(outcome);
    const lagging = outcome.current.get("b/2") as Replica<unknown>;
    expect(lagging.installedCheckpoints).toBeGreaterThanOrEqual(1);
    expect(lagging.transferredBytes).toBeGreaterThan(0);
    // Once caught up it holds the same state as the others: equal checkpoints, equal roots.
    const { checkpoints } = rootsAt(outcome, ["b/0", "b/1", "b/2"]);
    const positions = checkpoints.map((checkpoint) => checkpoint?.position);
    expect(new Set(positions).size).toBe(1);
    expect(new Set(checkpoints.map((checkpoint) => checkpoint?.state.manifest.root)).size).toBe(1);
    const names = checkpoints[0]?.state.manifest.partitions.map((entry) => entry.name);
    expect(names).toEqual(expect.arrayContaining(Object.values(PARTITION)));
    expectOneStateNow(outcome, ["b/0", "b/1", "b/2"]);
    // Its deliveries after the install are a window of the group's sequence (the oracle checked it).
    expect(outcome.events.some((event) => event.ev === "fault" && event.kind === "install")).toBe(true);
  });

  it("crash mode: a replica that restarts with amnesia recovers its state from the group", () => {
    const outcome = run({
      mode: "crash",
      crashes: [{ proc: "a/1", atMs: 400, recoverAtMs: 900, kind: "amnesia" }],
    });
    expectClean(outcome);
    const restarted = outcome.current.get("a/1") as Replica<unknown>;
    expect(restarted.installedCheckpoints).toBeGreaterThanOrEqual(1);
    const { checkpoints } = rootsAt(outcome, ["a/0", "a/1", "a/2"]);
    expect(new Set(checkpoints.map((checkpoint) => checkpoint?.position)).size).toBe(1);
    expect(new Set(checkpoints.map((checkpoint) => checkpoint?.state.manifest.root)).size).toBe(1);
    expectOneStateNow(outcome, ["a/0", "a/1", "a/2"]);
  });

  it("Byzantine mode: a replica serving corrupt partitions is caught, ignored, and the lagging replica still catches up", () => {
    // b/3 orders correctly and lies only in the partitions it serves, so the group keeps ordering
    // while b/1 is down; what is tested is that b/1's fetch catches and routes around it.
    const outcome = run({
      mode: "byzantine",
      byzantine: new Map([["b/3", "corrupt-state"]]),
      crashes: [{ proc: "b/1", atMs: 100, recoverAtMs: 2500 }],
    });
    expectClean(outcome);
    const lagging = outcome.current.get("b/1") as Replica<unknown>;
    expect(lagging.installedCheckpoints).toBeGreaterThanOrEqual(1);
    expect([...lagging.faultyServers]).toEqual(["b/3"]);
    // Checkpoint messages carry the snapshot root: a stable checkpoint is a root 2f+1 replicas signed.
    const stable = ((outcome.current.get("b/0") as Replica<unknown>).orderer as PbftOrderer).stableCheckpoint;
    expect(stable.seq).toBeGreaterThan(0);
    expect(stable.root).toMatch(/^[0-9a-f]{64}$/);
    const { checkpoints } = rootsAt(outcome, ["b/0", "b/1", "b/2"]);
    expect(new Set(checkpoints.map((checkpoint) => checkpoint?.position)).size).toBe(1);
    expect(new Set(checkpoints.map((checkpoint) => checkpoint?.state.manifest.root)).size).toBe(1);
    expectOneStateNow(outcome, ["b/0", "b/1", "b/2"]);
  });

  for (const seed of [1, 2, 3, 4])
    it(`Byzantine mode (seed ${seed}): the primary and a backup crashed at once mid-load and rebuilt from journals of decided positions (their checkpoint, the positions after it, the hard state written last) catch up as the same replicas`, () => {
      const atMs = 150 + seed * 37;
      const outcome = run({
        mode: "byzantine",
        seed,
        multicastsPerClient: 60,
        crashes: ["b/0", "b/1"].map((proc, index) => ({
          proc,
          atMs,
          recoverAtMs: atMs + 300 + index * 10,
          kind: "journal" as const,
        })),
      });
      expectClean(outcome);
      // The same replicas, not new incarnations: no amnesia.
      expect(outcome.events.some((event) => event.ev === "fault" && event.kind === "amnesia")).toBe(false);
      expectOneStateNow(outcome, ["b/0", "b/1", "b/2", "b/3"]);
    });

  // Every replica of b down together and rebuilt from its journal, as a whole cluster restarted
  // after a power cut: what a sent meanwhile reached no replica of b, and the rebuilt replicas
  // must ask for it (as the network runtime's host does after a replay) or b never takes it.
  for (const mode of ["crash", "byzantine"] as const)
    it(`${mode} mode: the whole group crashed at once and rebuilt from journals of decided positions drains, oracles clean, one state`, () => {
      const replicas = replicaCount(mode, 1);
      for (const [seed, atMs, downMs] of [
        [2, 300, 200],
        [3, 500, 400],
        [6, 200, 300],
      ] as const) {
        const outcome = run({
          mode,
          seed,
          multicastsPerClient: 40,
          crashes: Array.from({ length: replicas }, (_, index) => ({
            proc: `b/${index}`,
            atMs,
            recoverAtMs: atMs + downMs + index * 10,
            kind: "journal" as const,
          })),
        });
        expect(outcome.result.lostToCrashes).toBeGreaterThan(0);
        expectClean(outcome);
        expect(outcome.events.some((event) => event.ev === "fault" && event.kind === "amnesia")).toBe(false);
        expectOneStateNow(
          outcome,
          Array.from({ length: replicas }, (_, index) => `b/${index}`),
        );
      }
    });
});
