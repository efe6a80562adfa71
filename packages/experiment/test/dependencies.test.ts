import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const PACKAGE = resolve(__dirname, "..");

/** The `.ts` files below `dir`. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

describe("the CLI's dependencies", () => {
  // The image and any production install (`pnpm deploy --prod`) carry the dependencies only: a
  // package the CLI imports at run time from its devDependencies is missing there, and every
  // command fails at start-up.
  it("every package a source file imports at run time is a production dependency", () => {
    const manifest = JSON.parse(readFileSync(join(PACKAGE, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    const missing: string[] = [];
    for (const file of sources(join(PACKAGE, "src"))) {
      for (const match of readFileSync(file, "utf8").matchAll(
        /^(?:import|export)(?! type )[^;]*? from "([^"]+)";/gms,
      )) {
        const specifier = match[1] as string;
        if (specifier.startsWith(".") || specifier.startsWith("node:")) continue;
        const name = specifier
          .split("/")
          .slice(0, specifier.startsWith("@") ? 2 : 1)
          .join("/");
        if (!(name in manifest.dependencies)) missing.push(`${file.slice(PACKAGE.length + 1)}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });
});
