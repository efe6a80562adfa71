import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, relative } from "node:path";
import { checkRun } from "@amcast/check";
import type { TraceEvent } from "@amcast/core";
import {
  decodeChallenge,
  decodeWelcome,
  deriveLinkKey,
  encodeHello,
  NONCE_BYTES,
  NodeTable,
} from "@amcast/runtime";
import { onFreePorts } from "@amcast/smr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { loadDeploymentFile, mergeTraceFiles } from "../src/index.js";
import { amcast, CLI, scratchProject } from "./project.js";

let project = "";
/** Every process a test started, killed at the end whatever happened. */
const started: ChildProcess[] = [];

function experiment(name: string, body: unknown): void {
  writeFileSync(join(project, "experiments", `${name}.json`), JSON.stringify(body));
}

beforeAll(() => {
  project = scratchProject("amcast-net-cli-");
  writeFileSync(
    join(project, "overlays", "one.topology.json"),
    JSON.stringify({
      kind: "topology",
      name: "one",
      regions: ["a"],
      latencyMs: [[1]],
      groups: "one-per-region",
    }),
  );
  const base = {
    topology: "../overlays/three.topology.json",
    protocols: [{ protocol: "skeen" }],
    seeds: [3],
  };
  experiment("small", {
    name: "small",
    ...base,
    workloads: [
      { name: "mixed", clientsPerGroup: 2, multicastsPerClient: 30, localPercent: 50, globalSizes: [2, 3] },
    ],
  });
  // Long enough to be interrupted: every client thinks 50 ms between multicasts.
  experiment("long", {
    name: "long",
    ...base,
    workloads: [
      {
        name: "slow",
        clientsPerGroup: 1,
        multicastsPerClient: 5000,
        thinkMs: 50,
        localPercent: 50,
        globalSizes: [2],
      },
    ],
  });
  experiment("byzantine-one", {
    name: "byzantine-one",
    topology: "../overlays/one.topology.json",
    protocols: [{ protocol: "skeen" }],
    mode: "byzantine",
    f: 1,
    workloads: [{ name: "local", clientsPerGroup: 1, multicastsPerClient: 10, localPercent: 100 }],
  });
  experiment("one", {
    name: "one",
    topology: "../overlays/one.topology.json",
    protocols: [{ protocol: "skeen" }],
    workloads: [{ name: "local", clientsPerGroup: 1, multicastsPerClient: 10, localPercent: 100 }],
  });
  // One crash-mode group, long enough to kill and restart a replica in the middle.
  experiment("restart-one", {
    name: "restart-one",
    topology: "../overlays/one.topology.json",
    protocols: [{ protocol: "skeen" }],
    mode: "crash",
    f: 1,
    workloads: [
      { name: "local", clientsPerGroup: 2, multicastsPerClient: 120, thinkMs: 15, localPercent: 100 },
    ],
  });
});

afterAll(() => {
  for (const child of started)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  rmSync(project, { recursive: true, force: true });
});

interface Running {
  readonly child: ChildProcess;
  stdout: string;
  stderr: string;
  readonly exited: Promise<number | null>;
  /** Exited, and its output read to the end. */
  readonly closed: Promise<void>;
}

function startCli(...args: string[]): Running {
  // In a process group of its own, as a shell starts a command: Ctrl-C signals the whole group.
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: project,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  started.push(child);
  const running: Running = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolveExit) => child.on("exit", (code) => resolveExit(code))),
    closed: new Promise((resolveClose) => child.on("close", () => resolveClose())),
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    running.stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    running.stderr += chunk.toString("utf8");
  });
  return running;
}

async function until(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const startedAt = Date.now();
  while (!check()) {
    if (Date.now() - startedAt > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 20));
  }
}

/** Process ids whose command line mentions `marker` (the run's work directory). */
function processesMentioning(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmdline.includes(marker)) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

/** Waits for the run's work directory to be announced and its nodes to be up; returns the directory. */
async function runningNodes(run: Running, count: number): Promise<string> {
  await until(() => /in (\/\S+amcast-net-\S+)/.test(run.stdout), "the run's work directory");
  const workDir = (/in (\/\S+amcast-net-\S+)/.exec(run.stdout) as RegExpExecArray)[1] as string;
  await until(() => processesMentioning(workDir).length >= count, `${count} node processes`);
  // Let the workload get going.
  await new Promise((resolveWait) => setTimeout(resolveWait, 1500));
  return workDir;
}

