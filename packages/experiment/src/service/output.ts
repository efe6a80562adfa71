import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { HistoryEvent } from "@amcast/check";
import { formatHistoryLine } from "@amcast/check";
import { displayPath } from "@amcast/system";
import { csv } from "../csv.js";
import type { ExperimentSpec } from "../spec.js";
import { TraceFileWriter } from "../trace-file.js";

/** What a service experiment's command was asked for. */
export interface ServiceExperimentOptions {
  readonly experiment: ExperimentSpec;
  readonly name: string;
  readonly root: string;
  readonly seed: number | undefined;
  readonly out: string | undefined;
  readonly json: boolean;
  /** Write every run's client history here (JSON Lines, runs labelled). */
  readonly historyFile: string | undefined;
  /** Write every run's trace here (JSON Lines, runs labelled). */
  readonly traceFile: string | undefined;
}

export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The trace file (every run's events, labelled); undefined without --trace. */
export function traceWriter(file: string | undefined): TraceFileWriter | undefined {
  return file === undefined ? undefined : new TraceFileWriter(resolve(file));
}

/** A history writer that also counts; null without --history. */
export function historyWriter(
  file: string | undefined,
): { write: (event: HistoryEvent) => void; close: () => void; lines: () => number } | null {
  if (file === undefined) return null;
  // The trace writer writes any JSON Lines; history lines are formatted here.
  const writer = new TraceFileWriter(resolve(file));
  let lines = 0;
  return {
    write: (event) => {
      writer.writeLine(formatHistoryLine(event));
      lines += 1;
    },
    close: () => writer.close(),
    lines: () => lines,
  };
}

/** The machine-readable summary of a service experiment: its runs, as `--json` prints them. */
export function experimentSummary(
  experiment: ExperimentSpec,
  seed: number | undefined,
  runs: readonly Record<string, unknown>[],
): Record<string, unknown> {
  return {
    experiment: experiment.name,
    seed: seed ?? experiment.seeds[0] ?? 1,
    seeds: seed === undefined ? experiment.seeds : [seed],
    runs,
  };
}

/** Writes summary.json and one CSV under the results directory, and says where. */
export function writeServiceResults(
  options: ServiceExperimentOptions,
  summary: Record<string, unknown>,
  csvName: string,
  [header, rows]: [readonly string[], readonly (readonly (string | number)[])[]],
): void {
  const outDir = resolve(options.out ?? join(options.root, "results", options.experiment.name));
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "summary.json"), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(join(outDir, csvName), csv(header, rows));
  print("");
  print(`results: ${displayPath(outDir)}/ (summary.json, ${csvName})`);
}
