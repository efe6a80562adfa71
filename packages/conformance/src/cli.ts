#!/usr/bin/env node
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ProtocolDefinition } from "@amcast/core";
import { describeValue, InputError, listNames } from "@amcast/core";
import { PROTOCOLS, protocolByName, TraceFileWriter } from "@amcast/experiment";
import type { ReplicationMode } from "@amcast/group";
import { REPLICATION_MODES } from "@amcast/group";
import type { DelayedSwarm, PropertyCase } from "./suite.js";
import {
  CASE_SEEDS,
  DELAYED_SWARM_SEEDS,
  LINEARIZABLE_CASE_SEEDS,
  LINEARIZABLE_SWARM_SEEDS,
  PROPERTY_CASES,
  RECONFIG_SWARM_FOUND_SEEDS,
  RECONFIG_SWARM_SEEDS,
  runPropertyCase,
  SWARM_SEEDS,
  swarmFailures,
  swarmSeeds,
} from "./suite.js";

const USAGE = `usage: pnpm run conformance [--protocol NAME] [--case ID] [--mode MODE] [--seed N]
                             [--linearizable] [--trace FILE] [--no-swarm] [--params JSON]
  Runs what pnpm test runs for a protocol (all of them without --protocol): every case of the
  shared property suite in every mode, plain and linearizable, then its swarm seeds. Rebuilds
  what changed first. --case, --mode, --seed and --linearizable narrow it to some runs of the
  property suite (--trace FILE writes the trace of one run); --no-swarm skips the swarm.
  --params gives every run the protocol parameters an experiment's protocol entry would
  (e.g. --protocol flexcast --params '{"notifications":"chain"}').
  cases: ${PROPERTY_CASES.map((propertyCase) => propertyCase.id).join(", ")}`;

function choose<T extends { readonly id: string }>(items: readonly T[], id: string, flag: string): T {
  const found = items.find((item) => item.id === id);
  if (found === undefined)
    throw new InputError(
      "conformance",
      flag,
      `unknown ${describeValue(id)} (known: ${listNames(items.map((item) => item.id))})`,
    );
  return found;
}

