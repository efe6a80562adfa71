import { join, resolve } from "node:path";
import { parseTrace } from "@amcast/core";
import type { NetRunOptions } from "@amcast/runtime";
import { DEFAULT_NET_OPTIONS, NetRunError, refuseUnsupported } from "@amcast/runtime";
import { displayPath, readText, signatureKind } from "@amcast/system";
import type { MulticastTrace } from "../explain.js";
import type { NetOutcome } from "../net-run.js";
import { netSummary, runScenarioNet } from "../net-run.js";
import type { RunRecord } from "../record.js";
import { recordOf } from "../record.js";
import { kindsTableData, runNotes, runsTableData, tableText, verdictLines } from "../record-tables.js";
import { checksText, reconfigLines, replayCommand } from "../report.js";
import type { ReportSection } from "../report-html.js";
import { linesSections, writeReport } from "../report-html.js";
import { planRuns, runSummary } from "../run.js";
import type { ExperimentSpec } from "../spec.js";
import type { ResultsStore } from "../store.js";
import { formatTable } from "../table.js";
import { TraceFileWriter } from "../trace-file.js";
import { explainWanted, multicastFromTrace, traceRuns } from "../trace-report.js";
import { fsyncFlag, integerFlag, stringFlag, UsageError } from "./usage.js";

/** Flags of `amcast experiment` that only the network runtime reads. */
export const NET_EXPERIMENT_OPTIONS = {
  runtime: { type: "string" },
  "client-hosts": { type: "string" },
  "no-latency": { type: "boolean" },
  "work-dir": { type: "string" },
  "time-limit-s": { type: "string" },
  fsync: { type: "string" },
  "keep-journal": { type: "boolean" },
} as const;

export interface NetExperimentArgs {
  readonly experiment: ExperimentSpec;
  readonly name: string;
  /** The result directory, made (or opened with --resume) before anything runs. */
  readonly store: ResultsStore;
  readonly seed: number | undefined;
  readonly traceFile: string | undefined;
  readonly recordSends: boolean;
  readonly explain: string | undefined;
  readonly json: boolean;
  readonly values: Record<string, string | boolean | undefined>;
}

/**
 * `amcast experiment NAME --runtime net [--client-hosts N] [--no-latency] [--work-dir DIR]
 * [--time-limit-s S] [--fsync batch|interval|none] [--keep-journal]`: every run of the experiment on real processes on this machine (one per
 * replica, plus client hosts), with the topology's delays injected in the transport unless
 * `--no-latency`; each run kept the moment it ends, in the same result directory, tables and
 * report as on the simulator (plus what the transport did). `--fsync` gives every replica a
 * data directory and journals what it decides there with that policy, truncated at the group's
 * checkpoints (a fault plan whose crashes recover gets one with `batch` anyway: the restarted
 * replica rebuilds itself from it). `--keep-journal` journals every input instead and keeps the
 * whole journal (a restart replays all of it).
 */