/** Resolves once `replica` says it listens; rejects if it exits first (code EADDRINUSE if its port was taken). */
async function listening(replica: Running): Promise<void> {
  const ended = () => replica.child.exitCode !== null || replica.child.signalCode !== null;
  await until(() => replica.stderr.includes("replica listening") || ended(), "a replica to listen");
  if (replica.stderr.includes("replica listening")) return;
  await replica.closed;
  throw Object.assign(new Error(`a replica exited before it listened: ${replica.stderr}`), {
    code: /EADDRINUSE/.test(replica.stderr) ? "EADDRINUSE" : undefined,
  });
}

/**
 * Replicas started by hand on `count` free loopback ports a deployment file names up front:
 * `start` writes the deployment for `ports` and starts the replicas, which must each say they
 * listen. Should another process take one of the ports first, the replicas are killed and the
 * whole start is tried again on other ports.
 */
async function replicasOnFreePorts(
  count: number,
  start: (ports: number[]) => Running[] | Promise<Running[]>,
): Promise<Running[]> {
  let replicas: Running[] = [];
  return onFreePorts(
    count,
    async (ports) => {
      replicas = await start(ports);
      await Promise.all(replicas.map(listening));
      return replicas;
    },
    async () => {
      for (const replica of replicas) replica.child.kill("SIGKILL");
      await Promise.all(replicas.map((replica) => replica.exited));
    },
  );
}

