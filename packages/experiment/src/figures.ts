import type { RunGroup } from "./aggregate.js";
import { aggregateGroup, groupRuns, kindsOf } from "./aggregate.js";
import type { Bar, BarPanel, ChartLine, ChartMark, ChartPoint, LinePanel, SeriesStyle } from "./chart.js";
import { barFigureSvg, lineFigureSvg, seriesStyles } from "./chart.js";
import { csv } from "./csv.js";
import type { RunRecord } from "./record.js";
import { latenciesOf } from "./record.js";

/** One figure: its SVG and the data it draws, as CSV (written beside it). */
export interface Figure {
  /** File stem: `latency-cdf` -> latency-cdf.svg and latency-cdf.csv. */
  readonly name: string;
  readonly title: string;
  /** One sentence for the report: what the figure shows. */
  readonly caption: string;
  readonly svg: string;
  readonly csv: string;
}

/** Series in a panel beyond which a figure draws one panel per series instead. */
const SERIES_PER_PANEL_MAX = 6;
/** Rows of settings a CDF figure draws at most (the CSV has every row). */
const CDF_ROWS_MAX = 8;
/** Points per CDF curve. */
const CDF_POINTS = 200;

/**
 * Every figure the records support: latency CDFs per kind of message, latency over time with
 * faults and view changes marked, messages per multicast by kind, and for sweeps throughput
 * against latency and each measure against the swept parameter.
 */
export function buildFigures(experiment: string, records: readonly RunRecord[]): Figure[] {
  if (records.length === 0) return [];
  const styles = seriesStyles(records.map((record) => record.series));
  const settings = new Settings(records);
  const figures = [
    latencyCdfFigure(experiment, records, styles, settings),
    latencyOverTimeFigure(experiment, records, styles, settings),
    messagesFigure(experiment, records, styles, settings),
  ];
  const parameters = Object.keys(records[0]?.sweep ?? {});
  if (parameters.length > 0) figures.push(...sweepFigures(experiment, records, styles, settings, parameters));
  return figures.filter((figure): figure is Figure => figure !== undefined);
}

/** What a run's label says besides its series and seed: mode, workload, fault plan, sweep point. */
function settingParts(record: RunRecord): [string, string][] {
  const parts: [string, string][] = [
    ["mode", record.mode],
    ["workload", record.workload],
  ];
  if (record.faultPlan !== "") parts.push(["faultPlan", record.faultPlan]);
  for (const [name, value] of Object.entries(record.sweep)) parts.push([name, `${name}=${value}`]);
  return parts;
}

/**
 * Runs' settings as panel titles name them: only the parts that differ between the figure's runs;
 * the parts they all share (`common`) go in the subtitle.
 */
class Settings {
  private readonly varying: ReadonlySet<string>;
  readonly common: string;

  constructor(records: readonly RunRecord[]) {
    const texts = new Map<string, Set<string>>();
    for (const record of records)
      for (const [name, text] of settingParts(record)) {
        const set = texts.get(name) ?? new Set<string>();
        set.add(text);
        texts.set(name, set);
      }
    this.varying = new Set([...texts].filter(([, set]) => set.size > 1).map(([name]) => name));
    const first = records[0];
    this.common =
      first === undefined
        ? ""
        : settingParts(first)
            .filter(([name]) => !this.varying.has(name))
            .map(([, text]) => text)
            .join(" / ");
  }

  /** A run's setting without the `without` parameters ("" when nothing differs). */
  of(record: RunRecord, without: readonly string[] = []): string {
    return settingParts(record)
      .filter(([name]) => this.varying.has(name) && !without.includes(name))
      .map(([, text]) => text)
      .join(" / ");
  }

  /** Records by setting, in the order settings first appear. */
  group(records: readonly RunRecord[], without: readonly string[] = []): Map<string, RunRecord[]> {
    const settings = new Map<string, RunRecord[]>();
    for (const record of records) {
      const key = this.of(record, without);
      const list = settings.get(key);
      if (list === undefined) settings.set(key, [record]);
      else list.push(record);
    }
    return settings;
  }
}

/** A panel's title: its setting, or "all runs" when the runs share one. */
function titleOf(setting: string): string {
  return setting === "" ? "all runs" : setting;
}

