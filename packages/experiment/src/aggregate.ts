import type { RunRecord } from "./record.js";

/** A mean over seeds with its 95% confidence interval (half-width; 0 with one seed). */
export interface Estimate {
  readonly mean: number;
  readonly ci95: number;
  readonly n: number;
}

/** Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** Mean and Student-t 95% confidence half-width of independent values (one per seed). */
export function estimate(values: readonly number[]): Estimate {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: 0, n };
  const mean = values.reduce((sum, value) => sum + value, 0) / n;
  if (n === 1) return { mean, ci95: 0, n };
  const variance = values.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (n - 1);
  const t = T_975[n - 2] ?? 1.96;
  return { mean, ci95: (t * Math.sqrt(variance)) / Math.sqrt(n), n };
}

/** The runs of one row: same protocol, mode, workload, fault plan and sweep point; seeds differ. */
export interface RunGroup {
  readonly group: string;
  /** The records, by seed. */
  readonly runs: readonly RunRecord[];
  /** The first record (every field but the seed and the measurements is the same in all). */
  readonly first: RunRecord;
}

/** Records grouped into rows, in the order of their first run. */
export function groupRuns(records: readonly RunRecord[]): RunGroup[] {
  const byGroup = new Map<string, RunRecord[]>();
  for (const record of [...records].sort((a, b) => a.index - b.index)) {
    const list = byGroup.get(record.group);
    if (list === undefined) byGroup.set(record.group, [record]);
    else list.push(record);
  }
  return [...byGroup].map(([group, runs]) => ({ group, runs, first: runs[0] as RunRecord }));
}

/** The measurements reports aggregate over seeds, by name (also the CSV column stem). */
export const RUN_METRICS = {
  mean_ms: (record: RunRecord) => record.summary.latencyMs.mean,
  p50_ms: (record: RunRecord) => record.summary.latencyMs.p50,
  p99_ms: (record: RunRecord) => record.summary.latencyMs.p99,
  floor_ratio: (record: RunRecord) => record.summary.floorRatio,
  messages_per_multicast: (record: RunRecord) => record.summary.messagesPerMulticast,
  multicasts_per_sec: (record: RunRecord) => record.summary.multicastsPerSec,
} as const satisfies Record<string, (record: RunRecord) => number>;

export type RunMetricName = keyof typeof RUN_METRICS;

/** Every run metric of a row, estimated over its seeds. */
export function aggregateGroup(group: RunGroup): Record<RunMetricName, Estimate> {
  const result = {} as Record<RunMetricName, Estimate>;
  for (const [name, read] of Object.entries(RUN_METRICS) as [RunMetricName, (r: RunRecord) => number][])
    result[name] = estimate(group.runs.map(read));
  return result;
}

/** Latency of one kind of message in a row, estimated over the seeds that had that kind. */
export function aggregateKind(
  group: RunGroup,
  kind: string,
): { count: number; mean: Estimate; p50: Estimate; p99: Estimate; floorMs: Estimate } | undefined {
  const present = group.runs.map((run) => run.summary.byKind[kind]).filter((entry) => entry !== undefined);
  if (present.length === 0) return undefined;
  return {
    count: present.reduce((sum, entry) => sum + entry.count, 0),
    mean: estimate(present.map((entry) => entry.mean)),
    p50: estimate(present.map((entry) => entry.p50)),
    p99: estimate(present.map((entry) => entry.p99)),
    floorMs: estimate(present.map((entry) => entry.floorMs)),
  };
}

/** Kinds of message present in the records, local first, then by number of destinations. */
export function kindsOf(records: readonly RunRecord[]): string[] {
  const kinds = new Set<string>();
  for (const record of records) for (const kind of Object.keys(record.summary.byKind)) kinds.add(kind);
  return [...kinds].sort((a, b) => kindRank(a) - kindRank(b) || (a < b ? -1 : 1));
}

function kindRank(kind: string): number {
  if (kind === "local") return 1;
  const size = Number(kind.slice("global-".length));
  return Number.isFinite(size) ? size : 1000;
}
