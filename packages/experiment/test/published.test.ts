import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadExperiment, publishedLines, runExperiment } from "../src/index.js";
import { selectWorkloads } from "../src/spec.js";

const dir = mkdtempSync(join(tmpdir(), "amcast-published-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const overlays = resolve(import.meta.dirname, "../../../overlays");

/** A small experiment with published figures: Skeen and FlexCast on three regions. */
function experimentFile(figures: unknown[], extra: Record<string, unknown> = {}): string {
  const file = join(dir, `published-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name: "published",
      topology: join(overlays, "3-regions.topology.json"),
      protocols: [
        { protocol: "skeen" },
        { protocol: "flexcast", overlay: join(overlays, "3-regions-cdag.json") },
      ],
      mode: "solo",
      workloads: [
        {
          name: "global",
          clientsPerGroup: 2,
          loop: "closed",
          multicastsPerClient: 20,
          localPercent: 0,
          globalSizes: [2],
        },
      ],
      ...(figures.length === 0 ? {} : { published: { source: "a made-up paper", figures } }),
      ...extra,
    }),
  );
  return file;
}

describe("published figures beside amcast's", () => {
  it("prints each figure with amcast's value and their ratio, and the rank orders", () => {
    const experiment = loadExperiment(
      experimentFile([
        { run: "skeen", workload: "global", metric: "throughput", value: 100, source: "table-2" },
        { run: "flexcast/3-regions-cvs", workload: "global", metric: "throughput", value: 1 },
        { run: "skeen", workload: "global", metric: "latency", value: 50 },
      ]),
    );
    const outcomes = runExperiment(experiment, { recordSends: false, keepSamples: false });
    const lines = publishedLines(outcomes, experiment.published ?? { source: "", figures: [] });
    expect(lines[0]).toContain("a made-up paper");
    const skeen = outcomes.find((outcome) => outcome.spec.label.startsWith("skeen/"));
    const flexcast = outcomes.find((outcome) => outcome.spec.label.startsWith("flexcast/"));
    if (skeen === undefined || flexcast === undefined) throw new Error("both protocols ran");
    const row = (run: string, metric: string): string[] =>
      (lines[1] ?? "")
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .find((cells) => cells[0] === run && cells[2] === metric) ?? [];
    const skeenRate = row("skeen", "mcast/s");
    expect(Number(skeenRate[4])).toBeCloseTo(skeen.metrics.multicastsPerSec, 0);
    expect(Number(skeenRate[5])).toBeCloseTo(skeen.metrics.multicastsPerSec / 100, 2);
    expect(skeenRate[6]).toBe("table-2");
    // "mean ms" is two words once split.
    expect(Number(row("skeen", "mean")[6])).toBeCloseTo(skeen.metrics.latency.mean / 50, 1);
    // Published: Skeen above FlexCast; amcast's order follows its own throughputs.
    const amcastOrder =
      skeen.metrics.multicastsPerSec >= flexcast.metrics.multicastsPerSec
        ? "skeen > flexcast/3-regions-cvs"
        : "flexcast/3-regions-cvs > skeen";
    expect(lines).toContain(
      `rank global throughput: published skeen > flexcast/3-regions-cvs; amcast ${amcastOrder} (${amcastOrder.startsWith("skeen") ? "same" : "differs"})`,
    );
  });

  it("refuses a figure for a run or workload the experiment does not have, naming the field", () => {
    expect(() =>
      loadExperiment(
        experimentFile([{ run: "byzcast", workload: "global", metric: "throughput", value: 1 }]),
      ),
    ).toThrow(/published\.figures\[0\].*run "byzcast" is no protocol label here/);
    expect(() =>
      loadExperiment(experimentFile([{ run: "skeen", workload: "local", metric: "throughput", value: 1 }])),
    ).toThrow(/workload "local" is not one of this experiment's/);
    expect(() =>
      loadExperiment(experimentFile([{ run: "skeen", workload: "global", metric: "goodput", value: 1 }])),
    ).toThrow(/metric/);
  });

  it("runs the default workloads unless asked for all, with their figures only", () => {
    const workloads = [
      { name: "global", clientsPerGroup: 1, multicastsPerClient: 2, localPercent: 0 },
      { name: "big", clientsPerGroup: 4, multicastsPerClient: 2, localPercent: 0 },
    ];
    const file = experimentFile(
      [
        { run: "skeen", workload: "global", metric: "throughput", value: 1 },
        { run: "skeen", workload: "big", metric: "throughput", value: 1 },
      ],
      { workloads, defaultWorkloads: ["global"] },
    );
    const loaded = loadExperiment(file);
    const plain = selectWorkloads(loaded, false);
    expect(plain.workloads.map((workload) => workload.name)).toEqual(["global"]);
    expect(plain.published?.figures.map((figure) => figure.workload)).toEqual(["global"]);
    expect(selectWorkloads(loaded, true).workloads.map((workload) => workload.name)).toEqual([
      "global",
      "big",
    ]);
    expect(() => loadExperiment(experimentFile([], { workloads, defaultWorkloads: ["small"] }))).toThrow(
      /defaultWorkloads\[0\].*workload "small" is not one of this experiment's/,
    );
  });

  it("reads a destination table from a file beside the experiment, and names that file when it is wrong", () => {
    const table = join(dir, "three.table.json");
    const workloadWith = (destinationTable: unknown) => [
      { name: "global", clientsPerGroup: 1, multicastsPerClient: 2, localPercent: 0, destinationTable },
    ];
    writeFileSync(table, JSON.stringify({ Canada: [{ dst: ["Canada", "SaoPaulo"], weight: 1 }] }));
    const experiment = loadExperiment(experimentFile([], { workloads: workloadWith("three.table.json") }));
    const locality = experiment.workloads[0]?.locality;
    expect(locality?.globalChoice).toBe("table");
    expect([...(locality?.destinationTable ?? new Map())]).toEqual([
      ["Canada", [{ dst: ["Canada", "SaoPaulo"], weight: 1 }]],
    ]);
    writeFileSync(table, JSON.stringify({ Canada: [{ dst: ["Canada", "Atlantis"], weight: 1 }] }));
    expect(() => loadExperiment(experimentFile([], { workloads: workloadWith("three.table.json") }))).toThrow(
      /three\.table\.json.*workloads\[0\]\.destinationTable\.Canada\[0\]\.dst.*"Atlantis" is not a target group/,
    );
    expect(() => loadExperiment(experimentFile([], { workloads: workloadWith("none.table.json") }))).toThrow(
      /none\.table\.json/,
    );
  });
});
