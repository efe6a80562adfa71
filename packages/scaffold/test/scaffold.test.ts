import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { protocolNames, registerInSource } from "../src/index.js";

/**
 * `pnpm run new-protocol NAME` run for real, on a scratch copy of the project's manifests,
 * lockfile and registry (the tools come from the project's node_modules, linked in), so the
 * project itself is never touched and nothing is left behind.
 */
const ROOT = resolve(__dirname, "../../..");
const BIN = join(ROOT, "node_modules", ".bin");
const CLI = resolve(__dirname, "../dist/cli.js");
const NAME = "probe-cast";

let scratch = "";

function run(command: string, args: readonly string[], cwd: string) {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function expectSuccess(result: { status: number | null; output: string }): void {
  expect(result.output === "" || result.status === 0, result.output).toBe(true);
  expect(result.status, result.output).toBe(0);
}

/** Links `packages/<dir>/node_modules/@amcast/<name>` to `target`, as pnpm would. */
function link(dir: string, name: string, target: string): void {
  const scope = join(scratch, "packages", dir, "node_modules", "@amcast");
  mkdirSync(scope, { recursive: true });
  symlinkSync(target, join(scope, name));
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "amcast-scaffold-"));
  for (const file of [
    "package.json",
    "pnpm-workspace.yaml",
    "pnpm-lock.yaml",
    "tsconfig.base.json",
    "biome.json",
    "biome.pure.json",
    "vitest.shared.ts",
  ])
    cpSync(join(ROOT, file), join(scratch, file));
  const workspaceDirs = [
    ...readdirSync(join(ROOT, "packages")).map((dir) => join("packages", dir)),
    "examples",
  ];
  for (const dir of workspaceDirs)
    if (existsSync(join(ROOT, dir, "package.json"))) {
      mkdirSync(join(scratch, dir), { recursive: true });
      cpSync(join(ROOT, dir, "package.json"), join(scratch, dir, "package.json"));
    }
  for (const file of ["src/index.ts", "tsconfig.json", "tsconfig.build.json"])
    cpSync(join(ROOT, "packages/protocols", file), join(scratch, "packages/protocols", file));
  symlinkSync(join(ROOT, "node_modules"), join(scratch, "node_modules"));
  // biome follows the project's .gitignore through git.
  expectSuccess(run("git", ["init", "-q"], scratch));
});

afterAll(() => {
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true });
});

describe("pnpm run new-protocol", () => {
  it("creates the package, registers it in the one list of protocols and updates the lockfile", () => {
    const created = run(process.execPath, [CLI, NAME, "--root", scratch, "--lockfile-only"], scratch);
    expectSuccess(created);
    expect(created.output).toContain("pnpm run conformance --protocol probe-cast");

    const files = (dir: string): string[] =>
      readdirSync(join(scratch, "packages", NAME, dir)).map((file) => join(dir, file));
    expect(
      [
        ...readdirSync(join(scratch, "packages", NAME)).filter((file) => file.includes(".")),
        ...files("src"),
        ...files("test"),
      ].sort(),
    ).toEqual([
      "biome.json",
      "package.json",
      "src/index.ts",
      "src/probe-cast.ts",
      "test/probe-cast.test.ts",
      "tsconfig.build.json",
      "tsconfig.json",
      "vitest.config.ts",
    ]);
    const registry = readFileSync(join(scratch, "packages/protocols/src/index.ts"), "utf8");
    expect(registry).toContain('import { probeCast } from "@amcast/probe-cast";');
    expect(registry).toMatch(/const REGISTRY = \{[^}]*"probe-cast": probeCast,\n\};/);
    const manifest = JSON.parse(readFileSync(join(scratch, "packages/protocols/package.json"), "utf8"));
    expect(manifest.dependencies["@amcast/probe-cast"]).toBe("workspace:*");
    const lockfile = readFileSync(join(scratch, "pnpm-lock.yaml"), "utf8");
    expect(lockfile).toContain("\n  packages/probe-cast:\n");
    expect(lockfile).toMatch(
      /'@amcast\/probe-cast':\n\s+specifier: workspace:\*\n\s+version: link:\.\.\/probe-cast/,
    );
    // What a fresh clone runs: the lockfile agrees with every manifest.
    expectSuccess(run("pnpm", ["install", "--frozen-lockfile", "--lockfile-only", "--offline"], scratch));
  });

  it("gives a package that typechecks, builds, passes lint and its own tests, and a registry that compiles", () => {
    const dir = join(scratch, "packages", NAME);
    link(NAME, "core", join(ROOT, "packages/core"));
    expectSuccess(run(join(BIN, "tsc"), ["-p", "tsconfig.json", "--noEmit"], dir));
    expectSuccess(run(join(BIN, "tsc"), ["-p", "tsconfig.build.json"], dir));
    expectSuccess(run(join(BIN, "vitest"), ["run"], dir));
    expectSuccess(
      run(join(BIN, "biome"), ["check", join("packages", NAME), "packages/protocols/src"], scratch),
    );
    const registered = join(ROOT, "packages/protocols/node_modules/@amcast");
    for (const name of readdirSync(registered)) link("protocols", name, join(registered, name));
    link("protocols", NAME, dir);
    expectSuccess(
      run(join(BIN, "tsc"), ["-p", "tsconfig.json", "--noEmit"], join(scratch, "packages/protocols")),
    );
  });

  it("refuses a name that is taken or malformed, in one line", () => {
    const taken = run(process.execPath, [CLI, NAME, "--root", scratch, "--lockfile-only"], scratch);
    expect(taken.status).toBe(2);
    expect(taken.output).toBe(
      "new-protocol: NAME: packages/probe-cast exists already; choose another name\n",
    );
    const malformed = run(process.execPath, [CLI, "Bad_Name", "--root", scratch], scratch);
    expect(malformed.status).toBe(2);
    expect(malformed.output).toMatch(/^new-protocol: NAME: expected lower-case letters.*got "Bad_Name"\n$/);
  });

  it("adds to the registry an import and one entry", () => {
    const source = 'import { a } from "@amcast/a";\n\nconst REGISTRY = {\n  a,\n};\n';
    expect(registerInSource(source, protocolNames("seq"), "index.ts")).toBe(
      'import { seq } from "@amcast/seq";\nimport { a } from "@amcast/a";\n\nconst REGISTRY = {\n  a,\n  seq,\n};\n',
    );
    expect(() => registerInSource("const X = {};", protocolNames("seq"), "index.ts")).toThrow(
      /index\.ts: REGISTRY: no `const REGISTRY/,
    );
  });
});
