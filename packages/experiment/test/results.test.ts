import { spawn } from "node:child_process";
import { cpSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { amcast, CLI, scratchProject } from "./project.js";

const WORKLOAD = {
  name: "mixed",
  clientsPerGroup: 1,
  multicastsPerClient: 20,
  localPercent: 50,
  globalSizes: [2, 3],
};

/** Two protocols, a sweep of two points, two seeds: 8 runs of 60-120 multicasts. */
const SWEEP = {
  name: "sweep",
  description: "A small sweep over clients per group, two seeds.",
  topology: "../overlays/three.topology.json",
  protocols: [{ protocol: "skeen" }, { protocol: "flexcast", overlay: "../overlays/three.cdag.json" }],
  workloads: [WORKLOAD],
  sweep: { clientsPerGroup: [1, 2] },
  processing: { perMessageUs: 20 },
  seeds: [1, 2],
};

let project = "";

function experiment(name: string, body: unknown): void {
  writeFileSync(join(project, "experiments", `${name}.json`), JSON.stringify(body));
}

function csvRows(file: string): Record<string, string>[] {
  const [header, ...rows] = readFileSync(file, "utf8").trim().split("\n");
  const names = (header as string).split(",");
  return rows.map((row) => Object.fromEntries(row.split(",").map((cell, index) => [names[index], cell])));
}

beforeAll(() => {
  project = scratchProject("amcast-results-", { sweep: SWEEP });
});

/** The result directory of the first invocation (written by the first test, read by later ones). */
let first = "";

describe("every run kept", () => {
  it("writes each invocation to its own timestamped directory, with a latest link and provenance", () => {
    const one = amcast(project, "experiment", "sweep", "--json");
    expect(one.stderr).toBe("");
    expect(one.status).toBe(0);
    const two = amcast(project, "experiment", "sweep", "--seed", "7");
    expect(two.status).toBe(0);
    const base = join(project, "results", "sweep");
    const dirs = readdirSync(base)
      .filter((name) => name !== "latest")
      .sort();
    expect(dirs).toHaveLength(2);
    expect(dirs.some((name) => name.endsWith("-seeds-1-2"))).toBe(true);
    expect(dirs.some((name) => name.endsWith("-seed-7"))).toBe(true);
    // `latest` is the newer (the --seed 7 run); the first is untouched.
    expect(readlinkSync(join(base, "latest"))).toMatch(/-seed-7$/);
    first = join(base, dirs.find((name) => name.endsWith("-seeds-1-2")) as string);
    const summary = JSON.parse(readFileSync(join(first, "summary.json"), "utf8"));
    expect(summary.complete).toBe(true);
    expect(summary.runsDone).toBe(8);
    expect(Date.parse(summary.provenance.date)).toBeGreaterThan(Date.parse("2024-01-01"));
    expect(summary.provenance.node).toBe(process.version);
    expect(summary.provenance.machine.cpus).toBeGreaterThan(0);
    expect(summary.provenance).toHaveProperty("git"); // null here: the scratch project is no checkout
    // The resolved configuration: defaults applied, the topology read in.
    expect(summary.configuration.topology.latencyMs[0]).toEqual([1, 20, 30]);
    expect(summary.configuration.workloads[0].payloadBytes).toBe(64);
    expect(summary.configuration.sweep.points).toEqual([{ clientsPerGroup: 1 }, { clientsPerGroup: 2 }]);
    // The JSON line names the directory.
    const lines = one.stdout.trim().split("\n");
    expect(JSON.parse(lines[lines.length - 1] as string).results).toBe(first);
  });

  it("keeps per-seed rows in runs.csv with the swept value as a column, and aggregates seeds", () => {
    const runs = csvRows(join(first, "runs.csv"));
    expect(runs).toHaveLength(8);
    expect(runs.map((row) => row.clientsPerGroup).sort()).toEqual(["1", "1", "1", "1", "2", "2", "2", "2"]);
    expect(runs.map((row) => row.run)).toContain("skeen/solo/mixed/clientsPerGroup=2/seed-2");
    // Two clients per group make twice the multicasts.
    const multicasts = (clients: string) =>
      runs
        .filter((row) => row.clientsPerGroup === clients && row.series === "skeen")
        .map((row) => Number(row.multicasts));
    expect(multicasts("1")).toEqual([60, 60]);
    expect(multicasts("2")).toEqual([120, 120]);
    const aggregate = csvRows(join(first, "aggregate.csv"));
    expect(aggregate).toHaveLength(4);
    for (const row of aggregate) {
      expect(row.seeds).toBe("2");
      const group = runs.filter((run) => run.group === row.group).map((run) => Number(run.mean_ms));
      expect(Number(row.mean_ms)).toBeCloseTo((group[0] as number) / 2 + (group[1] as number) / 2, 2);
      // Student t with one degree of freedom: 12.706 * |a - b| / 2.
      const spread = Math.abs((group[0] as number) - (group[1] as number));
      expect(Number(row.mean_ms_ci95)).toBeCloseTo((12.706 * spread) / 2, 1);
    }
  });

  it("draws the figures a sweep needs, each with its data beside it, and writes the report", () => {
    for (const figure of [
      "latency-cdf",
      "latency-over-time",
      "messages-per-multicast",
      "throughput-latency",
      "throughput-vs-clientsPerGroup",
      "latency-vs-clientsPerGroup",
    ]) {
      expect(readFileSync(join(first, `${figure}.svg`), "utf8")).toMatch(/^<svg[^>]*>/);
      expect(readFileSync(join(first, `${figure}.csv`), "utf8").split("\n").length).toBeGreaterThan(2);
    }
    // Error bars over the two seeds, one path per point and series that has an interval.
    expect(readFileSync(join(first, "throughput-vs-clientsPerGroup.svg"), "utf8")).toMatch(
      /<path d="M[\d.]+,[\d.]+V/,
    );
    const html = readFileSync(join(first, "index.html"), "utf8");
    expect(html).toMatch(/<h1>sweep<\/h1>/);
    expect(html).toMatch(/Every run holds every checked property \(8 runs/);
    expect(html).toMatch(/A multicast explained/);
    expect(html).toMatch(/<svg[^>]*>[\s\S]*multicast [^ ]+ to [a-c]/);
    // Mean ± interval in the table, with the swept value as a column.
    expect(html).toMatch(/<th>clientsPerGroup<\/th>/);
    expect(html).toMatch(/<td class="num">[\d.]+ ± [\d.]+<\/td>/);
  });
});

describe("--resume", () => {
  it("goes on with an interrupted experiment, runs only what is missing, and ends with the same results", () => {
    const out = join(project, "resumed");
    // As if killed after five runs: the last three records never written, runs.csv cut short.
    cpSync(first, out, { recursive: true });
    for (const index of [5, 6, 7]) rmSync(join(out, "runs", `000${index}.json`));
    writeFileSync(join(out, "runs.csv"), "run\n");
    const resumed = amcast(project, "experiment", "sweep", "--out", out, "--resume");
    expect(resumed.stderr).toBe("");
    expect(resumed.status).toBe(0);
    expect(resumed.stdout).toMatch(/resuming .*: 5 run\(s\) already done, 3 to run/);
    expect(resumed.stdout.match(/^\[\d+\/8\]/gm)).toHaveLength(3);
    // The simulator replays seeds exactly: the same rows as the uninterrupted run.
    const measured = (dir: string) =>
      csvRows(join(dir, "runs.csv")).map(({ run, multicasts, mean_ms, p99_ms, multicasts_per_sec }) => ({
        run,
        multicasts,
        mean_ms,
        p99_ms,
        multicasts_per_sec,
      }));
    expect(measured(out)).toEqual(measured(first));
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(summary.complete).toBe(true);
    expect(summary.resumes).toHaveLength(1);
  });

  it("refuses results made with another configuration, saying what differs", () => {
    const out = join(project, "changed");
    expect(amcast(project, "experiment", "sweep", "--out", out, "--seed", "3").status).toBe(0);
    experiment("sweep-changed", { ...SWEEP, name: "sweep", processing: { perMessageUs: 40 } });
    const result = amcast(project, "experiment", "sweep-changed", "--out", out, "--seed", "3", "--resume");
    expect(result.status).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(
      /--resume: .* was made with another configuration of sweep \(differs in processing\)/,
    );
  });

  it("keeps the runs finished before a kill, and finishes the rest on --resume", async () => {
    experiment("slow", {
      ...SWEEP,
      name: "slow",
      sweep: undefined,
      protocols: [{ protocol: "skeen" }],
      workloads: [{ ...WORKLOAD, multicastsPerClient: 3000 }],
      seeds: [1, 2, 3],
    });
    const out = join(project, "killed");
    const child = spawn(process.execPath, [CLI, "experiment", "slow", "--out", out], {
      cwd: project,
      stdio: "ignore",
    });
    // Kill it once the summary counts a finished run (and before the last).
    const runsDone = (): number => {
      try {
        return JSON.parse(readFileSync(join(out, "summary.json"), "utf8")).runsDone;
      } catch {
        return 0; // not written yet, or being rewritten
      }
    };
    const started = Date.now();
    while (runsDone() < 1 && Date.now() - started < 120_000)
      await new Promise((done) => setTimeout(done, 20));
    child.kill("SIGKILL");
    await new Promise((done) => child.once("exit", done));
    const summary = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(summary.runsDone).toBeGreaterThanOrEqual(1);
    expect(summary.runsDone).toBeLessThan(3);
    expect(summary.complete).toBe(false);
    expect(readdirSync(join(out, "runs")).filter((name) => name.endsWith(".json")).length).toBeLessThan(3);
    const resumed = amcast(project, "experiment", "slow", "--out", out, "--resume");
    expect(resumed.status).toBe(0);
    const after = JSON.parse(readFileSync(join(out, "summary.json"), "utf8"));
    expect(after.complete).toBe(true);
    expect(csvRows(join(out, "runs.csv")).map((row) => row.seed)).toEqual(["1", "2", "3"]);
  });
});

describe("output paths and sweeps: checked before anything runs", () => {
  it("an --out under a file, and a --trace in a directory that cannot be made", () => {
    writeFileSync(join(project, "a-file"), "");
    for (const args of [
      ["--out", join(project, "a-file", "results")],
      ["--trace", join(project, "a-file", "trace.jsonl")],
    ]) {
      const result = amcast(project, "experiment", "sweep", ...args);
      expect(result.status).toBe(2);
      expect(result.stdout).not.toMatch(/\[1\/8\]/); // nothing ran
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toMatch(/cannot write to .*a-file.*: a file is in the way/);
    }
  });

  it("a sweep of an unknown parameter, or of a value its field refuses, names the sweep entry", () => {
    experiment("bad-sweep", { ...SWEEP, sweep: { clientPerGroup: [1, 2] } });
    let result = amcast(project, "experiment", "bad-sweep");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /sweep\.clientPerGroup: cannot sweep "clientPerGroup" \(did you mean "clientsPerGroup"\?\)/,
    );
    experiment("bad-value", { ...SWEEP, sweep: { clientsPerGroup: [1, 0] } });
    result = amcast(project, "experiment", "bad-value");
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      /sweep\.clientsPerGroup\[1\]: expected a whole number from 1 to 10000, got 0/,
    );
    experiment("bad-points", { ...SWEEP, sweep: [{ clientsPerGroup: 1 }, { localPercent: 5 }] });
    result = amcast(project, "experiment", "bad-points");
    expect(result.stderr).toMatch(
      /sweep\[1\]: every point sets the same parameters as sweep\[0\] \(clientsPerGroup\)/,
    );
  });
});
