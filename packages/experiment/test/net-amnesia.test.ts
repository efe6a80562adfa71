import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkRun } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import { DEFAULT_NET_OPTIONS, runCluster } from "@amcast/runtime";
import type { CrashFault } from "@amcast/sim";
import type { SystemSpec } from "@amcast/system";
import { describe, expect, it } from "vitest";
import type { RecoveryPlan } from "../src/recovery.js";
import { recoveryPassed, recoverySpec } from "../src/recovery.js";
import { runRecoveryCaseNet } from "../src/recovery-net.js";

/**
 * Amnesia crashes on real processes: a replica killed with SIGKILL comes back with only its
 * orderer's hard state and fetches its group's checkpoint over real links (state transfer),
 * partition by partition, each checked against the root it trusts.
 */
/** The load goes on for seconds after the restart, so the restarted replica has new multicasts to deliver even when a loaded machine starts it late. */
const PLAN: RecoveryPlan = {
  protocol: "skeen",
  keys: [4000],
  modes: ["crash"],
  roles: ["leader"],
  partitions: 16,
  clients: 2,
  ratePerSecPerClient: 60,
  durationMs: 4500,
  crashAtMs: 800,
  pauseMs: 500,
  checkpointEntries: 8,
  perMessageUs: 0,
  perByteNs: 0,
  seed: 3,
  crashKind: "amnesia",
  oracles: true,
  net: {},
  netFsync: "interval",
  netKeepJournal: false,
};
const OPTIONS = { ...DEFAULT_NET_OPTIONS, latencyEmulation: false, timeLimitMs: 120_000, stallMs: 30_000 };

/**
 * A replica restarted empty installs a checkpoint only if its group no longer holds the log from
 * the start: a replica truncates its log at its previous checkpoint when it takes the next one.
 * Kills wait (the runner's `crashesAfterCheckpointAt`) until every replica of the group is past its
 * second checkpoint, however late a loaded machine ran the workload.
 */
function killAfterTruncation(checkpointEntries: number): { readonly crashesAfterCheckpointAt: number } {
  return { crashesAfterCheckpointAt: 2 * checkpointEntries };
}

/**
 * `replicas` end at one checkpoint (position and root) and, when they stopped, had executed the
 * same log position with one root over their whole state.
 */
function expectOneState(run: ClusterRun, replicas: readonly string[]): void {
  for (const view of ["checkpoint", "now"] as const) {
    const states = replicas.map((proc) => run.net.perNode[proc]?.replicaState?.[view]);
    expect(
      states.every((state) => state !== undefined),
      view,
    ).toBe(true);
    expect(new Set(states.map((state) => `${state?.position}/${state?.root}`)).size, view).toBe(1);
  }
}

type ClusterRun = Awaited<ReturnType<typeof runCluster>>;

/**
 * Runs `spec` on real processes with journals (fsync `interval`) and a key-value state
 * checkpointed every 4 positions, in a scratch directory removed afterwards. Returns the run, its
 * trace events, and the node logs whose file names end with `logSuffix`.
 */
