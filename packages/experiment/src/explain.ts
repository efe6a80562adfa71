import type { TraceEvent } from "@amcast/core";
import { UsageError } from "./commands/usage.js";
import type { RunRecord } from "./record.js";
import type { PlannedRun } from "./run.js";
import { runScenario } from "./scenario.js";

/** The events of one multicast (and of the run around it that lanes need), for its diagram. */
export interface MulticastTrace {
  readonly run: string;
  readonly id: string;
  /** Its multicast, sends, deliveries and completion; the run's member, view and fault events. */
  readonly events: readonly TraceEvent[];
  /** Why this one (e.g. "the slowest of 48000 multicasts"). */
  readonly why: string;
  /** Something the reader should know (the replay differed, sends were not recorded). */
  readonly note: string | null;
}

/** Which multicast a report explains: one named by `--explain`, or the slowest. */
export type ExplainTarget =
  | { readonly kind: "id"; readonly run: PlannedRun; readonly id: string }
  | {
      readonly kind: "slowest";
      readonly run: PlannedRun;
      readonly multicastMs: number;
      readonly latencyMs: number;
      readonly multicasts: number;
    };

/**
 * `--explain ID` (the first run that has it) or `--explain RUN/ID` (a run label, a slash, the id;
 * ids never hold a slash), or without it the slowest multicast of all the runs.
 */
export function explainTarget(
  explain: string | undefined,
  plan: readonly PlannedRun[],
  records: readonly RunRecord[],
): ExplainTarget | undefined {
  const done = new Set(records.map((record) => record.index));
  const runs = plan.filter((run) => done.has(run.index));
  if (explain !== undefined) {
    const slash = explain.lastIndexOf("/");
    const label = slash < 0 ? undefined : explain.slice(0, slash);
    const id = slash < 0 ? explain : explain.slice(slash + 1);
    if (id === "")
      throw new UsageError(
        `experiment: --explain expects a multicast id (e.g. c0:12), got ${JSON.stringify(explain)}`,
      );
    const run = label === undefined ? runs[0] : runs.find((candidate) => candidate.spec.label === label);
    if (run === undefined) {
      throw new UsageError(
        `experiment: --explain: no run ${JSON.stringify(label)} (runs: ${runs.map((candidate) => candidate.spec.label).join(", ")})`,
      );
    }
    return { kind: "id", run, id };
  }
  let best: { record: RunRecord; at: number } | undefined;
  for (const record of records) {
    const { latencyMs } = record.samples;
    for (let index = 0; index < latencyMs.length; index += 1) {
      if (
        best === undefined ||
        (latencyMs[index] as number) > (best.record.samples.latencyMs[best.at] as number)
      )
        best = { record, at: index };
    }
  }
  if (best === undefined) return undefined;
  const run = plan.find((candidate) => candidate.index === best.record.index);
  if (run === undefined) return undefined;
  return {
    kind: "slowest",
    run,
    multicastMs: best.record.samples.multicastMs[best.at] as number,
    latencyMs: best.record.samples.latencyMs[best.at] as number,
    multicasts: records.reduce((sum, record) => sum + record.samples.latencyMs.length, 0),
  };
}

/** Multicast events a slowest-candidate search follows at most (same start time, within rounding). */
const CANDIDATES_MAX = 64;
/** Events kept per explained multicast at most (a Byzantine run sends many copies). */
const EVENTS_MAX = 20_000;

/**
 * Runs the target's run again, with every send recorded, and keeps the events of the one
 * multicast: the simulator replays a seed exactly, so it is the same multicast as in the results.
 */
export function replayMulticast(target: ExplainTarget): MulticastTrace {
  const label = target.run.spec.label;
  const candidates = new Map<string, { t: number; dst: Set<string>; lastMs: number }>();
  const kept = new Map<string, TraceEvent[]>();
  const context: TraceEvent[] = [];
  const wanted = (event: Extract<TraceEvent, { ev: "multicast" }>): boolean =>
    target.kind === "id"
      ? String(event.id) === target.id
      : Math.abs(event.t - target.multicastMs) < 0.0015 && candidates.size < CANDIDATES_MAX;
  const onTrace = (event: TraceEvent): void => {
    switch (event.ev) {
      case "member":
      case "view":
      case "fault":
        if (context.length < EVENTS_MAX) context.push(event);
        return;
      case "stop":
        return;
      case "multicast":
        if (wanted(event)) {
          candidates.set(String(event.id), {
            t: event.t,
            dst: new Set(event.dst.map(String)),
            lastMs: Number.NaN,
          });
          kept.set(String(event.id), [event]);
        }
        return;
      default: {
        const id = event.id;
        if (id === undefined) return;
        const list = kept.get(String(id));
        if (list === undefined) return;
        if (list.length < EVENTS_MAX) list.push(event);
        if (event.ev === "deliver") {
          const candidate = candidates.get(String(id));
          if (candidate?.dst.delete(String(event.group)) === true && candidate.dst.size === 0)
            candidate.lastMs = event.t;
        }
      }
    }
  };
  runScenario({ ...target.run.spec, recordSends: true, check: false, keepSamples: false, onTrace });
  let id: string | undefined;
  let note: string | null = null;
  if (target.kind === "id") {
    id = kept.has(target.id) ? target.id : undefined;
    if (id === undefined)
      throw new UsageError(
        `experiment: --explain: run ${label} has no multicast ${JSON.stringify(target.id)}`,
      );
  } else {
    let closest = Number.POSITIVE_INFINITY;
    for (const [candidateId, candidate] of candidates) {
      const difference = Math.abs(candidate.lastMs - candidate.t - target.latencyMs);
      if (difference < closest) {
        closest = difference;
        id = candidateId;
      }
    }
    if (id === undefined)
      throw new Error(`replaying ${label} found no multicast at ${target.multicastMs} ms`);
    if (closest > 0.002)
      note = `the replay's latency differs from the recorded one by ${closest.toFixed(3)} ms (a run whose optimiser hit its wall-clock limit may replay differently)`;
  }
  const events = [...context, ...(kept.get(id) ?? [])].sort((a, b) => a.t - b.t);
  return {
    run: label,
    id,
    events,
    why:
      target.kind === "id"
        ? "chosen with --explain"
        : `the slowest of ${target.multicasts} multicasts (${target.latencyMs.toFixed(1)} ms)`,
    note,
  };
}
