import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { amcast } from "./project.js";

const ROOT = resolve(__dirname, "../../..");

interface BenchRun {
  readonly protocol: string;
  readonly overlay: string | null;
  readonly groups: number;
  readonly mode: string;
  readonly multicasts: number;
  readonly messageEvents: number;
  readonly messageEventsPerSec: number;
  readonly cpuUsPerMulticast: number;
  readonly gcShare: number;
  readonly gcShareAll: readonly number[];
  readonly historyPeak: number | null;
}

/** The JSON line of `amcast bench ... --json` (the last line of its output). */
function benchJson(stdout: string): { loadAverage: number[]; runs: BenchRun[] } {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1] as string);
}

// What the benchmark reports, on tiny runs: its rows and columns, not its speed (speed is measured
// by running it, never asserted in a test).
describe("amcast bench (simulator)", () => {
  it("has a row per protocol at 12 and 48 groups (FlexCast also on the interleaved order), crash and Byzantine rows, and --json carries them", () => {
    const result = amcast(ROOT, "bench", "--multicasts", "960", "--repeat", "1", "--json");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /protocol +overlay +groups +mode .*message events\/s +multicasts\/s +cpu µs\/mcast +gc % +peak history/,
    );
    const { loadAverage, runs } = benchJson(result.stdout);
    expect(loadAverage).toHaveLength(3);
    expect(runs.map((run) => `${run.protocol}/${run.overlay}/${run.groups}/${run.mode}`).sort()).toEqual([
      "flexcast/aws-12-o1/12/byzantine",
      "flexcast/aws-12-o1/12/crash",
      "flexcast/aws-12-o1/12/solo",
      "flexcast/aws-48-inter/48/solo",
      "flexcast/aws-48-o1/48/solo",
      "skeen/null/12/byzantine",
      "skeen/null/12/crash",
      "skeen/null/12/solo",
      "skeen/null/48/solo",
    ]);
    for (const run of runs) {
      expect(run.multicasts).toBeGreaterThan(0);
      expect(run.messageEvents).toBeGreaterThan(run.multicasts);
      expect(run.messageEventsPerSec).toBeGreaterThan(0);
      expect(run.cpuUsPerMulticast).toBeGreaterThan(0);
      expect(run.gcShare).toBeGreaterThanOrEqual(0);
      expect(run.gcShare).toBeLessThan(1);
      expect(run.gcShareAll).toHaveLength(1);
      // FlexCast reports its largest retained history; Skeen keeps none.
      if (run.protocol === "flexcast") expect(run.historyPeak).toBeGreaterThan(0);
      else expect(run.historyPeak).toBeNull();
    }
    // Replicated rows run a share of the multicasts (a fifth in crash mode, a twentieth in Byzantine).
    const solo = runs.find((run) => run.protocol === "skeen" && run.groups === 12 && run.mode === "solo");
    const byzantine = runs.find((run) => run.protocol === "skeen" && run.mode === "byzantine");
    expect(solo?.multicasts).toBeGreaterThan(byzantine?.multicasts ?? Number.POSITIVE_INFINITY);
  });

  it("keeps only the rows its filters name, and refuses a filter it does not know in one line", () => {
    const result = amcast(
      ROOT,
      "bench",
      "--multicasts",
      "480",
      "--repeat",
      "1",
      "--protocol",
      "skeen",
      "--groups",
      "48",
      "--json",
    );
    expect(result.status).toBe(0);
    expect(benchJson(result.stdout).runs.map((run) => `${run.protocol}/${run.groups}/${run.mode}`)).toEqual([
      "skeen/48/solo",
    ]);
    const bad = amcast(ROOT, "bench", "--groups", "24");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
    expect(bad.stderr).toMatch(/--groups is one of 12, 48, got "24"/);
  });
});
