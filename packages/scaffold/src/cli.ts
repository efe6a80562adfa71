#!/usr/bin/env node
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { InputError } from "@amcast/core";
import { scaffoldProtocol } from "./scaffold.js";

const USAGE = `usage: pnpm run new-protocol NAME
  Creates packages/NAME (@amcast/NAME): group logic to fill in, its tests, the package files and
  the purity marker; registers it in @amcast/protocols, so experiments, the swarm, the shared
  property suite and the public API know it; updates the lockfile.`;

/** The project root: the nearest directory upward holding pnpm-workspace.yaml. */
function projectRoot(start: string): string {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    if (dirname(dir) === dir) throw new InputError(start, "", "not inside the amcast project");
  }
}

function main(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      root: { type: "string" },
      "lockfile-only": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [name, ...extra] = positionals;
  if (values.help || name === undefined || extra.length > 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  // pnpm runs root scripts from the root; INIT_CWD is where the user typed the command.
  const root = projectRoot(values.root ?? process.env.INIT_CWD ?? process.cwd());
  const result = scaffoldProtocol(name, {
    root,
    lockfileOnly: values["lockfile-only"],
    log: (line) => process.stdout.write(`${line}\n`),
  });
  const { packageName } = result.names;
  const steps: [string, string][] = [
    [`pnpm --filter ${packageName} test`, "its own tests"],
    [`pnpm run conformance --protocol ${name}`, "the shared property suite and the swarm"],
    ["pnpm test", "everything"],
  ];
  const width = Math.max(...steps.map(([command]) => command.length)) + 2;
  process.stdout.write(
    [
      "",
      "Next (docs/writing-a-protocol.md walks through a fixed sequencer):",
      `  1. write the rules and the logic in packages/${name}/src/${name}.ts, and its tests`,
      ...steps.map(([command, what], index) => `  ${index + 2}. ${command.padEnd(width)}${what}`),
      "As generated, step 3 fails: every destination delivers on arrival, which is no atomic multicast.",
      "",
    ].join("\n"),
  );
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  if (error instanceof InputError) {
    // One line naming what was wrong ("new-protocol: NAME: ..."), no stack trace.
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  } else if ((error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true) {
    process.stderr.write(`new-protocol: ${(error as Error).message}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
