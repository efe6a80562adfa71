import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cdfPoints, lineChartSvg } from "./plot.js";
import type { ScenarioOutcome } from "./scenario.js";
import { failingViolations, messagesPerMulticast } from "./scenario.js";

/** Writes summary.json, runs.csv, kinds.csv, samples.csv, latency-cdf.svg and latency-over-time.svg under `dir`. */
export function writeResults(
  dir: string,
  summary: Record<string, unknown>,
  outcomes: readonly ScenarioOutcome[],
): string[] {
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];
  const write = (name: string, text: string): void => {
    writeFileSync(join(dir, name), text);
    written.push(name);
  };
  write("summary.json", `${JSON.stringify(summary, null, 2)}\n`);
  write(
    "runs.csv",
    csv(
      [
        "run",
        "protocol",
        "mode",
        "workload",
        "seed",
        "multicasts",
        "delivered",
        "mean_ms",
        "p50_ms",
        "p99_ms",
        "floor_ratio",
        "model_ratio",
        "messages_per_multicast",
        "outside_messages_per_multicast",
        "outside_groups_per_multicast",
        "multicasts_per_sec",
        "violations",
        "stopped_by",
      ],
      outcomes.map((outcome) => [
        outcome.spec.label,
        outcome.spec.protocol.name,
        outcome.spec.mode,
        outcome.spec.workload.name,
        outcome.spec.seed,
        outcome.metrics.multicasts,
        outcome.metrics.delivered,
        outcome.metrics.latency.mean,
        outcome.metrics.latency.p50,
        outcome.metrics.latency.p99,
        outcome.metrics.latency.floorRatio,
        outcome.metrics.latency.modelRatio ?? "",
        messagesPerMulticast(outcome),
        outcome.metrics.genuineness?.outsideMessagesPerMulticast ?? "",
        outcome.metrics.genuineness?.outsideGroupsPerMulticast ?? "",
        outcome.metrics.multicastsPerSec,
        outcome.check === null ? "" : failingViolations(outcome).length,
        outcome.sim.stoppedBy,
      ]),
    ),
  );
  write(
    "kinds.csv",
    csv(
      [
        "run",
        "kind",
        "count",
        "mean_ms",
        "p50_ms",
        "p99_ms",
        "floor_ms",
        "floor_ratio",
        "model_ms",
        "model_ratio",
      ],
      outcomes.flatMap(({ spec, metrics }) =>
        [...metrics.byKind].map(([kind, s]) => [
          spec.label,
          kind,
          s.count,
          s.mean,
          s.p50,
          s.p99,
          s.meanFloorMs,
          s.floorRatio,
          s.meanModelMs ?? "",
          s.modelRatio ?? "",
        ]),
      ),
    ),
  );
  write(
    "samples.csv",
    csv(
      ["run", "multicast_ms", "latency_ms", "kind", "client", "dst", "model_ms"],
      outcomes.flatMap(({ spec, metrics }) =>
        metrics.samples.map((s) => [
          spec.label,
          s.multicastMs,
          s.latencyMs,
          s.kind,
          s.client,
          s.dst.join(" "),
          s.modelMs ?? "",
        ]),
      ),
    ),
  );
  const series = outcomes.map(({ spec, metrics }) => ({
    name: spec.label,
    points: cdfPoints(metrics.samples.map((s) => s.latencyMs)),
  }));
  const p99Max = Math.max(1, ...outcomes.map(({ metrics }) => metrics.latency.p99));
  write(
    "latency-cdf.svg",
    lineChartSvg(series, {
      title: "Latency (multicast to last destination delivery)",
      xLabel: "latency (ms)",
      yLabel: "fraction of multicasts",
      xMax: p99Max * 1.1,
      yMax: 1,
    }),
  );
  const timeSeries = outcomes.map(({ spec, metrics }) => ({
    name: spec.label,
    points: latencyOverTime(metrics.samples),
  }));
  const marks = outcomes
    .flatMap(({ metrics }) => metrics.marks)
    .map((mark) => ({ x: mark.t / 1000, label: mark.label }));
  write(
    "latency-over-time.svg",
    lineChartSvg(timeSeries, {
      title: "Mean latency per second of (simulated) time",
      xLabel: "time (s)",
      yLabel: "mean latency (ms)",
      markers: marks.slice(0, 12),
    }),
  );
  return written;
}

/** Mean latency of the multicasts started in each second. */
export function latencyOverTime(
  samples: readonly { multicastMs: number; latencyMs: number }[],
): [number, number][] {
  const sums = new Map<number, { total: number; count: number }>();
  for (const sample of samples) {
    const second = Math.floor(sample.multicastMs / 1000);
    const bucket = sums.get(second) ?? { total: 0, count: 0 };
    bucket.total += sample.latencyMs;
    bucket.count += 1;
    sums.set(second, bucket);
  }
  return [...sums.entries()]
    .sort(([a], [b]) => a - b)
    .map(([second, { total, count }]) => [second + 0.5, total / count]);
}

function csv(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cell = (value: string | number): string => {
    const text = typeof value === "number" ? String(Math.round(value * 1000) / 1000) : value;
    return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return `${[header, ...rows].map((row) => row.map(cell).join(",")).join("\n")}\n`;
}
