import type { RecoveryRow } from "../recovery.js";
import {
  RECOVERY_HEADER,
  readRecoveryPlan,
  recoveryCells,
  recoveryPassed,
  runRecoveryCase,
} from "../recovery.js";
import { formatTable } from "../table.js";

/**
 * Runs a recovery experiment (an experiment file with a `recovery` block) on the simulator: every
 * (keys, mode, role) case, one table row each as it finishes. Exit 0 when every case passed.
 */
export function runRecoveryExperiment(text: string, file: string, json: boolean): number {
  const plan = readRecoveryPlan(text, file);
  const rows: RecoveryRow[] = [];
  if (!json)
    process.stdout.write(
      `recovery: ${plan.protocol === "skeen" ? "Skeen, one group" : "FlexCast, groups a then b, half the multicasts to both, b's replica crashes"}, ${plan.clients} clients x ${plan.ratePerSecPerClient}/s for ${plan.durationMs} ms; ${plan.crashKind} crash at ${plan.crashAtMs} ms, back ${plan.pauseMs} ms later; checkpoints every ${plan.checkpointEntries} log positions, ${plan.partitions} partitions; a replica costs ${plan.perMessageUs} us per input and ${plan.perByteNs} ns per byte (the simulator has no link bandwidth)\n`,
    );
  for (const keys of plan.keys)
    for (const mode of plan.modes)
      for (const role of plan.roles) {
        const row = runRecoveryCase(plan, keys, mode, role);
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