describe("amcast experiment --runtime net", () => {
  it("runs on real processes, prints the tables, checks the trace and ends with a JSON line", {
    timeout: 120_000,
  }, async () => {
    const run = startCli("experiment", "small", "--runtime", "net", "--json", "--trace", "out/net.jsonl");
    expect(await run.exited).toBe(0);
    expect(run.stdout).toMatch(/network runtime: 4 processes \(3 replicas, 1 client host\(s\)\)/);
    expect(run.stdout).toMatch(/run +multicasts +delivered +mean ms/);
    expect(run.stdout).toMatch(/checks: every run holds all checked properties/);
    const lines = run.stdout.trim().split("\n");
    const summary = JSON.parse(lines[lines.length - 1] as string);
    expect(summary.runtime).toBe("net");
    expect(summary.runs[0]).toMatchObject({
      label: "skeen/solo/mixed",
      multicasts: 180,
      delivered: 180,
      violations: 0,
      stoppedBy: "drained",
    });
    // Emulated delays: a global multicast cannot beat the one-way delay to its farther group.
    expect(summary.runs[0].byKind["global-2"].mean).toBeGreaterThan(20);
    const trace = readFileSync(join(project, "out", "net.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(trace.filter((line) => line.includes('"ev":"multicast"'))).toHaveLength(180);
    // The runner's last word: how the run ended and what it owes, which amcast check reads.
    expect(JSON.parse(trace.at(-1) as string)).toMatchObject({
      ev: "stop",
      reason: "drained",
      run: "skeen/solo/mixed",
    });
    const check = startCli("check", "out/net.jsonl");
    expect(await check.exited).toBe(0);
    expect(check.stdout).toMatch(/run skeen\/solo\/mixed: all 5 properties hold/);
    const workDir = (/in (\/\S+amcast-net-\S+)/.exec(run.stdout) as RegExpExecArray)[1] as string;
    expect(processesMentioning(workDir)).toEqual([]);

    // Kept as the simulator keeps its runs: a result directory with provenance, the run's record
    // (its samples are the run's multicasts), the CSVs and the report.
    const results = join(project, "results", "small-net", "latest");
    const kept = JSON.parse(readFileSync(join(results, "summary.json"), "utf8"));
    expect(kept).toMatchObject({ runtime: "net", complete: true, runsPlanned: 1, runsDone: 1 });
    expect(kept.provenance.node).toBe(process.version);
    expect(kept.runs[0]).toMatchObject({ label: "skeen/solo/mixed", runtime: "net", passed: true });
    expect(kept.runs[0].net.processes).toBe(4);
    const record = JSON.parse(readFileSync(join(results, "runs", "0000.json"), "utf8"));
    expect(record.samples.latencyMs).toHaveLength(180);
    expect(record.verdict).toMatchObject({ passed: true, stop: "drained" });
    expect(readFileSync(join(results, "samples.csv"), "utf8").trim().split("\n")).toHaveLength(181);
    const html = readFileSync(join(results, "index.html"), "utf8");
    expect(html).toMatch(/network runtime \(real processes/);
    expect(html).toMatch(/transport \(summed over processes\)/);
    // From the trace: the slowest multicast's diagram (no arrival times on real processes).
    expect(html).toMatch(/A multicast explained/);
    // Resumed, nothing is left to run: no process starts.
    const resumed = startCli("experiment", "small", "--runtime", "net", "--resume");
    expect(await resumed.exited).toBe(0);
    expect(resumed.stdout).toMatch(/1 run\(s\) already done, 0 to run/);
    expect(resumed.stdout).not.toMatch(/network runtime: 4 processes/);
  });

  it("signs a Byzantine run with Ed25519 on real processes, and says so in its tables and its JSON", {
    timeout: 120_000,
  }, async () => {
    const run = startCli(
      "experiment",
      "byzantine-one",
      "--runtime",
      "net",
      "--json",
      "--trace",
      "out/byzantine.jsonl",
    );
    expect(await run.exited).toBe(0);
    expect(run.stdout).toMatch(/skeen\/byzantine\/local seed 1: .*messages\/frame \(Ed25519 signatures\)/);
    expect(run.stdout).toMatch(
      /byzantine mode: requests, stream copies and consensus messages carry Ed25519 signatures/,
    );
    expect(run.stdout).toMatch(/skeen\/byzantine\/local +5 .* ed25519/);
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1) as string);
    expect(summary.notes).toEqual([expect.stringMatching(/Ed25519 signatures/)]);
    expect(summary.runs[0]).toMatchObject({ mode: "byzantine", signatures: "ed25519", delivered: 10 });
    // The trace alone says real processes wrote it, so its report names the real signatures.
    const report = amcast(project, "report", "out/byzantine.jsonl", "--out", "byzantine-report");
    expect(report.status).toBe(0);
    expect(report.stdout).toMatch(/Ed25519 signatures/);
    expect(report.stdout).not.toMatch(/signatures are modelled/);
  });

  it("stops every node and exits on Ctrl-C", { timeout: 120_000 }, async () => {
    const run = startCli("experiment", "long", "--runtime", "net", "--trace", "out/interrupted.jsonl");
    const workDir = await runningNodes(run, 4);
    await until(() => /the workload starts/.test(run.stdout), "the workload to start");
    await new Promise((resolveWait) => setTimeout(resolveWait, 1000));
    // As a terminal's Ctrl-C does: SIGINT to the runner and every node of its process group.
    process.kill(-(run.child.pid as number), "SIGINT");
    expect(await run.exited).toBe(130);
    expect(run.stderr).toMatch(/interrupted in run 1 of 1; every node was stopped; 0 run\(s\) kept/);
    expect(processesMentioning(workDir)).toEqual([]);
    // The nodes were stopped in order: what they did is traced, and the trace says how it ended.
    expect(run.stdout).toMatch(/\[1\/1\] skeen\/solo\/slow .*\[stopped: interrupted\]/);
    // Every node reported its counters to the runner before it exited (frames sent > 0).
    expect(run.stdout).toMatch(/transport \(summed over processes\)\n.*\nskeen\/solo\/slow +4 +[1-9]\d* /);
    expect(run.stdout).toMatch(
      /stopped: interrupted at t=[\d.]+: the run did not finish, so it does not pass/,
    );
    const trace = readFileSync(join(project, "out", "interrupted.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(trace.filter((line) => line.includes('"ev":"deliver"')).length).toBeGreaterThan(0);
    expect(JSON.parse(trace.at(-1) as string)).toMatchObject({ ev: "stop", reason: "interrupted" });
    // A run that did not finish is not kept: --resume runs it again.
    expect(run.stdout).toMatch(/not kept: skeen\/solo\/slow did not finish/);
    const kept = JSON.parse(
      readFileSync(join(project, "results", "long-net", "latest", "summary.json"), "utf8"),
    );
    expect(kept).toMatchObject({ complete: false, runsPlanned: 1, runsDone: 0 });
  });

  it("leaves no node behind when the runner itself is killed", { timeout: 120_000 }, async () => {
    const run = startCli("experiment", "long", "--runtime", "net");
    const workDir = await runningNodes(run, 4);
    run.child.kill("SIGKILL");
    await run.exited;
    // The nodes notice their control channel closing and stop on their own.
    await until(() => processesMentioning(workDir).length === 0, "the orphaned nodes to stop", 20_000);
    expect(processesMentioning(workDir)).toEqual([]);
    // Nobody was left to clean up after the run.
    rmSync(workDir, { recursive: true, force: true });
  });

  it("stops every node and fails when a node dies", { timeout: 120_000 }, async () => {
    const run = startCli("experiment", "long", "--runtime", "net");
    const workDir = await runningNodes(run, 4);
    const victim = processesMentioning(workDir).find((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("replica"),
    );
    expect(victim).toBeDefined();
    process.kill(victim as number, "SIGKILL");
    expect(await run.exited).toBe(1);
    expect(run.stderr).toMatch(/node \S+ exited unexpectedly \(signal SIGKILL\)/);
    expect(processesMentioning(workDir)).toEqual([]);
  });
});

describe("a cluster started by hand from a deployment file", () => {
  it("runs the workload across replicas and a client host started one by one", {
    timeout: 120_000,
  }, async () => {
    const dir = mkdtempSync(join(project, "hand-"));
    writeFileSync(join(dir, "cluster.secret"), randomBytes(32));
    const keyFile = (id: string): string => join(dir, "keys", `${encodeURIComponent(id)}.keys.json`);
    const node = (command: string, id: string): Running =>
      startCli(
        command,
        "--deployment",
        join(dir, "deployment.json"),
        "--id",
        id,
        "--keys",
        keyFile(id),
        "--trace",
        join(dir, `${encodeURIComponent(id)}.jsonl`),
      );
    const replicas = await replicasOnFreePorts(3, async (ports) => {
      const deployment = {
        kind: "deployment",
        name: "by-hand",
        experiment: "../experiments/small.json",
        latencyEmulation: true,
        replicas: ["a/0", "b/0", "c/0"].map((id, index) => ({ id, host: "127.0.0.1", port: ports[index] })),
        clientHosts: [
          { id: "clients-0", clients: ["c0", "c1", "c2"] },
          { id: "clients-1", clients: ["c3", "c4", "c5"] },
        ],
      };
      writeFileSync(join(dir, "deployment.json"), JSON.stringify(deployment));
      const keys = startCli(
        "keys",
        "--deployment",
        join(dir, "deployment.json"),
        "--secret-file",
        join(dir, "cluster.secret"),
        "--out",
        join(dir, "keys"),
      );
      expect(await keys.exited).toBe(0);
      return ["a/0", "b/0", "c/0"].map((id) => node("replica", id));
    });
    const clients = ["clients-0", "clients-1"].map((id) => node("clients", id));
    expect(await Promise.all(clients.map((client) => client.exited))).toEqual([0, 0]);
    expect(clients[0]?.stderr).toMatch(/\[clients-0\] workload done: 90 multicasts, 90 completed/);
    for (const replica of replicas) replica.child.kill("SIGTERM");
    expect(await Promise.all(replicas.map((replica) => replica.exited))).toEqual([0, 0, 0]);

    // Their traces share a clock (one machine, wall clock): merged, they pass the oracles.
    const events: TraceEvent[] = [];
    const files = ["a/0", "b/0", "c/0", "clients-0", "clients-1"].map((id) =>
      join(dir, `${encodeURIComponent(id)}.jsonl`),
    );
    mergeTraceFiles(files, (event) => events.push(event));
    expect(events.filter((event) => event.ev === "multicast")).toHaveLength(180);
    const report = checkRun(events, { liveness: true, realTime: false });
    expect(report.violations).toEqual([]);
    // The same with the commands a user runs.
    const merge = startCli("merge-traces", "--out", join(dir, "merged.jsonl"), ...files);
    expect(await merge.exited).toBe(0);
    expect(merge.stdout).toMatch(/merged\.jsonl: \d+ events from 5 file\(s\)/);
    const check = startCli("check", join(dir, "merged.jsonl"));
    expect(await check.exited).toBe(0);
    expect(check.stdout).toMatch(/hold/);
  });

  it("rejects a deployment that leaves a replica out, naming it", () => {
    const file = join(project, "bad-deployment.json");
    writeFileSync(
      file,
      JSON.stringify({
        kind: "deployment",
        experiment: "experiments/small.json",
        replicas: [{ id: "a/0", host: "127.0.0.1", port: 7000 }],
      }),
    );
    expect(() => loadDeploymentFile(file)).toThrow(
      /bad-deployment.json: replicas: misses replica\(s\) b\/0, c\/0/,
    );
  });
});

describe("Ctrl-C and bad keys on processes started by hand", () => {
  /**
   * A deployment of experiments/small.json (replicas a/0, b/0, c/0) on free ports and a secret,
   * with the replicas `ids` started from it (and listening).
   */
  async function smallCluster(
    name: string,
    ids: readonly string[],
  ): Promise<{ dir: string; file: string; replicas: Running[] }> {
    const dir = mkdtempSync(join(project, `${name}-`));
    const file = join(dir, "deployment.json");
    writeFileSync(join(dir, "cluster.secret"), randomBytes(32));
    const replicas = await replicasOnFreePorts(3, (ports) => {
      writeFileSync(
        file,
        JSON.stringify({
          kind: "deployment",
          experiment: "../experiments/small.json",
          replicas: ["a/0", "b/0", "c/0"].map((id, index) => ({ id, host: "127.0.0.1", port: ports[index] })),
        }),
      );
      return ids.map((id) =>
        startCli("replica", "--deployment", file, "--id", id, "--secret-file", join(dir, "cluster.secret")),
      );
    });
    return { dir, file, replicas };
  }

  it("a replica and a client host stop at the first SIGINT or SIGTERM while still connecting", {
    timeout: 60_000,
  }, async () => {
    // b/0 alone: it dials c/0, which never comes, and waits for a/0.
    const { dir, file, replicas } = await smallCluster("ctrl-c", ["b/0"]);
    const replica = replicas[0] as Running;
    const clients = startCli("clients", "--deployment", file, "--secret-file", join(dir, "cluster.secret"));
    await until(
      () => replica.stderr.includes("connecting to 2 replica(s)"),
      "the replica to start connecting",
    );
    await until(
      () => clients.stderr.includes("connecting to 3 replica(s)"),
      "the client host to start connecting",
    );
    // Retrying for a while, not just started.
    await new Promise((resolveWait) => setTimeout(resolveWait, 500));
    const signalledAt = Date.now();
    replica.child.kill("SIGINT");
    clients.child.kill("SIGTERM");
    // A replica's normal way to stop; a client host that did not run its workload did not finish.
    expect(await replica.exited).toBe(0);
    expect(await clients.exited).toBe(143);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(replica.stderr).toMatch(/\[b\/0\] SIGINT: stopping/);
    expect(clients.stderr).toMatch(/\[clients\] SIGTERM: stopping/);
  });

  it("amcast keys writes each Byzantine process's signing key and every public key; a replica without the right public keys refuses to start", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(project, "byzantine-keys-"));
    const ids = ["a/0", "a/1", "a/2", "a/3"];
    const file = join(dir, "deployment.json");
    const deployment = {
      kind: "deployment",
      experiment: "../experiments/byzantine-one.json",
      replicas: ids.map((id, index) => ({ id, host: "127.0.0.1", port: 7100 + index })),
    };
    writeFileSync(file, JSON.stringify(deployment));
    writeFileSync(join(dir, "cluster.secret"), randomBytes(32));
    const keys = startCli(
      "keys",
      "--deployment",
      file,
      "--secret-file",
      join(dir, "cluster.secret"),
      "--out",
      join(dir, "keys"),
    );
    expect(await keys.exited).toBe(0);
    const keyFile = join(dir, "keys", `${encodeURIComponent("a/1")}.keys.json`);
    expect(Object.keys(JSON.parse(readFileSync(keyFile, "utf8")).signing)).toEqual(["a/1"]);
    const { publicKeys } = JSON.parse(readFileSync(join(dir, "keys", "public-keys.json"), "utf8"));
    expect(Object.keys(publicKeys).sort()).toEqual([...ids, "c0"]);
    const replica = (): Running =>
      startCli("replica", "--deployment", file, "--id", "a/1", "--keys", keyFile);
    const missing = replica();
    expect(await missing.exited).not.toBe(0);
    expect(missing.stderr).toMatch(/deployment\.json: publicKeys: is missing/);
    // a/0's public key listed as a/1's: a/1's own signing key does not match it.
    writeFileSync(
      file,
      JSON.stringify({ ...deployment, publicKeys: { ...publicKeys, "a/1": publicKeys["a/0"] } }),
    );
    const mismatched = replica();
    expect(await mismatched.exited).not.toBe(0);
    expect(mismatched.stderr).toMatch(/publicKeys\.a\/1: does not match the signing key this node holds/);
  });

  it("a client host with a wrong keyring is told which replica refused it and why, and exits non-zero", {
    timeout: 60_000,
  }, async () => {
    const { dir, file, replicas } = await smallCluster("bad-keys", ["a/0", "b/0", "c/0"]);
    for (const replica of replicas)
      await until(() => replica.stderr.includes("connected to every replica"), "the replicas to connect");
    // The client host's keyring comes from another secret (an old one, or another cluster's).
    writeFileSync(join(dir, "other.secret"), randomBytes(32));
    const keys = startCli(
      "keys",
      "--deployment",
      file,
      "--secret-file",
      join(dir, "other.secret"),
      "--out",
      join(dir, "keys"),
    );
    expect(await keys.exited).toBe(0);
    const startedAt = Date.now();
    const clients = startCli(
      "clients",
      "--deployment",
      file,
      "--keys",
      join(dir, "keys", "clients.keys.json"),
    );
    expect(await clients.exited).toBe(70);
    expect(Date.now() - startedAt).toBeLessThan(20_000);
    // Which peer, and why; no "connecting..." for ever.
    expect(clients.stderr).toMatch(
      /\[clients\] fatal: the link to [abc]\/0 failed: [abc]\/0 refused the handshake: it could not authenticate clients \(the keyring of clients or of [abc]\/0 does not come from the cluster's secret/,
    );
    expect(clients.stderr).not.toMatch(/connected to every replica/);
    // The replicas said what they refused, and stay up for their peers.
    expect(replicas[0]?.stderr).toMatch(
      /refused a handshake from 127\.0\.0\.1:\d+: HELLO claiming to be clients has a wrong HMAC/,
    );
    expect(replicas.map((replica) => replica.child.exitCode)).toEqual([null, null, null]);
    for (const replica of replicas) replica.child.kill("SIGTERM");
    expect(await Promise.all(replicas.map((replica) => replica.exited))).toEqual([0, 0, 0]);
  });
});

/**
 * Writes DIR/deployment.json (experiments/one.json, its one replica a/0 on `port`, and `extra`)
 * and starts a/0 from it with the secret in DIR/cluster.secret.
 */
function loneReplica(dir: string, port: number, extra: object = {}): Running {
  writeFileSync(
    join(dir, "deployment.json"),
    JSON.stringify({
      kind: "deployment",
      experiment: "../experiments/one.json",
      replicas: [{ id: "a/0", host: "127.0.0.1", port }],
      ...extra,
    }),
  );
  return startCli(
    "replica",
    "--deployment",
    join(dir, "deployment.json"),
    "--id",
    "a/0",
    "--secret-file",
    join(dir, "cluster.secret"),
  );
}

describe("a replica whose port another process holds", () => {
  it("says so in one line and exits 2; the test's start then tries again on another port", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(project, "taken-"));
    writeFileSync(join(dir, "cluster.secret"), randomBytes(32));
    const holder = createServer();
    await new Promise<void>((resolveListen) => holder.listen(0, "127.0.0.1", resolveListen));
    const taken = (holder.address() as { port: number }).port;
    const attempts: Running[] = [];
    try {
      await replicasOnFreePorts(1, ([free]) => {
        const replica = loneReplica(dir, attempts.length === 0 ? taken : (free as number));
        attempts.push(replica);
        return [replica];
      });
    } finally {
      holder.close();
    }
    expect(attempts).toHaveLength(2);
    expect(await attempts[0]?.exited).toBe(2);
    expect(attempts[0]?.stderr).toBe(
      `amcast: ${relative(project, join(dir, "deployment.json"))}: replicas: a/0 cannot listen on 127.0.0.1:${taken} (EADDRINUSE)\n`,
    );
    const replica = attempts[1] as Running;
    replica.child.kill("SIGTERM");
    expect(await replica.exited).toBe(0);
  });
});

describe("a replica process facing bad frames", () => {
  it("drops garbage, a forged HELLO and an oversized frame, logs each, closes the connection and stays up", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(project, "bad-"));
    const secret = randomBytes(32);
    writeFileSync(join(dir, "cluster.secret"), secret);
    let port = 0;
    const [replica] = (await replicasOnFreePorts(1, ([free]) => {
      port = free as number;
      return [loneReplica(dir, port, { transport: { frameBytesMax: 65_536, batchBytesMax: 32_768 } })];
    })) as [Running];

    /** Connects, reads the challenge, sends `frame`, resolves once the replica closed the connection. */
    const attack = async (frame: (challenge: Buffer) => Buffer): Promise<void> => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
      const closed = new Promise<void>((resolveClose) => ws.on("close", () => resolveClose()));
      ws.on("error", () => {});
      const challenge = await new Promise<Buffer>((resolveMessage) =>
        ws.once("message", (data: Buffer) => resolveMessage(data)),
      );
      ws.send(frame(challenge));
      await closed;
    };
    const table = new NodeTable(
      loadDeploymentFile(join(dir, "deployment.json")).nodes.map(({ id, role, processes }) => ({
        id,
        role,
        processes,
      })),
    );
    const hello = (challenge: Buffer, key: Buffer, nonceDialer: Buffer): Buffer =>
      encodeHello(
        {
          from: "clients",
          to: "a/0",
          nonceAcceptor: decodeChallenge(challenge),
          nonceDialer,
          epoch: 1,
          received: 0,
          peerEpoch: 0,
          tableDigest: table.digest,
        },
        key,
      );

    await attack(() => randomBytes(300));
    await until(
      () => /dropped a frame from 127\.0\.0\.1:\d+: expected a HELLO frame/.test(replica.stderr),
      "the garbage to be logged",
    );
    await attack((challenge) => hello(challenge, randomBytes(32), randomBytes(NONCE_BYTES)));
    await until(
      () => replica.stderr.includes("HELLO claiming to be clients has a wrong HMAC"),
      "the forgery to be logged",
    );
    await attack(() => Buffer.alloc(100_000));
    await until(
      () => replica.stderr.includes("over frameBytesMax 65536"),
      "the oversized frame to be logged",
    );

    // Still up, and still talks to a node with the right key.
    expect(replica.child.exitCode).toBeNull();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    const messages: Buffer[] = [];
    ws.on("message", (data: Buffer) => messages.push(data));
    await until(() => messages.length === 1, "a challenge");
    const nonceAcceptor = decodeChallenge(messages[0] as Buffer);
    const nonceDialer = randomBytes(NONCE_BYTES);
    ws.send(hello(messages[0] as Buffer, deriveLinkKey(secret, "clients", "a/0"), nonceDialer));
    await until(() => messages.length === 2, "a welcome");
    const welcome = decodeWelcome(
      messages[1] as Buffer,
      deriveLinkKey(secret, "a/0", "clients"),
      nonceAcceptor,
    );
    expect(welcome.nonceDialer.equals(nonceDialer)).toBe(true);
    ws.terminate();
    replica.child.kill("SIGTERM");
    expect(await replica.exited).toBe(0);
  });
});