async function runJournalled(
  spec: SystemSpec,
  prefix: string,
  partitions: number,
  logSuffix = ".log",
  options: {
    readonly truncate?: boolean;
    readonly workloadEndsAfterCrashes?: number;
    readonly restartsAfterWorkload?: boolean;
  } = {},
): Promise<{ run: ClusterRun; events: TraceEvent[]; logs: string }> {
  const truncate = options.truncate ?? true;
  const workDir = mkdtempSync(join(tmpdir(), prefix));
  const events: TraceEvent[] = [];
  try {
    const run = await runCluster(spec, {
      ...OPTIONS,
      workDir,
      storage: { fsync: "interval", ...(truncate ? {} : { truncate: false }) },
      ...(options.workloadEndsAfterCrashes === undefined
        ? {}
        : { workloadEndsAfterCrashes: options.workloadEndsAfterCrashes }),
      ...(options.restartsAfterWorkload === true ? { restartsAfterWorkload: true } : {}),
      replicaState: { checkpointEntries: 4, keyValue: { keys: 4000, partitions } },
      traceSends: false,
      onEvent: (event) => events.push(event),
    });
    const logs = readdirSync(workDir)
      .filter((file) => file.endsWith(logSuffix))
      .map((file) => readFileSync(join(workDir, file), "utf8"))
      .join("\n");
    return { run, events, logs };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** Where each replica that reported its state stopped (a stalled run's message). */
function positionsNow(run: ClusterRun): string {
  return Object.entries(run.net.perNode)
    .map(([proc, stats]) => `${proc} at ${stats.replicaState?.now?.position ?? "(no state reported)"}`)
    .join(", ");
}

/** The run drained, completed every multicast, and the oracles (liveness too) found nothing. */
function expectDrainedAndClean(run: ClusterRun, events: readonly TraceEvent[]): void {
  expect(run.sim.stoppedBy, positionsNow(run)).toBe("drained");
  expect(run.sim.completed).toBe(run.sim.multicasts);
  expect(checkRun(events, { liveness: true }).violations.map((violation) => violation.message)).toEqual([]);
}

describe("amnesia on real processes", () => {
  it("crash mode: the leader killed and restarted empty installs its group's checkpoint over real links and catches up; nothing lost or duplicated, one root", {
    timeout: 180_000,
  }, async () => {
    // Each step waits for the one before: the kill for the group's truncation, the restart for
    // the kill, and the end of the workload (its duration a cap) for the restart and 60 more
    // multicasts, so the restarted leader has new ones to catch up with however late it is back.
    const row = await runRecoveryCaseNet({ ...PLAN, durationMs: 60_000 }, 4000, "crash", "leader", {
      ...OPTIONS,
      ...killAfterTruncation(PLAN.checkpointEntries),
      workloadEndsAfterCrashes: 60,
    });
    expect(row.violations).toBe(0);
    expect(row.completed).toBe(row.multicasts);
    // Ended by the runner after the restart, not at the cap.
    expect(row.multicasts).toBeLessThan(2 * 3600);
    expect(row.installMs).not.toBeNull();
    expect(row.caughtUpMs).not.toBeNull();
    // The key-value partitions (4,000 values of up to 16 characters) and the group's state.
    expect(row.transferredBytes).toBeGreaterThan(4000 * 8);
    expect(row.positionsBehind).toBeGreaterThan(0);
    expect(row.sameRoot).toBe(true);
    expect(recoveryPassed(row)).toBe(true);
  });

  it("Byzantine mode: a replica serving corrupt partitions is named faulty by the restarted replica, which installs the true checkpoint from the others", {
    timeout: 180_000,
  }, async () => {
    const base = recoverySpec(PLAN, 4000, "byzantine", "follower");
    const spec: SystemSpec = {
      ...base,
      // A closed loop of one multicast per client at a time: a decided position then holds at
      // most two, so the group gets past its second checkpoint (the kill's precondition) however
      // a loaded machine batches; an open loop's backlog may fit in fewer positions than that.
      // Its count is a cap: the runner ends it 30 multicasts after the restart.
      workload: { ...base.workload, loop: "closed", outstanding: 1, thinkMs: 20, multicastsPerClient: 1000 },
      // a/3 orders correctly but corrupts every partition it serves; a/2 crashes with amnesia.
      byzantine: [{ proc: "a/3", strategy: "corrupt-state" }],
      faults: {
        crashes: base.faults.crashes.map((crash) => ({ ...crash, proc: "a/2", leaderOf: undefined })),
        partitions: [],
      },
    };
    const events: TraceEvent[] = [];
    const run = await runCluster(spec, {
      ...OPTIONS,
      ...killAfterTruncation(4),
      workloadEndsAfterCrashes: 30,
      replicaState: { checkpointEntries: 4, keyValue: { keys: 4000, partitions: 64 } },
      traceSends: false,
      onEvent: (event) => events.push(event),
    });
    expect(run.sim.stoppedBy, positionsNow(run)).toBe("drained");
    expect(run.sim.completed).toBe(run.sim.multicasts);
    expect(run.sim.multicasts, "ended by the runner after the restart").toBeLessThan(2 * 1000);
    expect(checkRun(events, { liveness: true }).violations.map((violation) => violation.message)).toEqual([]);
    const faults = events.flatMap((event) =>
      event.ev === "fault" && event.proc === "a/2" ? [event.kind] : [],
    );
    // Killed, back with amnesia (a new incarnation), installed a checkpoint fetched from its group.
    expect(faults.slice(0, 2)).toEqual(["crash", "amnesia"]);
    expect(faults).toContain("install");
    const state = run.net.perNode["a/2"]?.replicaState;
    expect(state?.transferredBytes).toBeGreaterThan(0);
    expect(state?.faultyServers).toEqual(["a/3"]);
    // The correct replicas end with one root (they executed the same log, so checkpointed alike),
    // and with one whole state when they stopped (which checks what the restarted replica built
    // from its install even when it took no checkpoint of its own after it).
    expectOneState(run, ["a/0", "a/1", "a/2"]);
  });

  it("Byzantine mode: a replica back from amnesia, killed again and restarted from its journal (begun with the hard state the amnesia restart kept), replays it and catches up; nothing lost or duplicated, one root", {
    timeout: 180_000,
  }, async () => {
    const base = recoverySpec(PLAN, 4000, "byzantine", "follower");
    const spec: SystemSpec = {
      ...base,
      // A closed loop whose count is a cap: the runner ends it 30 multicasts after the second
      // restart is back, so the replica has multicasts to catch up with after it however late a
      // loaded machine runs the steps (each waits for the one before).
      workload: { ...base.workload, loop: "closed", outstanding: 1, thinkMs: 20, multicastsPerClient: 1000 },
      faults: {
        crashes: [
          // The runner strikes the second crash only once the first restart is back.
          { proc: "a/2", atMs: 600, recoverAtMs: 1100, kind: "amnesia" },
          { proc: "a/2", atMs: 2000, recoverAtMs: 2400 },
        ],
        partitions: [],
      },
    };
    const {
      run,
      events,
      logs: log,
    } = await runJournalled(spec, "amcast-amnesia-durable-", 64, "a_2.log", {
      workloadEndsAfterCrashes: 30,
    });
    expect(run.sim.multicasts, "ended by the runner after the second restart").toBeLessThan(2 * 1000);
    expectDrainedAndClean(run, events);
    const faults = events.flatMap((event) =>
      event.ev === "fault" && event.proc === "a/2" ? [event.kind] : [],
    );
    // Killed, back with amnesia (caught up by its group's log or a checkpoint, as the load
    // allowed), killed again, back as the same incarnation (no second amnesia).
    expect(faults.filter((kind) => kind !== "install")).toEqual([
      "crash",
      "amnesia",
      "recover",
      "crash",
      "recover",
    ]);
    // The second restart found the journal the first one began (with the hard state it kept) and
    // rebuilt the replica from it (its checkpoint, an install from the group included, and the
    // positions after it): the same replica as before the kill.
    expect(log).toMatch(/amnesia: kept the orderer's hard state/);
    const journal = log.match(
      /journal in .*: decided positions, truncated at checkpoints; (?:starts from its checkpoint at log position \d+, )?(\d+) position\(s\) to replay/,
    );
    expect(journal, log).not.toBeNull();
    const toReplay = Number(journal?.[1]);
    if (toReplay > 0) expect(log).toMatch(new RegExp(`replayed ${toReplay} decided position\\(s\\)`));
    // Every replica ends at one checkpoint under one root, and with one whole state.
    expectOneState(run, ["a/0", "a/1", "a/2", "a/3"]);
  });

  for (const mode of ["crash", "byzantine"] as const)
    it(`${mode} mode, journals of decided positions truncated at checkpoints (the default): a replica killed and restarted rebuilds itself from its checkpoint and the positions after it, as the same replica; nothing lost or duplicated, one root`, {
      timeout: 180_000,
    }, async () => {
      // A durable crash of a/2, once several checkpoints were written (under load, a log
      // position holds several multicasts).
      const base = recoverySpec({ ...PLAN, crashKind: "durable", crashAtMs: 2000 }, 4000, mode, "follower");
      const spec: SystemSpec = {
        ...base,
        faults: {
          crashes: base.faults.crashes.map((crash) => ({ ...crash, proc: "a/2", leaderOf: undefined })),
          partitions: [],
        },
      };
      const { run, events, logs } = await runJournalled(spec, "amcast-decided-", 16);
      expectDrainedAndClean(run, events);
      const journal = logs.match(
        /\[a\/2\] journal in .*: decided positions, truncated at checkpoints; (?:starts from its checkpoint at log position (\d+), )?(\d+) position\(s\) to replay/,
      );
      expect(
        journal,
        logs
          .split("\n")
          .filter((line) => line.includes("[a/2]"))
          .join("\n"),
      ).not.toBeNull();
      // On a loaded machine the kill may come before a/2's first checkpoint: it then rebuilds from
      // the start of its journal, which must be as exact.
      const checkpointAt = Number(journal?.[1] ?? 0);
      const toReplay = Number(journal?.[2]);
      if (toReplay > 0)
        expect(logs).toMatch(new RegExp(`\\[a/2\\] replayed ${toReplay} decided position\\(s\\)`));
      // The restart is the same replica: no install at the restart (the oracles above read one
      // incarnation up to any install its group sends it later, and that one starts past what
      // the restart rebuilt (its checkpoint and the positions replayed), not from nothing).
      const faults = events.flatMap((event) =>
        event.ev === "fault" && event.proc === "a/2" ? [event.kind] : [],
      );
      expect(faults[0]).toBe("crash");
      expect(faults).not.toContain("amnesia");
      const state = run.net.perNode["a/2"]?.replicaState;
      if (faults.includes("install"))
        expect(state?.lastInstall?.from).toBeGreaterThanOrEqual(checkpointAt + toReplay);
      // Every replica ends at one checkpoint, under one root (the group drained).
      const replicas = mode === "crash" ? ["a/0", "a/1", "a/2"] : ["a/0", "a/1", "a/2", "a/3"];
      const latest = replicas.map((proc) => run.net.perNode[proc]?.replicaState?.checkpoint);
      expect(latest.every((checkpoint) => checkpoint !== undefined)).toBe(true);
      expect(new Set(latest.map((checkpoint) => `${checkpoint?.position}/${checkpoint?.root}`)).size).toBe(1);
    });

  for (const kind of ["decided", "inputs"] as const)
    it(`Byzantine mode, a journal of ${kind === "decided" ? "decided positions" : "every input"}: a replica killed mid-workload and restarted from it after the workload ended catches up; one state`, {
      timeout: 180_000,
    }, async () => {
      // a/2 down from 1.5 s until the workload ended (the runner's `restartsAfterWorkload`; the
      // open loop's arrivals end at 4.5 s, later on a loaded machine), so no new work reaches it
      // after its restart. What its peers owed it comes again over the renumbered links, and its
      // own status question (asked after the replay: group's replication test) tells it how far
      // the group got.
      const base = recoverySpec(
        { ...PLAN, crashKind: "durable", crashAtMs: 1500, pauseMs: 500 },
        4000,
        "byzantine",
        "follower",
      );
      const spec: SystemSpec = {
        ...base,
        faults: {
          crashes: base.faults.crashes.map((crash) => ({ ...crash, proc: "a/2", leaderOf: undefined })),
          partitions: [],
        },
      };
      const { run, events, logs } = await runJournalled(spec, `amcast-after-${kind}-`, 16, "a_2.log", {
        truncate: kind === "decided",
        restartsAfterWorkload: true,
      });
      expectDrainedAndClean(run, events);
      // Restarted from its journal, not empty. With decided positions, a kill right after a
      // checkpoint leaves none after it to replay: the checkpoint is then all it starts from.
      expect(logs).toMatch(
        kind === "decided"
          ? /replayed \d+ decided position|started from the checkpoint at log position \d+ in its journal/
          : /replayed \d+ input\(s\)/,
      );
      const times = (what: string) =>
        events.flatMap((event) => (event.ev === "fault" && event.kind === what ? [event.t] : []));
      const lastMulticast = Math.max(
        ...events.flatMap((event) => (event.ev === "multicast" ? [event.t] : [])),
      );
      expect(Math.min(...times("recover"))).toBeGreaterThan(lastMulticast);
      // Caught up: when it stopped, a/2 had executed what the others had, with the same state.
      expectOneState(run, ["a/0", "a/1", "a/2", "a/3"]);
    });

  for (const mode of ["crash", "byzantine"] as const)
    it(`${mode} mode, journals of decided positions: the whole group killed with SIGKILL at once and restarted elects a leader again and completes the workload; nothing lost or duplicated, one root`, {
      timeout: 180_000,
    }, async () => {
      const base = recoverySpec({ ...PLAN, crashKind: "durable", crashAtMs: 1500 }, 4000, mode, "follower");
      const crash = base.faults.crashes[0] as CrashFault;
      const replicas = mode === "crash" ? ["a/0", "a/1", "a/2"] : ["a/0", "a/1", "a/2", "a/3"];
      const spec: SystemSpec = {
        ...base,
        faults: {
          // Every replica of the group down at once, back after the pause (one after the other).
          crashes: replicas.map((proc) => ({ ...crash, proc, leaderOf: undefined })),
          partitions: [],
        },
      };
      const { run, events } = await runJournalled(spec, "amcast-whole-", 16);
      expectDrainedAndClean(run, events);
      const faults = (proc: string) =>
        events.flatMap((event) => (event.ev === "fault" && event.proc === proc ? [event.kind] : []));
      for (const proc of replicas) {
        // Killed, back as the same replica from its journal: no amnesia, no install.
        expect(faults(proc).slice(0, 2), proc).toEqual(["crash", "recover"]);
        expect(faults(proc), proc).not.toContain("amnesia");
      }
      const times = (kind: string) =>
        events.flatMap((event) => (event.ev === "fault" && event.kind === kind ? [event.t] : []));
      // The whole group was down at once: every kill before the first restart.
      expect(Math.max(...times("crash"))).toBeLessThan(Math.min(...times("recover")));
      // The group decided new work once back: the multicasts still open when it went down (sent
      // while it was down, or sent before and not completed; under load closed-loop clients may
      // send nothing new while every replica is down) were delivered after the first restart.
      // (Not "deliveries after the last restart": with the first ones back the group may finish
      // before the last one's restart is recorded, and that one catch up by installing a
      // checkpoint, which traces no deliveries.)
      const downAt = Math.max(...times("crash"));
      const upAt = Math.min(...times("recover"));
      const completedBefore = new Set(
        events.flatMap((event) => (event.ev === "complete" && event.t <= downAt ? [event.id] : [])),
      );
      const openWhileDown = events.flatMap((event) =>
        event.ev === "multicast" && event.t < upAt && !completedBefore.has(event.id) ? [event.id] : [],
      );
      expect(openWhileDown.length).toBeGreaterThan(0);
      const deliveredAfter = new Set(
        events.flatMap((event) => (event.ev === "deliver" && event.t > upAt ? [event.id] : [])),
      );
      expect(openWhileDown.some((id) => deliveredAfter.has(id))).toBe(true);
      const latest = replicas.map((proc) => run.net.perNode[proc]?.replicaState?.checkpoint);
      expect(latest.every((checkpoint) => checkpoint !== undefined)).toBe(true);
      expect(new Set(latest.map((checkpoint) => `${checkpoint?.position}/${checkpoint?.root}`)).size).toBe(1);
    });
});
