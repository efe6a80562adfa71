import { join, resolve } from "node:path";
import type { NetRunOptions } from "@amcast/runtime";
import { DEFAULT_NET_OPTIONS, NetRunError, refuseUnsupported } from "@amcast/runtime";
import { displayPath, signatureKind } from "@amcast/system";
import type { NetOutcome } from "../net-run.js";
import { runScenarioNet } from "../net-run.js";
import {
  checksText,
  kindsTable,
  reconfigLines,
  replayCommand,
  runNotes,
  runsTable,
  verdictLines,
} from "../report.js";
import { writeResults } from "../results.js";
import { experimentScenarios, runSummary } from "../run.js";
import type { ExperimentSpec } from "../spec.js";
import { formatTable } from "../table.js";
import { TraceFileWriter } from "../trace-file.js";
import { integerFlag, stringFlag } from "./usage.js";

/** Flags of `amcast experiment` that only the network runtime reads. */
export const NET_EXPERIMENT_OPTIONS = {
  runtime: { type: "string" },
  "client-hosts": { type: "string" },
  "no-latency": { type: "boolean" },
  "work-dir": { type: "string" },
  "time-limit-s": { type: "string" },
} as const;

export interface NetExperimentArgs {
  readonly experiment: ExperimentSpec;
  readonly name: string;
  readonly root: string;
  readonly seed: number | undefined;
  readonly traceFile: string | undefined;
  readonly recordSends: boolean;
  readonly json: boolean;
  readonly out: string | undefined;
  readonly values: Record<string, string | boolean | undefined>;
}

/**
 * `amcast experiment NAME --runtime net [--client-hosts N] [--no-latency] [--work-dir DIR]
 * [--time-limit-s S]`: every run of the experiment on real processes on this machine (one per
 * replica, plus client hosts), with the topology's delays injected in the transport unless
 * `--no-latency`; then the same tables, results and checks as on the simulator.
 */
export async function runNetExperiment(args: NetExperimentArgs): Promise<number> {
  const { experiment, values } = args;
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const clientHosts = integerFlag("experiment", "client-hosts", values["client-hosts"], 1, 64) ?? 1;
  const timeLimitS = integerFlag("experiment", "time-limit-s", values["time-limit-s"], 1, 86_400);
  const workDir = stringFlag(values["work-dir"]);
  const latencyEmulation = values["no-latency"] !== true;
  const outDir = resolve(args.out ?? join(args.root, "results", `${experiment.name}-net`));
  const writer = args.traceFile === undefined ? undefined : new TraceFileWriter(resolve(args.traceFile));
  const scenarios = experimentScenarios(experiment, {
    ...(args.seed === undefined ? {} : { seed: args.seed }),
    recordSends: args.recordSends,
    keepSamples: true,
    ...(writer === undefined ? {} : { onTrace: (event) => writer.write(event) }),
  });
  // Refuse what cannot run (faults the runtime cannot inject) before running anything.
  try {
    for (const scenario of scenarios) refuseUnsupported(scenario);
  } catch (error) {
    if (!(error instanceof NetRunError)) throw error;
    writer?.close();
    process.stderr.write(`amcast: ${error.message}\n`);
    return 1;
  }
  print(
    `amcast experiment ${experiment.name} on the network runtime: ${scenarios.length} run(s) on ${experiment.topology.name} ` +
      `(${experiment.topology.groupIds.length} groups), loopback, ${latencyEmulation ? "topology delays emulated in the transport" : "no latency emulation"}`,
  );

  // Ctrl-C (or a TERM) stops every node of the current run before this process exits.
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const outcomes: NetOutcome[] = [];
  try {
    for (const [index, scenario] of scenarios.entries()) {
      const options: NetRunOptions = {
        ...DEFAULT_NET_OPTIONS,
        clientHosts,
        latencyEmulation,
        ...(timeLimitS === undefined ? {} : { timeLimitMs: timeLimitS * 1000 }),
        ...(workDir === undefined ? {} : { workDir: join(resolve(workDir), `run-${index + 1}`) }),
        log: (line) => print(`  ${line}`),
        signal: abort.signal,
      };
      const outcome = await runScenarioNet(scenario, options);
      outcomes.push(outcome);
      print(netProgressLine(outcome, index, scenarios.length));
      // Interrupted mid-run: its nodes were stopped in order and traced; report what ran.
      if (abort.signal.aborted) break;
    }
  } catch (error) {
    if (error instanceof NetRunError) {
      process.stderr.write(
        `amcast: ${abort.signal.aborted ? "interrupted; every node was stopped" : error.message}\n`,
      );
      return abort.signal.aborted ? 130 : 1;
    }
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    writer?.close();
  }

  print("");
  print(runsTable(outcomes));
  const notes = runNotes(outcomes, "net");
  for (const note of notes) print(note);
  print("");
  print(
    "latency per kind of message (floor: max over destinations of the client's one-way delay; model: the protocol's message pattern)",
  );
  print(kindsTable(outcomes));
  const reconfig = reconfigLines(outcomes, experiment.reconfig?.firstGainPercentMin ?? null, "net");
  for (const line of reconfig.lines) print(line);
  print("");
  print(netTable(outcomes));

  const runs = outcomes.map((outcome) => ({
    ...runSummary(outcome, "net"),
    runtime: "net",
    net: netSummary(outcome),
  }));
  const summary = {
    experiment: experiment.name,
    runtime: "net",
    notes,
    seed: args.seed ?? experiment.seeds[0] ?? 1,
    seeds: args.seed === undefined ? experiment.seeds : [args.seed],
    runs,
  };
  const written = writeResults(outDir, summary, outcomes);
  print("");
  print(`results: ${displayPath(outDir)}/ (${written.join(", ")})`);
  if (writer !== undefined) print(`trace: ${displayPath(writer.file)} (${writer.lines} events)`);
  const verdict = verdictLines(
    outcomes,
    (outcome) =>
      `${replayCommand(args.name, outcome.spec.seed, args.traceFile ?? "trace.jsonl")} --runtime net`,
  );
  for (const line of reconfig.verdict) print(line);
  for (const line of verdict.lines) print(line);
  if (args.json) print(JSON.stringify(summary));
  if (abort.signal.aborted) {
    process.stderr.write(
      `amcast: interrupted in run ${outcomes.length} of ${scenarios.length}; every node was stopped\n`,
    );
    return 130;
  }
  return verdict.failed === 0 && reconfig.failed === 0 ? 0 : 1;
}