describe("a replica restarted by hand from its data directory", () => {
  for (const lost of [false, true])
    it(lost
      ? "killed with SIGKILL mid-workload and its data directory wiped: refused in a cluster that ran before, then started with --rejoin-empty it rejoins as a new incarnation that votes only once caught up; the oracles pass"
      : "killed with SIGKILL mid-workload and started again with the same command: it rebuilds itself from its journal, catches up, and the merged trace passes the oracles with it as a correct replica", {
      timeout: 120_000,
    }, async () => {
      const dir = mkdtempSync(join(project, "restart-"));
      let ports: number[] = [];
      const ids = ["a/0", "a/1", "a/2"];
      const file = join(dir, "deployment.json");
      const deploy = (clusterState: "new" | "existing"): void =>
        writeFileSync(
          file,
          JSON.stringify({
            kind: "deployment",
            experiment: "../experiments/restart-one.json",
            replicas: ids.map((id, index) => ({ id, host: "127.0.0.1", port: ports[index] })),
            storage: { fsync: "batch", clusterState },
          }),
        );
      writeFileSync(join(dir, "cluster.secret"), randomBytes(32));
      const traceOf = (id: string): string => join(dir, `${encodeURIComponent(id)}.jsonl`);
      const dataOf = (id: string): string => join(dir, `${encodeURIComponent(id)}.data`);
      const node = (command: string, id: string, ...extra: string[]): Running =>
        startCli(
          command,
          "--deployment",
          file,
          "--id",
          id,
          "--secret-file",
          join(dir, "cluster.secret"),
          "--trace",
          traceOf(id),
          ...(command === "replica" ? ["--data-dir", dataOf(id)] : []),
          ...extra,
        );
      const started = await replicasOnFreePorts(3, (free) => {
        ports = free;
        deploy("new");
        // What an attempt that lost a port wrote belongs to other ports (a journal is tied to them).
        for (const id of ids) {
          rmSync(dataOf(id), { recursive: true, force: true });
          rmSync(traceOf(id), { force: true });
        }
        return ids.map((id) => node("replica", id));
      });
      const replicas = new Map(ids.map((id, index) => [id, started[index] as Running]));
      const clients = node("clients", "clients");
      const delivered = (id: string): number => {
        try {
          return readFileSync(traceOf(id), "utf8").split('"ev":"deliver"').length - 1;
        } catch {
          return 0;
        }
      };
      // Mid-workload (the trace is written out every 200 ms): kill a/1, let the others go on.
      await until(() => delivered("a/1") >= 30, "a/1 to deliver 30 multicasts");
      const first = replicas.get("a/1") as Running;
      first.child.kill("SIGKILL");
      await first.exited;
      const killedAt = delivered("a/1");
      await new Promise((resolveWait) => setTimeout(resolveWait, 300));
      if (lost) {
        // Once the cluster has run, its operator says so (as etcd's initial cluster state).
        deploy("existing");
        rmSync(dataOf("a/1"), { recursive: true, force: true });
        const refused = node("replica", "a/1");
        expect(await refused.exited).not.toBe(0);
        expect(refused.stderr).toMatch(
          /--data-dir: .*a%2F1\.data holds no journal, and the deployment's storage.clusterState is "existing": .*start it with --rejoin-empty/,
        );
      }
      const again = node("replica", "a/1", ...(lost ? ["--rejoin-empty"] : []));
      replicas.set("a/1", again);
      expect(await clients.exited).toBe(0);
      expect(clients.stderr).toMatch(/workload done: 240 multicasts, 240 completed/);
      // The restarted replica caught up with the rest of its group: from its journal, or, with
      // nothing on disk, as a new incarnation its group brings up from the start of its log.
      const owed = lost ? killedAt + 240 : 240;
      await until(() => delivered("a/1") >= owed, "the restarted a/1 to deliver every multicast", 60_000);
      if (lost) expect(again.stderr).toMatch(/rejoining with an empty data directory: no hard state/);
      else {
        expect(again.stderr).toMatch(
          /journal in .*a%2F1\.data \(fsync batch\): decided positions, truncated at checkpoints; (\d+) position\(s\) to replay/,
        );
        const toReplay = Number(/(\d+) position\(s\) to replay/.exec(again.stderr)?.[1]);
        if (toReplay > 0) expect(again.stderr).toMatch(`replayed ${toReplay} decided position(s)`);
      }
      expect(killedAt).toBeLessThan(240);
      for (const replica of replicas.values()) replica.child.kill("SIGTERM");
      expect(await Promise.all([...replicas.values()].map((replica) => replica.exited))).toEqual([0, 0, 0]);
      const events: TraceEvent[] = [];
      mergeTraceFiles([...ids, "clients"].map(traceOf), (event) => events.push(event));
      // A journal: no fault event, so the oracles hold a/1 to everything a correct replica owes
      // (every multicast delivered once, in the group's order). Wiped: a new incarnation.
      expect(
        events.flatMap((event) => (event.ev === "fault" ? [`${event.proc} ${event.kind}`] : [])),
      ).toEqual(lost ? ["a/1 amnesia"] : []);
      const report = checkRun(events, { liveness: true, realTime: false });
      expect(report.violations).toEqual([]);
      const order = (id: string): unknown[] =>
        events.flatMap((event) => (event.ev === "deliver" && event.proc === id ? [event.id] : []));
      expect(order("a/1").slice(lost ? killedAt : 0)).toEqual(order("a/0"));
      expect(order("a/0")).toHaveLength(240);
      expect(order("a/2")).toEqual(order("a/0"));
    });
});
