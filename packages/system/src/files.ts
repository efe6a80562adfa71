import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { InputError } from "@amcast/core";

/** Reads a text file; a missing or unreadable file is an `InputError` naming it. */
export function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === "ENOENT" ? `${what} not found` : `cannot read ${what} (${(error as Error).message})`;
    throw new InputError(displayPath(file), "", problem);
  }
}

/** Reads and parses a JSON file. */
export function readJson(file: string, what: string): unknown {
  const text = readText(file, what);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InputError(displayPath(file), "", `is not valid JSON (${(error as Error).message})`);
  }
}

/** `name` resolved against the directory of `file` (unless absolute). */
export function besideFile(file: string, name: string): string {
  return isAbsolute(name) ? name : join(dirname(file), name);
}

/** A path as users should see it: relative to the working directory when inside it. */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel.startsWith("..") || isAbsolute(rel) ? file : rel;
}

/**
 * The project root: the nearest directory, from `start` upward, holding `experiments/` and
 * `overlays/`. Falls back to `start`.
 */
export function findProjectRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, "experiments")) && existsSync(join(dir, "overlays"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start);
    dir = parent;
  }
}

/** Names of the `*.json` files in `dir`, without the extension, sorted. */
export function jsonNames(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .map((name) => name.slice(0, -".json".length))
    .sort();
}
