import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { describeValue } from "@amcast/core";
import { displayPath } from "@amcast/system";
import { aggregateGroup, groupRuns, RUN_METRICS } from "./aggregate.js";
import { UsageError } from "./commands/usage.js";
import { csv, csvLines } from "./csv.js";
import type { Provenance } from "./provenance.js";
import { configurationDigest } from "./provenance.js";
import type { RunRecord } from "./record.js";
import type { ReportHeader } from "./report-html.js";

/** What a result directory holds besides its runs: written into summary.json. */
export interface ResultsHeader {
  readonly experiment: string;
  readonly description: string;
  /** What made the runs: the simulator, the network runtime, or a trace read by `amcast report`. */
  readonly runtime: "sim" | "net" | "trace";
  readonly seeds: readonly number[];
  readonly runsPlanned: number;
  /** Swept parameters, each a column of the CSVs. */
  readonly sweepParameters: readonly string[];
  readonly configuration: Record<string, unknown>;
  readonly provenance: Provenance;
}

/** Name of the link, in an experiment's results directory, to its newest result directory. */
export const LATEST_LINK = "latest";

const RUNS_DIR = "runs";

/**
 * One invocation's result directory: `summary.json` (provenance, the resolved configuration,
 * every finished run), `runs.csv` (one row per run and seed, swept values as columns),
 * `kinds.csv`, `samples.csv`, `aggregate.csv` (rows over seeds: mean and 95% confidence
 * interval) and `runs/NNNN.json` (each run's full record). Every run is written the moment it
 * finishes, so an interrupted experiment keeps what it finished and `--resume` goes on from there.
 */
export class ResultsStore {
  private readonly byIndex = new Map<number, RunRecord>();
  private readonly resumes: Provenance[];
  private readonly firstProvenance: Provenance;
  private readonly digest: string;

  private constructor(
    readonly dir: string,
    private readonly header: ResultsHeader,
    earlier: { provenance: Provenance; resumes: Provenance[] } | null,
  ) {
    this.digest = digestOf(header);
    this.firstProvenance = earlier?.provenance ?? header.provenance;
    this.resumes = earlier === null ? [] : [...earlier.resumes, header.provenance];
  }

  /** A new result directory (it must not hold results yet). */
  static create(dir: string, header: ResultsHeader): ResultsStore {
    makeDirectory(dir);
    if (existsSync(join(dir, "summary.json")))
      throw new UsageError(
        `experiment: ${displayPath(dir)} already holds results; choose another --out, or add --resume to go on with them`,
      );
    makeDirectory(join(dir, RUNS_DIR));
    const store = new ResultsStore(dir, header, null);
    store.rewriteFiles();
    return store;
  }

  /** A result directory made afresh, replacing results already there (`amcast report` output). */
  static createOrReplace(dir: string, header: ResultsHeader): ResultsStore {
    makeDirectory(dir);
    rmSync(join(dir, RUNS_DIR), { recursive: true, force: true });
    rmSync(join(dir, "summary.json"), { force: true });
    return ResultsStore.create(dir, header);
  }

  /**
   * Opens a result directory to go on with: its configuration must be the one about to run (same
   * experiment, same resolved configuration, same seeds, same runtime); its finished runs load.
   */
  static resume(dir: string, header: ResultsHeader): ResultsStore {
    const summaryFile = join(dir, "summary.json");
    if (!existsSync(summaryFile))
      throw new UsageError(`experiment: --resume: ${displayPath(dir)} holds no results to go on with`);
    let earlier: Record<string, unknown>;
    try {
      earlier = JSON.parse(readFileSync(summaryFile, "utf8")) as Record<string, unknown>;
    } catch (error) {
      throw new UsageError(
        `experiment: --resume: ${displayPath(summaryFile)} is not readable (${(error as Error).message})`,
      );
    }
    const store = new ResultsStore(dir, header, {
      provenance: earlier.provenance as Provenance,
      resumes: (earlier.resumes as Provenance[] | undefined) ?? [],
    });
    if (earlier.configurationDigest !== store.digest) {
      const changed = changedFields(earlier, header);
      throw new UsageError(
        `experiment: --resume: ${displayPath(dir)} was made with another configuration of ${header.experiment}` +
          `${changed.length === 0 ? "" : ` (differs in ${changed.join(", ")})`}; run without --resume to start afresh`,
      );
    }
    makeDirectory(join(dir, RUNS_DIR));
    for (const name of readdirSync(join(dir, RUNS_DIR)).sort()) {
      if (!/^\d+\.json$/.test(name)) continue;
      try {
        const record = JSON.parse(readFileSync(join(dir, RUNS_DIR, name), "utf8")) as RunRecord;
        store.byIndex.set(record.index, record);
      } catch {
        // A record cut short by a kill is a run not finished: it runs again.
      }
    }
    store.rewriteFiles();
    return store;
  }

