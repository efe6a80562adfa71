import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

/** The built CLI, as users run it (`pnpm test` builds it first). */
const CLI = resolve(__dirname, "../dist/cli.js");
const OVERLAYS = resolve(__dirname, "../../../overlays");

function amcast(cwd: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The kv-linearizability setup, smaller: three shards, three seeds. */
const KV_EXPERIMENT = {
  name: "kv-small",
  topology: "../overlays/3-regions.topology.json",
  protocols: [
    { protocol: "skeen" },
    { protocol: "flexcast", overlay: "../overlays/3-regions-cdag.json", label: "flexcast" },
    { protocol: "byzcast", overlay: "../overlays/3-regions-tree.json", label: "byzcast" },
  ],
  linearizable: [false, true],
  service: {
    kind: "kv",
    partitioning: "range",
    workload: { clientsPerGroup: 3, operationsPerClient: 20, mix: { put: 50, get: 10, range: 40 } },
  },
  seeds: [1, 2, 3],
};

let project = "";

function experiment(name: string, body: unknown): void {
  writeFileSync(join(project, "experiments", `${name}.json`), JSON.stringify(body));
}

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), "amcast-service-"));
  mkdirSync(join(project, "experiments"));
  mkdirSync(join(project, "overlays"));
  for (const file of [
    "3-regions.topology.json",
    "3-regions-canada-virginia-saopaulo-ms.csv",
    "3-regions-cdag.json",
    "3-regions-tree.json",
  ])
    cpSync(join(OVERLAYS, file), join(project, "overlays", file));
  experiment("kv-small", KV_EXPERIMENT);
});

interface KvRunSummary {
  label: string;
  protocol: string;
  linearizable: boolean;
  verdict: string;
  operations: number;
  witness: { operations: unknown[] } | null;
}

