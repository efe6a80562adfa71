import type { TraceEvent } from "@amcast/core";
import { checkIntegrity } from "./integrity.js";
import { checkDeliveryObligations } from "./liveness.js";
import { buildRunModel } from "./model.js";
import { checkAcyclicOrder } from "./order.js";
import { checkPrefixOrder } from "./prefix.js";
import { checkRealTimeOrder } from "./realtime.js";
import { type CheckOptions, type CheckReport, PROPERTIES, type Property } from "./types.js";
import { ViolationSink } from "./violations.js";

const DEFAULT_MAX_VIOLATIONS = 10;

/** Checks the events of one run (the `run` label is taken from its first event). */
export function checkRun(events: readonly TraceEvent[], options: CheckOptions = {}): CheckReport {
  const liveness = options.liveness ?? true;
  const realTime = options.realTime ?? false;
  const cap = options.maxViolationsPerProperty ?? DEFAULT_MAX_VIOLATIONS;
  if (!Number.isInteger(cap) || cap < 0) {
    throw new RangeError(`maxViolationsPerProperty must be a non-negative integer, got ${cap}`);
  }

  const model = buildRunModel(events, options.run ?? events[0]?.run);
  const sink = new ViolationSink(cap);
  const checked = PROPERTIES.filter(
    (property) =>
      (liveness || (property !== "validity" && property !== "agreement")) &&
      (realTime || property !== "real-time-order"),
  );
  const run = (property: Property, check: () => void): void => {
    if (checked.includes(property)) check();
  };
  run("integrity", () => checkIntegrity(model, sink));
  // Validity and agreement share one pass over the deliveries of each message.
  if (liveness) checkDeliveryObligations(model, sink);
  run("prefix-order", () => checkPrefixOrder(model, sink));
  run("acyclic-order", () => checkAcyclicOrder(model, sink));
  run("real-time-order", () => checkRealTimeOrder(model, sink));

  let faultyProcesses = 0;
  for (let proc = 0; proc < model.processIds.length; proc += 1) {
    if (model.byzantine[proc] === 1 || model.crashed[proc] === 1) faultyProcesses += 1;
  }
  const truncatedProperties = sink.truncatedProperties(PROPERTIES);
  return {
    run: model.run,
    violations: sink.violations(PROPERTIES),
    checked,
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
  const runs = new Map<string | undefined, TraceEvent[]>();
  for (const event of events) {
    let list = runs.get(event.run);
    if (list === undefined) {
      list = [];
      runs.set(event.run, list);
    }
    list.push(event);
  }
  return [...runs.values()].map((runEvents) => checkRun(runEvents, options));
}