/** Records by series (seeds pooled), in series order. */
function bySeries(records: readonly RunRecord[]): Map<string, RunRecord[]> {
  const series = new Map<string, RunRecord[]>();
  for (const record of records) {
    const list = series.get(record.series);
    if (list === undefined) series.set(record.series, [record]);
    else list.push(record);
  }
  return series;
}

/** The distribution of `values` as points (x = value, y = fraction at or below). */
export function cdfPoints(values: readonly number[], pointsMax = CDF_POINTS): ChartPoint[] {
  if (values.length === 0) return [];
  const sorted = Float64Array.from(values).sort();
  const points: ChartPoint[] = [];
  const step = Math.max(1, Math.floor(sorted.length / pointsMax));
  for (let index = 0; index < sorted.length; index += step)
    points.push({ x: sorted[index] as number, y: (index + 1) / sorted.length });
  // The largest value closes the curve at 1, unless the sampling already ended on it.
  if (points[points.length - 1]?.y !== 1) points.push({ x: sorted[sorted.length - 1] as number, y: 1 });
  return points;
}

function latencyCdfFigure(
  experiment: string,
  records: readonly RunRecord[],
  styles: ReadonlyMap<string, SeriesStyle>,
  settings: Settings,
): Figure | undefined {
  const present = kindsOf(records);
  // "all" is only worth a panel when there is more than one kind.
  const kinds = present.length > 1 ? ["all", ...present] : present;
  const bySettings = [...settings.group(records)];
  const shown = bySettings.slice(0, CDF_ROWS_MAX);
  const panels: LinePanel[] = [];
  const rows: (string | number)[][] = [];
  for (const [setting, inSetting] of shown) {
    for (const kind of kinds) {
      const lines: ChartLine[] = [];
      for (const [series, runs] of bySeries(inSetting)) {
        const values = runs.flatMap((run) => latenciesOf(run, kind === "all" ? undefined : kind));
        if (values.length === 0) continue;
        const points = cdfPoints(values);
        lines.push({ key: series, points });
        for (const point of points) rows.push([setting, kind, series, point.x, point.y]);
      }
      // One kind only: panels by setting, in a grid.
      panels.push({
        title: kinds.length === 1 ? titleOf(setting) : kind === "all" ? "all multicasts" : kind,
        lines,
      });
    }
  }
  if (panels.every((panel) => panel.lines.length === 0)) return undefined;
  const title = `${experiment}: latency distribution by kind of message`;
  const cut =
    bySettings.length > shown.length
      ? `; first ${shown.length} of ${bySettings.length} settings (CSV: all)`
      : "";
  return {
    name: "latency-cdf",
    title,
    caption:
      "Fraction of multicasts delivered at every destination within a latency, per kind of message (local: one group; global-N: N groups), seeds pooled. Log-scale latency axis, so millisecond local latencies and WAN global ones both show.",
    svg: lineFigureSvg(panels, {
      title,
      subtitle: `multicast to delivery at the last destination; ${kinds.length === 1 ? `${kinds[0]} multicasts only; ` : ""}${titleOf(settings.common)}${cut}`,
      x: { label: "latency (ms)", scale: "log" },
      y: { label: "fraction of multicasts", scale: "linear", min: 0, max: 1 },
      styles,
      steps: true,
      // One row per setting, one column per kind, the setting over its row.
      ...(kinds.length > 1
        ? {
            columns: kinds.length,
            ...(bySettings.length > 1 ? { rowTitles: shown.map(([setting]) => setting) } : {}),
          }
        : { columns: Math.min(3, panels.length) }),
    }),
    csv: csv(["setting", "kind", "series", "latency_ms", "fraction"], rows),
  };
}

/** Width of a time bucket: about a hundred buckets over the run, at a round size. */
function bucketMs(spanMs: number): number {
  const raw = Math.max(1, spanMs / 100);
  for (const step of [1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000])
    if (step >= raw) return step;
  return 60_000;
}

