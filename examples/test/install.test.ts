import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, expect, it } from "vitest";

const ROOT = resolve(__dirname, "../..");
const scratch = mkdtempSync(join(tmpdir(), "amcast-install-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// About 15 s on a quiet machine (pack, npm install of 16 tarballs from its cache, run); 130 s was
// seen at load average 45 on 2 cores.
it("the public packages, packed, install into a fresh npm project and run a key-value program there", {
  timeout: 420_000,
}, () => {
  // What `pnpm run pack-public` does (the packages are built: pnpm test builds them first).
  const packs = join(scratch, "packs");
  execFileSync(
    "pnpm",
    ["--filter", "@amcast/kv...", "--filter", "@amcast/tpcc...", "pack", "--pack-destination", packs],
    { cwd: ROOT, stdio: "pipe" },
  );
  const tarballs = readdirSync(packs).filter((name) => name.endsWith(".tgz"));
  expect(tarballs).toContain("amcast-kv-0.1.0.tgz");
  expect(tarballs).toContain("amcast-smr-0.1.0.tgz");

  // A project that has never seen the repository: its own package.json, npm, the registry.
  const project = join(scratch, "project");
  cpSync(join(ROOT, "examples", "outside"), project, { recursive: true });
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "outside", private: true, type: "module" }),
  );
  execFileSync(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--ignore-scripts",
      ...tarballs.map((name) => join(packs, name)),
    ],
    { cwd: project, stdio: "pipe" },
  );
  const output = execFileSync(process.execPath, ["main.mjs"], { cwd: project, encoding: "utf8" });
  expect(JSON.parse(output)).toEqual({
    fruit: [
      ["apple", "red"],
      ["pear", "yellow"],
      ["plum", "purple"],
    ],
    verdict: "linearizable",
  });
});
