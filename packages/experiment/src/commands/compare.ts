import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError } from "@amcast/core";
import { displayPath, readJson } from "@amcast/system";
import type { RunSummary } from "../run.js";
import { LATEST_LINK } from "../store.js";
import { formatTable } from "../table.js";
import { parseCommandArgs, UsageError } from "./usage.js";

/** What compare reads of a summary.json. */
interface SummaryFile {
  readonly experiment?: string;
  readonly runtime?: string;
  readonly provenance?: { readonly date?: string; readonly git?: { commit: string; dirty: boolean } | null };
  readonly runs: readonly (RunSummary & { readonly group?: string })[];
}

/** Measures compared, with how they print. */
const MEASURES = [
  ["mean ms", (run: RunSummary) => run.latencyMs.mean],
  ["p99 ms", (run: RunSummary) => run.latencyMs.p99],
  ["mcast/s", (run: RunSummary) => run.multicastsPerSec],
  ["msgs/mcast", (run: RunSummary) => run.messagesPerMulticast],
] as const;

/**
 * `amcast compare DIR DIR [--json]`: two results side by side, run by run (rows of several seeds
 * as their mean), with the ratio second/first of each measure.
 */
export function runCompareCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs("compare", args, { json: { type: "boolean" } }, 2);
  if (positionals.length !== 2)
    throw new UsageError("compare: needs two result directories (amcast compare DIR DIR)");
  const [first, second] = positionals.map((path) => loadSummary(path as string)) as [Loaded, Loaded];
  const rowsA = meanByGroup(first.summary);
  const rowsB = meanByGroup(second.summary);
  const groups = [...new Set([...rowsA.keys(), ...rowsB.keys()])];
  const table = groups.map((group) => {
    const a = rowsA.get(group);
    const b = rowsB.get(group);
    const cells: (string | number)[] = [group];
    for (const [, read] of MEASURES) {
      const va = a === undefined ? undefined : mean(a.map(read));
      const vb = b === undefined ? undefined : mean(b.map(read));
      cells.push(
        va ?? "-",
        vb ?? "-",
        va !== undefined && vb !== undefined && va > 0 ? `${(vb / va).toFixed(2)}x` : "-",
      );
    }
    return cells;
  });
  if (values.json === true) {
    process.stdout.write(
      `${JSON.stringify({
        first: first.path,
        second: second.path,
        runs: groups.map((group) => {
          const a = rowsA.get(group);
          const b = rowsB.get(group);
          return {
            run: group,
            ...Object.fromEntries(
              MEASURES.map(([name, read]) => [
                name,
                {
                  first: a === undefined ? null : mean(a.map(read)),
                  second: b === undefined ? null : mean(b.map(read)),
                },
              ]),
            ),
          };
        }),
      })}\n`,
    );
    return 0;
  }
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  print(`A: ${describe(first)}`);
  print(`B: ${describe(second)}`);
  print("");
  print(formatTable(["run", ...MEASURES.flatMap(([name]) => [`${name} A`, `${name} B`, "B/A"])], table));
  const onlyA = groups.filter((group) => !rowsB.has(group)).length;
  const onlyB = groups.filter((group) => !rowsA.has(group)).length;
  if (onlyA + onlyB > 0)
    print(`\n${onlyA} run(s) only in A, ${onlyB} only in B ("-" in the other's columns)`);
  return 0;
}

interface Loaded {
  readonly path: string;
  readonly summary: SummaryFile;
}

/** A summary.json, a result directory, or an experiment's results directory (its `latest`). */
function loadSummary(path: string): Loaded {
  let file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) {
    const latest = join(file, LATEST_LINK, "summary.json");
    file = existsSync(join(file, "summary.json")) ? join(file, "summary.json") : latest;
  }
  if (!existsSync(file))
    throw new InputError(
      displayPath(path),
      "",
      "holds no summary.json (give a result directory or its summary.json)",
    );
  const summary = readJson(file, "results summary") as SummaryFile;
  if (!Array.isArray(summary.runs))
    throw new InputError(displayPath(file), "runs", "is missing: not an amcast results summary");
  return { path: displayPath(file), summary };
}

/** Runs by row (the label without its seed). */
function meanByGroup(summary: SummaryFile): Map<string, RunSummary[]> {
  const rows = new Map<string, RunSummary[]>();
  for (const run of summary.runs) {
    const group = run.group ?? run.label.replace(/\/seed-\d+$/, "");
    const list = rows.get(group);
    if (list === undefined) rows.set(group, [run]);
    else list.push(run);
  }
  return rows;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function describe(loaded: Loaded): string {
  const { summary, path } = loaded;
  const parts = [path];
  if (summary.experiment !== undefined) parts.push(summary.experiment);
  if (summary.runtime !== undefined) parts.push(summary.runtime);
  const date = summary.provenance?.date;
  if (date !== undefined) parts.push(date.replace("T", " ").replace(/\.\d+Z$/, " UTC"));
  const git = summary.provenance?.git;
  if (git !== undefined && git !== null)
    parts.push(`commit ${git.commit.slice(0, 10)}${git.dirty ? " (dirty)" : ""}`);
  return parts.join(", ");
}
