import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SystemSpec } from "@amcast/system";
import { SYSTEM_SCHEMA } from "@amcast/system";
import { afterAll, describe, expect, it } from "vitest";
import {
  DEFAULT_NET_OPTIONS,
  loadDeployment,
  NET_REFUSED_OPTIONS,
  NET_SUPPORT,
  NetRunError,
  netRefusals,
  runCluster,
} from "../src/index.js";
import { SMALL_SPEC as BASE } from "./helpers.js";

/**
 * Every option of a system spec the network runtime cannot honour is refused before anything
 * starts, naming the option. Each refusal in NET_SUPPORT has a case here that sets it; the set of
 * cases must equal the set of refusals, so a new refusal needs a case.
 */

/** A spec that sets each refused option (and nothing else the runtime refuses). */
const CASES: Readonly<Record<string, { readonly spec: SystemSpec; readonly byHand: boolean }>> = {
  "faults.partitions": {
    byHand: true,
    spec: { ...BASE, faults: { crashes: [], partitions: [{ side: ["a/0"], atMs: 10, healAtMs: 20 }] } },
  },
  "faults.crashes": {
    byHand: true,
    spec: { ...BASE, faults: { crashes: [{ proc: "a/0", atMs: 10 }], partitions: [] } },
  },
};

const dir = mkdtempSync(join(tmpdir(), "amcast-support-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("what the network runtime honours and refuses", () => {
  it("has a decision for every field of a system spec", () => {
    expect(Object.keys(NET_SUPPORT).sort()).toEqual(Object.keys(SYSTEM_SCHEMA).sort());
  });

  it("has a case here for every refusal", () => {
    expect(Object.keys(CASES).sort()).toEqual([...NET_REFUSED_OPTIONS].sort());
    expect(netRefusals(BASE)).toEqual([]);
    expect(netRefusals(BASE, { byHand: true })).toEqual([]);
  });

  for (const [option, { spec, byHand }] of Object.entries(CASES)) {
    it(`refuses ${option} before anything starts, naming it`, async () => {
      const refusals = netRefusals(spec, { byHand });
      expect(refusals).toHaveLength(1);
      expect(refusals[0]?.startsWith(`${option}: `)).toBe(true);
      if (!byHand) {
        // The cluster runner: nothing is written, no process started, nothing logged.
        const workDir = join(dir, `run-${option.replace(/\W/g, "_")}`);
        const logged: string[] = [];
        await expect(
          runCluster(spec, {
            ...DEFAULT_NET_OPTIONS,
            workDir,
            log: (line) => logged.push(line),
            traceSends: false,
            onEvent: () => {},
          }),
        ).rejects.toThrow(new NetRunError(`${spec.label}: ${refusals[0]}`));
        expect(existsSync(workDir)).toBe(false);
        expect(logged).toEqual([]);
      } else {
        // By hand: the deployment naming the run is refused when it is read.
        const file = join(dir, "by-hand.json");
        writeFileSync(
          file,
          JSON.stringify({
            kind: "deployment",
            experiment: "experiment.json",
            replicas: ["a/0", "a/1", "a/2", "b/0", "b/1", "b/2"].map((id, port) => ({ id, host: "h", port })),
          }),
        );
        expect(() => loadDeployment(file, () => [spec])).toThrow(
          `run: selects ${spec.label}, which the network runtime cannot run: ${option}: `,
        );
        expect(() => loadDeployment(file, () => [BASE])).not.toThrow();
        // The cluster runner injects it: only a cluster started by hand refuses it.
        expect(netRefusals(spec)).toEqual([]);
      }
    });
  }
});

describe("docs/runtime.md", () => {
  it("lists every option the network runtime refuses", () => {
    const doc = readFileSync(join(__dirname, "../../../docs/runtime.md"), "utf8");
    for (const option of NET_REFUSED_OPTIONS) expect(doc).toContain(`| \`${option}\``);
  });
});