  /** What the HTML report says about these results' origin. */
  reportHeader(source: string): ReportHeader {
    return {
      experiment: this.header.experiment,
      description: this.header.description,
      source,
      provenance: this.firstProvenance,
      resumes: this.resumes,
      configuration: this.header.configuration,
      runsPlanned: this.header.runsPlanned,
    };
  }

  /** Finished runs, in the experiment's order. */
  get records(): RunRecord[] {
    return [...this.byIndex.values()].sort((a, b) => a.index - b.index);
  }

  /** True when run `index` (with this label) finished in an earlier invocation. */
  has(index: number, label: string): boolean {
    return this.byIndex.get(index)?.label === label;
  }

  /** Writes a finished run: its record, its CSV rows, the summary. */
  add(record: RunRecord): void {
    this.byIndex.set(record.index, record);
    const file = join(this.dir, RUNS_DIR, `${String(record.index).padStart(4, "0")}.json`);
    writeWhole(file, JSON.stringify(record));
    appendFileSync(join(this.dir, "runs.csv"), csvLines(runRows([record], this.header.sweepParameters)));
    appendFileSync(join(this.dir, "kinds.csv"), csvLines(kindRows([record])));
    appendFileSync(join(this.dir, "samples.csv"), csvLines(sampleRows(record)));
    this.writeSummary();
  }

  /** The summary, with the aggregate rows when runs repeat over seeds. */
  writeSummary(): void {
    const records = this.records;
    const groups = groupRuns(records);
    const aggregate = groups.some((group) => group.runs.length > 1)
      ? groups.map((group) => ({
          group: group.group,
          series: group.first.series,
          mode: group.first.mode,
          workload: group.first.workload,
          faultPlan: group.first.faultPlan,
          sweep: group.first.sweep,
          seeds: group.runs.map((run) => run.seed),
          ...aggregateGroup(group),
        }))
      : null;
    const summary = {
      experiment: this.header.experiment,
      description: this.header.description,
      runtime: this.header.runtime,
      seed: this.header.seeds[0] ?? 1,
      seeds: this.header.seeds,
      complete: records.length === this.header.runsPlanned,
      runsPlanned: this.header.runsPlanned,
      runsDone: records.length,
      provenance: this.firstProvenance,
      resumes: this.resumes,
      configurationDigest: this.digest,
      configuration: this.header.configuration,
      sweep: this.header.sweepParameters.length === 0 ? null : this.header.sweepParameters,
      runs: records.map((record) => ({ ...record.summary, group: record.group, sweep: record.sweep })),
      aggregate,
    };
    writeWhole(join(this.dir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
    if (aggregate !== null) {
      const names = Object.keys(RUN_METRICS);
      writeFileSync(
        join(this.dir, "aggregate.csv"),
        csv(
          [
            "group",
            "series",
            "mode",
            "workload",
            "fault_plan",
            ...this.header.sweepParameters,
            "seeds",
            ...names.flatMap((name) => [name, `${name}_ci95`]),
          ],
          groups.map((group) => {
            const estimates = aggregateGroup(group);
            return [
              group.group,
              group.first.series,
              group.first.mode,
              group.first.workload,
              group.first.faultPlan,
              ...this.header.sweepParameters.map((name) => group.first.sweep[name]),
              group.runs.length,
              ...names.flatMap((name) => {
                const value = estimates[name as keyof typeof estimates];
                return [value.mean, value.n > 1 ? value.ci95 : ""];
              }),
            ];
          }),
        ),
      );
    }
  }

  /** Rewrites every CSV from the records (a new directory, or one resumed after a kill). */
  private rewriteFiles(): void {
    const records = this.records;
    writeFileSync(
      join(this.dir, "runs.csv"),
      csv(runHeader(this.header.sweepParameters), runRows(records, this.header.sweepParameters)),
    );
    writeFileSync(join(this.dir, "kinds.csv"), csv(KIND_HEADER, kindRows(records)));
    writeFileSync(join(this.dir, "samples.csv"), csv(SAMPLE_HEADER, records.flatMap(sampleRows)));
    this.writeSummary();
  }
}

/** Where an invocation writes: `--out DIR` as given, or a new timestamped directory under `base`. */
export function newResultsDir(base: string, seeds: readonly number[], now: Date = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/:/g, "-");
  const seedPart =
    seeds.length === 1
      ? `seed-${seeds[0]}`
      : seeds.length <= 4
        ? `seeds-${seeds.join("-")}`
        : `seeds-${seeds[0]}..${seeds[seeds.length - 1]}`;
  const name = `${stamp}-${seedPart}`;
  let dir = join(base, name);
  for (let attempt = 2; existsSync(dir); attempt += 1) dir = join(base, `${name}-${attempt}`);
  return dir;
}

/** Points `base/latest` at `dir` (replacing the link atomically). */
export function linkLatest(base: string, dir: string): void {
  const link = join(base, LATEST_LINK);
  const temporary = `${link}.${process.pid}`;
  rmSync(temporary, { force: true });
  symlinkSync(basename(dir), temporary);
  renameSync(temporary, link);
}

/** The directory `base/latest` points at, for `--resume`. */
export function latestResultsDir(base: string): string {
  const link = join(base, LATEST_LINK);
  let isLink = false;
  try {
    isLink = lstatSync(link).isSymbolicLink();
  } catch {
    isLink = false;
  }
  if (!isLink || !existsSync(link))
    throw new UsageError(
      `experiment: --resume: no earlier results in ${displayPath(base)} (no ${LATEST_LINK} link)`,
    );
  return realpathSync(link);
}

/**
 * Creates `dir` (and its parents) now, before any run, so an unusable output path is one line
 * at the start, not a stack trace at the end.
 */
export function makeDirectory(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    const probe = join(dir, `.write-test-${process.pid}`);
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    const why =
      code === "ENOTDIR" || code === "EEXIST"
        ? "a file is in the way"
        : code === "EACCES" || code === "EPERM"
          ? "permission denied"
          : code === "EROFS"
            ? "read-only file system"
            : (error as Error).message;
    throw new UsageError(`cannot write to ${displayPath(dir)}: ${why}`);
  }
}

