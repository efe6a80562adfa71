import { checkRun, failingViolations, formatReport } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import { topologyFromMatrix } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { PROTOCOLS } from "@amcast/protocols";
import { CONTROLLER_ID, signatureKind } from "@amcast/system";
import type { MulticastTrace } from "./explain.js";
import { MetricsCollector } from "./metrics.js";
import type { RunRecord } from "./record.js";
import { sampleColumns } from "./record.js";
import type { RunSummary } from "./run.js";
import { kindJson, latencyJson, round } from "./run.js";

/** A trace's events split by run (`run` label; events without one form one run), in order. */
export function traceRuns(events: readonly TraceEvent[]): Map<string, TraceEvent[]> {
  const runs = new Map<string, TraceEvent[]>();
  for (const event of events) {
    const label = event.run ?? "trace";
    const list = runs.get(label);
    if (list === undefined) runs.set(label, [event]);
    else list.push(event);
  }
  return runs;
}

/** Client traffic kinds: not protocol messages between groups. */
const CLIENT_KINDS = new Set(["request", "reply", "redirect"]);

/**
 * A run's record made from its trace alone: latency per multicast and per kind, throughput,
 * messages by kind (when the trace recorded sends), the oracles' verdict. A trace holds no latency
 * matrix, so floors and models are unknown (0).
 */
export function recordFromTrace(
  label: string,
  index: number,
  events: readonly TraceEvent[],
  options: { readonly realTime: boolean },
): RunRecord {
  const groups = new Set<string>();
  const clients = new Set<string>();
  const groupOf = new Map<string, string>();
  let protocolMessages = 0;
  const sendsByKind: Record<string, number> = {};
  for (const event of events) {
    if (event.ev === "member") {
      groups.add(String(event.group));
      groupOf.set(String(event.proc), String(event.group));
    } else if (event.ev === "deliver") groups.add(String(event.group));
    else if (event.ev === "multicast") {
      clients.add(String(event.client));
      for (const group of event.dst) groups.add(String(group));
    }
  }
  for (const event of events) {
    if (event.ev !== "send") continue;
    sendsByKind[event.kind] = (sendsByKind[event.kind] ?? 0) + 1;
    if (!CLIENT_KINDS.has(event.kind) && groupOf.has(String(event.from)) && groupOf.has(String(event.to)))
      protocolMessages += 1;
  }
  // No latency matrix in a trace: every delay 0, so floors read 0 ("unknown").
  const regions = [...groups, "clients"];
  const topology = topologyFromMatrix("trace", {
    regions,
    latencyMs: regions.map(() => regions.map(() => 0)),
  });
  const { modelLatencyMs: _model, ...withoutModel } = PROTOCOLS[0] as (typeof PROTOCOLS)[number];
  const metrics = new MetricsCollector(
    topology,
    new Map([...clients].map((client) => [client, "clients"])),
    withoutModel,
    { groups: [...groups], overlay: null, params: undefined },
    true,
    new Set([CONTROLLER_ID]),
  );
  for (const event of events) metrics.onEvent(event);
  const result = metrics.finish();
  // The run's stop event says what it owes, as its driver judged it (a trace without one owes
  // safety, validity and agreement); --real-time adds real-time order.
  const check = checkRun(events, options.realTime ? { realTime: true } : {});
  const stoppedBy = check.stop?.reason ?? "unknown";
  const first = events[0]?.t ?? 0;
  const last = events[events.length - 1]?.t ?? 0;
  const linearizable = label.split("/")[0]?.endsWith("+lin") === true;
  const failing = failingViolations(check).length;
  const realTime = check.violations.filter((violation) => violation.property === "real-time-order").length;
  const summary: RunSummary = {
    label,
    protocol: label.split("/")[0]?.replace(/\+lin$/, "") ?? label,
    overlay: null,
    mode: label.split("/")[1] ?? "",
    f: 0,
    // The stop event names the network runtime when it wrote the run (absent: the simulator).
    signatures: signatureKind(
      { mode: (label.split("/")[1] ?? "solo") as ReplicationMode },
      check.stop?.runtime ?? "sim",
    ),
    faultPlan: "",
    linearizable,
    workload: label.split("/")[2] ?? "",
    seed: 0,
    multicasts: result.multicasts,
    delivered: result.delivered,
    completed: result.completed,
    violations: failing,
    passed: check.passed,
    realTimeViolations: check.checked.includes("real-time-order") ? realTime : null,
    latencyMs: latencyJson(result.latency),
    completeLatencyMs: latencyJson(result.completeLatency),
    floorRatio: 0,
    modelRatio: null,
    messagesPerMulticast: result.multicasts === 0 ? 0 : round(protocolMessages / result.multicasts),
    genuineness: null,
    multicastsPerSec: round(result.multicastsPerSec),
    byKind: Object.fromEntries([...result.byKind].map(([kind, s]) => [kind, kindJson(s)])),
    stoppedBy,
    stopExpected: check.stop?.expected === true,
    simulatedMs: round(last - first),
    wallMs: 0,
    messageEvents: 0,
    messageEventsPerSec: 0,
    sendsByKind,
    reconfigurations: null,
  };
  const parts = label.split("/");
  return {
    index,
    label,
    group: label,
    series: parts.length >= 3 ? (parts[0] as string) : label,
    seed: 0,
    mode: parts[1] ?? "",
    workload: parts[2] ?? "",
    faultPlan: "",
    sweep: {},
    summary,
    samples: sampleColumns(result.samples),
    marks: result.marks,
    verdict: {
      passed: check.passed,
      checked: check.checked,
      failing,
      realTimeViolations: check.checked.includes("real-time-order") ? realTime : null,
      stop: stoppedBy,
      stopExpected: check.stop?.expected === true,
      report: check.passed ? null : formatReport(check),
    },
  };
}