function latencyOverTimeFigure(
  experiment: string,
  records: readonly RunRecord[],
  styles: ReadonlyMap<string, SeriesStyle>,
  settings: Settings,
): Figure | undefined {
  // A loop, not Math.max(...samples): a run of 768 clients has more samples than a call has room for arguments.
  let spanMs = 0;
  for (const record of records) for (const ms of record.samples.multicastMs) if (ms > spanMs) spanMs = ms;
  if (!(spanMs > 0)) return undefined;
  const bucket = bucketMs(spanMs);
  const panels: LinePanel[] = [];
  const rows: (string | number)[][] = [];
  const markRows: (string | number)[][] = [];
  for (const [setting, inSetting] of settings.group(records)) {
    const series = [...bySeries(inSetting)];
    // Too many series for one panel: one panel per series.
    const groups = series.length > SERIES_PER_PANEL_MAX ? series.map((entry) => [entry]) : [series];
    for (const group of groups) {
      const lines: ChartLine[] = [];
      const marks: ChartMark[] = [];
      for (const [key, runs] of group) {
        const sums = new Map<number, { total: number; count: number }>();
        for (const run of runs) {
          const { multicastMs, latencyMs } = run.samples;
          for (let index = 0; index < multicastMs.length; index += 1) {
            const at = Math.floor((multicastMs[index] as number) / bucket);
            const entry = sums.get(at) ?? { total: 0, count: 0 };
            entry.total += latencyMs[index] as number;
            entry.count += 1;
            sums.set(at, entry);
          }
        }
        const points = [...sums]
          .sort(([a], [b]) => a - b)
          .map(([at, { total, count }]) => ({ x: ((at + 0.5) * bucket) / 1000, y: total / count }));
        lines.push({ key, points });
        for (const point of points) rows.push([setting, key, point.x, point.y]);
        // Marks of the first seed (later seeds mark the same moments, give or take).
        for (const mark of runs[0]?.marks ?? []) {
          marks.push({ x: mark.t / 1000, label: mark.label, key });
          markRows.push([setting, key, mark.t / 1000, mark.label]);
        }
      }
      const title =
        groups.length > 1
          ? `${group[0]?.[0] ?? ""}${setting === "" ? "" : ` — ${setting}`}`
          : titleOf(setting);
      panels.push({ title, lines, marks });
    }
  }
  const title = `${experiment}: latency over time`;
  return {
    name: "latency-over-time",
    title,
    caption: `Mean latency of the multicasts started in each ${bucket >= 1000 ? `${bucket / 1000} s` : `${bucket} ms`} of the run's time (virtual on the simulator, the trace clock on real processes), with view changes and crashes marked (dashed, in the colour of the run they happened in).`,
    svg: lineFigureSvg(panels, {
      title,
      subtitle: `mean latency per ${bucket >= 1000 ? `${bucket / 1000} s` : `${bucket} ms`}, by start time; marks: faults and overlay views; ${titleOf(settings.common)}`,
      x: { label: "time (s)", scale: "linear" },
      y: { label: "mean latency (ms)", scale: "linear" },
      styles,
      columns: panels.length >= 4 ? 2 : 1,
    }),
    csv:
      csv(["setting", "series", "time_s", "mean_latency_ms"], rows) +
      (markRows.length === 0 ? "" : `\n${csv(["setting", "series", "mark_time_s", "mark"], markRows)}`),
  };
}

/** Kinds of client traffic (not protocol messages between groups). */
const CLIENT_KINDS = new Set(["request", "reply", "redirect"]);

/** Client traffic: greys (hatched every other), so protocol messages stand out. */
const CLIENT_GREYS = ["#d0d0d0", "#a0a0a0", "#707070"];

/** Paul Tol's muted palette, for message kinds (protocol colours are for series). */
const KIND_COLORS = [
  "#332288",
  "#88CCEE",
  "#44AA99",
  "#117733",
  "#999933",
  "#DDCC77",
  "#CC6677",
  "#882255",
  "#AA4499",
  "#6699CC",
  "#661100",
  "#AA4466",
];

