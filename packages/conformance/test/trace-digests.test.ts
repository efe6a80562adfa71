import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ProtocolDefinition } from "@amcast/core";
import { parseOverlay } from "@amcast/core";
import type { ScenarioSpec } from "@amcast/experiment";
import { faultFreeScenario, loadExperiment, PROTOCOLS, runScenario, swarmCase } from "@amcast/experiment";
import type { ReplicationMode } from "@amcast/group";
import { REPLICATION_MODES } from "@amcast/group";
import { findProjectRoot, readJson } from "@amcast/system";
import { describe, expect, it } from "vitest";
import { PROPERTY_CASES } from "../src/index.js";

/**
 * The simulator is deterministic: the same seed gives the same trace, byte for byte. These
 * digests pin a few small runs of every protocol in every replication mode (with crashes and
 * Byzantine replicas), sends included, so a change meant to make the simulator, the group layer
 * or a protocol faster cannot change what happens — the order of events or any random draw —
 * without this test saying so. A change that is meant to alter behaviour re-pins them, and says
 * why in its commit.
 */
const PINNED: Readonly<Record<string, string>> = {
  "skeen/solo/mixed": "272cb9d4908be3ed062fee6e",
  "skeen/crash/mixed": "aa024f8c4ad5a373df2d52b6",
  "skeen/byzantine/mixed": "3531c45781d2b9bc807454e1",
  "skeen/solo/crashes": "2b2e8e606571e1f28c3fa743",
  "skeen/crash/crashes": "ae393ee42c9084592550ca7b",
  "skeen/byzantine/strategies": "4f48eff6663ee80bbd44fb73",
  "skeen/solo/reorder": "1e516b5152b4c35785f7c70c",
  "skeen/crash/mixed/linearizable": "7cad76e5faa2b2239ffacc80",
  "skeen/bench-12": "a9951644198ae213962284ec",
  "skeen/swarm/3": "d9d26f33a8e9ab38952f1499",
  "skeen/swarm/4": "9ff83e942cccea2a3f4f9807",
  "skeen/swarm/5": "6b399a29e0102f7193fa5aec",
  "byzcast/solo/mixed": "dd042e0ce5590215698a04ef",
  "byzcast/crash/mixed": "f9a7bbde669a38f13bc82281",
  "byzcast/byzantine/mixed": "49435f399ca83bc982ca70a8",
  "byzcast/solo/crashes": "2e7cc141338947d2a65381df",
  "byzcast/crash/crashes": "b3981b84ed2c34a62f04fc00",
  "byzcast/byzantine/strategies": "669f26fdc51b3b0c491a6a67",
  "byzcast/solo/reorder": "7cb5148b8cccd1e766dcfc22",
  "byzcast/crash/mixed/linearizable": "3eced6bc5441e9a8dbcb8588",
  "byzcast/swarm/6/reconfigure": "a964b7a84a5156e6aadc8b4b",
  "byzcast/swarm/3": "26c703c4c55dec029de5e18f",
  "byzcast/swarm/4": "7c2becf61e857402d402b531",
  "byzcast/swarm/5": "57d7ebb55385b8c3e8ffe799",
  "flexcast/solo/mixed": "6941522896cdbed303d1e25d",
  "flexcast/crash/mixed": "e3f17196cf9ac5b8b5640c81",
  "flexcast/byzantine/mixed": "52de71a301d26b8582c29d2e",
  "flexcast/solo/crashes": "7a1d6bb16642cac32ffefb1c",
  "flexcast/crash/crashes": "081ad7cc79296482551a5c7f",
  "flexcast/byzantine/strategies": "bc2898258178f6fddec2bc5a",
  "flexcast/solo/reorder": "979f4e5bd4aedaca228a8a28",
  "flexcast/crash/mixed/linearizable": "2ff91a283db7e5521e77d2ed",
  "flexcast/swarm/6/reconfigure": "2f8e83a3159143c4cbdc9d97",
  "flexcast/bench-12": "70c57e967d1df67723ca4108",
  "flexcast/swarm/3": "9b56520e7fc06558769fe4ac",
  "flexcast/swarm/4": "f59e383300ecea86cd765505",
  "flexcast/swarm/5": "9d7f3de03370282eed7156f1",
  "sequencer/solo/mixed": "0e8c85362a70b4d55e596c40",
  "sequencer/crash/mixed": "87a115d81b8be65860349fc5",
  "sequencer/byzantine/mixed": "b749a056fe4c3186e52abe52",
  "sequencer/solo/crashes": "0e6e78bc20c86f78d27994ed",
  "sequencer/crash/crashes": "04dfcd9c32a69e92c1bb6c7f",
  "sequencer/byzantine/strategies": "5713803b330e05e17f564c08",
  "sequencer/solo/reorder": "3fbffe90453318d0ae10657c",
  "sequencer/crash/mixed/linearizable": "e4c70108fc7b479c0ba805fb",
  "sequencer/bench-12": "e8bb95c1af545dd61dcbd042",
  "sequencer/swarm/3": "394a25320f3ad30a4483156a",
  "sequencer/swarm/4": "5f4d350d6caf15911b44b956",
  "sequencer/swarm/5": "e7d634b3f5da816b077cf233",
};

