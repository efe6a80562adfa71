import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseOverlay, parseTopology } from "@amcast/core";
import { readJson, readText } from "@amcast/system";
import { describe, expect, it } from "vitest";
import { commandHelp, HELP } from "../src/commands/help.js";
import { COMMANDS } from "../src/commands/index.js";
import {
  configurationReference,
  FIELD_TEXT,
  mergeFields,
  recordFields,
  referenceFields,
} from "../src/config-reference.js";
import { isRecoveryExperiment, readRecoveryPlan } from "../src/recovery.js";
import { loadExperiment } from "../src/spec.js";

const ROOT = resolve(__dirname, "../../..");
const CLI = resolve(__dirname, "../dist/cli.js");

describe("the configuration reference", () => {
  it("is docs/configuration.md, as generated from the parsers", () => {
    // The file is the generator's output as biome formats Markdown (tables padded to align).
    const layout = (text: string): string =>
      text.replace(/ +/g, " ").replace(/-{3,}/g, "---").replace(/ \|/g, "|").trim();
    const docs = readFileSync(join(ROOT, "docs", "configuration.md"), "utf8");
    expect(layout(docs)).toBe(layout(configurationReference()));
  });

  it("describes every field a parser reads, and no field none reads", () => {
    const fields = referenceFields();
    const read = new Set(fields.map((field) => `${field.kind}:${field.path}`));
    const described = new Set(
      Object.entries(FIELD_TEXT).flatMap(([kind, entries]) =>
        Object.keys(entries).map((path) => `${kind}:${path}`),
      ),
    );
    expect([...read].filter((key) => !described.has(key))).toEqual([]);
    expect([...described].filter((key) => !read.has(key))).toEqual([]);
  });

  it("covers every field of every experiment, topology and overlay file in the repository", () => {
    const records = recordFields(() => {
      for (const name of readdirSync(join(ROOT, "experiments")).filter((file) => file.endsWith(".json"))) {
        const file = join(ROOT, "experiments", name);
        const text = readFileSync(file, "utf8");
        if (isRecoveryExperiment(text)) readRecoveryPlan(text, file);
        else loadExperiment(file);
      }
      for (const name of readdirSync(join(ROOT, "overlays")).filter((file) => file.endsWith(".json"))) {
        const file = join(ROOT, "overlays", name);
        if (name.endsWith(".topology.json"))
          parseTopology(readJson(file, "topology"), file, (csv) =>
            readText(join(ROOT, "overlays", csv), "csv"),
          );
        // Destination tables are read through the experiments that name them.
        else if (!name.endsWith(".table.json")) parseOverlay(readJson(file, "overlay"), file);
      }
    });
    const used = mergeFields(records).map((field) => `${field.kind}:${field.path}`);
    const documented = new Set(referenceFields().map((field) => `${field.kind}:${field.path}`));
    expect(used.length).toBeGreaterThan(40);
    expect(used.filter((key) => !documented.has(key))).toEqual([]);
  });
});

describe("--help", () => {
  it("is there for every command and names every option the command accepts", async () => {
    expect(Object.keys(HELP).sort()).toEqual(Object.keys(COMMANDS).sort());
    for (const [command, run] of Object.entries(COMMANDS)) {
      const help = commandHelp(command);
      expect(help).toMatch(new RegExp(`^usage: amcast ${command}`));
      // The parser lists what it accepts when given a flag it does not know.
      const refusal = await Promise.resolve()
        .then(() => run(["--no-such-flag"]))
        .then(
          () => "",
          (error: Error) => error.message,
        );
      const accepted = /\(options: (.*); /.exec(refusal)?.[1] ?? "";
      for (const option of accepted.split(", ").filter((entry) => entry !== "")) {
        const flag = option.split(" ")[0] as string;
        expect(help, `${command} --help names ${flag}`).toContain(flag);
      }
    }
  });

  it("answers on the command line, before anything runs", () => {
    const experiment = spawnSync(process.execPath, [CLI, "experiment", "nonexistent", "--help"], {
      encoding: "utf8",
    });
    expect(experiment.status).toBe(0);
    expect(experiment.stdout).toMatch(/^usage: amcast experiment/);
    expect(experiment.stdout).toMatch(/--resume/);
    const overall = spawnSync(process.execPath, [CLI, "--help"], { encoding: "utf8" });
    expect(overall.status).toBe(0);
    for (const command of Object.keys(COMMANDS)) expect(overall.stdout).toContain(`  ${command} `);
  });
});