function messagesFigure(
  experiment: string,
  records: readonly RunRecord[],
  styles: ReadonlyMap<string, SeriesStyle>,
  settings: Settings,
): Figure | undefined {
  const groups = groupRuns(records);
  const kinds = new Set<string>();
  for (const record of records)
    for (const kind of Object.keys(record.summary.sendsByKind ?? {})) kinds.add(kind);
  if (kinds.size === 0) return undefined;
  const protocolKinds = [...kinds].filter((kind) => !CLIENT_KINDS.has(kind)).sort();
  const clientKinds = [...kinds].filter((kind) => CLIENT_KINDS.has(kind)).sort();
  const segments = [
    ...protocolKinds.map((kind, index) => ({
      key: kind,
      name: kind,
      color: KIND_COLORS[index % KIND_COLORS.length] as string,
    })),
    ...clientKinds.map((kind, index) => ({
      key: kind,
      name: `${kind} (client)`,
      color: CLIENT_GREYS[index % CLIENT_GREYS.length] as string,
      hatch: index % 2 === 1,
    })),
  ];
  const perMulticast = (group: RunGroup): Record<string, number> => {
    const result: Record<string, number> = {};
    for (const kind of kinds) {
      let sum = 0;
      for (const run of group.runs) {
        const multicasts = run.summary.multicasts;
        sum += multicasts > 0 ? (run.summary.sendsByKind[kind] ?? 0) / multicasts : 0;
      }
      result[kind] = sum / group.runs.length;
    }
    return result;
  };
  const barsBySetting = new Map<string, Bar[]>();
  const rows: (string | number)[][] = [];
  for (const group of groups) {
    const setting = settings.of(group.first);
    const segmentsOf = perMulticast(group);
    const bars = barsBySetting.get(setting) ?? [];
    bars.push({ key: group.first.series, label: group.first.series, segments: segmentsOf });
    barsBySetting.set(setting, bars);
    for (const kind of [...protocolKinds, ...clientKinds])
      rows.push([setting, group.first.series, kind, segmentsOf[kind] ?? 0]);
  }
  const panels: BarPanel[] = [...barsBySetting].map(([setting, bars]) => ({ title: titleOf(setting), bars }));
  const title = `${experiment}: messages per multicast by kind`;
  return {
    name: "messages-per-multicast",
    title,
    caption:
      "Messages sent per multicast, by kind: the protocol's messages between group processes (solid), and client requests and replies (hatched). Counts every replica's copy.",
    svg: barFigureSvg(panels, {
      title,
      subtitle: `every message put on a link, divided by the multicasts of the run (mean over seeds); ${titleOf(settings.common)}`,
      valueLabel: "messages per multicast",
      segments,
      styles,
    }),
    csv: csv(["setting", "series", "kind", "messages_per_multicast"], rows),
  };
}

