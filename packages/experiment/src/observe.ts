import type { CheckReport } from "@amcast/check";
import { checkRun } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import type { BuiltSystem } from "@amcast/system";
import { CONTROLLER_ID } from "@amcast/system";
import type { RunMetrics } from "./metrics.js";
import { MetricsCollector } from "./metrics.js";
import type { ScenarioSpec } from "./scenario.js";

/**
 * What a run's trace is turned into, the same way for both runtimes: every event goes to the
 * metrics, to the caller's `onTrace`, and (when the run is checked) to the oracles, which judge
 * it by its `stop` event — the run's own record of how it ended and what it owes.
 */
export class RunObserver {
  private readonly metrics: MetricsCollector;
  private readonly events: TraceEvent[] = [];

  constructor(
    private readonly spec: ScenarioSpec,
    built: Pick<BuiltSystem, "protocol" | "context" | "clientRegions" | "controller">,
  ) {
    // The latency model follows one overlay; with views it no longer applies after the first change.
    const { modelLatencyMs: _model, ...withoutModel } = built.protocol;
    this.metrics = new MetricsCollector(
      spec.topology,
      built.clientRegions,
      built.controller === null ? built.protocol : withoutModel,
      built.context,
      spec.keepSamples,
      new Set([CONTROLLER_ID]),
    );
  }

  readonly onEvent = (event: TraceEvent): void => {
    this.metrics.onEvent(event);
    if (this.spec.check && event.ev !== "send") this.events.push(event);
    this.spec.onTrace?.(event);
  };

  finish(): { metrics: RunMetrics; check: CheckReport | null } {
    return {
      metrics: this.metrics.finish(),
      check: this.spec.check ? checkRun(this.events, { run: this.spec.label }) : null,
    };
  }
}
