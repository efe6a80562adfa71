import { parseArgs } from "node:util";
import { didYouMean } from "@amcast/core";
import type { FsyncPolicy } from "@amcast/runtime";
import { FSYNC_POLICIES } from "@amcast/runtime";

/** A command line that cannot be understood: printed as one line, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

type OptionSpec = Record<string, { type: "string" | "boolean" }>;

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: readonly string[];
}

/** Parses `args` strictly; an unknown or malformed flag becomes a `UsageError` listing the known ones. */
export function parseCommandArgs(
  command: string,
  args: readonly string[],
  options: OptionSpec,
  positionalsMax: number,
): ParsedArgs {
  let parsed: ReturnType<typeof parseArgs>;
  // `--seed -1` is a value that looks like a flag: glue it on (`--seed=-1`) so the flag's own
  // check can say what is wrong with it.
  const glued: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index] as string;
    const next = args[index + 1];
    const name = arg.startsWith("--") ? arg.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && /^-\d/.test(next)) {
      glued.push(`${arg}=${next}`);
      index += 1;
    } else glued.push(arg);
  }
  try {
    parsed = parseArgs({ args: glued, options, strict: true, allowPositionals: true });
  } catch (error) {
    const known = Object.entries(options)
      .map(([name, { type }]) => (type === "string" ? `--${name} VALUE` : `--${name}`))
      .join(", ");
    // Node's own words for an unknown flag carry a hint about positionals that only confuses.
    const unknown = /Unknown option '(-[^']*)'/.exec((error as Error).message)?.[1];
    const problem =
      unknown === undefined
        ? ((error as Error).message.split("\n")[0] ?? "")
        : `unknown option ${unknown}${didYouMean(unknown.replace(/^--?/, ""), Object.keys(options)).replace(/"([^"]*)"/, "--$1")}`;
    throw new UsageError(`${command}: ${problem} (options: ${known}; ${command} --help explains them)`);
  }
  if (parsed.positionals.length > positionalsMax) {
    throw new UsageError(
      `${command}: unexpected argument ${JSON.stringify(parsed.positionals[positionalsMax])}`,
    );
  }
  return {
    values: parsed.values as Record<string, string | boolean | undefined>,
    positionals: parsed.positionals,
  };
}

/** A whole number flag value within [min, max]: "expected an integer ≥ 0" otherwise. */
export function integerFlag(
  command: string,
  name: string,
  value: string | boolean | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    const range = max >= Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new UsageError(`${command}: --${name}: expected an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return number;
}

/** `--fsync POLICY` (the replicas' journal policy on the network runtime), checked. */
export function fsyncFlag(command: string, value: string | boolean | undefined): FsyncPolicy | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !(FSYNC_POLICIES as readonly string[]).includes(value))
    throw new UsageError(
      `${command}: --fsync: expected ${FSYNC_POLICIES.join(", ")}, got ${JSON.stringify(value)}`,
    );
  return value as FsyncPolicy;
}

export function stringFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}
