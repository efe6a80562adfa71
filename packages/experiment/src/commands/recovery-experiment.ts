import { join, resolve } from "node:path";
import { InputError } from "@amcast/core";
import type { NetRunOptions } from "@amcast/runtime";
import { DEFAULT_NET_OPTIONS } from "@amcast/runtime";
import type { RecoveryRow } from "../recovery.js";
import {
  netRecoveryPlan,
  RECOVERY_HEADER,
  readRecoveryPlan,
  recoveryCells,
  recoveryPassed,
  runRecoveryCase,
} from "../recovery.js";
import { runRecoveryCaseNet } from "../recovery-net.js";
import { formatTable } from "../table.js";

/** How a recovery experiment runs on real processes (`--runtime net`). */
export interface RecoveryNetArgs {
  readonly latencyEmulation: boolean;
  readonly workDir: string | undefined;
  readonly timeLimitMs: number | undefined;
  /** `--keep-journal`: over the plan's `net.keepJournal`. */
  readonly keepJournal: boolean;
}

/**
 * Runs a recovery experiment (an experiment file with a `recovery` block) on the simulator, or
 * with `net` on real processes (the plan's `net` block over it): every (keys, mode, role) case,
 * one table row each as it finishes. Exit 0 when every case passed.
 */
export async function runRecoveryExperiment(
  text: string,
  file: string,
  json: boolean,
  net?: RecoveryNetArgs,
): Promise<number> {
  const read = readRecoveryPlan(text, file);
  if (net !== undefined && read.protocol !== "skeen")
    throw new InputError(
      file,
      "recovery.protocol",
      `${read.protocol} recovery runs on the simulator only (no --runtime net)`,
    );
  const plan =
    net === undefined
      ? read
      : { ...netRecoveryPlan(read), netKeepJournal: read.netKeepJournal || net.keepJournal };
  const rows: RecoveryRow[] = [];
  if (!json)
    process.stdout.write(
      net === undefined
        ? `recovery: ${plan.protocol === "skeen" ? "Skeen, one group" : "FlexCast, groups a then b, half the multicasts to both, b's replica crashes"}, ${plan.clients} clients x ${plan.ratePerSecPerClient}/s for ${plan.durationMs} ms; ${plan.crashKind} crash at ${plan.crashAtMs} ms, back ${plan.pauseMs} ms later; checkpoints every ${plan.checkpointEntries} log positions, ${plan.partitions} partitions; a replica costs ${plan.perMessageUs} us per input and ${plan.perByteNs} ns per byte (the simulator has no link bandwidth)\n`
        : `recovery on real processes (one per replica, one client host, loopback${net.latencyEmulation ? "" : ", no latency emulation"}): one group, ${plan.clients} clients x ${plan.ratePerSecPerClient}/s for ${plan.durationMs} ms; ${plan.crashKind} crash (SIGKILL) at ${plan.crashAtMs} ms, restarted ${plan.pauseMs} ms later; checkpoints every ${plan.checkpointEntries} log positions, ${plan.partitions} partitions; journals fsync per ${plan.netFsync}, ${plan.netKeepJournal ? "every input kept" : "decided positions, truncated at checkpoints"}; times count from the restart of the process\n`,
    );
  let index = 0;
  for (const keys of plan.keys)
    for (const mode of plan.modes)
      for (const role of plan.roles) {
        index += 1;
        const options: NetRunOptions = {
          ...DEFAULT_NET_OPTIONS,
          latencyEmulation: net?.latencyEmulation ?? false,
          ...(net?.timeLimitMs === undefined ? {} : { timeLimitMs: net.timeLimitMs }),
          ...(net?.workDir === undefined ? {} : { workDir: join(resolve(net.workDir), `case-${index}`) }),
        };
        const row =
          net === undefined
            ? runRecoveryCase(plan, keys, mode, role)
            : await runRecoveryCaseNet(plan, keys, mode, role, options);
        rows.push(row);
        if (!json)
          process.stdout.write(
            `${formatTable(RECOVERY_HEADER, [recoveryCells(row)])
              .split("\n")
              .at(-1)}\n`,
          );
      }
  if (json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else process.stdout.write(`\n${formatTable(RECOVERY_HEADER, rows.map(recoveryCells))}\n`);
  const failed = rows.filter((row) => !recoveryPassed(row));
  if (!json)
    process.stdout.write(
      failed.length === 0
        ? `all ${rows.length} cases recovered: every multicast completed, ${plan.oracles ? "oracles clean" : "oracles not run"}, one root\n`
        : `${failed.length} of ${rows.length} cases did not pass (see completed, violations, caught up, one root)\n`,
    );
  return failed.length === 0 ? 0 : 1;
}
