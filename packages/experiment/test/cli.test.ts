import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { amcast, CLI, scratchProject, THREE_REGIONS } from "./project.js";

const OVERLAYS = resolve(__dirname, "../../../overlays");

const SMALL_EXPERIMENT = {
  name: "small",
  topology: "../overlays/three.topology.json",
  protocols: [{ protocol: "skeen" }],
  workloads: [
    { name: "mixed", clientsPerGroup: 2, multicastsPerClient: 30, localPercent: 50, globalSizes: [2, 3] },
  ],
  seeds: [3],
};

let project = "";

/** Writes `experiments/NAME.json` in the scratch project. */
function experiment(name: string, body: unknown): void {
  writeFileSync(
    join(project, "experiments", `${name}.json`),
    typeof body === "string" ? body : JSON.stringify(body),
  );
}

beforeAll(() => {
  project = scratchProject("amcast-cli-", { small: SMALL_EXPERIMENT });
  cpSync(join(OVERLAYS, "aws-12-regions-ms.csv"), join(project, "overlays", "aws-12-regions-ms.csv"));
});

/** Bad input: exit code 2, exactly one line on stderr, no stack trace. */
function expectOneLineError(result: { status: number | null; stderr: string }, pattern: RegExp): void {
  expect(result.status).toBe(2);
  const lines = result.stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^amcast: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\bat .*\.(ts|js):\d+/);
}

