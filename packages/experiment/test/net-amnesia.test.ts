import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkRun } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import { DEFAULT_NET_OPTIONS, runCluster } from "@amcast/runtime";
import type { SystemSpec } from "@amcast/system";
import { describe, expect, it } from "vitest";
import type { RecoveryPlan, RecoveryRow } from "../src/recovery.js";
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
  netTruncateJournal: false,
};
const OPTIONS = { ...DEFAULT_NET_OPTIONS, latencyEmulation: false, timeLimitMs: 120_000, stallMs: 30_000 };

/**
 * `replicas` end at one checkpoint (position and root) and, when they stopped, had executed the
 * same log position with one root over their whole state.
 */
function expectOneState(run: Awaited<ReturnType<typeof runCluster>>, replicas: readonly string[]): void {
  for (const view of ["checkpoint", "now"] as const) {
    const states = replicas.map((proc) => run.net.perNode[proc]?.replicaState?.[view]);
    expect(
      states.every((state) => state !== undefined),
      view,
    ).toBe(true);
    expect(new Set(states.map((state) => `${state?.position}/${state?.root}`)).size, view).toBe(1);
  }
}

describe("amnesia on real processes", () => {
  it("crash mode: the leader killed and restarted empty installs its group's checkpoint over real links and catches up; nothing lost or duplicated, one root", {
    timeout: 180_000,
  }, async () => {
    const row = await runRecoveryCaseNet(PLAN, 4000, "crash", "leader", OPTIONS);
    expect(row.violations).toBe(0);
    expect(row.completed).toBe(row.multicasts);
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
      replicaState: { checkpointEntries: 4, keyValue: { keys: 4000, partitions: 64 } },
      traceSends: false,
      onEvent: (event) => events.push(event),
    });
    expect(run.sim.stoppedBy).toBe("drained");
    expect(run.sim.completed).toBe(run.sim.multicasts);
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
      // A closed loop: a loaded machine slows the workload as it slows the restarts, so the
      // replica still has multicasts to catch up with after its second restart.
      workload: { ...base.workload, loop: "closed", outstanding: 1, thinkMs: 20, multicastsPerClient: 150 },
      faults: {
        crashes: [
          // The runner strikes the second crash only once the first restart is back.
          { proc: "a/2", atMs: 600, recoverAtMs: 1100, kind: "amnesia" },
          { proc: "a/2", atMs: 2000, recoverAtMs: 2400 },
        ],
        partitions: [],
      },
    };
    const workDir = mkdtempSync(join(tmpdir(), "amcast-amnesia-durable-"));
    const events: TraceEvent[] = [];
    let log: string;
    let run: Awaited<ReturnType<typeof runCluster>>;
    try {
      run = await runCluster(spec, {
        ...OPTIONS,
        workDir,
        storage: { fsync: "interval" },
        replicaState: { checkpointEntries: 4, keyValue: { keys: 4000, partitions: 64 } },
        traceSends: false,
        onEvent: (event) => events.push(event),
      });
      log = readdirSync(workDir)
        .filter((file) => file.endsWith("a_2.log"))
        .map((file) => readFileSync(join(workDir, file), "utf8"))
        .join("\n");
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    expect(run.sim.stoppedBy).toBe("drained");
    expect(run.sim.completed).toBe(run.sim.multicasts);
    expect(checkRun(events, { liveness: true }).violations.map((violation) => violation.message)).toEqual([]);
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
    // replayed it: the same replica as before the kill.
    expect(log).toMatch(/amnesia: kept the orderer's hard state/);
    expect(log).toMatch(/journal in .*: [1-9]\d* input\(s\) to replay/);
    expect(log).toMatch(/replayed [1-9]\d* input\(s\)/);
    // Every replica ends at one checkpoint under one root, and with one whole state.
    expectOneState(run, ["a/0", "a/1", "a/2", "a/3"]);
  });

  it("crash mode, journals truncated at checkpoints: a follower killed and restarted starts from the checkpoint on its own disk, not from every input, and catches up; nothing lost or duplicated", {
    timeout: 180_000,
  }, async () => {
    // Killed once several checkpoints were written (under load, a log position holds several multicasts).
    const plan: RecoveryPlan = {
      ...PLAN,
      crashKind: "durable",
      netTruncateJournal: true,
      checkpointEntries: 4,
      crashAtMs: 1500,
    };
    const workDir = mkdtempSync(join(tmpdir(), "amcast-truncate-"));
    let row: RecoveryRow;
    let logs: string;
    try {
      row = await runRecoveryCaseNet(plan, 4000, "crash", "follower", { ...OPTIONS, workDir });
      logs = readdirSync(workDir)
        .filter((file) => file.endsWith(".log"))
        .map((file) => readFileSync(join(workDir, file), "utf8"))
        .join("\n");
    } finally {
      rmSync(workDir, { recursive: true, force: true });
    }
    expect(logs).toMatch(
      new RegExp(
        `\\[${row.crashed}\\] journal in .* truncated at checkpoints\\): starts from its checkpoint at log position \\d+`,
      ),
    );
    expect(row.violations).toBe(0);
    expect(row.completed).toBe(row.multicasts);
    expect(row.caughtUpMs, JSON.stringify(row)).not.toBeNull();
    expect(row.sameRoot, JSON.stringify(row)).toBe(true);
    expect(recoveryPassed(row)).toBe(true);
    // It came back from its own checkpoint (an install, a new incarnation), not by replay.
    expect(row.installMs).not.toBeNull();
    expect(row.positionsBehind).toBeGreaterThan(0);
  });
});
