import { DEFAULT_NET_OPTIONS, NetRunError } from "@amcast/runtime";
import type { ParityCase, ParityResult } from "../parity.js";
import {
  cpuShare,
  DEFAULT_PARITY_OPTIONS,
  fullParityMatrix,
  notComparedBecause,
  PARITY_TEST_CASES,
  PARITY_TOLERANCE,
  parityTable,
  quantileMs,
  REPORTED_QUANTILES,
  runParity,
} from "../parity.js";
import { integerFlag, parseCommandArgs, UsageError } from "./usage.js";

/**
 * `amcast parity [--full] [--seed N] [--multicasts N] [--json]`: runs parity cases on both
 * runtimes (the six `pnpm test` runs, or with `--full` every protocol in every mode, plain and
 * linearizable) and prints, per case, the properties, the deliveries and p50/p90/p99 on both
 * runtimes with their differences. Exit 1 when a case disagrees beyond the tolerance.
 */
export async function runParityCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    "parity",
    args,
    {
      full: { type: "boolean" },
      seed: { type: "string" },
      multicasts: { type: "string" },
      json: { type: "boolean" },
    },
    0,
  );
  const seed =
    integerFlag("parity", "seed", values.seed, 0, Number.MAX_SAFE_INTEGER) ?? DEFAULT_PARITY_OPTIONS.seed;
  const multicastsPerClient =
    integerFlag("parity", "multicasts", values.multicasts, 1, 100_000) ??
    DEFAULT_PARITY_OPTIONS.multicastsPerClient;
  const cases: readonly ParityCase[] = values.full === true ? fullParityMatrix() : PARITY_TEST_CASES;
  const print = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  print(
    `amcast parity: ${cases.length} case(s), seed ${seed}, ${multicastsPerClient} multicasts per client; ` +
      `quantiles p10-p90 must agree within ${PARITY_TOLERANCE.absoluteMs} ms + ${PARITY_TOLERANCE.relative * 100}%`,
  );
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once("SIGINT", onSignal);
  const results: ParityResult[] = [];
  try {
    for (const [index, parity] of cases.entries()) {
      const result = await runParity(
        parity,
        { ...DEFAULT_NET_OPTIONS, timeLimitMs: 120_000, signal: abort.signal },
        { seed, multicastsPerClient },
      );
      results.push(result);
      const delay = `${result.net.outcome.net.schedulingDelayMs.mean.toFixed(1)} ms (nodes ${result.net.outcome.net.nodeSchedulingDelayMs.mean.toFixed(1)} ms)`;
      const share = (100 * cpuShare(result.net.outcome)).toFixed(0);
      const compared = result.quantilesCompared
        ? `quantiles compared: scheduling delay ${delay}, the run's processes used ${share}% of the cores`
        : `quantiles NOT compared: ${notComparedBecause(result)}`;
      print(
        `[${index + 1}/${cases.length}] ${result.label}: ${result.problems.length === 0 ? "the runtimes agree" : result.problems.join("; ")} (${compared})`,
      );
    }
  } catch (error) {
    if (error instanceof NetRunError && abort.signal.aborted) {
      process.stderr.write("amcast: interrupted; every node was stopped\n");
      return 130;
    }
    throw error;
  } finally {
    process.removeListener("SIGINT", onSignal);
  }
  print("");
  print(parityTable(results));
  const disagreeing = results.filter((result) => result.problems.length > 0).length;
  print("");
  print(
    disagreeing === 0
      ? `parity: the runtimes agree on all ${results.length} case(s)`
      : `parity: ${disagreeing} of ${results.length} case(s) disagree`,
  );
  if (values.json === true)
    print(
      JSON.stringify({
        parity: results.map(({ label, sim, net, problems }) => ({
          label,
          owed: sim.outcome.check?.owed ?? null,
          passed: { sim: sim.outcome.check?.passed ?? null, net: net.outcome.check?.passed ?? null },
          delivered: { sim: sim.delivered.size, net: net.delivered.size },
          quantilesMs: {
            sim: Object.fromEntries(
              REPORTED_QUANTILES.map((fraction) => [
                `p${Math.round(fraction * 100)}`,
                quantileMs(sim, fraction),
              ]),
            ),
            net: Object.fromEntries(
              REPORTED_QUANTILES.map((fraction) => [
                `p${Math.round(fraction * 100)}`,
                quantileMs(net, fraction),
              ]),
            ),
          },
          problems,
        })),
      }),
    );
  if (cases.length === 0) throw new UsageError("parity: no case to run");
  return disagreeing === 0 ? 0 : 1;
}
