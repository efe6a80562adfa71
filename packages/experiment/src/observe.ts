import type { CheckReport } from "@amcast/check";
import { checkRun } from "@amcast/check";
import type { Overlay, TraceEvent, TraceSink } from "@amcast/core";
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
    built: Pick<BuiltSystem, "protocol" | "context" | "clientRegions">,
    /**
     * With views: the overlay of each view, so the latency model of a multicast follows the view
     * installed everywhere when it started (without it, no model after the first view).
     */
    overlayOfView?: (view: number) => Overlay | undefined,
  ) {
    this.metrics = new MetricsCollector(
      spec.topology,
      built.clientRegions,
      built.protocol,
      built.context,
      spec.keepSamples,
      new Set([CONTROLLER_ID]),
      overlayOfView,
    );
  }

  /** Every event as an object (the network runtime's merged trace, the driver's stop event). */
  readonly onEvent = (event: TraceEvent): void => {
    this.metrics.onEvent(event);
    this.keep(event);
  };

  /**
   * The simulator's way in: the metrics fold events given as plain arguments (`sink`), and event
   * objects are built (`onEvent`) only when the oracles or the caller's `onTrace` want them.
   */
  simulatorSinks(): { sink: TraceSink; onEvent?: (event: TraceEvent) => void } {
    if (!this.spec.check && this.spec.onTrace === undefined) return { sink: this.metrics };
    return { sink: this.metrics, onEvent: (event) => this.keep(event) };
  }

  /** What is kept or shown of an event besides the metrics. */
  private keep(event: TraceEvent): void {
    if (this.spec.check && event.ev !== "send") this.events.push(event);
    this.spec.onTrace?.(event);
  }

  finish(): { metrics: RunMetrics; check: CheckReport | null } {
    return {
      metrics: this.metrics.finish(),
      check: this.spec.check ? checkRun(this.events, { run: this.spec.label }) : null,
    };
  }
}
