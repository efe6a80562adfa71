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
