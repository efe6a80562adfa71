import type { ProtocolDefinition } from "@amcast/core";
import type { DelayedSwarm } from "../src/index.js";
import { runSwarmSeed } from "../src/index.js";

/** Seeds per protocol in every `pnpm test`; `pnpm run swarm --seeds N` runs more. */
export const SWARM_SEEDS = 200;
/** Seeds per protocol for the linearizable variants (with real-time order checked): 3 x 70 >= 200. */
export const LINEARIZABLE_SEEDS = 70;
/**
 * Seeds per overlay protocol with random reconfigurations (back-to-back ones and ones during
 * faults included), plain and linearizable: 2 protocols x 2 variants x 50 = 200 per `pnpm test`.
 */
export const RECONFIG_SEEDS = 50;
/**
 * Seeds per protocol where crash-mode groups run on a delayed network (besides the swarm seeds of
 * the solo and crash modes that draw one): liveness under delay, every run must drain.
 */
export const DELAYED_SEEDS = 20;

/** The seeds that fail, each with its configuration and the command that replays it. */
export function swarmFailures(
  protocol: ProtocolDefinition<unknown>,
  seeds: number,
  linearizable: boolean,
  reconfigure = false,
  delayed: DelayedSwarm | null = null,
): string[] {
  const found: string[] = [];
  for (let seed = 0; seed < seeds; seed += 1) {
    const { description, problems } = runSwarmSeed(protocol, seed, linearizable, reconfigure, delayed);
    if (problems.length > 0) found.push(`seed ${seed} (${description}):\n  ${problems.join("\n  ")}`);
  }
  return found;
}