function sweepFigures(
  experiment: string,
  records: readonly RunRecord[],
  styles: ReadonlyMap<string, SeriesStyle>,
  settings: Settings,
  parameters: readonly string[],
): Figure[] {
  const parameter = parameters[0] as string;
  const groups = groupRuns(records);
  // Parameters that change with the first (a list of points) ride along; the others split panels.
  const following = parameters.slice(1).filter((other) => {
    const seen = new Map<number | undefined, number | undefined>();
    return records.every((record) => {
      const key = record.sweep[parameter];
      const value = record.sweep[other];
      if (!seen.has(key)) seen.set(key, value);
      return seen.get(key) === value;
    });
  });
  const pointLabel = (group: RunGroup): string =>
    [parameter, ...following].map((name) => String(group.first.sweep[name])).join("/");
  // Panels: settings without the swept parameter; lines: series; points: the swept values.
  const panelsOf = (
    measure: (group: RunGroup) => ChartPoint,
    labelled: boolean,
  ): { panels: LinePanel[]; rows: (string | number)[][] } => {
    const bySettingGroups = new Map<string, Map<string, RunGroup[]>>();
    for (const group of groups) {
      const setting = settings.of(group.first, [parameter, ...following]);
      const series = bySettingGroups.get(setting) ?? new Map<string, RunGroup[]>();
      const list = series.get(group.first.series) ?? [];
      list.push(group);
      series.set(group.first.series, list);
      bySettingGroups.set(setting, series);
    }
    const panels: LinePanel[] = [];
    const rows: (string | number)[][] = [];
    for (const [setting, series] of bySettingGroups) {
      const lines: ChartLine[] = [];
      for (const [key, list] of series) {
        const points = list
          .sort((a, b) => (a.first.sweep[parameter] ?? 0) - (b.first.sweep[parameter] ?? 0))
          .map((group) => ({ ...measure(group), label: pointLabel(group) }));
        const drawn = labelled ? points : points.map(({ label: _label, ...point }) => point);
        lines.push({ key, points: drawn });
        for (const point of points)
          rows.push([
            setting,
            key,
            point.label,
            point.x,
            point.y,
            point.xLow ?? "",
            point.xHigh ?? "",
            point.yLow ?? "",
            point.yHigh ?? "",
          ]);
      }
      panels.push({ title: titleOf(setting), lines });
    }
    return { panels, rows };
  };
  const header = [
    "setting",
    "series",
    [parameter, ...following].join("/"),
    "x",
    "y",
    "x_low",
    "x_high",
    "y_low",
    "y_high",
  ];
  const seeds = Math.max(...groups.map((group) => group.runs.length));
  const ci = seeds > 1 ? `; error bars: 95% confidence interval over ${seeds} seeds` : "";
  const values = groups.map((group) => group.first.sweep[parameter] ?? 0);
  const geometric = Math.min(...values) > 0 && Math.max(...values) / Math.min(...values) >= 8;
  const parameterAxis = { label: parameter, scale: geometric ? ("log" as const) : ("linear" as const) };
  const interval = (mean: number, ci95: number) =>
    ci95 > 0 ? { low: mean - ci95, high: mean + ci95 } : null;

  const throughputLatency = panelsOf((group) => {
    const estimates = aggregateGroup(group);
    const x = estimates.multicasts_per_sec;
    const y = estimates.mean_ms;
    const xi = interval(x.mean, x.ci95);
    const yi = interval(y.mean, y.ci95);
    return {
      x: x.mean,
      y: y.mean,
      ...(xi === null ? {} : { xLow: xi.low, xHigh: xi.high }),
      ...(yi === null ? {} : { yLow: yi.low, yHigh: yi.high }),
    };
  }, true);
  const versus = (metric: "multicasts_per_sec" | "mean_ms" | "p99_ms") =>
    panelsOf((group) => {
      const value = aggregateGroup(group)[metric];
      const yi = interval(value.mean, value.ci95);
      return {
        x: group.first.sweep[parameter] ?? 0,
        y: value.mean,
        ...(yi === null ? {} : { yLow: yi.low, yHigh: yi.high }),
      };
      // The x axis is the swept value: the points need no label.
    }, false);
  const throughput = versus("multicasts_per_sec");
  const latency = versus("mean_ms");
  const columns = (panels: readonly LinePanel[]) => (panels.length >= 4 ? 2 : panels.length);
  const figure = (
    name: string,
    title: string,
    caption: string,
    data: { panels: LinePanel[]; rows: (string | number)[][] },
    x: { label: string; scale: "linear" | "log"; fromZero?: boolean },
    yLabel: string,
    labelled: boolean,
  ): Figure => ({
    name,
    title,
    caption,
    svg: lineFigureSvg(data.panels, {
      title,
      subtitle: `${labelled ? `beside each point: ${[parameter, ...following].join("/")}; ` : ""}${titleOf(settings.common)}${ci}`,
      x,
      y: { label: yLabel, scale: "linear" },
      styles,
      markers: true,
      columns: columns(data.panels),
    }),
    csv: csv(header, data.rows),
  });
  return [
    figure(
      "throughput-latency",
      `${experiment}: throughput vs latency`,
      `Mean latency against throughput as ${parameter} grows: a protocol saturates where its curve turns up.`,
      throughputLatency,
      { label: "throughput (multicasts/s)", scale: "linear" },
      "mean latency (ms)",
      true,
    ),
    figure(
      `throughput-vs-${parameter}`,
      `${experiment}: throughput vs ${parameter}`,
      `Throughput (completed multicasts per second) at each ${parameter}.`,
      throughput,
      parameterAxis,
      "throughput (multicasts/s)",
      false,
    ),
    figure(
      `latency-vs-${parameter}`,
      `${experiment}: latency vs ${parameter}`,
      `Mean latency at each ${parameter}.`,
      latency,
      parameterAxis,
      "mean latency (ms)",
      false,
    ),
  ];
}
