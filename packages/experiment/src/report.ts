import { destinationKey } from "@amcast/core";
import type { Reconfiguration } from "@amcast/system";
import type { MessageSample } from "./metrics.js";
import { percentile } from "./metrics.js";
import type { ScenarioOutcome } from "./scenario.js";
import { failingViolations, realTimeViolations, realTimeViolationsText } from "./scenario.js";
import type { Published } from "./spec.js";
import { formatTable } from "./table.js";

/** What the oracles said of a run, for its progress line. */
export function checksText(outcome: ScenarioOutcome): string {
  const { spec, check } = outcome;
  if (check === null) return "not checked";
  const failing = failingViolations(outcome).length;
  if (failing > 0) return `checks: ${failing} VIOLATIONS`;
  const realTime = spec.linearizable === true ? 0 : realTimeViolations(outcome);
  const hold = `checks: ${check.owed.length} properties hold`;
  if (!check.passed) return `${hold}, but the run DID NOT FINISH`;
  const expected = check.stop?.expected === true ? " (stopped at its declared time limit)" : "";
  return (
    hold +
    expected +
    (realTime > 0 ? ` (real-time order broken ${realTime}x: plain multicast does not promise it)` : "")
  );
}

/** One progress line per finished run. */
export function progressLine(outcome: ScenarioOutcome, index: number, total: number): string {
  const { spec, sim, metrics, wallMs } = outcome;
  const checks = checksText(outcome);
  const stop = sim.stoppedBy === "drained" ? "" : ` [stopped: ${sim.stoppedBy}]`;
  const rate = wallMs > 0 ? Math.round((sim.messageEvents * 1000) / wallMs) : 0;
  return (
    `[${index + 1}/${total}] ${spec.label} seed ${spec.seed}: ${metrics.multicasts} multicasts, ` +
    `${(sim.endMs / 1000).toFixed(1)} s simulated in ${(wallMs / 1000).toFixed(1)} s (${rate} message events/s); ${checks}${stop}`
  );
}

/** Seconds before and after a fault over which its impact is averaged. */
const FAULT_WINDOW_MS = 2000;

/**
 * For runs with crashes: mean and max latency of the multicasts started in the two seconds before
 * and after each crash (the first three per run), so a failover's cost is visible in numbers.
 */
