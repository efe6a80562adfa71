import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Protocol and base packages are pure: deterministic, synchronous, no IO. The linter forbids the
 * globals; this test also catches what a linter rule cannot name (async code, dynamic imports).
 */
const PURE_PACKAGES = ["core", "check", "group", "skeen", "flexcast", "byzcast", "linearizable", "reconfig"];
const FORBIDDEN: readonly [RegExp, string][] = [
  [/\bMath\.random\b/, "Math.random: use the seeded Prng"],
  [/\bDate\.now\b|\bnew Date\b/, "wall-clock time: time comes from the driver"],
  [/\bperformance\.now\b/, "wall-clock time: time comes from the driver"],
  [/\bset(Timeout|Interval|Immediate)\b/, "timers: ask the driver for ticks"],
  [/\basync\b|\bawait\b|\bPromise\b/, "async code: protocol code is synchronous"],
  [/from\s+["'](node:[^"']+|fs|net|http|ws|crypto|child_process|msgpackr)["']/, "IO modules"],
  [/\bimport\(/, "dynamic import"],
  [/\bprocess\.(env|argv|hrtime)\b/, "process state"],
];

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
  it("uses no clock, randomness, timers, async code or IO", () => {
    const packagesDir = resolve(__dirname, "../..");
    const offences: string[] = [];
    let files = 0;
    for (const name of PURE_PACKAGES) {
      const src = join(packagesDir, name, "src");
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
              offences.push(`${file.slice(packagesDir.length + 1)}:${index + 1}: ${what}: ${line.trim()}`);
          }
        });
      }
    }
    expect(files).toBeGreaterThan(10);
    expect(offences, offences.join("\n")).toEqual([]);
  });
});