export function netProgressLine(outcome: NetOutcome, index: number, total: number): string {
  const { spec, metrics, net, sim } = outcome;
  const checks = checksText(outcome);
  const stop = sim.stoppedBy === "drained" ? "" : ` [stopped: ${sim.stoppedBy}]`;
  const signatures = signatureKind(spec, "net") === "ed25519" ? " (Ed25519 signatures)" : "";
  const killed =
    net.killed.length === 0 ? "" : ` (${net.killed.map((entry) => entry.proc).join(", ")} killed)`;
  const partitioned =
    net.partitions.length === 0 ? "" : ` (${net.partitions.length} partition(s) cut and healed)`;
  return (
    `[${index + 1}/${total}] ${spec.label} seed ${spec.seed}: ${metrics.multicasts} multicasts on ${net.nodes} processes${killed}${partitioned} in ` +
    `${(net.workloadMs / 1000).toFixed(1)} s (start-up ${(net.startupMs / 1000).toFixed(1)} s), ` +
    `${net.messagesPerFrame.toFixed(1)} messages/frame${signatures}; ${checks}${stop}`
  );
}

/** What the transport did in each run. */
export function netTable(outcomes: readonly NetOutcome[]): string {
  const header = [
    "run",
    "processes",
    "frames",
    "msgs/frame",
    "acks",
    "wire MB",
    "resent",
    "rejected",
    "lost conns",
    "congested",
    "partition-held",
    "signatures",
  ];
  const rows = outcomes.map(({ spec, net }) => [
    spec.label,
    net.nodes,
    net.dataFrames,
    net.messagesPerFrame,
    net.ackFrames,
    net.wireBytes / 1e6,
    net.framesResent,
    net.framesRejected,
    net.connectionsLost,
    net.congestionEpisodes,
    net.messagesHeldByPartition,
    signatureKind(spec, "net"),
  ]);
  return `transport (summed over processes)\n${formatTable(header, rows)}`;
}

export function netSummary(outcome: NetOutcome): Record<string, unknown> {
  const { net } = outcome;
  return {
    killed: net.killed,
    partitions: net.partitions,
    messagesHeldByPartition: net.messagesHeldByPartition,
    processes: net.nodes,
    dataFrames: net.dataFrames,
    messagesPerFrame: Math.round(net.messagesPerFrame * 100) / 100,
    ackFrames: net.ackFrames,
    wireBytes: net.wireBytes,
    framesResent: net.framesResent,
    framesRejected: net.framesRejected,
    connectionsLost: net.connectionsLost,
    congestionEpisodes: net.congestionEpisodes,
    logicErrors: net.logicErrors,
    cpuMsReplicas: Math.round(net.cpuMsReplicas),
    cpuMsClients: Math.round(net.cpuMsClients),
    workloadMs: Math.round(net.workloadMs),
    startupMs: Math.round(net.startupMs),
  };
}