export function faultImpactTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const { spec, metrics } of outcomes) {
    for (const mark of metrics.marks.filter((candidate) => candidate.label.startsWith("crash")).slice(0, 3)) {
      const window = (fromMs: number, toMs: number) =>
        metrics.samples.filter((sample) => sample.multicastMs >= fromMs && sample.multicastMs < toMs);
      const before = window(mark.t - FAULT_WINDOW_MS, mark.t);
      const after = window(mark.t, mark.t + FAULT_WINDOW_MS);
      const mean = (samples: readonly { latencyMs: number }[]) =>
        samples.length === 0
          ? 0
          : samples.reduce((sum, sample) => sum + sample.latencyMs, 0) / samples.length;
      const max = (samples: readonly { latencyMs: number }[]) =>
        samples.reduce((top, sample) => Math.max(top, sample.latencyMs), 0);
      rows.push([
        spec.label,
        mark.label,
        mark.t / 1000,
        before.length,
        mean(before),
        max(before),
        after.length,
        mean(after),
        max(after),
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return formatTable(
    [
      "run",
      "fault",
      "at s",
      "before n",
      "before mean ms",
      "before max ms",
      "after n",
      "after mean ms",
      "after max ms",
    ],
    rows,
  );
}

/**
 * Genuineness, for runs that recorded sends: protocol messages about a multicast that reached
 * groups outside its destinations, per multicast, overall and by kind; undefined when no run
 * recorded sends.
 */
export function genuinenessTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const measured = outcomes.filter((outcome) => outcome.metrics.genuineness !== null);
  if (measured.length === 0) return undefined;
  const kinds = [
    ...new Set(measured.flatMap((outcome) => [...(outcome.metrics.genuineness?.byKind.keys() ?? [])])),
  ];
  const rows = measured.map(({ spec, metrics }) => {
    const genuineness = metrics.genuineness;
    if (genuineness === null) return [spec.label];
    return [
      spec.label,
      genuineness.outsideMessagesPerMulticast,
      genuineness.outsideGroupsPerMulticast,
      genuineness.multicastsWithOutside * 100,
      genuineness.outsideGroupsMax,
      ...kinds.map((kind) => genuineness.byKind.get(kind) ?? "-"),
    ];
  });
  return formatTable(
    [
      "run",
      "outside msgs/mcast",
      "outside groups/mcast",
      "% mcasts touching outside",
      "max outside groups",
      ...kinds.map((kind) => `${kind} outside msgs`),
    ],
    rows,
  );
}

/**
 * For experiments that run protocols plain and linearizable: per run pair and kind of message,
 * the latency each way, the measured extra cost, the extra the message pattern predicts (the
 * models' difference: one ACK hop between destinations), and the measured extra in units of
 * that predicted delay. Also the real-time violations each variant showed.
 */
export function linearizableCostTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const lin of outcomes) {
    if (lin.spec.linearizable !== true) continue;
    const plainLabel = lin.spec.label.replace("+lin/", "/");
    const plain = outcomes.find(
      (outcome) => outcome.spec.label === plainLabel && outcome.spec.linearizable !== true,
    );
    if (plain === undefined) continue;
    for (const [kind, linSummary] of lin.metrics.byKind) {
      const plainSummary = plain.metrics.byKind.get(kind);
      if (plainSummary === undefined) continue;
      const extraMs = linSummary.mean - plainSummary.mean;
      // Local messages have no ACK hop to predict: whatever they pay is queueing.
      const expectedMs =
        kind !== "local" && linSummary.meanModelMs !== null && plainSummary.meanModelMs !== null
          ? linSummary.meanModelMs - plainSummary.meanModelMs
          : null;
      rows.push([
        plainLabel,
        kind,
        plainSummary.mean,
        linSummary.mean,
        extraMs,
        expectedMs ?? "-",
        expectedMs !== null && expectedMs > 0 ? extraMs / expectedMs : "-",
        realTimeViolationsText(plain),
        realTimeViolationsText(lin),
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return formatTable(
    [
      "run",
      "kind",
      "plain ms",
      "lin ms",
      "extra ms",
      "1 delay ms",
      "extra delays",
      "rt viol plain",
      "rt viol lin",
    ],
    rows,
  );
}

/**
 * For runs that reconfigure: each installed view with the optimiser's prediction (mean latency of
 * the window's workload on the old and the new overlay, by the protocol's own latency model) and
 * what the run measured over the multicasts started between the previous change (or the workload
 * shift) and the decision, and between the installation and the next decision (or the workload
 * shift, or the end).
 *
 * The two windows are compared on the same workload: per (client, destination set) that ran in
 * both, weighted by how often it ran before (`pairedComparison`). Comparing the windows' plain
 * means would mostly measure who was still running: closed-loop clients finish at different
 * times, the ones near their destinations first, so a later window holds the slower clients.
 */
/** One installed view of a run: the predicted and the measured gain (see `reconfigTable`). */
export interface ViewGain {
  readonly change: Reconfiguration;
  readonly predictedGain: number | null;
  /** Before and after on the same workload; null when the windows share no (client, set). */
  readonly measured: PairedComparison | null;
}

export function viewGains(outcome: ScenarioOutcome): ViewGain[] {
  const { spec, metrics, reconfig } = outcome;
  if (reconfig === null) return [];
  const installed = reconfig.reconfigurations;
  return installed.map((change, index) => {
    const previous = installed[index - 1];
    // Both windows see one workload: a shift between them ends the after window.
    const shiftAtMs = spec.workload.shift?.atMs;
    let fromMs = previous?.installedMs ?? 0;
    if (shiftAtMs !== undefined && shiftAtMs < change.decidedMs) fromMs = Math.max(fromMs, shiftAtMs);
    let untilMs = installed[index + 1]?.decidedMs ?? Number.POSITIVE_INFINITY;
    if (shiftAtMs !== undefined && change.installedMs !== null && shiftAtMs > change.installedMs)
      untilMs = Math.min(untilMs, shiftAtMs);
    const predictedGain =
      change.predictedCurrentMs !== null && change.predictedBestMs !== null && change.predictedCurrentMs > 0
        ? (100 * (change.predictedCurrentMs - change.predictedBestMs)) / change.predictedCurrentMs
        : null;
    const measured =
      change.installedMs === null
        ? null
        : pairedComparison(metrics.samples, fromMs, change.decidedMs, change.installedMs, untilMs);
    return { change, predictedGain, measured };
  });
}

/** Latency of one (client, destination set) over a window. */
interface KeyStats {
  count: number;
  sum: number;
  squares: number;
  modelSum: number;
  modelCount: number;
}

/** The multicasts started in [fromMs, untilMs), per (client, destination set). */
function statsByKey(
  samples: readonly MessageSample[],
  fromMs: number,
  untilMs: number,
): Map<string, KeyStats> {
  const byKey = new Map<string, KeyStats>();
  for (const sample of samples) {
    if (sample.multicastMs < fromMs || sample.multicastMs >= untilMs) continue;
    const key = `${sample.client}\n${destinationKey(sample.dst)}`;
    let stats = byKey.get(key);
    if (stats === undefined) {
      stats = { count: 0, sum: 0, squares: 0, modelSum: 0, modelCount: 0 };
      byKey.set(key, stats);
    }
    stats.count += 1;
    stats.sum += sample.latencyMs;
    stats.squares += sample.latencyMs * sample.latencyMs;
    if (sample.modelMs !== null) {
      stats.modelSum += sample.modelMs;
      stats.modelCount += 1;
    }
  }
  return byKey;
}

/** Sample variance of one key; NaN below two samples. */
function keyVariance(stats: KeyStats): number {
  if (stats.count < 2) return Number.NaN;
  const mean = stats.sum / stats.count;
  return Math.max(0, (stats.squares - stats.count * mean * mean) / (stats.count - 1));
}

/** The variance within keys, pooled over the keys of a window with two samples or more (0 if none). */
function pooledVariance(byKey: ReadonlyMap<string, KeyStats>): number {
  let squares = 0;
  let freedom = 0;
  for (const stats of byKey.values()) {
    if (stats.count < 2) continue;
    squares += keyVariance(stats) * (stats.count - 1);
    freedom += stats.count - 1;
  }
  return freedom > 0 ? squares / freedom : 0;
}

/** One workload measured in two windows of a run (see `pairedComparison`). */
export interface PairedComparison {
  /** Mean latency before and after, each (client, set) weighted by its count before (ms). */
  readonly beforeMs: number;
  readonly afterMs: number;
  /** The latency model's mean for the after window, same weights; null if a sample has none. */
  readonly afterModelMs: number | null;
  readonly gainPercent: number;
  /** Two standard errors of the gain (%): a negative gain beyond it is no noise. */
  readonly noisePercent: number;
  /** Share of the before window's multicasts whose (client, destination set) ran after too. */
  readonly comparedFraction: number;
}

/**
 * Before [beforeFromMs, beforeUntilMs) against after [afterFromMs, afterUntilMs), on the same
 * workload: each (client, destination set) that ran in both windows counts with its mean latency
 * in each, weighted by how often it ran before; the rest is left out (`comparedFraction` says how
 * much). The noise is two standard errors of the weighted difference (a key's variance from its
 * own samples, or pooled over its window's keys when it has one). Null: no key ran in both.
 */
export function pairedComparison(
  samples: readonly MessageSample[],
  beforeFromMs: number,
  beforeUntilMs: number,
  afterFromMs: number,
  afterUntilMs: number,
): PairedComparison | null {
  const before = statsByKey(samples, beforeFromMs, beforeUntilMs);
  const after = statsByKey(samples, afterFromMs, afterUntilMs);
  const pooledBefore = pooledVariance(before);
  const pooledAfter = pooledVariance(after);
  let beforeTotal = 0;
  let weights = 0;
  let beforeSum = 0;
  let afterSum = 0;
  let modelSum = 0;
  let modelComplete = true;
  let varianceSum = 0;
  for (const [key, early] of before) {
    beforeTotal += early.count;
    const late = after.get(key);
    if (late === undefined) continue;
    const weight = early.count;
    weights += weight;
    beforeSum += weight * (early.sum / early.count);
    afterSum += weight * (late.sum / late.count);
    if (late.modelCount === late.count) modelSum += weight * (late.modelSum / late.count);
    else modelComplete = false;
    const earlyVariance = early.count < 2 ? pooledBefore : keyVariance(early);
    const lateVariance = late.count < 2 ? pooledAfter : keyVariance(late);
    varianceSum += weight * weight * (earlyVariance / early.count + lateVariance / late.count);
  }
  if (weights === 0) return null;
  const beforeMs = beforeSum / weights;
  const afterMs = afterSum / weights;
  const noiseMs = (2 * Math.sqrt(varianceSum)) / weights;
  return {
    beforeMs,
    afterMs,
    afterModelMs: modelComplete ? modelSum / weights : null,
    gainPercent: beforeMs > 0 ? (100 * (beforeMs - afterMs)) / beforeMs : 0,
    noisePercent: beforeMs > 0 ? (100 * noiseMs) / beforeMs : 0,
    comparedFraction: weights / beforeTotal,
  };
}

export function reconfigTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const outcome of outcomes) {
    for (const { change, predictedGain, measured } of viewGains(outcome)) {
      const verdict =
        measured === null ? "-" : measured.gainPercent < -measured.noisePercent ? "WORSE" : "ok";
      rows.push([
        outcome.spec.label,
        change.view,
        change.decidedMs / 1000,
        change.installedMs === null ? "-" : change.installedMs / 1000,
        change.predictedCurrentMs ?? "-",
        change.predictedBestMs ?? "-",
        predictedGain ?? "-",
        measured?.beforeMs ?? "-",
        measured?.afterMs ?? "-",
        measured?.gainPercent ?? "-",
        measured?.noisePercent ?? "-",
        measured === null ? "-" : measured.comparedFraction * 100,
        measured !== null && measured.afterModelMs !== null && measured.afterModelMs > 0
          ? measured.afterMs / measured.afterModelMs
          : "-",
        verdict,
        change.method,
        change.solveMs,
      ]);
    }
  }
  if (rows.length === 0) return undefined;
  return formatTable(
    [
      "run",
      "view",
      "decided s",
      "installed s",
      "model old ms",
      "model new ms",
      "predicted gain %",
      "before ms",
      "after ms",
      "measured gain %",
      "noise +-%",
      "compared %",
      "model x after",
      "check",
      "solver",
      "solve ms",
    ],
    rows,
  );
}

/**
 * The experiment's expectation on reconfiguring runs (`reconfig.firstGainPercentMin`): each must
 * install a view, and measure at least that gain after its first one. One line per run that
 * does not.
 */
export function reconfigExpectationFailures(
  outcomes: readonly ScenarioOutcome[],
  minGainPercent: number,
): string[] {
  const failures: string[] = [];
  for (const outcome of outcomes) {
    if (outcome.reconfig === null) continue;
    const first = viewGains(outcome)[0];
    const gain = first?.measured?.gainPercent ?? null;
    if (first === undefined) failures.push(`${outcome.spec.label}: installed no view`);
    else if (gain === null || gain < minGainPercent)
      failures.push(
        `${outcome.spec.label}: measured gain after the first view ${gain === null ? "unknown" : `${gain.toFixed(1)}%`} < ${minGainPercent}%`,
      );
  }
  return failures;
}

/** Optimiser runs per reconfiguring run: how many, how long (wall clock), how many changed the overlay. */
export function solverTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const { spec, reconfig } of outcomes) {
    if (reconfig === null || reconfig.plans.length === 0) continue;
    const times = reconfig.plans.map((plan) => plan.solveMs);
    rows.push([
      spec.label,
      reconfig.plans.length,
      reconfig.plans.filter((plan) => plan.changed).length,
      times.reduce((sum, time) => sum + time, 0) / times.length,
      Math.max(...times),
      Math.max(...reconfig.plans.map((plan) => plan.measuredPairs)),
    ]);
  }
  if (rows.length === 0) return undefined;
  return formatTable(
    ["run", "optimiser runs", "changes proposed", "mean solve ms", "max solve ms", "measured delay pairs"],
    rows,
  );
}

