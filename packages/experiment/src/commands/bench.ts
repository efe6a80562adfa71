import { join } from "node:path";
import type { Overlay, OverlayKind, Topology } from "@amcast/core";
import { checkOverlayAgainstTopology, parseOverlay } from "@amcast/core";
import { PROTOCOLS } from "@amcast/protocols";
import { findProjectRoot, readJson } from "@amcast/system";
import { runSummary, soloScenario } from "../run.js";
import type { ScenarioOutcome } from "../scenario.js";
import { runScenario } from "../scenario.js";
import { loadExperiment } from "../spec.js";
import { formatTable } from "../table.js";
import { NET_BENCH_OPTIONS, runNetBench } from "./bench-net.js";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

/** The experiment whose topology and workload shape the simulator benchmark uses. */
const BENCH_EXPERIMENT = "quickstart";

/** Overlays (under overlays/) for protocols the quickstart experiment does not run, by kind. */
const BENCH_OVERLAYS: Partial<Record<OverlayKind, string>> = { cdag: "aws-12-cdag-o1.json" };

function benchOverlay(root: string, kind: OverlayKind | null, topology: Topology): Overlay | null {
  const file = kind === null ? undefined : BENCH_OVERLAYS[kind];
  if (file === undefined) return null;
  const path = join(root, "overlays", file);
  const overlay = parseOverlay(readJson(path, "benchmark overlay"), path);
  checkOverlayAgainstTopology(overlay, topology, path);
  return overlay;
}

/**
 * `amcast bench [--multicasts N] [--repeat K] [--json]`: simulator speed. Runs every protocol on the
 * 12-region quickstart setup with at least N multicasts (default 120,000), without checking or
 * keeping the trace, K times (default 3), and reports the median simulated message events per
 * wall-clock second.
 */
export function runBenchCommand(args: string[]): number | Promise<number> {
  const { values } = parseCommandArgs(
    "bench",
    args,
    {
      multicasts: { type: "string" },
      repeat: { type: "string" },
      json: { type: "boolean" },
      ...NET_BENCH_OPTIONS,
    },
    0,
  );
  // `--runtime net`: the network runtime's benchmark (bench-net.ts).
  const runtime = stringFlag(values.runtime) ?? "sim";
  if (runtime === "net") return runNetBench(values);
  if (runtime !== "sim")
    throw new UsageError(`bench: --runtime is sim or net, got ${JSON.stringify(runtime)}`);
  const multicastsMin = integerFlag("bench", "multicasts", values.multicasts, 1, 100_000_000) ?? 120_000;
  const repeat = integerFlag("bench", "repeat", values.repeat, 1, 100) ?? 3;
  const root = findProjectRoot(process.cwd());
  const experiment = loadExperiment(join(root, "experiments", `${BENCH_EXPERIMENT}.json`));
  const base = experiment.workloads[0];
  if (base === undefined) throw new Error("the quickstart experiment has a workload");
  const clientsPerGroup = base.clientsPerGroup ?? 1;
  const groups = experiment.topology.groupIds.length;
  const workload = {
    ...base,
    name: "bench",
    multicastsPerClient: Math.ceil(multicastsMin / (clientsPerGroup * groups)),
  };

  const rows: (string | number)[][] = [];
  const runs: Record<string, unknown>[] = [];
  for (const protocol of PROTOCOLS) {
    const overlay =
      experiment.protocols.find((run) => run.protocol === protocol)?.overlay ??
      benchOverlay(root, protocol.overlayKind, experiment.topology);
    if (protocol.overlayKind !== null && overlay === null) continue;
    const outcomes: ScenarioOutcome[] = [];
    for (let index = 0; index < repeat; index += 1) {
      outcomes.push(
        runScenario(
          soloScenario(experiment, {
            label: `bench/${protocol.name}`,
            seed: 1,
            protocol,
            overlay,
            workload,
            check: false,
          }),
        ),
      );
    }
    outcomes.sort((a, b) => a.wallMs - b.wallMs);
    const median = outcomes[Math.floor(outcomes.length / 2)] as ScenarioOutcome;
    const eventsPerSec = (median.sim.messageEvents * 1000) / median.wallMs;
    const queueEventsPerSec = (median.sim.queueEvents * 1000) / median.wallMs;
    rows.push([
      protocol.name,
      median.metrics.multicasts,
      median.sim.messageEvents,
      median.sim.queueEvents,
      Math.round(median.wallMs),
      Math.round(eventsPerSec),
      Math.round(queueEventsPerSec),
      Math.round((median.metrics.multicasts * 1000) / median.wallMs),
    ]);
    runs.push({
      ...runSummary(median, "sim"),
      wallMsAll: outcomes.map((outcome) => Math.round(outcome.wallMs)),
      queueEventsPerSec: Math.round(queueEventsPerSec),
    });
  }
  process.stdout.write(
    `simulator benchmark: ${groups} groups (${experiment.topology.name}), ${clientsPerGroup} clients per group, median of ${repeat} run(s), no checking\n`,
  );
  process.stdout.write(
    `${formatTable(["protocol", "multicasts", "message events", "queue events", "wall ms", "message events/s", "queue events/s", "multicasts/s"], rows)}\n`,
  );
  if (values.json === true) process.stdout.write(`${JSON.stringify({ benchmark: "simulator", runs })}\n`);
  return 0;
}