function caseNamed(name: string) {
  const found = PROPERTY_CASES.find((propertyCase) => propertyCase.name.startsWith(name));
  if (found === undefined) throw new Error(`no property case starts with ${JSON.stringify(name)}`);
  return found;
}

/** The runs pinned for one protocol: labelled scenario builders. */
function pinnedRuns(protocol: ProtocolDefinition<unknown>): [string, () => ScenarioSpec][] {
  const runs: [string, () => ScenarioSpec][] = [];
  const mixed = caseNamed("mixed local and global");
  const crashes = caseNamed("crashes and recoveries");
  const byzantine = caseNamed("one Byzantine replica");
  const reorder = caseNamed("heavy jitter");
  for (const mode of REPLICATION_MODES) runs.push([`${mode}/mixed`, () => mixed.scenario(protocol, mode, 1)]);
  for (const mode of ["solo", "crash"] as ReplicationMode[])
    runs.push([`${mode}/crashes`, () => crashes.scenario(protocol, mode, 1)]);
  runs.push(["byzantine/strategies", () => byzantine.scenario(protocol, "byzantine", 1)]);
  runs.push(["solo/reorder", () => reorder.scenario(protocol, "solo", 2)]);
  runs.push([
    "crash/mixed/linearizable",
    () => ({ ...mixed.scenario(protocol, "crash", 2), linearizable: true }),
  ]);
  if (protocol.overlayKind !== null) {
    runs.push([
      "swarm/6/reconfigure",
      () =>
        swarmCase(protocol, 6, {
          crashes: true,
          realTime: false,
          modes: REPLICATION_MODES,
          reconfigure: true,
        }).scenario,
    ]);
  }
  const bench = benchRun(protocol);
  if (bench !== undefined) runs.push(["bench-12", bench]);
  for (const seed of [3, 4, 5]) {
    runs.push([
      `swarm/${seed}`,
      () =>
        swarmCase(protocol, seed, {
          crashes: true,
          realTime: false,
          modes: REPLICATION_MODES,
        }).scenario,
    ]);
  }
  return runs;
}

/**
 * The simulator benchmark's setup (12 AWS regions, the quickstart workload, solo groups) at 12,000
 * multicasts. (FlexCast's flushes are pinned by its own random tests, which flush every few steps.)
 */
function benchRun(protocol: ProtocolDefinition<unknown>): (() => ScenarioSpec) | undefined {
  const root = findProjectRoot(process.cwd());
  const overlayFiles: Record<string, string> = { cdag: "aws-12-cdag-o1.json" };
  const overlayFile = protocol.overlayKind === null ? undefined : overlayFiles[protocol.overlayKind];
  if (protocol.overlayKind !== null && overlayFile === undefined) return undefined;
  return () => {
    const experiment = loadExperiment(join(root, "experiments", "quickstart.json"));
    const workload = experiment.workloads[0];
    if (workload === undefined) throw new Error("quickstart has a workload");
    const path = overlayFile === undefined ? undefined : join(root, "overlays", overlayFile);
    return faultFreeScenario(experiment, {
      label: "bench",
      seed: 1,
      protocol,
      overlay: path === undefined ? null : parseOverlay(readJson(path, "overlay"), path),
      workload: { ...workload, multicastsPerClient: 250 },
      check: false,
    });
  };
}

/** SHA-256 of the run's trace as JSON Lines, sends included. */
function traceDigest(spec: ScenarioSpec): string {
  const hash = createHash("sha256");
  runScenario({
    ...spec,
    recordSends: true,
    check: false,
    onTrace: (event) => hash.update(`${JSON.stringify(event)}\n`),
  });
  return hash.digest("hex").slice(0, 24);
}

describe("traces are pinned: the same seed gives the same bytes as before", () => {
  for (const protocol of PROTOCOLS) {
    it(`${protocol.name}: every pinned run's trace digest`, () => {
      const actual: Record<string, string> = {};
      for (const [label, build] of pinnedRuns(protocol))
        actual[`${protocol.name}/${label}`] = traceDigest(build());
      const expected = Object.fromEntries(
        Object.keys(actual).map((label) => [label, PINNED[label] ?? "(not pinned)"]),
      );
      expect(actual, `digests now:\n${JSON.stringify(actual, null, 2)}`).toEqual(expected);
    });
  }
});
