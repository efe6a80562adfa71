import type { NetRunOptions, NetRunStats } from "@amcast/runtime";
import { refuseUnsupported, runCluster } from "@amcast/runtime";
import { buildSystem } from "@amcast/system";
import { RunObserver } from "./observe.js";
import type { ScenarioOutcome, ScenarioSpec } from "./scenario.js";

export interface NetOutcome extends ScenarioOutcome {
  readonly net: NetRunStats;
}

/**
 * Runs one scenario on real processes (the runtime's cluster runner) and judges it as
 * `runScenario` judges a simulated one: the same metrics, and the oracles over the merged trace,
 * deciding from its `stop` event what the run owes.
 */
export async function runScenarioNet(spec: ScenarioSpec, options: NetRunOptions): Promise<NetOutcome> {
  refuseUnsupported(spec);
  const built = buildSystem(spec);
  const observer = new RunObserver(spec, built);
  const run = await runCluster(spec, {
    ...options,
    built,
    traceSends: spec.recordSends,
    onEvent: observer.onEvent,
  });
  const { metrics, check } = observer.finish();
  // The runtime does not run the reconfiguration controller (it refuses such runs).
  return { spec, sim: run.sim, metrics, check, wallMs: run.wallMs, reconfig: null, net: run.net };
}