/** Checks, before a run, that a file can be created at `file` (its directory made if missing). */
export function checkWritableFile(flag: string, file: string): void {
  const dir = dirname(resolve(file));
  try {
    makeDirectory(dir);
  } catch (error) {
    throw new UsageError(`${flag} ${describeValue(file)}: ${(error as Error).message}`);
  }
  if (existsSync(file) && lstatSync(file).isDirectory())
    throw new UsageError(`${flag} ${describeValue(file)} is a directory; give a file name`);
}

/** Writes a file whole, then renames it into place: a kill leaves the old one or the new, never half. */
function writeWhole(file: string, text: string): void {
  writeFileSync(`${file}.part`, text);
  renameSync(`${file}.part`, file);
}

function digestOf(header: ResultsHeader): string {
  return configurationDigest({
    configuration: header.configuration,
    seeds: header.seeds,
    runtime: header.runtime,
  });
}

/** Top-level configuration fields that differ between an earlier summary and what is about to run. */
function changedFields(earlier: Record<string, unknown>, header: ResultsHeader): string[] {
  const before = (earlier.configuration ?? {}) as Record<string, unknown>;
  const now = header.configuration;
  const names = new Set([...Object.keys(before), ...Object.keys(now)]);
  const changed = [...names].filter((name) => JSON.stringify(before[name]) !== JSON.stringify(now[name]));
  if (JSON.stringify(earlier.seeds) !== JSON.stringify(header.seeds)) changed.push("seeds");
  if (earlier.runtime !== header.runtime) changed.push("runtime");
  return changed;
}

const RUN_COLUMNS = [
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
  "passed",
] as const;

function runHeader(sweep: readonly string[]): string[] {
  return [
    "run",
    "group",
    "series",
    "protocol",
    "mode",
    "workload",
    "fault_plan",
    ...sweep,
    "seed",
    ...RUN_COLUMNS,
  ];
}

function runRows(records: readonly RunRecord[], sweep: readonly string[]): (string | number | null)[][] {
  return records.map((record) => {
    const { summary } = record;
    const genuineness = summary.genuineness as {
      outsideMessagesPerMulticast?: number;
      outsideGroupsPerMulticast?: number;
    } | null;
    return [
      record.label,
      record.group,
      record.series,
      summary.protocol,
      record.mode,
      record.workload,
      record.faultPlan,
      ...sweep.map((name) => record.sweep[name] ?? null),
      record.seed,
      summary.multicasts,
      summary.delivered,
      summary.latencyMs.mean,
      summary.latencyMs.p50,
      summary.latencyMs.p99,
      summary.floorRatio,
      summary.modelRatio,
      summary.messagesPerMulticast,
      genuineness?.outsideMessagesPerMulticast ?? null,
      genuineness?.outsideGroupsPerMulticast ?? null,
      summary.multicastsPerSec,
      summary.violations,
      summary.stoppedBy,
      record.verdict.passed ? "yes" : "no",
    ];
  });
}

const KIND_HEADER = [
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
];

function kindRows(records: readonly RunRecord[]): (string | number | null)[][] {
  return records.flatMap((record) =>
    Object.entries(record.summary.byKind).map(([kind, s]) => [
      record.label,
      kind,
      s.count,
      s.mean,
      s.p50,
      s.p99,
      s.floorMs,
      s.floorRatio,
      s.modelMs,
      s.modelRatio,
    ]),
  );
}

const SAMPLE_HEADER = ["run", "multicast_ms", "latency_ms", "kind", "client", "dst", "model_ms"];

function sampleRows(record: RunRecord): (string | number | null)[][] {
  const { samples } = record;
  return samples.latencyMs.map((latencyMs, index) => [
    record.label,
    samples.multicastMs[index] as number,
    latencyMs,
    samples.kinds[samples.kind[index] as number] as string,
    samples.client[index] ?? "",
    samples.dst[index] ?? "",
    samples.modelMs[index] ?? null,
  ]);
}
