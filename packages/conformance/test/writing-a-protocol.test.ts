import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { protocolNames, protocolPackageFiles } from "@amcast/scaffold";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Keeps docs/writing-a-protocol.md true: every code excerpt is in the file it names, and every
 * `pnpm` command in it runs, against the built command-line tools, in a cheap form where the real
 * one takes minutes (said below per command). Commands that write files write them in a scratch
 * directory.
 */
const ROOT = resolve(__dirname, "../../..");
const DOC = readFileSync(join(ROOT, "docs/writing-a-protocol.md"), "utf8");
const AMCAST = join(ROOT, "packages/experiment/dist/cli.js");
const CONFORMANCE = join(ROOT, "packages/conformance/dist/cli.js");
const SCRIPTS = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: object }).scripts,
);

/** The fenced blocks of the doc, with the `<!-- from FILE -->` line before each, if any. */
function blocks(): { lang: string; body: string; from: string | undefined }[] {
  const found: { lang: string; body: string; from: string | undefined }[] = [];
  const fence = /(?:<!-- from (\S+) -->\n)?```(\w*)\n([\s\S]*?)```/g;
  for (let match = fence.exec(DOC); match !== null; match = fence.exec(DOC))
    found.push({ from: match[1], lang: match[2] ?? "", body: match[3] ?? "" });
  return found;
}

let scratch = "";

/** Runs a built command-line tool (a script under node), as a user would from `cwd`. */
function run(cwd: string, ...args: string[]): { status: number | null; output: string } {
  return spawn(process.execPath, args, cwd);
}

function spawn(
  command: string,
  args: readonly string[],
  cwd: string,
): { status: number | null; output: string } {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The doc's table rows for a command's printed table: the run labels, in order. */
function labels(table: string): string[] {
  return table
    .split("\n")
    .filter((line) => /^\S+\/solo\/\S+\s+\d/.test(line))
    .map((line) => line.split(/\s+/)[0] as string);
}

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "amcast-doc-"));
  // A project of its own for the experiment: the doc's experiment file, with fewer multicasts.
  mkdirSync(join(scratch, "experiments"));
  cpSync(join(ROOT, "overlays"), join(scratch, "overlays"), { recursive: true });
});

afterAll(() => {
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true });
});

describe("docs/writing-a-protocol.md", () => {
  it("quotes code as it is in the files it names", () => {
    const quoted = blocks().filter((block) => block.from !== undefined);
    expect(quoted.length).toBeGreaterThan(3);
    for (const block of quoted) {
      const source = readFileSync(join(ROOT, block.from as string), "utf8");
      expect(source.includes(block.body), `${block.from} holds:\n${block.body}`).toBe(true);
    }
  });

  it("lists the files the scaffold writes", () => {
    for (const file of protocolPackageFiles(protocolNames("sequencer")).keys()) {
      expect(DOC).toContain(`\`${file}\``);
      expect(existsSync(join(ROOT, "packages/sequencer", file)), file).toBe(true);
    }
  });

  it("runs every pnpm command it shows", () => {
    const commands = blocks()
      .filter((block) => block.lang === "sh")
      .flatMap((block) => block.body.split("\n"))
      .filter((line) => line.startsWith("pnpm "));
    expect(commands.length).toBeGreaterThan(6);
    const traces = new Map<string, string>();
    for (const command of commands) {
      const [, verb, name, ...args] = command.split(/\s+/);
      if (verb === "run") expect(SCRIPTS, command).toContain(name);
      // Files a command writes go to the scratch directory.
      const scratchArgs = args.map((arg, index) => {
        if (args[index - 1] !== "--trace") return arg;
        const file = join(scratch, arg);
        traces.set(arg, file);
        return file;
      });
      let result: { status: number | null; output: string };
      if (verb === "run" && name === "new-protocol") {
        // Writes a package into the project: packages/scaffold/test runs it on a scratch copy.
        expect(args).toEqual(["sequencer"]);
        continue;
      } else if (verb === "run" && name === "conformance") {
        // The whole suite for one protocol takes a minute: its solo property runs stand for it.
        const narrowed = args.includes("--case")
          ? scratchArgs
          : [...scratchArgs, "--mode", "solo", "--no-swarm"];
        result = run(ROOT, CONFORMANCE, ...narrowed);
        expect(result.output).toMatch(/conformance: \d+ property runs .* 0 failed/);
      } else if (verb === "run" && name === "check-trace") {
        const file = traces.get(args[0] as string);
        expect(file, `${command} reads a trace an earlier command wrote`).toBeDefined();
        result = run(ROOT, AMCAST, "check", file as string);
        expect(result.output).toMatch(/all \d+ properties hold/);
      } else if (verb === "run" && name === "swarm") {
        result = run(ROOT, AMCAST, "swarm", ...scratchArgs);
        expect(result.output).toMatch(/swarm: 1 case\(s\) of sequencer, 0 failed/);
      } else if (verb === "--filter" && name === "@amcast/sequencer" && args[0] === "test") {
        result = spawn(join(ROOT, "node_modules/.bin/vitest"), ["run"], join(ROOT, "packages/sequencer"));
      } else if (verb === "run" && name === "experiment" && args[0] === "sequencer-vs-skeen") {
        result = experiment();
      } else {
        throw new Error(`the doc runs a command this test does not know: ${command}`);
      }
      expect(result.status, `${command}\n${result.output}`).toBe(0);
    }
  });
});

/**
 * `pnpm run experiment sequencer-vs-skeen` with 20 multicasts per client instead of hundreds: the
 * same runs, in the order the doc's table lists them; and the doc's one-line error for a
 * sequencer that is no group.
 */
function experiment(): { status: number | null; output: string } {
  const file = join(scratch, "experiments", "sequencer-vs-skeen.json");
  const spec = JSON.parse(readFileSync(join(ROOT, "experiments/sequencer-vs-skeen.json"), "utf8"));
  const small = {
    ...spec,
    workloads: spec.workloads.map((workload: object) => ({ ...workload, multicastsPerClient: 20 })),
  };
  const mars = {
    ...small,
    protocols: small.protocols.map((entry: { params?: { sequencer: string } }) =>
      entry.params?.sequencer === "Tokyo" ? { ...entry, params: { sequencer: "Mars" } } : entry,
    ),
  };
  writeFileSync(file, JSON.stringify(mars));
  const error = run(scratch, AMCAST, "experiment", "sequencer-vs-skeen");
  expect(error.status).toBe(2);
  const documented = DOC.split("\n").find((line) =>
    line.startsWith("amcast: experiments/sequencer-vs-skeen.json"),
  );
  expect(error.output).toBe(`${documented}\n`);

  writeFileSync(file, JSON.stringify(small));
  const result = run(scratch, AMCAST, "experiment", "sequencer-vs-skeen");
  const table = blocks().find((block) => block.body.startsWith("run ") && block.body.includes("sequencer/"));
  expect(labels(result.output).slice(0, 6)).toEqual(labels(table?.body ?? ""));
  return result;
}
