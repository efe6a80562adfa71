import { parseArgs } from "node:util";

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
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error) {
    const known = Object.entries(options)
      .map(([name, { type }]) => (type === "string" ? `--${name} VALUE` : `--${name}`))
      .join(", ");
    throw new UsageError(`${command}: ${(error as Error).message.split("\n")[0]} (options: ${known})`);
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

/** A whole number flag value within [min, max]. */
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
    throw new UsageError(
      `${command}: --${name} expects a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return number;
}

export function stringFlag(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}