/**
 * The delays the controller optimised with at the end, against the topology's matrix: per run,
 * how many ordered group pairs were measured and measured/topology over them.
 */
export function measuredDelaysTable(outcomes: readonly ScenarioOutcome[]): string | undefined {
  const rows: (string | number)[][] = [];
  for (const { spec, reconfig } of outcomes) {
    if (reconfig === null || reconfig.measuredDelays.length === 0) continue;
    const ratios = reconfig.measuredDelays.map(
      (delay) => delay.meanMs / Math.max(1e-9, spec.topology.groupToGroupMs(delay.from, delay.to)),
    );
    rows.push([
      spec.label,
      reconfig.measuredDelays.length,
      reconfig.measuredDelays.reduce((sum, delay) => sum + delay.samples, 0),
      Math.min(...ratios),
      percentile(Float64Array.from(ratios).sort(), 0.5),
      Math.max(...ratios),
    ]);
  }
  if (rows.length === 0) return undefined;
  return formatTable(["run", "pairs", "samples", "measured/topology min", "median", "max"], rows);
}

/**
 * The reconfiguration part of an experiment's output, the same on both runtimes: the table of
 * views (predicted and measured gain), the optimiser's runs, and the experiment's expectation
 * (`firstGainPercentMin`, null: none): `verdict` has one FAILED line per run that misses it, or
 * one line saying every run met it (printed with the checks' verdict).
 */