/** `--explain ID` or `--explain RUN/ID` (ids never hold a slash) as a multicastFromTrace target. */
export function explainWanted(explain: string | undefined): { readonly run?: string; readonly id?: string } {
  if (explain === undefined) return {};
  const slash = explain.lastIndexOf("/");
  return slash < 0 ? { id: explain } : { run: explain.slice(0, slash), id: explain.slice(slash + 1) };
}

/**
 * The events of one multicast of a trace for its sequence diagram: `id` (in `run`, or the first
 * run that has it), or the slowest multicast of the trace (to its last destination's first
 * delivery). Undefined when the trace has no delivered multicast.
 */
export function multicastFromTrace(
  runs: ReadonlyMap<string, readonly TraceEvent[]>,
  target: { readonly run?: string; readonly id?: string },
): MulticastTrace | undefined {
  let chosen: { run: string; id: string; latencyMs: number } | undefined;
  let total = 0;
  for (const [label, events] of runs) {
    if (target.run !== undefined && label !== target.run) continue;
    const open = new Map<string, { t: number; left: Set<string>; client: string }>();
    for (const event of events) {
      if (event.ev === "multicast") {
        if (String(event.client) === CONTROLLER_ID) continue;
        total += 1;
        open.set(String(event.id), {
          t: event.t,
          left: new Set(event.dst.map(String)),
          client: String(event.client),
        });
        if (target.id !== undefined && String(event.id) === target.id && chosen === undefined)
          chosen = { run: label, id: target.id, latencyMs: Number.NaN };
      } else if (event.ev === "deliver" && target.id === undefined) {
        const entry = open.get(String(event.id));
        if (entry === undefined || !entry.left.delete(String(event.group)) || entry.left.size > 0) continue;
        const latencyMs = event.t - entry.t;
        if (chosen === undefined || latencyMs > chosen.latencyMs)
          chosen = { run: label, id: String(event.id), latencyMs };
      }
    }
  }
  if (chosen === undefined) return undefined;
  const events = runs.get(chosen.run) ?? [];
  const id = chosen.id;
  const kept = events.filter(
    (event) =>
      event.ev === "member" ||
      event.ev === "view" ||
      event.ev === "fault" ||
      ("id" in event && event.id !== undefined && String(event.id) === id),
  );
  const sends = kept.some((event) => event.ev === "send");
  const arrivals = kept.some((event) => event.ev === "send" && event.arriveT !== undefined);
  return {
    run: chosen.run,
    id,
    events: kept,
    why:
      target.id !== undefined
        ? "chosen with --explain"
        : `the slowest of ${total} multicasts (${chosen.latencyMs.toFixed(1)} ms)`,
    note: !sends
      ? "the trace has no send events (record them with --trace-sends): only the multicast, its deliveries and its completion are drawn"
      : arrivals
        ? null
        : "the trace does not record arrival times (network runtime): dashed arrows show when a message was sent, not when it arrived",
  };
}
