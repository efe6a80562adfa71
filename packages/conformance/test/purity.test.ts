import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Protocol and base packages are pure: deterministic, synchronous, no IO. A package says so with
 * one marker, its own `biome.json` extending the purity rules (PURE_MARKER): biome reads it and
 * lints the package's `src/` with them, and this test reads the same file and also catches what a
 * linter rule cannot name (async code, dynamic imports). No list of packages to keep in step.
 */
const PURE_MARKER = { root: false, extends: ["../../biome.json", "../../biome.pure.json"] };
const PURITY_RULES = "biome.pure.json";

const FORBIDDEN: readonly [RegExp, string][] = [
  [/\bMath\.random\b/, "Math.random: use the seeded Prng"],
  [/\bDate\.now\b|\bnew Date\b/, "wall-clock time: time comes from the driver"],
  [/\bperformance\.now\b/, "wall-clock time: time comes from the driver"],
  [/\bset(Timeout|Interval|Immediate)\b/, "timers: protocols progress on inputs alone"],
  [/\basync\b|\bawait\b|\bPromise\b/, "async code: protocol code is synchronous"],
  [/from\s+["'](node:[^"']+|fs|net|http|ws|crypto|child_process|msgpackr)["']/, "IO modules"],
  [/\bimport\(/, "dynamic import"],
  [/\bprocess\.(env|argv|hrtime)\b/, "process state"],
];

const ROOT = resolve(__dirname, "../../..");
const PACKAGES = join(ROOT, "packages");

function readJsonFile(file: string): unknown {
  return JSON.parse(readFileSync(file, "utf8"));
}

/** Package directories with a `biome.json` of their own that names the purity rules. */
function markedPackages(): string[] {
  return readdirSync(PACKAGES).filter((name) => {
    const config = join(PACKAGES, name, "biome.json");
    return existsSync(config) && readFileSync(config, "utf8").includes(PURITY_RULES);
  });
}

/** The package directory of each workspace package, by package name. */
function packageDirs(): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const name of readdirSync(PACKAGES)) {
    const manifest = join(PACKAGES, name, "package.json");
    if (existsSync(manifest)) dirs.set((readJsonFile(manifest) as { name: string }).name, name);
  }
  return dirs;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

describe("purity of protocol and base packages", () => {
  it("every registered protocol's package, and the registry's, is marked pure, with the marker biome reads", () => {
    const marked = markedPackages();
    for (const name of marked)
      expect(readJsonFile(join(PACKAGES, name, "biome.json")), `packages/${name}/biome.json`).toEqual(
        PURE_MARKER,
      );
    // The registry's dependencies are the registered protocol packages (and the base they use).
    const dirs = packageDirs();
    const registry = readJsonFile(join(PACKAGES, "protocols", "package.json")) as {
      dependencies: Record<string, string>;
    };
    const registered = Object.keys(registry.dependencies)
      .filter((dependency) => dependency.startsWith("@amcast/"))
      .map((dependency) => dirs.get(dependency) ?? dependency);
    expect(registered.length).toBeGreaterThan(3);
    expect(marked).toEqual(expect.arrayContaining(["protocols", "core", "group", ...registered]));
  });

  it("uses no clock, randomness, timers, async code or IO", () => {
    const offences: string[] = [];
    let files = 0;
    for (const name of markedPackages()) {
      const src = join(PACKAGES, name, "src");
      if (!existsSync(src)) continue;
      for (const file of sourceFiles(src)) {
        files += 1;
        // Comments may talk about clocks and async code; blank them out, keeping line numbers.
        const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, (comment) =>
          comment.replace(/[^\n]/g, " "),
        );
        code.split("\n").forEach((line, index) => {
          const statement = line.replace(/\/\/.*$/, "");
          for (const [pattern, what] of FORBIDDEN) {
            if (pattern.test(statement))
              offences.push(`${file.slice(PACKAGES.length + 1)}:${index + 1}: ${what}: ${line.trim()}`);
          }
        });
      }
    }
    expect(files).toBeGreaterThan(10);
    expect(offences, offences.join("\n")).toEqual([]);
  });

  it("the marker makes biome lint a package's src with the purity rules, and leaves other packages alone", () => {
    // A scratch copy of the configuration: a marked package and an unmarked one, same code.
    const dir = mkdtempSync(join(tmpdir(), "amcast-purity-"));
    try {
      cpSync(join(ROOT, "biome.json"), join(dir, "biome.json"));
      cpSync(join(ROOT, PURITY_RULES), join(dir, PURITY_RULES));
      const impure = "export const at = Date.now() + Math.random();\n";
      for (const file of ["pure/src/x.ts", "pure/test/x.ts", "plain/src/x.ts"]) {
        mkdirSync(join(dir, "packages", file, ".."), { recursive: true });
        writeFileSync(join(dir, "packages", file), impure);
      }
      writeFileSync(join(dir, "packages", "pure", "biome.json"), JSON.stringify(PURE_MARKER));
      const biome = spawnSync(
        join(ROOT, "node_modules", ".bin", "biome"),
        ["lint", "--vcs-enabled=false", "--reporter=concise", "."],
        { cwd: dir, encoding: "utf8" },
      );
      const flagged = `${biome.stdout}${biome.stderr}`
        .split("\n")
        .filter((line) => /noRestrictedGlobals|noJsRestrictedProperties/.test(line))
        .map((line) => line.replace(/^\W*/, "").split(":")[0]);
      expect(flagged.sort()).toEqual(["packages/pure/src/x.ts", "packages/pure/src/x.ts"]);
      expect(biome.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