export function reconfigLines(
  outcomes: readonly ScenarioOutcome[],
  firstGainPercentMin: number | null,
  runtime: "sim" | "net",
): { lines: string[]; verdict: string[]; failed: number } {
  const lines: string[] = [];
  const reconfigurations = reconfigTable(outcomes);
  if (reconfigurations !== undefined)
    lines.push(
      "",
      "reconfigurations (model: the optimiser's cost model over the statistics window; measured: latency before the decision and after the installation, per client and destination set that ran in both (compared %: share of the before window), weighted as before; model x after: measured over the latency model on the new overlay)",
      reconfigurations,
    );
  const solver = solverTable(outcomes);
  if (solver !== undefined)
    lines.push(
      "",
      runtime === "sim"
        ? "optimiser runs (wall-clock solve times; the simulated run does not wait for them)"
        : "optimiser runs (wall-clock solve times, in an optimiser thread of the controller's client host; measured delay pairs: from the messages' send stamps)",
      solver,
    );
  for (const { spec, reconfig } of outcomes) {
    const errors = reconfig?.solverErrors ?? [];
    if (errors.length > 0)
      lines.push(`${spec.label}: ${errors.length} optimiser run(s) failed; the first: ${errors[0]}`);
  }
  const delays = measuredDelaysTable(outcomes);
  if (delays !== undefined)
    lines.push(
      "",
      runtime === "sim"
        ? "measured delays the controller last optimised with (the simulator's drawn delays, as the replicas reported them with STATS)"
        : "measured delays the controller last optimised with (receive time minus the messages' send stamps, as the replicas reported them with STATS)",
      delays,
    );
  const expectations =
    firstGainPercentMin === null ? [] : reconfigExpectationFailures(outcomes, firstGainPercentMin);
  const verdict = expectations.map((line) => `FAILED: ${line}`);
  if (firstGainPercentMin !== null && expectations.length === 0)
    verdict.push(
      `reconfiguration: every reconfiguring run gained at least ${firstGainPercentMin}% after its first view`,
    );
  return { lines, verdict, failed: expectations.length };
}

