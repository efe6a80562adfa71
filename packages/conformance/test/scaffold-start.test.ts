import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ProtocolDefinition } from "@amcast/core";
import { protocolNames, protocolPackageFiles } from "@amcast/scaffold";
import { describe, expect, it } from "vitest";
import { PROPERTY_CASES, runPropertyCase, runSwarmSeed } from "../src/index.js";

/**
 * What `pnpm run new-protocol` generates must fail this suite until its logic is written: its
 * starting point delivers on arrival, which is no atomic multicast, and the oracles must say so.
 */
describe("a protocol as the scaffold generates it", () => {
  it("fails the shared property suite and the swarm, with the run's label, the processes and a replay line", async () => {
    const names = protocolNames("fresh");
    const dir = mkdtempSync(join(tmpdir(), "amcast-fresh-"));
    try {
      const files = protocolPackageFiles(names);
      mkdirSync(join(dir, "src"));
      for (const path of ["src/index.ts", "src/fresh.ts"])
        writeFileSync(join(dir, path), files.get(path) ?? "");
      mkdirSync(join(dir, "node_modules", "@amcast"), { recursive: true });
      symlinkSync(resolve(__dirname, "../../core"), join(dir, "node_modules", "@amcast", "core"));
      const module = (await import(pathToFileURL(join(dir, "src", "index.ts")).href)) as Record<
        string,
        unknown
      >;
      const protocol = module[names.constant] as ProtocolDefinition<unknown>;
      expect(protocol.name).toBe("fresh");

      const contention = PROPERTY_CASES.find((propertyCase) => propertyCase.id === "all-global");
      if (contention === undefined) throw new Error("the suite has an all-global case");
      const { problems } = runPropertyCase(protocol, contention, "solo", 1, false);
      const report = problems.join("\n");
      expect(report).toMatch(/^run suite\/fresh\/solo\/all-global\/seed-1: FAILED: \d+ violations? of /);
      expect(report).toMatch(/\n {2}at g\d\/0 & g\d\/0 \(\d+\):\n {4}(prefix|acyclic)-order: /);
      expect(problems.at(-1)).toBe(
        "replay: pnpm run conformance --protocol fresh --case all-global --mode solo --seed 1 --trace property-1.jsonl",
      );

      const failingSeeds = [0, 1, 2, 3, 4, 5].filter(
        (seed) => runSwarmSeed(protocol, seed).problems.length > 0,
      );
      expect(failingSeeds.length).toBeGreaterThan(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
