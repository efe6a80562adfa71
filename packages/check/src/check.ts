import type { StopEvent, TraceEvent } from "@amcast/core";
import { checkIntegrity } from "./integrity.js";
import { checkDeliveryObligations } from "./liveness.js";
import { buildRunModel } from "./model.js";
import { checkAcyclicOrder } from "./order.js";
import { checkPrefixOrder } from "./prefix.js";
import { checkRealTimeOrder } from "./realtime.js";
import { splitRuns } from "./runs.js";
import {
  type CheckOptions,
  type CheckReport,
  PROPERTIES,
  type Property,
  type RunStop,
  type Violation,
} from "./types.js";
import { ViolationSink } from "./violations.js";

/**
 * Violations kept per property. Every driver's in-process check and `amcast check` use this one
 * default, so they report the same counts for the same trace.
 */
export const DEFAULT_MAX_VIOLATIONS = 1000;

const LIVENESS: readonly Property[] = ["validity", "agreement"];
/** What a run owes when its trace does not say (no `stop` event). */
const OWED_BY_DEFAULT: readonly Property[] = PROPERTIES.filter((property) => property !== "real-time-order");

/** Checks the events of one run (the `run` label is taken from its first event). */
export function checkRun(events: readonly TraceEvent[], options: CheckOptions = {}): CheckReport {
  const cap = options.maxViolationsPerProperty ?? DEFAULT_MAX_VIOLATIONS;
  if (!Number.isInteger(cap) || cap < 0) {
    throw new RangeError(`maxViolationsPerProperty must be a non-negative integer, got ${cap}`);
  }

  const model = buildRunModel(events, options.run ?? events[0]?.run);
  const stopEvent = lastStop(events);
  const { owed, checked } = obligations(stopEvent, options);
  const sink = new ViolationSink(cap);
  const run = (property: Property, check: () => void): void => {
    if (checked.includes(property)) check();
  };
  run("integrity", () => checkIntegrity(model, sink));
  // Validity and agreement share one pass over the deliveries of each message.
  if (checked.includes("validity") || checked.includes("agreement")) checkDeliveryObligations(model, sink);
  run("prefix-order", () => checkPrefixOrder(model, sink));
  run("acyclic-order", () => checkAcyclicOrder(model, sink));
  run("real-time-order", () => checkRealTimeOrder(model, sink));

  let faultyProcesses = 0;
  for (let proc = 0; proc < model.processIds.length; proc += 1) {
    if (model.byzantine[proc] === 1 || model.crashed[proc] === 1) faultyProcesses += 1;
  }
  const truncatedProperties = sink.truncatedProperties(PROPERTIES);
  const violations = sink.violations(PROPERTIES);
  const stop: RunStop | null =
    stopEvent === undefined
      ? null
      : {
          reason: stopEvent.reason,
          t: stopEvent.t,
          expected: stopEvent.expected === true,
          runtime: stopEvent.runtime ?? "sim",
        };
  const finished = stop === null || stop.reason === "drained";
  const passed =
    violations.every((violation) => !owed.includes(violation.property)) &&
    (finished || !owed.includes("validity"));
  return {
    run: model.run,
    violations,
    checked,
    owed,
    stop,
    passed,
    membershipInferred: model.membershipInferred,
    counts: {
      multicasts: model.multicastCount,
      deliveries: model.deliveryCount,
      processes: model.processIds.length,
      faultyProcesses,
    },
    truncated: truncatedProperties.length > 0,
    truncatedProperties,
  };
}

/** Splits a trace by `run` (events without one form one run) and checks each, in first-appearance order. */
export function checkTrace(events: readonly TraceEvent[], options: CheckOptions = {}): CheckReport[] {
  return splitRuns(events).map((run) => checkRun(run.events, options));
}

/** The violations that fail a run: those of the properties it owes. */
export function failingViolations(report: CheckReport): readonly Violation[] {
  return report.violations.filter((violation) => report.owed.includes(violation.property));
}

/** The run's last `stop` event, if its driver wrote one. */
function lastStop(events: readonly TraceEvent[]): StopEvent | undefined {
  for (let index = events.length - 1; index >= 0; index -= 1) {
    const event = events[index] as TraceEvent;
    if (event.ev === "stop") return event;
  }
  return undefined;
}

/**
 * What a run owes and what is checked: from its stop event (or the defaults), then the options.
 * Unknown property names in the trace are ignored (a newer writer may know more properties).
 */
function obligations(
  stop: StopEvent | undefined,
  options: CheckOptions,
): { owed: Property[]; checked: Property[] } {
  const named = (names: readonly string[] | undefined, fallback: readonly Property[]): Set<Property> =>
    new Set(names === undefined ? fallback : PROPERTIES.filter((property) => names.includes(property)));
  const owed = named(stop?.owes, OWED_BY_DEFAULT);
  const counted = named(stop?.counts, []);
  if (options.liveness === false)
    for (const property of LIVENESS) {
      owed.delete(property);
      counted.delete(property);
    }
  if (options.liveness === true) for (const property of LIVENESS) owed.add(property);
  if (options.realTime === false) {
    owed.delete("real-time-order");
    counted.delete("real-time-order");
  }
  if (options.realTime === true) owed.add("real-time-order");
  return {
    owed: PROPERTIES.filter((property) => owed.has(property)),
    checked: PROPERTIES.filter((property) => owed.has(property) || counted.has(property)),
  };
}