function seconds(startedMs: number): string {
  return `${((performance.now() - startedMs) / 1000).toFixed(1)} s`;
}

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      protocol: { type: "string" },
      case: { type: "string" },
      mode: { type: "string" },
      seed: { type: "string" },
      linearizable: { type: "boolean", default: false },
      trace: { type: "string" },
      "no-swarm": { type: "boolean", default: false },
      params: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const protocols: readonly ProtocolDefinition<unknown>[] =
    values.protocol === undefined
      ? PROTOCOLS
      : [protocolByName(values.protocol, "conformance", "--protocol")];
  let params: unknown;
  if (values.params !== undefined) {
    try {
      params = JSON.parse(values.params);
    } catch {
      throw new InputError("conformance", "--params", `expected JSON, got ${describeValue(values.params)}`);
    }
  }
  const cases: readonly PropertyCase[] =
    values.case === undefined ? PROPERTY_CASES : [choose(PROPERTY_CASES, values.case, "--case")];
  let seed: number | undefined;
  if (values.seed !== undefined) {
    seed = /^\d+$/.test(values.seed) ? Number(values.seed) : Number.NaN;
    if (!Number.isSafeInteger(seed))
      throw new InputError(
        "conformance",
        "--seed",
        `expected a whole number, got ${describeValue(values.seed)}`,
      );
  }
  const mode = values.mode as ReplicationMode | undefined;
  if (mode !== undefined && !REPLICATION_MODES.includes(mode))
    throw new InputError(
      "conformance",
      "--mode",
      `expected ${listNames(REPLICATION_MODES)}, got ${describeValue(values.mode)}`,
    );
  const modesOf = (propertyCase: PropertyCase): readonly ReplicationMode[] => {
    if (mode === undefined) return propertyCase.modes;
    if (propertyCase.modes.includes(mode)) return [mode];
    if (values.case === undefined) return [];
    throw new InputError(
      "conformance",
      "--mode",
      `case ${propertyCase.id} runs in ${listNames(propertyCase.modes)}, got ${describeValue(mode)}`,
    );
  };
  // Narrowed to property runs: the plain variant unless --linearizable; the swarm only when asked
  // for a whole protocol.
  const narrowed = values.case !== undefined || values.mode !== undefined || seed !== undefined;
  const variants = values.linearizable ? [true] : narrowed ? [false] : [false, true];
  const runs = protocols.flatMap((protocol) =>
    variants.flatMap((linearizable) =>
      cases.flatMap((propertyCase) =>
        modesOf(propertyCase).flatMap((caseMode) =>
          (seed === undefined ? (linearizable ? LINEARIZABLE_CASE_SEEDS : CASE_SEEDS) : [seed]).map(
            (runSeed) => ({ protocol, propertyCase, mode: caseMode, seed: runSeed, linearizable }),
          ),
        ),
      ),
    ),
  );
  if (values.trace !== undefined && runs.length !== 1)
    throw new InputError(
      "conformance",
      "--trace",
      `writes the trace of one run; --case, --mode and --seed select ${runs.length}`,
    );

  let failed = 0;
  for (const run of runs) {
    const started = performance.now();
    const writer = values.trace === undefined ? undefined : new TraceFileWriter(resolve(values.trace));
    const { problems } = runPropertyCase(
      run.protocol,
      run.propertyCase,
      run.mode,
      run.seed,
      run.linearizable,
      writer === undefined ? undefined : (event) => writer.write(event),
      params,
    );
    writer?.close();
    const variant = run.linearizable ? " linearizable" : "";
    const what = `${run.protocol.name}${variant} ${run.mode} ${run.propertyCase.id} seed ${run.seed}`;
    process.stdout.write(`${problems.length === 0 ? "ok  " : "FAIL"} ${what} (${seconds(started)})\n`);
    for (const line of problems) process.stdout.write(`${line.replace(/^/gm, "     ")}\n`);
    if (problems.length > 0) failed += 1;
    if (writer !== undefined) process.stdout.write(`trace: ${writer.file} (${writer.lines} events)\n`);
  }

  let swarms = 0;
  if (!narrowed && !values["no-swarm"]) {
    for (const protocol of protocols) {
      const variantsOf: {
        name: string;
        seeds: readonly number[];
        linearizable: boolean;
        reconfigure: boolean;
        delayed?: DelayedSwarm;
      }[] = [
        { name: "swarm", seeds: swarmSeeds(SWARM_SEEDS), linearizable: false, reconfigure: false },
        ...(["crash", "byzantine"] as const).map((mode) => ({
          name: `swarm, delayed network, ${mode} mode`,
          seeds: swarmSeeds(DELAYED_SWARM_SEEDS),
          linearizable: false,
          reconfigure: false,
          delayed: { mode },
        })),
        {
          name: "swarm, linearizable",
          seeds: swarmSeeds(LINEARIZABLE_SWARM_SEEDS),
          linearizable: true,
          reconfigure: false,
        },
        ...(protocol.overlayKind === null
          ? []
          : [
              {
                name: "swarm, reconfiguring",
                seeds: swarmSeeds(RECONFIG_SWARM_SEEDS, RECONFIG_SWARM_FOUND_SEEDS),
                linearizable: false,
                reconfigure: true,
              },
              {
                name: "swarm, reconfiguring, linearizable",
                seeds: swarmSeeds(RECONFIG_SWARM_SEEDS, RECONFIG_SWARM_FOUND_SEEDS),
                linearizable: true,
                reconfigure: true,
              },
            ]),
      ];
      for (const variant of variantsOf) {
        if (values.linearizable && !variant.linearizable) continue;
        const started = performance.now();
        const found = swarmFailures(
          protocol,
          variant.seeds,
          variant.linearizable,
          variant.reconfigure,
          variant.delayed ?? null,
          params,
        );
        swarms += 1;
        process.stdout.write(
          `${found.length === 0 ? "ok  " : "FAIL"} ${protocol.name} ${variant.name}: ${variant.seeds.length - found.length} of ${variant.seeds.length} seeds hold (${seconds(started)})\n`,
        );
        for (const failure of found) process.stdout.write(`${failure.replace(/^/gm, "     ")}\n`);
        if (found.length > 0) failed += 1;
      }
    }
  }
  process.stdout.write(
    `conformance: ${runs.length} property runs and ${swarms} swarms of ${listNames(protocols.map((protocol) => protocol.name))}, ${failed} failed\n`,
  );
  return failed === 0 ? 0 : 1;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (error instanceof InputError) {
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  } else if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true) {
    process.stderr.write(`conformance: ${(error as Error).message}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
