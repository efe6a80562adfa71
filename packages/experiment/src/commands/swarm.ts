import { resolve } from "node:path";
import { formatReport } from "@amcast/check";
import { InputError, listNames } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { REPLICATION_MODES } from "@amcast/group";
import { PROTOCOLS, protocolByName } from "@amcast/protocols";
import { realTimeViolations, runFailed, runScenario } from "../scenario.js";
import { swarmCase } from "../swarm.js";
import { TraceFileWriter } from "../trace-file.js";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

/**
 * `amcast swarm [--protocol NAME] [--seed N] [--seeds COUNT] [--trace FILE] [--linearizable]
 * [--real-time] [--reconfigure] [--delayed] [--mode solo|crash|byzantine] [--params JSON]`: runs
 * swarm seeds (the same cases `pnpm test` runs) and prints each failure with the command that
 * replays it. `--delayed` gives every seed a delayed network; `--mode` keeps seeds to one
 * replication mode; `--params` gives every case the protocol parameters an experiment's protocol
 * entry would (e.g. `'{"notifications":"chain"}'` for FlexCast).
 */
export function runSwarmCommand(args: string[]): number {
  const { values } = parseCommandArgs(
    "swarm",
    args,
    {
      protocol: { type: "string" },
      seed: { type: "string" },
      seeds: { type: "string" },
      trace: { type: "string" },
      "real-time": { type: "boolean" },
      linearizable: { type: "boolean" },
      reconfigure: { type: "boolean" },
      delayed: { type: "boolean" },
      mode: { type: "string" },
      params: { type: "string" },
    },
    0,
  );
  const paramsText = stringFlag(values.params);
  let params: unknown;
  if (paramsText !== undefined) {
    try {
      params = JSON.parse(paramsText);
    } catch {
      throw new UsageError(`swarm: --params is a JSON object, got ${JSON.stringify(paramsText)}`);
    }
  }
  const delayedNetwork = values.delayed === true;
  const mode = stringFlag(values.mode);
  if (mode !== undefined && !(REPLICATION_MODES as readonly string[]).includes(mode))
    throw new UsageError(
      `swarm: --mode is one of ${listNames(REPLICATION_MODES)}, got ${JSON.stringify(mode)}`,
    );
  const modes = mode === undefined ? REPLICATION_MODES : [mode as ReplicationMode];
  const reconfigure = values.reconfigure === true;
  const protocols = (
    values.protocol === undefined ? PROTOCOLS : [protocolByName(values.protocol, "swarm", "--protocol")]
  ).filter((protocol) => !reconfigure || protocol.overlayKind !== null);
  if (protocols.length === 0)
    throw new UsageError(`swarm: --reconfigure needs a protocol with an overlay (${values.protocol})`);
  const first = integerFlag("swarm", "seed", values.seed, 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const count =
    integerFlag("swarm", "seeds", values.seeds, 1, 1_000_000) ?? (values.seed === undefined ? 100 : 1);
  const traceFile = stringFlag(values.trace);
  if (traceFile !== undefined && count !== 1)
    throw new UsageError("swarm: --trace writes one seed's trace; give --seed N without --seeds");
  const linearizable = values.linearizable === true;
  // Linearizable runs always check real-time order; plain runs on request, to count how often
  // classic multicast breaks it (which it may).
  const realTime = values["real-time"] === true || linearizable;
  let failures = 0;
  const realTimeSeeds = new Map<string, number>();
  // Per delayed network: seeds owing liveness that drew it, how many drained, the longest run.
  const delayedRuns = new Map<string, { seeds: number; drained: number; longestMs: number }>();
  for (const protocol of protocols) {
    const name = `${protocol.name}${linearizable ? "+lin" : ""}${reconfigure ? "+reconf" : ""}`;
    realTimeSeeds.set(name, 0);
    for (let seed = first; seed < first + count; seed += 1) {
      const writer = traceFile === undefined ? undefined : new TraceFileWriter(resolve(traceFile));
      const {
        description,
        scenario: drawn,
        delayedNetwork: delay,
      } = swarmCase(protocol, seed, {
        crashes: true,
        realTime,
        linearizable,
        reconfigure,
        delayedNetwork,
        modes,
        recordSends: writer !== undefined,
        ...(writer === undefined ? {} : { onTrace: (event) => writer.write(event) }),
      });
      const scenario = params === undefined ? drawn : { ...drawn, params };
      const flags = `${paramsText === undefined ? "" : ` --params '${paramsText}'`}${linearizable ? " --linearizable" : ""}${reconfigure ? " --reconfigure" : ""}${delayedNetwork ? " --delayed" : ""}${mode === undefined ? "" : ` --mode ${mode}`}`;
      const replay = `pnpm run swarm --protocol ${protocol.name}${flags} --seed ${seed} --trace swarm-${seed}.jsonl`;
      let outcome: ReturnType<typeof runScenario>;
      try {
        outcome = runScenario(scenario);
      } catch (error) {
        writer?.close();
        // Bad --params: one line, not a failure per seed.
        if (error instanceof InputError) throw error;
        // An invariant broke inside a protocol, the group layer or the simulator: a bug.
        failures += 1;
        process.stdout.write(
          `${name} seed ${seed}: ${description}\n  crashed: ${(error as Error).stack ?? String(error)}\n  replay: ${replay}\n`,
        );
        continue;
      }
      writer?.close();
      // A solo group loses what reaches it while down: such a run owes safety only.
      const owesLiveness = scenario.mode !== "solo" || scenario.faults.crashes.length === 0;
      if (delay !== null && owesLiveness) {
        const key = `${delay.percent}% up to ${delay.extraDelayMsMax} ms`;
        const runs = delayedRuns.get(key) ?? { seeds: 0, drained: 0, longestMs: 0 };
        runs.seeds += 1;
        if (outcome.sim.stoppedBy === "drained") runs.drained += 1;
        runs.longestMs = Math.max(runs.longestMs, outcome.sim.endMs);
        delayedRuns.set(key, runs);
      }
      // The same verdict `amcast check` reaches on this run's trace (both read its stop event).
      const failed = runFailed(outcome);
      if (!linearizable && realTimeViolations(outcome) > 0)
        realTimeSeeds.set(name, (realTimeSeeds.get(name) ?? 0) + 1);
      if (failed || count === 1) {
        process.stdout.write(`${name} seed ${seed}: ${description}\n`);
        process.stdout.write(
          `  ${outcome.metrics.multicasts} multicasts, ${outcome.metrics.delivered} delivered, stopped: ${outcome.sim.stoppedBy}\n`,
        );
        if (outcome.check !== null) process.stdout.write(`${formatReport(outcome.check)}\n`);
      }
      if (failed) {
        failures += 1;
        process.stdout.write(`  replay: ${replay}\n`);
      }
    }
  }
  const names = [...realTimeSeeds.keys()];
  process.stdout.write(
    `swarm: ${protocols.length * count} case(s) of ${listNames(names)}, ${failures} failed\n`,
  );
  if (delayedRuns.size > 0) {
    process.stdout.write(
      "  delayed networks (share of messages held back, by up to), seeds owing liveness:\n",
    );
    const levels = [...delayedRuns].sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));
    for (const [key, runs] of levels) {
      process.stdout.write(
        `    ${key}: ${runs.seeds} seed(s), ${runs.drained} drained, longest run ${(runs.longestMs / 1000).toFixed(1)} s simulated\n`,
      );
    }
  }
  if (realTime && !linearizable) {
    for (const [name, seeds] of realTimeSeeds) {
      process.stdout.write(
        `  ${name}: real-time order broken on ${seeds} of ${count} seeds (classic multicast does not promise it)\n`,
      );
    }
  }
  return failures === 0 ? 0 : 1;
}
