import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { amcast, scratchProject } from "./project.js";

const EXPERIMENT = {
  name: "small",
  topology: "../overlays/three.topology.json",
  protocols: [{ protocol: "skeen" }],
  mode: "crash",
  workloads: [
    { name: "mixed", clientsPerGroup: 2, multicastsPerClient: 30, localPercent: 50, globalSizes: [2, 3] },
  ],
  seeds: [3],
};

let project = "";

beforeAll(() => {
  project = scratchProject("amcast-report-", { small: EXPERIMENT });
  const run = amcast(
    project,
    "experiment",
    "small",
    "--trace",
    "small.jsonl",
    "--trace-sends",
    "--out",
    "small-results",
  );
  expect(run.status).toBe(0);
});

describe("amcast report", () => {
  it("builds the report of a trace: the experiment's own numbers, verdicts and the slowest multicast's diagram", () => {
    const result = amcast(project, "report", "small.jsonl", "--out", "from-trace");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/checks: every run holds all checked properties \(1 run\(s\)\)/);
    // The same latencies as the run that wrote the trace.
    const fromTrace = JSON.parse(readFileSync(join(project, "from-trace", "summary.json"), "utf8")).runs[0];
    const fromRun = JSON.parse(readFileSync(join(project, "small-results", "summary.json"), "utf8")).runs[0];
    expect(fromTrace.label).toBe(fromRun.label);
    expect(fromTrace.multicasts).toBe(180);
    expect(fromTrace.latencyMs).toEqual(fromRun.latencyMs);
    expect(fromTrace.byKind).toEqual(
      Object.fromEntries(
        Object.entries(fromRun.byKind as Record<string, Record<string, unknown>>).map(([kind, entry]) => [
          kind,
          { ...entry, floorMs: 0, floorRatio: 0, modelMs: null, modelRatio: null },
        ]),
      ),
    );
    const html = readFileSync(join(project, "from-trace", "index.html"), "utf8");
    expect(html).toMatch(/Every run holds every checked property/);
    // Crash mode: three replicas per group, so the diagram merges each message's copies.
    expect(html).toMatch(/the slowest of 180 multicasts/);
    expect(html).toMatch(/request ×3/);
    expect(html).toMatch(/deliver \(3 replicas/);
  });

  it("explains a chosen multicast, and refuses one the trace does not have", () => {
    const result = amcast(project, "report", "small.jsonl", "--out", "explained", "--explain", "c1:4");
    expect(result.status).toBe(0);
    expect(readFileSync(join(project, "explained", "sequence.svg"), "utf8")).toMatch(/multicast c1:4 to /);
    const missing = amcast(project, "report", "small.jsonl", "--out", "explained", "--explain", "c9:999");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/the trace has no multicast "c9:999"/);
  });

  it("reports a merged multi-machine trace, and fails a run that broke a property", () => {
    // One trace per process, as hand-started replicas and client hosts write them, merged.
    const events = readFileSync(join(project, "small.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const byNode = new Map<string, string[]>();
    for (const event of events) {
      const { arriveT: _arrival, run: _run, ...plain } = event;
      const node = String(event.proc ?? event.from ?? event.client ?? "c0").split("/")[0] as string;
      const lines = byNode.get(node) ?? [];
      lines.push(JSON.stringify(plain));
      byNode.set(node, lines);
    }
    const files = [...byNode].map(([node, lines]) => {
      const file = join(project, `node-${node}.jsonl`);
      writeFileSync(file, `${lines.join("\n")}\n`);
      return file;
    });
    expect(files.length).toBeGreaterThan(3);
    expect(amcast(project, "merge-traces", "--out", "merged.jsonl", ...files).status).toBe(0);
    const merged = amcast(project, "report", "merged.jsonl");
    expect(merged.stderr).toBe("");
    expect(merged.status).toBe(0);
    const html = readFileSync(join(project, "merged-report", "index.html"), "utf8");
    expect(html).toMatch(/arrival not recorded|does not record arrival times/);
    expect(html).toMatch(/<td>local<\/td>/);

    // A delivery out of order at one replica: prefix order breaks, and the report says so.
    const broken = readFileSync(join(project, "merged.jsonl"), "utf8").trim().split("\n");
    const atA0 = broken.flatMap((line, index) => {
      const event = JSON.parse(line);
      return event.ev === "deliver" && event.proc === "a/0" ? [{ index, id: String(event.id) }] : [];
    });
    const [x, y] = atA0 as [{ index: number; id: string }, { index: number; id: string }];
    broken[x.index] = (broken[x.index] as string).replace(`"id":"${x.id}"`, `"id":"${y.id}"`);
    broken[y.index] = (broken[y.index] as string).replace(`"id":"${y.id}"`, `"id":"${x.id}"`);
    writeFileSync(join(project, "broken.jsonl"), `${broken.join("\n")}\n`);
    const failed = amcast(project, "report", "broken.jsonl");
    expect(failed.status).toBe(1);
    expect(failed.stdout).toMatch(/FAILED/);
    expect(readFileSync(join(project, "broken-report", "index.html"), "utf8")).toMatch(/1 of 1 runs FAILED/);
  });
});

describe("amcast compare", () => {
  it("prints two results side by side with the ratio of each measure", () => {
    writeFileSync(
      join(project, "experiments", "slower.json"),
      JSON.stringify({ ...EXPERIMENT, processing: { perMessageUs: 2000 } }),
    );
    expect(amcast(project, "experiment", "slower", "--out", "slower-results").status).toBe(0);
    const result = amcast(project, "compare", "small-results", "slower-results");
    expect(result.status).toBe(0);
    const row = result.stdout.split("\n").find((line) => line.startsWith("skeen/crash/mixed")) as string;
    const cells = row.trim().split(/\s+/);
    const [meanA, meanB, ratio] = [Number(cells[1]), Number(cells[2]), cells[3] as string];
    expect(meanB).toBeGreaterThan(meanA);
    expect(Number(ratio.replace("x", ""))).toBeCloseTo(meanB / meanA, 1);
    const json = amcast(project, "compare", "small-results", "slower-results", "--json");
    const parsed = JSON.parse(json.stdout);
    expect(parsed.runs[0]["mean ms"].second).toBeGreaterThan(parsed.runs[0]["mean ms"].first);
    const missing = amcast(project, "compare", "small-results", "nowhere");
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nowhere: holds no summary\.json/);
  });
});
