import type { Overlay } from "@amcast/core";
import type { NetRunOptions, NetRunStats } from "@amcast/runtime";
import { refuseUnsupported, runCluster } from "@amcast/runtime";
import type { ControllerReport } from "@amcast/system";
import { buildSystem, reportedOverlays } from "@amcast/system";
import { RunObserver } from "./observe.js";
import type { ScenarioOutcome, ScenarioSpec } from "./scenario.js";

export interface NetOutcome extends ScenarioOutcome {
  readonly net: NetRunStats;
}

/**
 * Runs one scenario on real processes (the runtime's cluster runner) and judges it as
 * `runScenario` judges a simulated one: the same metrics, and the oracles over the merged trace,
 * deciding from its `stop` event what the run owes. A reconfiguring run's controller runs in a
 * client host; its record comes back before the trace, so the latency model follows each view.
 */
export async function runScenarioNet(spec: ScenarioSpec, options: NetRunOptions): Promise<NetOutcome> {
  refuseUnsupported(spec);
  const built = buildSystem(spec);
  let report: ControllerReport | null = null;
  let overlayOfView: ((view: number) => Overlay | undefined) | undefined;
  const observer = new RunObserver(
    spec,
    built,
    built.controller === null ? undefined : (view) => overlayOfView?.(view),
  );
  const run = await runCluster(spec, {
    ...options,
    built,
    traceSends: spec.recordSends,
    onEvent: observer.onEvent,
    onController: (controller) => {
      report = controller;
      overlayOfView = reportedOverlays(controller, `${spec.label}: the controller's report`);
    },
  });
  const { metrics, check } = observer.finish();
  const reconfig = report as ControllerReport | null;
  return { spec, sim: run.sim, metrics, check, wallMs: run.wallMs, reconfig, net: run.net };
}

/**
 * What the transport did in a run, kept with the run's record (`summary.net`): the runner's
 * counters (rounded), the process count, and the mean scheduling delay in ms.
 */
export type NetSummary = Pick<
  NetRunStats,
  | "killed"
  | "recovered"
  | "partitions"
  | "messagesHeldByPartition"
  | "dataFrames"
  | "messagesPerFrame"
  | "ackFrames"
  | "wireBytes"
  | "framesResent"
  | "framesRejected"
  | "connectionsLost"
  | "congestionEpisodes"
  | "logicErrors"
  | "cpuMsReplicas"
  | "cpuMsClients"
  | "workloadCpuMsReplicas"
  | "workloadCpuMsClients"
  | "workloadMs"
  | "startupMs"
> & { readonly processes: number; readonly schedulingDelayMs: number };

export function netSummary(outcome: NetOutcome): NetSummary {
  const { net } = outcome;
  return {
    killed: net.killed,
    recovered: net.recovered.map((entry) => ({ ...entry, restartMs: Math.round(entry.restartMs) })),
    partitions: net.partitions,
    messagesHeldByPartition: net.messagesHeldByPartition,
    processes: net.nodes,
    dataFrames: net.dataFrames,
    messagesPerFrame: Math.round(net.messagesPerFrame * 100) / 100,
    ackFrames: net.ackFrames,
    wireBytes: net.wireBytes,
    framesResent: net.framesResent,
    framesRejected: net.framesRejected,
    connectionsLost: net.connectionsLost,
    congestionEpisodes: net.congestionEpisodes,
    logicErrors: net.logicErrors,
    cpuMsReplicas: Math.round(net.cpuMsReplicas),
    cpuMsClients: Math.round(net.cpuMsClients),
    workloadCpuMsReplicas: Math.round(net.workloadCpuMsReplicas),
    workloadCpuMsClients: Math.round(net.workloadCpuMsClients),
    workloadMs: Math.round(net.workloadMs),
    startupMs: Math.round(net.startupMs),
    schedulingDelayMs: Math.round(net.schedulingDelayMs.mean * 100) / 100,
  };
}
