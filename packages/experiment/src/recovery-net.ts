import { checkRun } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import type { NetRunOptions } from "@amcast/runtime";
import { runCluster } from "@amcast/runtime";
import type { SystemSpec } from "@amcast/system";
import type { RecoveryPlan, RecoveryRow } from "./recovery.js";
import { completionRate, followerOf, recoverySpec } from "./recovery.js";

const GROUP = "a";

/**
 * One (keys, mode, role) case of the `recovery` experiment on real processes: the cluster runner
 * starts the group's replicas (each holding the key-value state) and a client host, kills the
 * leader (or a follower) with SIGKILL at `crashAtMs` and restarts it `pauseMs` later — with
 * amnesia it comes back with its orderer's hard state only and fetches a checkpoint from its
 * group over real links. Times are on the trace clock: "installed" and "caught up" count from
 * the moment the runner started the replica's process again (Node's start-up included); bytes are
 * the partitions the restarted replica fetched; the oracles run on the merged trace, and every
 * replica's latest checkpoint must have one root where they share a position.
 */
export async function runRecoveryCaseNet(
  plan: RecoveryPlan,
  keys: number,
  mode: "crash" | "byzantine",
  role: "leader" | "follower",
  options: NetRunOptions,
): Promise<RecoveryRow> {
  const started = performance.now();
  const base = recoverySpec(plan, keys, mode, role);
  // The runner resolves `leaderOf` against the group itself; a follower is chosen by `crashTarget`.
  const spec: SystemSpec = {
    ...base,
    faults: {
      ...base.faults,
      crashes: base.faults.crashes.map((crash) => ({ ...crash, leaderOf: GROUP, proc: undefined })),
    },
  };
  const events: TraceEvent[] = [];
  const run = await runCluster(spec, {
    ...options,
    storage: { fsync: plan.netFsync, ...(plan.netKeepJournal ? { truncate: false } : {}) },
    replicaState: {
      checkpointEntries: plan.checkpointEntries,
      keyValue: { keys, partitions: plan.partitions },
    },
    ...(role === "follower"
      ? { crashTarget: (_group, leader, replicas) => followerOf(replicas, leader) ?? leader }
      : {}),
    traceSends: false,
    onEvent: (event) => events.push(event),
  });
  const kill = run.net.killed[0];
  const back = run.net.recovered[0];
  const crashed = kill?.proc ?? "none";
  const crashAt = kill?.t ?? Number.NaN;
  // The restart began restartMs before the runner saw the replica connected again.
  const restartAt = back === undefined ? Number.NaN : back.t - back.restartMs;
  const completions: number[] = [];
  const multicastAt = new Set<string>();
  let installAt: number | null = null;
  let caughtUpAt: number | null = null;
  let lastT = 0;
  for (const event of events) {
    if (event.ev === "stop") continue;
    lastT = Math.max(lastT, event.t);
    if (event.ev === "complete") completions.push(event.t);
    else if (event.ev === "multicast" && event.t >= restartAt) multicastAt.add(String(event.id));
    else if (event.ev === "fault" && event.kind === "install" && String(event.proc) === crashed)
      installAt ??= event.t;
    else if (
      event.ev === "deliver" &&
      caughtUpAt === null &&
      String(event.proc) === crashed &&
      event.t >= restartAt &&
      multicastAt.has(String(event.id))
    )
      caughtUpAt = event.t;
  }
  const violations = plan.oracles ? checkRun(events, { liveness: true }).violations.length : null;
  const states = Object.entries(run.net.perNode).flatMap(([node, stats]) =>
    stats.replicaState === undefined ? [] : [{ node, ...stats.replicaState }],
  );
  // Replicas at the same checkpoint position hold one root; the restarted replica shares its
  // latest checkpoint with another (one may be a checkpoint ahead when the run stops).
  const rootAt = new Map<number, Set<string>>();
  for (const { checkpoint } of states)
    if (checkpoint !== undefined)
      rootAt.set(checkpoint.position, (rootAt.get(checkpoint.position) ?? new Set()).add(checkpoint.root));
  const own = states.find((state) => state.node === crashed)?.checkpoint;
  const agreeing =
    [...rootAt.values()].every((roots) => roots.size === 1) &&
    own !== undefined &&
    states.filter((state) => state.checkpoint?.position === own.position).length >= 2;
  const restarted = states.find((state) => state.node === crashed);
  // It delivered no multicast started after its restart, yet ends with its group's state: the
  // checkpoint it installed already covered them (a restart the load outlasted only briefly).
  if (caughtUpAt === null && installAt !== null && agreeing) caughtUpAt = installAt;
  const duringEnd = caughtUpAt ?? lastT;
  return {
    keys,
    mode,
    role,
    crashed,
    installMs: installAt === null ? null : installAt - restartAt,
    caughtUpMs: caughtUpAt === null ? null : caughtUpAt - restartAt,
    transferredBytes: restarted?.transferredBytes ?? 0,
    positionsBehind:
      restarted?.lastInstall === undefined ? null : restarted.lastInstall.to - restarted.lastInstall.from,
    beforePerSec: completionRate(completions, Math.max(0, crashAt - 1000), crashAt),
    duringPerSec: completionRate(completions, crashAt, duringEnd),
    afterPerSec: completionRate(completions, duringEnd, Math.min(lastT, duringEnd + 1000)),
    multicasts: run.sim.multicasts,
    completed: run.sim.completed,
    violations,
    sameRoot: agreeing,
    wallMs: performance.now() - started,
  };
}