/**
 * Published figures beside amcast's for the same run and workload (plain variant, first seed):
 * published, amcast, amcast/published; then, per workload and metric, the protocols ranked best
 * first by each (throughput: higher is better; latency: lower), and whether the orders agree.
 */
export function publishedLines(outcomes: readonly ScenarioOutcome[], published: Published): string[] {
  const rows: (string | number)[][] = [];
  const ranks = new Map<string, { run: string; published: number; amcast: number }[]>();
  for (const figure of published.figures) {
    const outcome = outcomes.find(
      ({ spec }) =>
        spec.label.startsWith(`${figure.run}/`) &&
        spec.workload.name === figure.workload &&
        spec.linearizable !== true,
    );
    if (outcome === undefined) continue;
    const amcast =
      figure.metric === "throughput" ? outcome.metrics.multicastsPerSec : outcome.metrics.latency.mean;
    rows.push([
      figure.run,
      figure.workload,
      figure.metric === "throughput" ? "mcast/s" : "mean ms",
      figure.value,
      amcast,
      figure.value > 0 ? amcast / figure.value : "-",
      figure.source ?? "-",
    ]);
    const key = `${figure.workload} ${figure.metric}`;
    const list = ranks.get(key) ?? [];
    list.push({ run: figure.run, published: figure.value, amcast });
    ranks.set(key, list);
  }
  if (rows.length === 0) return [];
  const lines = [
    `published figures (${published.source}) beside amcast's`,
    formatTable(["run", "workload", "metric", "published", "amcast", "amcast/published", "source"], rows),
  ];
  for (const [key, list] of ranks) {
    if (list.length < 2) continue;
    const better = key.endsWith("throughput") ? -1 : 1;
    const order = (pick: (entry: (typeof list)[number]) => number): string =>
      [...list]
        .sort((a, b) => better * (pick(a) - pick(b)))
        .map((entry) => entry.run)
        .join(" > ");
    const publishedOrder = order((entry) => entry.published);
    const amcastOrder = order((entry) => entry.amcast);
    lines.push(
      `rank ${key}: published ${publishedOrder}; amcast ${amcastOrder} (${publishedOrder === amcastOrder ? "same" : "differs"})`,
    );
  }
  return lines;
}

/** The command that runs `name` again with `seed` and writes its trace. */
export function replayCommand(name: string, seed: number | undefined, traceFile: string | undefined): string {
  const parts = ["pnpm run experiment", name];
  if (seed !== undefined) parts.push("--seed", String(seed));
  if (traceFile !== undefined) parts.push("--trace", traceFile);
  return parts.join(" ");
}
