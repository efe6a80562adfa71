import type { Property } from "@amcast/check";
import { PROPERTIES } from "@amcast/check";
import type { StopEvent, StopReason, TraceRuntime } from "@amcast/core";
import type { SystemSpec } from "./spec.js";

/** What a run must satisfy, and what it checks only to count. */
export interface RunChecks {
  /** Properties whose violation fails the run. */
  readonly owes: readonly Property[];
  /** Properties checked and counted, never failing the run (real-time order in a plain run). */
  readonly counts: readonly Property[];
  /** The run stopped at a time limit the experiment declared as its planned end. */
  readonly expectedStop: boolean;
}

/**
 * The one decision of what a run is checked for, used by the simulator runner and the network
 * runtime alike (and written into the trace's `stop` event, so `amcast check` decides the same):
 *
 * - safety (integrity, prefix order, acyclic order) always;
 * - real-time order when the run is linearizable; in a plain run with `realTime`, only counted
 *   (classic atomic multicast does not promise it);
 * - validity and uniform agreement unless the run stopped at a time limit it declared
 *   (`endsAtTimeLimit`), or a solo group crashed (it loses what reaches it while down; replicated
 *   groups must deliver through their faults). A run that owes them and did not drain fails.
 */
export function runChecks(spec: SystemSpec, stoppedBy: StopReason): RunChecks {
  const expectedStop = stoppedBy === "time-limit" && spec.endsAtTimeLimit === true;
  const liveness = !expectedStop && !(spec.mode === "solo" && spec.faults.crashes.length > 0);
  const linearizable = spec.linearizable === true;
  const owes = PROPERTIES.filter((property) => {
    if (property === "validity" || property === "agreement") return liveness;
    if (property === "real-time-order") return linearizable;
    return true;
  });
  const counts: Property[] = !linearizable && spec.realTime ? ["real-time-order"] : [];
  return { owes, counts, expectedStop };
}

/**
 * The trace event that ends a run: how it stopped, at `t`, what it owes (see `runChecks`), and
 * which runtime ran it (the simulator's is left implicit so its traces stay as they were).
 */
export function stopEvent(spec: SystemSpec, reason: StopReason, t: number, runtime: TraceRuntime): StopEvent {
  const { owes, counts, expectedStop } = runChecks(spec, reason);
  return {
    ev: "stop",
    reason,
    t,
    owes,
    ...(counts.length === 0 ? {} : { counts }),
    ...(expectedStop ? { expected: true } : {}),
    ...(runtime === "net" ? { runtime } : {}),
  };
}
