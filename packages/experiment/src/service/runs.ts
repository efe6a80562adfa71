import type { HistoryEvent } from "@amcast/check";
import type { GroupId, TraceEvent } from "@amcast/core";
import { InputError, overlayToJson, runGroups, targetGroups } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import type { Application, SimCluster } from "@amcast/smr";
import { createSimCluster } from "@amcast/smr";
import type { ExperimentSpec, ProtocolRun } from "../spec.js";

/** One run of a service experiment: a protocol (plain or linearizable) in a mode, for a seed. */
export interface ServiceRun {
  readonly label: string;
  readonly protocol: ProtocolRun;
  readonly mode: ReplicationMode;
  readonly f: number;
  readonly linearizable: boolean;
  readonly seed: number;
}

/** Where a run's events go as they happen (files the command writes). */
export interface ServiceSinks {
  readonly onHistory?: (event: HistoryEvent) => void;
  readonly onTrace?: (event: TraceEvent) => void;
}

/** Every run of a service experiment: each protocol, plain and/or linearizable, in each mode, for each seed. */
export function serviceRuns(experiment: ExperimentSpec, seed: number | undefined): ServiceRun[] {
  const seeds = seed === undefined ? experiment.seeds : [seed];
  const runs: ServiceRun[] = [];
  for (const runSeed of seeds)
    for (const mode of experiment.modes)
      for (const protocol of experiment.protocols)
        for (const linearizable of experiment.linearizable) {
          const parts = [linearizable ? `${protocol.label}+lin` : protocol.label, mode];
          if (seeds.length > 1) parts.push(`seed-${runSeed}`);
          runs.push({
            label: parts.join("/"),
            protocol,
            mode,
            f: mode === "solo" ? 0 : experiment.f,
            linearizable,
            seed: runSeed,
          });
        }
  return runs;
}

/**
 * Refuses what service experiments do not run yet, naming the field: faults, reordering and
 * reconfiguration are features of multicast experiments.
 */
export function checkServiceExperiment(experiment: ExperimentSpec): void {
  const source = experiment.file;
  if (
    experiment.faultPlans.some(
      (plan) =>
        plan.faults.crashes.length > 0 || plan.faults.partitions.length > 0 || plan.byzantine.length > 0,
    )
  )
    throw new InputError(source, "faults", "service experiments run without faults (for now)");
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
