import type { HistoryEvent } from "@amcast/check";
import type { GroupId, TraceEvent } from "@amcast/core";
import { InputError, overlayToJson, runGroups, targetGroups } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import type { Application, FaultOptions, SimCluster } from "@amcast/smr";
import { createSimCluster } from "@amcast/smr";
import type { ExperimentSpec, ProtocolRun } from "../spec.js";

/** One run of a service experiment: a protocol (plain or linearizable) in a mode, under a fault plan, for a seed. */
export interface ServiceRun {
  readonly label: string;
  readonly protocol: ProtocolRun;
  readonly mode: ReplicationMode;
  readonly f: number;
  readonly linearizable: boolean;
  readonly seed: number;
  /** Crashes and partitions during the run (named replicas only). */
  readonly faults: FaultOptions;
}

/** Where a run's events go as they happen (files the command writes). */
export interface ServiceSinks {
  readonly onHistory?: (event: HistoryEvent) => void;
  readonly onTrace?: (event: TraceEvent) => void;
}

/** Every run of a service experiment: each protocol, plain and/or linearizable, in each mode, under each fault plan, for each seed. */
export function serviceRuns(experiment: ExperimentSpec, seed: number | undefined): ServiceRun[] {
  const seeds = seed === undefined ? experiment.seeds : [seed];
  const runs: ServiceRun[] = [];
  for (const runSeed of seeds)
    for (const plan of experiment.faultPlans)
      for (const mode of plan.modes ?? experiment.modes)
        for (const protocol of experiment.protocols)
          for (const linearizable of experiment.linearizable) {
            const parts = [linearizable ? `${protocol.label}+lin` : protocol.label, mode];
            if (plan.name !== "") parts.push(plan.name);
            if (seeds.length > 1) parts.push(`seed-${runSeed}`);
            runs.push({
              label: parts.join("/"),
              protocol,
              mode,
              f: mode === "solo" ? 0 : experiment.f,
              linearizable,
              seed: runSeed,
              faults: plan.faults,
            });
          }
  return runs;
}

/**
 * Refuses what service experiments do not run yet, naming the field: Byzantine replicas, crashes
 * of "the leader of" a group (the service API crashes named replicas), reordering and
 * reconfiguration are features of multicast experiments.
 */
export function checkServiceExperiment(experiment: ExperimentSpec): void {
  const source = experiment.file;
  for (const plan of experiment.faultPlans) {
    const where = plan.name === "" ? "faults" : `faultPlans ${JSON.stringify(plan.name)}`;
    if (plan.byzantine.length > 0)
      throw new InputError(source, where, "service experiments run no Byzantine replicas (for now)");
    if (plan.faults.crashes.some((crash) => crash.proc === undefined))
      throw new InputError(
        source,
        where,
        "a service experiment's crashes name the replica (proc), not leaderOf",
      );
  }
  if (experiment.network.reorder !== null)
    throw new InputError(
      source,
      "network.reorderPercent",
      "service experiments run without extra reordering (for now)",
    );
  if (experiment.protocols.some((run) => run.reconfigure))
    throw new InputError(source, "protocols", "service experiments do not reconfigure overlays (for now)");
}

/** The groups clients of `run` may address (targets of its overlay, or of the topology). */
export function serviceTargets(experiment: ExperimentSpec, run: ServiceRun): readonly GroupId[] {
  return targetGroups(run.protocol.overlay, experiment.topology);
}

/**
 * The run's service on the simulator (@amcast/smr): every group the protocol uses, each in its
 * region of the topology, with the experiment's jitter and processing costs.
 */
export function serviceCluster<P, R>(
  experiment: ExperimentSpec,
  run: ServiceRun,
  application: (group: GroupId, replica: string) => Application<P, R>,
  onTrace?: (event: TraceEvent) => void,
): SimCluster<P, R> {
  const { topology } = experiment;
  const overlay = run.protocol.overlay;
  const groups = runGroups(overlay, topology);
  return createSimCluster<P, R>({
    groups,
    protocol: run.protocol.protocol,
    ...(overlay === null ? {} : { overlay: overlayToJson(overlay) }),
    ...(run.protocol.params === undefined ? {} : { params: run.protocol.params }),
    mode: run.mode,
    ...(run.mode === "solo" ? {} : { f: run.f }),
    linearizable: run.linearizable,
    latencyMs: groups.map((from) => groups.map((to) => topology.groupToGroupMs(from, to))),
    jitterSdFraction: experiment.network.jitterSdFraction,
    seed: run.seed,
    tickMs: experiment.tickMs,
    processing: experiment.processing,
    application,
    ...(onTrace === undefined
      ? {}
      : { onEvent: (event: TraceEvent) => onTrace({ ...event, run: run.label }) }),
  });
}

/** What names a run in machine-readable results. */
export function runIdentity(run: ServiceRun): Record<string, unknown> {
  return {
    label: run.label,
    protocol: run.protocol.protocol.name,
    overlay: run.protocol.overlay?.name ?? null,
    mode: run.mode,
    linearizable: run.linearizable,
    seed: run.seed,
  };
}
