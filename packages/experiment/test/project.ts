import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The built CLI, as users run it (`pnpm test` builds it first). */
export const CLI = resolve(__dirname, "../dist/cli.js");

/** Runs the CLI as a user would, in `cwd`; returns exit code and output. */
export function amcast(
  cwd: string,
  ...args: string[]
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Three regions 20-30 ms apart, a group in each. */
export const THREE_REGIONS = {
  kind: "topology",
  name: "three",
  regions: ["a", "b", "c"],
  latencyMs: [
    [1, 20, 30],
    [20, 1, 25],
    [30, 25, 1],
  ],
  groups: "one-per-region",
};

/**
 * A scratch project in a new temporary directory: `overlays/three.topology.json` (THREE_REGIONS),
 * `overlays/three.cdag.json` (a, b, c) and the given `experiments/NAME.json` files.
 */
export function scratchProject(prefix: string, experiments: Record<string, unknown> = {}): string {
  const project = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(project, "experiments"));
  mkdirSync(join(project, "overlays"));
  writeFileSync(join(project, "overlays", "three.topology.json"), JSON.stringify(THREE_REGIONS));
  writeFileSync(
    join(project, "overlays", "three.cdag.json"),
    JSON.stringify({ kind: "cdag", name: "abc", order: ["a", "b", "c"] }),
  );
  for (const [name, body] of Object.entries(experiments))
    writeFileSync(join(project, "experiments", `${name}.json`), JSON.stringify(body));
  return project;
}