export async function runNetExperiment(args: NetExperimentArgs): Promise<number> {
  const { experiment, store, values } = args;
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  const clientHosts = integerFlag("experiment", "client-hosts", values["client-hosts"], 1, 64) ?? 1;
  const timeLimitS = integerFlag("experiment", "time-limit-s", values["time-limit-s"], 1, 86_400);
  const workDir = stringFlag(values["work-dir"]);
  const latencyEmulation = values["no-latency"] !== true;
  const fsync = fsyncFlag("experiment", values.fsync);
  const keepJournal = values["keep-journal"] === true;
  const writer = args.traceFile === undefined ? undefined : new TraceFileWriter(resolve(args.traceFile));
  const plan = planRuns(experiment, {
    ...(args.seed === undefined ? {} : { seed: args.seed }),
    recordSends: args.recordSends,
    keepSamples: true,
    ...(writer === undefined ? {} : { onTrace: (event) => writer.write(event) }),
  });
  // Refuse what cannot run (faults the runtime cannot inject) before running anything.
  try {
    for (const run of plan) refuseUnsupported(run.spec);
  } catch (error) {
    if (!(error instanceof NetRunError)) throw error;
    writer?.close();
    process.stderr.write(`amcast: ${error.message}\n`);
    return 1;
  }
  const todo = plan.filter((run) => !store.has(run.index, run.spec.label));
  print(
    `amcast experiment ${experiment.name} on the network runtime: ${plan.length} run(s) on ${experiment.topology.name} ` +
      `(${experiment.topology.groupIds.length} groups), loopback, ${latencyEmulation ? "topology delays emulated in the transport" : "no latency emulation"}`,
  );
  if (todo.length < plan.length)
    print(
      `resuming ${displayPath(store.dir)}: ${plan.length - todo.length} run(s) already done, ${todo.length} to run`,
    );

  // Ctrl-C (or a TERM) stops every node of the current run before this process exits.
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  let interrupted = 0;
  let unfinished: RunRecord | undefined;
  const outcomes: NetOutcome[] = [];
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    for (const run of todo) {
      const options: NetRunOptions = {
        ...DEFAULT_NET_OPTIONS,
        clientHosts,
        latencyEmulation,
        ...(timeLimitS === undefined ? {} : { timeLimitMs: timeLimitS * 1000 }),
        ...(fsync === undefined && !keepJournal
          ? {}
          : { storage: { fsync: fsync ?? "batch", ...(keepJournal ? { truncate: false } : {}) } }),
        ...(workDir === undefined ? {} : { workDir: join(resolve(workDir), `run-${run.index + 1}`) }),
        log: (line) => print(`  ${line}`),
        signal: abort.signal,
      };
      let outcome: NetOutcome;
      try {
        outcome = await runScenarioNet(run.spec, options);
      } catch (error) {
        if (!(error instanceof NetRunError && abort.signal.aborted)) throw error;
        // Interrupted while its nodes started: every one was stopped; report the runs kept.
        interrupted = run.index + 1;
        print(`not kept: ${run.spec.label} was interrupted while its nodes started (--resume runs it)`);
        break;
      }
      print(netProgressLine(outcome, run.index, plan.length));
      const record = recordOf(run, outcome, {
        ...runSummary(outcome, "net"),
        runtime: "net",
        net: netSummary(outcome),
      });
      if (abort.signal.aborted) {
        // Its nodes were stopped in order and traced, but it did not finish: the tables show
        // it (it does not pass), the results do not keep it (--resume runs it again).
        interrupted = run.index + 1;
        unfinished = record;
        print(`not kept: ${run.spec.label} did not finish (--resume runs it again)`);
        break;
      }
      // Written now: an interrupted experiment keeps every run it finished.
      store.add(record);
      outcomes.push(outcome);
    }
  } catch (error) {
    if (error instanceof NetRunError) {
      process.stderr.write(
        `amcast: ${error.message}\namcast: ${store.records.length} run(s) kept in ${displayPath(store.dir)} (--resume goes on)\n`,
      );
      return 1;
    }
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    writer?.close();
  }
  const records = store.records;
  // What ran, for the console: the kept runs and the one interrupted, if any.
  const ran = unfinished === undefined ? records : [...records, unfinished];

  print("");
  print(tableText(runsTableData(ran)));
  const notes = runNotes(ran);
  for (const note of notes) print(note);
  print("");
  print(
    "latency per kind of message (floor: max over destinations of the client's one-way delay; model: the protocol's message pattern)",
  );
  print(tableText(kindsTableData(ran)));
  // The reconfiguration tables need full outcomes: this invocation's finished runs.
  const reconfig = reconfigLines(outcomes, experiment.reconfig?.firstGainPercentMin ?? null, "net");
  for (const line of reconfig.lines) print(line);
  print("");
  print(TRANSPORT_TITLE);
  print(netTable(ran));

  const sequence = writer === undefined ? null : sequenceFromTrace(writer.file, args.explain);
  const sections: ReportSection[] = [
    ...linesSections(reconfig.lines, []),
    { title: TRANSPORT_TITLE, text: netTable(records) },
  ];
  const files = writeReport(store.dir, {
    header: store.reportHeader(
      `network runtime (real processes on this machine, ${latencyEmulation ? "topology delays emulated" : "no latency emulation"})`,
    ),
    records,
    sections,
    sequence,
  });
  const summary = {
    experiment: experiment.name,
    runtime: "net",
    seed: args.seed ?? experiment.seeds[0] ?? 1,
    seeds: args.seed === undefined ? experiment.seeds : [args.seed],
    results: store.dir,
    notes: runNotes(records),
    runs: records.map((record) => record.summary),
  };
  print("");
  const figures = files.filter((file) => file.endsWith(".svg")).length;
  print(
    `results: ${displayPath(store.dir)}/ (summary.json, runs.csv, kinds.csv, samples.csv, ${figures} figures with their data)`,
  );
  print(`report: ${displayPath(join(store.dir, "index.html"))}`);
  if (writer !== undefined) print(`trace: ${displayPath(writer.file)} (${writer.lines} events)`);
  const verdict = verdictLines(
    ran,
    (record) => `${replayCommand(args.name, record.seed, args.traceFile ?? "trace.jsonl")} --runtime net`,
  );
  for (const line of reconfig.verdict) print(line);
  for (const line of reconfig.verdict) print(line);
  for (const line of verdict.lines) print(line);
  if (args.json) print(JSON.stringify(summary));
  if (abort.signal.aborted) {
    process.stderr.write(
      `amcast: interrupted ${interrupted > 0 ? `in run ${interrupted}` : "between runs"} of ${plan.length}; every node was stopped; ${records.length} run(s) kept (--resume goes on)\n`,
    );
    return 130;
  }
  return verdict.failed === 0 && reconfig.failed === 0 ? 0 : 1;
}

