import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { checkOverlayAgainstTopology, parseOverlay, parseTopology } from "@amcast/core";
import { beforeAll, describe, expect, it } from "vitest";

/** The built CLI, as users run it (`pnpm test` builds it first). */
const CLI = resolve(__dirname, "../dist/cli.js");
const OVERLAYS = resolve(__dirname, "../../../overlays");

function amcast(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

let project = "";

function write(path: string, body: unknown): void {
  writeFileSync(join(project, path), JSON.stringify(body));
}

function flexcastExperiment(overlay: string): unknown {
  return {
    name: "flex-small",
    topology: "../overlays/3-regions.topology.json",
    protocols: [{ protocol: "flexcast", overlay }, { protocol: "skeen" }],
    workloads: [
      { name: "mixed", clientsPerGroup: 2, multicastsPerClient: 40, localPercent: 30, globalSizes: [2, 3] },
    ],
    seeds: [2],
  };
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "amcast-flexcast-cli-"));
  mkdirSync(join(project, "experiments"));
  mkdirSync(join(project, "overlays"));
  for (const file of [
    "3-regions.topology.json",
    "3-regions-canada-virginia-saopaulo-ms.csv",
    "3-regions-cdag.json",
  ])
    cpSync(join(OVERLAYS, file), join(project, "overlays", file));
  write("experiments/flex-small.json", flexcastExperiment("../overlays/3-regions-cdag.json"));
  write("overlays/twice.cdag.json", { kind: "cdag", name: "twice", order: ["Canada", "Virginia", "Canada"] });
  write("experiments/flex-twice.json", flexcastExperiment("../overlays/twice.cdag.json"));
  write("overlays/short.cdag.json", { kind: "cdag", name: "short", order: ["Virginia", "SaoPaulo"] });
  write("experiments/flex-short.json", flexcastExperiment("../overlays/short.cdag.json"));
});

describe("FlexCast through the experiment CLI", () => {
  it("runs next to Skeen, checks both, and reports genuineness when sends are recorded", () => {
    const result = amcast(
      project,
      "experiment",
      "flex-small",
      "--json",
      "--trace",
      "t.jsonl",
      "--trace-sends",
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/checks: every run holds all checked properties \(2 run\(s\)\)/);
    expect(result.stdout).toMatch(/genuineness \(recorded sends\)/);
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      runs: {
        protocol: string;
        delivered: number;
        multicasts: number;
        genuineness: Record<string, number>;
      }[];
    };
    const byProtocol = new Map(summary.runs.map((run) => [run.protocol, run]));
    expect(byProtocol.get("flexcast")?.delivered).toBe(byProtocol.get("flexcast")?.multicasts);
    expect(byProtocol.get("skeen")?.genuineness.outsideMessagesPerMulticast).toBe(0);
    // The trace has FlexCast's protocol messages, each with its multicast id.
    const kinds = new Set(
      readFileSync(join(project, "t.jsonl"), "utf8")
        .split("\n")
        .filter((line) => line.includes('"ev":"send"') && line.includes("flexcast"))
        .map((line) => (JSON.parse(line) as { kind: string }).kind),
    );
    expect(kinds).toContain("msg");
    expect(kinds).toContain("ack");
  });

  it("rejects a C-DAG that lists a group twice or misses one, naming the file and the field", () => {
    const twice = amcast(project, "experiment", "flex-twice");
    expect(twice.status).toBe(2);
    expect(twice.stderr.trim()).toMatch(
      /^amcast: .*twice\.cdag\.json: order\[2\]: group "Canada" is listed twice \(also at order\[0\]\)/,
    );
    const short = amcast(project, "experiment", "flex-short");
    expect(short.status).toBe(2);
    expect(short.stderr.trim()).toMatch(
      /^amcast: .*short\.cdag\.json: order: group "Canada" of topology 3-regions is missing/,
    );
  });

  it("ships C-DAG orders for the 12 AWS regions that list every group exactly once", () => {
    const read = (file: string): unknown => JSON.parse(readFileSync(join(OVERLAYS, file), "utf8"));
    const topology = parseTopology(
      read("aws-12.topology.json"),
      join(OVERLAYS, "aws-12.topology.json"),
      (name) => readFileSync(join(OVERLAYS, name), "utf8"),
    );
    for (const file of ["aws-12-cdag-o1.json", "aws-12-cdag-o2.json"]) {
      const overlay = parseOverlay(read(file), file);
      expect(() => checkOverlayAgainstTopology(overlay, topology, file)).not.toThrow();
      expect(overlay.kind === "cdag" && overlay.order.at(-1)).toBe("Sydney");
    }
  });
});