describe("amcast experiment", () => {
  it("runs an experiment, checks it, writes results and a trace, and ends with a JSON line", () => {
    const result = amcast(
      project,
      "experiment",
      "small",
      "--json",
      "--trace",
      "out/trace.jsonl",
      "--trace-sends",
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/checks: every run holds all checked properties/);
    const lines = result.stdout.trim().split("\n");
    const summary = JSON.parse(lines[lines.length - 1] as string);
    expect(summary.experiment).toBe("small");
    expect(summary.seed).toBe(3);
    const run = summary.runs[0];
    expect(run).toMatchObject({
      label: "skeen/solo/mixed",
      protocol: "skeen",
      mode: "solo",
      linearizable: false,
      multicasts: 180,
      delivered: 180,
      violations: 0,
    });
    expect(run.latencyMs.p99).toBeGreaterThanOrEqual(run.latencyMs.p50);
    expect(run.floorRatio).toBeGreaterThanOrEqual(1);
    const written = JSON.parse(
      readFileSync(join(project, "results", "small", "latest", "summary.json"), "utf8"),
    );
    expect(written.runs[0].multicasts).toBe(180);
    expect(readFileSync(join(project, "results", "small", "latest", "latency-cdf.svg"), "utf8")).toMatch(
      /^<svg/,
    );
    const trace = readFileSync(join(project, "out", "trace.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(trace.filter((event) => event.ev === "multicast")).toHaveLength(180);
    expect(trace.some((event) => event.ev === "send" && event.kind === "propose")).toBe(true);

    const check = amcast(project, "check", "out/trace.jsonl");
    expect(check.status).toBe(0);
    expect(check.stdout).toMatch(/hold/);
  });

  it("gives the same results for the same seed and other results for another", () => {
    const first = amcast(project, "experiment", "small", "--json");
    const again = amcast(project, "experiment", "small", "--json");
    const other = amcast(project, "experiment", "small", "--json", "--seed", "4");
    const latency = (output: string) => {
      const lines = output.trim().split("\n");
      return JSON.parse(lines[lines.length - 1] as string).runs[0].latencyMs;
    };
    expect(latency(again.stdout)).toEqual(latency(first.stdout));
    expect(latency(other.stdout)).not.toEqual(latency(first.stdout));
  });
});

describe("a reader that closes the pipe early", () => {
  it("does not crash the run: it exits 0 and still writes its trace", () => {
    // `true` exits before the CLI prints, so every write meets a closed pipe (EPIPE).
    const result = spawnSync(
      "bash",
      [
        "-c",
        `set -o pipefail; "${process.execPath}" "${CLI}" experiment small --trace out/piped.jsonl | true`,
      ],
      { cwd: project, encoding: "utf8" },
    );
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(existsSync(join(project, "out", "piped.jsonl"))).toBe(true);
  });
});

describe("a run that stops at its time limit", () => {
  // An open loop at 50 multicasts/s per client over 30 multicasts cannot finish within 200 ms.
  const cut = {
    ...SMALL_EXPERIMENT,
    workloads: [
      {
        name: "open",
        clientsPerGroup: 2,
        loop: "open",
        ratePerSec: 50,
        multicastsPerClient: 30,
        localPercent: 50,
        globalSizes: [2, 3],
      },
    ],
    timeLimitMs: 200,
  };

  it("fails, with the seed and the command that replays it, and amcast check agrees", () => {
    experiment("cut", cut);
    const result = amcast(project, "experiment", "cut", "--trace", "cut.jsonl", "--json");
    expect(result.status).toBe(1);
    // What was still in flight at the limit is undelivered: validity and agreement fail.
    const failed =
      /\[1\/1\] skeen\/solo\/open seed 3: .*checks: (\d+) VIOLATIONS \[stopped: time-limit\]/.exec(
        result.stdout,
      );
    expect(failed).not.toBeNull();
    const violations = Number(failed?.[1]);
    expect(violations).toBeGreaterThan(0);
    expect(result.stdout).toMatch(new RegExp(`skeen/solo/open .* ${violations} violations`));
    expect(result.stdout).toMatch(
      /stopped: time-limit at t=200: the run did not finish, so it does not pass/,
    );
    expect(result.stdout).toMatch(
      /FAILED: skeen\/solo\/open seed 3; replay: pnpm run experiment cut --seed 3 --trace cut\.jsonl/,
    );
    const summary = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}") as {
      runs: { passed: boolean; stoppedBy: string; stopExpected: boolean; violations: number }[];
    };
    expect(summary.runs[0]).toMatchObject({ passed: false, stoppedBy: "time-limit", stopExpected: false });
    expect(summary.runs[0]?.violations).toBe(violations);
    // The trace alone gives the same verdict and the same count.
    const check = amcast(project, "check", "cut.jsonl");
    expect(check.status).toBe(1);
    expect(check.stdout).toMatch(new RegExp(`FAILED: ${violations} violations of 2 of 5 properties`));
  });

  it("passes when the experiment declares the limit as its end, and the table says so", () => {
    experiment("cut-expected", { ...cut, name: "cut-expected", endsAtTimeLimit: true });
    const result = amcast(project, "experiment", "cut-expected", "--trace", "expected.jsonl");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/skeen\/solo\/open .* ok \(time limit, expected\)/);
    expect(result.stdout).toMatch(/checks: 3 properties hold \(stopped at its declared time limit\)/);
    const check = amcast(project, "check", "expected.jsonl");
    expect(check.status).toBe(0);
    expect(check.stdout).toMatch(/stopped: time-limit at t=200 \(the experiment's declared end\)/);
    // Declaring an end needs a limit to end at.
    experiment("no-limit", { ...SMALL_EXPERIMENT, name: "no-limit", endsAtTimeLimit: true });
    expectOneLineError(
      amcast(project, "experiment", "no-limit"),
      /no-limit\.json: endsAtTimeLimit: is true but the experiment sets no timeLimitMs/,
    );
  });
});

describe("--list", () => {
  it("counts a run's multicasts from its budgets, and a time-limited run by its time limit", () => {
    experiment("timed", { ...SMALL_EXPERIMENT, timeLimitMs: 5000, endsAtTimeLimit: true });
    const result = amcast(project, "experiment", "--list");
    expect(result.status).toBe(0);
    const row = (name: string) => result.stdout.split("\n").find((line) => line.startsWith(`${name} `)) ?? "";
    // 2 clients per group x 3 groups x 30 multicasts.
    expect(row("small")).toMatch(/^small\s+1\s+180\s+~\d+ kB/);
    // Its clients' budget (30 each) does not bound a run that ends at its time limit.
    expect(row("timed")).toMatch(/^timed\s+1\s+5 s each\s+grows with rate/);
  });
});

describe("bad input gets one clear line and a non-zero exit", () => {
  it("an unknown experiment name, listing the known ones", () => {
    expectOneLineError(amcast(project, "experiment", "nope"), /unknown experiment "nope" \(known: .*small/);
  });

  it("an unknown protocol, listing the known ones", () => {
    experiment("bad-protocol", { ...SMALL_EXPERIMENT, protocols: [{ protocol: "paxos" }] });
    expectOneLineError(
      amcast(project, "experiment", "bad-protocol"),
      /bad-protocol\.json: protocols\[0\]\.protocol: unknown protocol "paxos" \(known: skeen/,
    );
  });

  it("an invalid topology file, naming the file and field", () => {
    writeFileSync(
      join(project, "overlays", "broken.topology.json"),
      JSON.stringify({
        ...THREE_REGIONS,
        latencyMs: [
          [1, 2, 3],
          [1, 2, 3],
          [1, "x", 3],
        ],
      }),
    );
    experiment("bad-topology", { ...SMALL_EXPERIMENT, topology: "../overlays/broken.topology.json" });
    expectOneLineError(
      amcast(project, "experiment", "bad-topology"),
      /broken\.topology\.json: latencyMs\[2\]\[1\]: expected a number >= 0, got "x"/,
    );
  });

  it("an invalid overlay: a C-DAG that misses a group", () => {
    writeFileSync(
      join(project, "overlays", "short.cdag.json"),
      JSON.stringify({ kind: "cdag", name: "short", order: ["a", "b"] }),
    );
    experiment("bad-overlay", {
      ...SMALL_EXPERIMENT,
      protocols: [{ protocol: "skeen", overlay: "../overlays/short.cdag.json" }],
    });
    expectOneLineError(
      amcast(project, "experiment", "bad-overlay"),
      /short\.cdag\.json: order: group "c" of topology three is missing/,
    );
  });

  it("a destination group that does not exist", () => {
    experiment("bad-group", {
      ...SMALL_EXPERIMENT,
      workloads: [{ ...SMALL_EXPERIMENT.workloads[0], groups: ["a", "zz"] }],
    });
    expectOneLineError(
      amcast(project, "experiment", "bad-group"),
      /bad-group\.json: workloads\[0\]\.groups\[1\]: group "zz" is not a target group/,
    );
  });

  it("protocol parameters the protocol refuses", () => {
    experiment("bad-params", { ...SMALL_EXPERIMENT, protocols: [{ protocol: "skeen", params: { x: 1 } }] });
    expectOneLineError(
      amcast(project, "experiment", "bad-params"),
      /bad-params\.json: protocols\[0\]\.params\.x: is not a known field here \(known: \(none\)\)/,
    );
  });

  it("a misspelt field, malformed JSON, a missing file and a bad fault", () => {
    experiment("typo", { ...SMALL_EXPERIMENT, seed: 3 });
    expectOneLineError(
      amcast(project, "experiment", "typo"),
      /typo\.json: seed: is not a known field here \(did you mean "seeds"\?\)/,
    );
    const { clientsPerGroup: _, ...workload } = SMALL_EXPERIMENT.workloads[0] as Record<string, unknown>;
    experiment("typo-field", { ...SMALL_EXPERIMENT, workloads: [{ ...workload, clientPerGroup: 2 }] });
    expectOneLineError(
      amcast(project, "experiment", "typo-field"),
      /workloads\[0\]\.clientsPerGroup: is missing .*\("clientPerGroup" is there: a misspelling\?\)/,
    );
    experiment("typo-optional", {
      ...SMALL_EXPERIMENT,
      workloads: [{ ...SMALL_EXPERIMENT.workloads[0], payloadByte: 16 }],
    });
    expectOneLineError(
      amcast(project, "experiment", "typo-optional"),
      /workloads\[0\]\.payloadByte: is not a known field here \(did you mean "payloadBytes"\?\)/,
    );
    experiment("typo-choice", { ...SMALL_EXPERIMENT, mode: "crsh" });
    expectOneLineError(
      amcast(project, "experiment", "typo-choice"),
      /mode: expected one of solo, crash or byzantine, got "crsh" \(did you mean "crash"\?\)/,
    );
    experiment("typo-protocol", { ...SMALL_EXPERIMENT, protocols: [{ protocol: "skeem" }] });
    expectOneLineError(
      amcast(project, "experiment", "typo-protocol"),
      /unknown protocol "skeem" \(did you mean "skeen"\?\)/,
    );
    experiment("not-json", "{ name: small");
    expectOneLineError(amcast(project, "experiment", "not-json"), /not-json\.json: is not valid JSON/);
    experiment("no-topology", { ...SMALL_EXPERIMENT, topology: "../overlays/missing.json" });
    expectOneLineError(
      amcast(project, "experiment", "no-topology"),
      /missing\.json: topology file .* not found/,
    );
    experiment("bad-fault", { ...SMALL_EXPERIMENT, faults: { crashes: [{ proc: "q/0", atMs: 5 }] } });
    expectOneLineError(
      amcast(project, "experiment", "bad-fault"),
      /faults\.crashes\[0\]\.proc: process "q\/0" does not exist/,
    );
  });

  it("faults a mode cannot take: more faulty replicas than f, a Byzantine replica outside Byzantine mode, an unknown strategy", () => {
    const replicated = { ...SMALL_EXPERIMENT, modes: ["crash", "byzantine"], f: 1 };
    experiment("too-many", {
      ...replicated,
      faults: {
        crashes: [
          { proc: "a/0", atMs: 5 },
          { proc: "a/1", atMs: 9 },
        ],
      },
    });
    expectOneLineError(
      amcast(project, "experiment", "too-many"),
      /faults\.crashes\[1\]\.proc: group "a" would have 2 faulty replicas; f=1 tolerates at most 1/,
    );
    experiment("byz-in-crash", {
      ...replicated,
      faults: { byzantine: [{ proc: "a/3", strategy: "silent" }] },
    });
    expectOneLineError(
      amcast(project, "experiment", "byz-in-crash"),
      /faults\.byzantine: Byzantine replicas need byzantine mode; this plan also runs in crash/,
    );
    experiment("bad-strategy", {
      ...replicated,
      faultPlans: [{ name: "x", modes: ["byzantine"], byzantine: [{ proc: "a/3", strategy: "sneaky" }] }],
    });
    expectOneLineError(
      amcast(project, "experiment", "bad-strategy"),
      /faultPlans\[0\]\.byzantine\[0\]\.strategy: expected one of silent, equivocate/,
    );
    experiment("no-replica", { ...replicated, faults: { crashes: [{ proc: "a/3", atMs: 5 }] } });
    expectOneLineError(
      amcast(project, "experiment", "no-replica"),
      /process "a\/3" does not exist in crash or byzantine mode with f=1/,
    );
  });

  it("an unknown flag or command, and a malformed trace", () => {
    expectOneLineError(
      amcast(project, "experiment", "small", "--sed", "3"),
      /experiment: unknown option --sed \(did you mean --seed\?\) \(options: --seed VALUE, .*experiment --help/,
    );
    expectOneLineError(
      amcast(project, "experiment", "small", "--seed", "x"),
      /--seed: expected an integer ≥ 0, got "x"/,
    );
    expectOneLineError(
      amcast(project, "experiment", "small", "--seed", "-1"),
      /--seed: expected an integer ≥ 0, got "-1"/,
    );
    expectOneLineError(
      amcast(project, "experiment", "small", "--seed", "1.5"),
      /--seed: expected an integer ≥ 0, got "1.5"/,
    );
    expectOneLineError(amcast(project, "frobnicate"), /unknown command "frobnicate"/);
    expectOneLineError(
      amcast(project, "experment"),
      /unknown command "experment" \(did you mean "experiment"\?\)/,
    );
    writeFileSync(join(project, "bad.jsonl"), '{"ev":"deliver","id":"m","group":"g","t":1}\n');
    expectOneLineError(
      amcast(project, "check", "bad.jsonl"),
      /bad\.jsonl:1: proc: expected a string or number id/,
    );
  });
});

describe("the README", () => {
  it("shows an experiment file that loads and runs", () => {
    const readme = readFileSync(resolve(__dirname, "../../../README.md"), "utf8");
    const start = readme.indexOf("An **experiment**");
    const block = /```json\n([\s\S]*?)\n```/.exec(readme.slice(start));
    expect(block).not.toBeNull();
    const example = JSON.parse((block as RegExpExecArray)[1] as string);
    cpSync(join(OVERLAYS, "aws-12.topology.json"), join(project, "overlays", "aws-12.topology.json"));
    // Keep the run short: the file's structure is what is under test.
    example.workloads[0].multicastsPerClient = 5;
    example.seeds = [1];
    experiment("readme-example", example);
    const result = amcast(project, "experiment", "readme-example");
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/skeen\/byzantine\/locality\/liar/);
    expect(result.stdout).toMatch(/skeen\/crash\/locality\/storm/);
  });
});