/**
 * The explained multicast (`--explain`, or the slowest), read back from the trace this
 * invocation wrote: real processes cannot replay a run as the simulator does.
 */
function sequenceFromTrace(file: string, explain: string | undefined): MulticastTrace | null {
  const runs = traceRuns(parseTrace(readText(file, "trace file"), displayPath(file)));
  const sequence = multicastFromTrace(runs, explainWanted(explain)) ?? null;
  if (explain !== undefined && sequence === null)
    throw new UsageError(`experiment: --explain: the trace has no multicast ${JSON.stringify(explain)}`);
  return sequence;
}

export function netProgressLine(outcome: NetOutcome, index: number, total: number): string {
  const { spec, metrics, net, sim } = outcome;
  const checks = checksText(outcome);
  const stop = sim.stoppedBy === "drained" ? "" : ` [stopped: ${sim.stoppedBy}]`;
  const signatures = signatureKind(spec, "net") === "ed25519" ? " (Ed25519 signatures)" : "";
  const restarted = net.recovered.length === 0 ? "" : `, ${net.recovered.length} restarted`;
  const killed =
    net.killed.length === 0
      ? ""
      : ` (${net.killed.map((entry) => entry.proc).join(", ")} killed${restarted})`;
  const partitioned =
    net.partitions.length === 0 ? "" : ` (${net.partitions.length} partition(s) cut and healed)`;
  return (
    `[${index + 1}/${total}] ${spec.label} seed ${spec.seed}: ${metrics.multicasts} multicasts on ${net.nodes} processes${killed}${partitioned} in ` +
    `${(net.workloadMs / 1000).toFixed(1)} s (start-up ${(net.startupMs / 1000).toFixed(1)} s), ` +
    `${net.messagesPerFrame.toFixed(1)} messages/frame${signatures}; ${checks}${stop}`
  );
}

const TRANSPORT_TITLE = "transport (summed over processes)";

/** What the transport did in each run, from the runs' records. */
export function netTable(records: readonly RunRecord[]): string {
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
    "sched ms",
    "signatures",
  ];
  const rows = records.map(({ label, summary }) => {
    const net = summary.net;
    return net === undefined
      ? [label, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", summary.signatures]
      : [
          label,
          net.processes,
          net.dataFrames,
          net.messagesPerFrame,
          net.ackFrames,
          net.wireBytes / 1e6,
          net.framesResent,
          net.framesRejected,
          net.connectionsLost,
          net.congestionEpisodes,
          net.messagesHeldByPartition,
          net.schedulingDelayMs,
          summary.signatures,
        ];
  });
  return formatTable(header, rows);
}