describe("a key-value service experiment", () => {
  it("finds non-linearizable histories under every plain protocol, never under the linearizable ones, with witnesses", () => {
    const result = amcast(project, "experiment", "kv-small", "--json", "--history", "out/history.jsonl");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as { runs: KvRunSummary[] };
    expect(summary.runs).toHaveLength(18);
    for (const protocol of ["skeen", "flexcast", "byzcast"]) {
      const plain = summary.runs.filter((run) => run.protocol === protocol && !run.linearizable);
      const linearizable = summary.runs.filter((run) => run.protocol === protocol && run.linearizable);
      expect(
        plain.some((run) => run.verdict === "violation"),
        protocol,
      ).toBe(true);
      expect(linearizable.map((run) => run.verdict)).toEqual([
        "linearizable",
        "linearizable",
        "linearizable",
      ]);
      for (const run of plain.filter((candidate) => candidate.verdict === "violation"))
        expect(run.witness?.operations.length).toBeGreaterThanOrEqual(3);
    }
    for (const run of summary.runs) expect(run.operations).toBe(180);
    expect(result.stdout).toMatch(/protocol\s+variant\s+mode\s+histories\s+violations/);
    expect(result.stdout).toMatch(
      /witness, skeen\/solo\/seed-\d .*replay: pnpm run experiment kv-small --seed \d/,
    );
    expect(result.stdout).toContain("real time:");

    // The history file holds every run; the checker alone gives the same verdicts.
    const lines = readFileSync(join(project, "out", "history.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(lines).toHaveLength(18 * 180 * 2);
    const checked = amcast(project, "check-history", "out/history.jsonl", "--json");
    expect(checked.status).toBe(1);
    const verdicts = JSON.parse(checked.stdout.trim().split("\n").at(-1) ?? "{}") as {
      runs: { run: string; verdict: string }[];
    };
    expect(verdicts.runs.map((run) => [run.run, run.verdict])).toEqual(
      summary.runs.map((run) => [run.label, run.verdict]),
    );
  });

  it("check-history: 0 for a linearizable history, 4 when the budget runs out, one-line errors for bad files", () => {
    experiment("kv-one", {
      ...KV_EXPERIMENT,
      protocols: [{ protocol: "skeen" }],
      linearizable: true,
      seeds: [2],
    });
    const run = amcast(project, "experiment", "kv-one", "--history", "out/lin.jsonl");
    expect(run.status).toBe(0);
    const ok = amcast(project, "check-history", "out/lin.jsonl");
    expect(ok.stdout).toMatch(/^run skeen\+lin\/solo: linearizable \(180 operations/);
    expect(ok.status).toBe(0);
    const budget = amcast(project, "check-history", "out/lin.jsonl", "--states-max", "3");
    expect(budget.stdout).toContain("unknown, the budget ran out");
    expect(budget.status).toBe(4);
    writeFileSync(
      join(project, "out", "bad.jsonl"),
      '{"ev":"invoke","op":1,"client":"c","t":0,"f":"get","args":{}}\n',
    );
    const bad = amcast(project, "check-history", "out/bad.jsonl");
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(
      "amcast: out/bad.jsonl operation 1: args.key: expected a string, got nothing",
    );
    expect(amcast(project, "check-history", "out/lin.jsonl", "--model", "queue").stderr).toContain(
      '--model is one of kv, got "queue"',
    );
  });

  it("rejects a bad service block and --history without one, naming the field", () => {
    experiment("bad-kind", { ...KV_EXPERIMENT, service: { kind: "queue" } });
    const kind = amcast(project, "experiment", "bad-kind");
    expect(kind.status).toBe(2);
    expect(kind.stderr).toMatch(/service\.kind: unknown service "queue" \(known: kv or gtpcc\)/);
    experiment("bad-shard", {
      ...KV_EXPERIMENT,
      service: { ...KV_EXPERIMENT.service, shards: ["Canada", "Tokyo"] },
    });
    const shard = amcast(project, "experiment", "bad-shard");
    expect(shard.status).toBe(2);
    expect(shard.stderr).toMatch(/service\.shards\[1\]: "Tokyo" is not a target group of skeen/);
    experiment("bad-mix", {
      ...KV_EXPERIMENT,
      service: { ...KV_EXPERIMENT.service, workload: { mix: { put: 50, range: 40 } } },
    });
    expect(amcast(project, "experiment", "bad-mix").stderr).toMatch(
      /service\.workload\.mix: percentages sum to 90, not 100/,
    );
    const { service: _service, ...multicastOnly } = KV_EXPERIMENT;
    experiment("no-service", {
      ...multicastOnly,
      workloads: [{ name: "w", clientsPerGroup: 1, multicastsPerClient: 5 }],
    });
    const history = amcast(project, "experiment", "no-service", "--history", "h.jsonl");
    expect(history.status).toBe(2);
    expect(history.stderr).toMatch(/--history is for service experiments/);
  });
});

describe("--list", () => {
  it("counts a service experiment's runs (protocols x linearizable x seeds), naming its service", () => {
    const result = amcast(project, "experiment", "--list");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^kv-small\s+18\s+kv service\s+-\s/m);
  });
});

describe("a gTPC-C service experiment", () => {
  it("prints committed transactions per second and latency per type for each protocol, and the consistency check", () => {
    experiment("gtpcc-small", {
      name: "gtpcc-small",
      topology: "../overlays/3-regions.topology.json",
      protocols: KV_EXPERIMENT.protocols,
      service: {
        kind: "gtpcc",
        scale: { districtsPerWarehouse: 2, customersPerDistrict: 9, items: 60 },
        terminalsPerWarehouse: 2,
        transactionsPerTerminal: 20,
        mix: { remoteItemPercent: 20, remoteCustomerPercent: 40 },
      },
      seeds: [5],
    });
    const result = amcast(project, "experiment", "gtpcc-small", "--json");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(
      /run\s+type\s+count\s+committed\/s\s+rolled back\s+multi-group %\s+mean ms\s+p50 ms\s+p99 ms/,
    );
    expect(result.stdout).toMatch(/skeen\/solo\s+new-order\s+\d+/);
    expect(result.stdout).toMatch(/byzcast\/solo\s+payment\s+\d+/);
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      runs: {
        label: string;
        consistency: { violations: unknown[]; conditions: string[]; replicas: number };
        byType: { type: string; count: number; multiGroupFraction: number }[];
      }[];
    };
    expect(summary.runs.map((run) => run.label)).toEqual(["skeen/solo", "flexcast/solo", "byzcast/solo"]);
    for (const run of summary.runs) {
      expect(run.consistency.violations).toEqual([]);
      expect(run.consistency.replicas).toBe(3);
      expect(run.consistency.conditions).toContain("3.3.2.12");
      expect(run.byType.reduce((sum, type) => sum + type.count, 0)).toBe(3 * 2 * 20);
      expect(run.byType.find((type) => type.type === "payment")?.multiGroupFraction).toBeGreaterThan(0);
    }
    expect(
      JSON.parse(readFileSync(join(project, "results", "gtpcc-small", "summary.json"), "utf8")).runs,
    ).toHaveLength(3);
  });

  it("runs under a fault plan: crashed and cut-off replicas, the databases of the live ones consistent", () => {
    experiment("gtpcc-faults", {
      name: "gtpcc-faults",
      topology: "../overlays/3-regions.topology.json",
      protocols: [{ protocol: "skeen" }],
      mode: "crash",
      linearizable: true,
      faults: {
        crashes: [
          { proc: "Canada/1", atMs: 200 },
          { proc: "Virginia/0", atMs: 100, recoverAtMs: 900 },
        ],
        partitions: [{ side: ["SaoPaulo/2"], atMs: 50, healAtMs: 600 }],
      },
      service: {
        kind: "gtpcc",
        scale: { districtsPerWarehouse: 2, customersPerDistrict: 9, items: 60 },
        terminalsPerWarehouse: 2,
        transactionsPerTerminal: 15,
        mix: { remoteItemPercent: 20, remoteCustomerPercent: 40 },
      },
      seeds: [2],
    });
    const result = amcast(project, "experiment", "gtpcc-faults", "--json");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      runs: { label: string; consistency: { violations: unknown[]; replicas: number } }[];
    };
    expect(summary.runs.map((run) => run.label)).toEqual(["skeen+lin/crash"]);
    // Nine replicas, one crashed for good.
    expect(summary.runs[0]?.consistency).toMatchObject({ violations: [], replicas: 8 });
    experiment("gtpcc-leader", {
      name: "gtpcc-leader",
      topology: "../overlays/3-regions.topology.json",
      protocols: [{ protocol: "skeen" }],
      mode: "crash",
      faults: { crashes: [{ leaderOf: "Canada", atMs: 200 }] },
      service: { kind: "gtpcc" },
    });
    expect(amcast(project, "experiment", "gtpcc-leader").stderr).toMatch(
      /faults: a service experiment's crashes name the replica/,
    );
  });
});
