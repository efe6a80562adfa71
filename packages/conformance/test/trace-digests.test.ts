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
  "skeen/crash/mixed": "68428e41bf47d88dcec3bbac",
  "skeen/byzantine/mixed": "ef0633cca56ec18d8891d1ea",
  "skeen/solo/crashes": "2b2e8e606571e1f28c3fa743",
  "skeen/crash/crashes": "ab0b4fdab848c7276a74963a",
  "skeen/byzantine/strategies": "b1bc722a04fa8c31673bb4f0",
  "skeen/solo/reorder": "1e516b5152b4c35785f7c70c",
  "skeen/crash/mixed/linearizable": "af5991fef507b73b6604070b",
  "skeen/bench-12": "a9951644198ae213962284ec",
  "skeen/swarm/3": "81dd65a372377cdaff7e2c1d",
  "skeen/swarm/4": "2e9e8cad7d751e385d5debec",
  "skeen/swarm/5": "6b399a29e0102f7193fa5aec",
  "byzcast/solo/mixed": "dd042e0ce5590215698a04ef",
  "byzcast/crash/mixed": "a501a7f420b63af9a2c1fb92",
  "byzcast/byzantine/mixed": "b559e0b79f625c052bac4de0",
  "byzcast/solo/crashes": "2e7cc141338947d2a65381df",
  "byzcast/crash/crashes": "dcb248449250b8f1832e2f28",
  "byzcast/byzantine/strategies": "47d5eddf2509d2b714e4bad4",
  "byzcast/solo/reorder": "7cb5148b8cccd1e766dcfc22",
  "byzcast/crash/mixed/linearizable": "50723cd2b06db39251947f8e",
  "byzcast/swarm/6/reconfigure": "a964b7a84a5156e6aadc8b4b",
  "byzcast/swarm/3": "e1ce10601d9ae25441c793c2",
  "byzcast/swarm/4": "4f2c8bb7475c826ad04e219f",
  "byzcast/swarm/5": "57d7ebb55385b8c3e8ffe799",
  "flexcast/solo/mixed": "6941522896cdbed303d1e25d",
  "flexcast/crash/mixed": "edcf3a62f06c03adf8e2a61b",
  "flexcast/byzantine/mixed": "cf3917712ea9ebfe6fb95a16",
  "flexcast/solo/crashes": "7a1d6bb16642cac32ffefb1c",
  "flexcast/crash/crashes": "17b049ec784c167fa3f9978f",
  "flexcast/byzantine/strategies": "9ba9fbf126139cc2b10d950d",
  "flexcast/solo/reorder": "979f4e5bd4aedaca228a8a28",
  "flexcast/crash/mixed/linearizable": "73ee4cd73a63ce8dc0be5b33",
  "flexcast/swarm/6/reconfigure": "2f8e83a3159143c4cbdc9d97",
  "flexcast/bench-12": "70c57e967d1df67723ca4108",
  "flexcast/swarm/3": "d738d43bc63b8ee665c57dfd",
  "flexcast/swarm/4": "c80aeda71c10b24dda3a4d13",
  "flexcast/swarm/5": "9d7f3de03370282eed7156f1",
  "sequencer/solo/mixed": "0e8c85362a70b4d55e596c40",
  "sequencer/crash/mixed": "2b8e9cb1323f318ebb2ea64e",
  "sequencer/byzantine/mixed": "b2c54907df8744b323e1f0d7",
  "sequencer/solo/crashes": "0e6e78bc20c86f78d27994ed",
  "sequencer/crash/crashes": "1c2eb09929867c38b5ffc325",
  "sequencer/byzantine/strategies": "95642b11dd9324af19f82fb5",
  "sequencer/solo/reorder": "3fbffe90453318d0ae10657c",
  "sequencer/crash/mixed/linearizable": "a304ffcbf2eee13eb969faae",
  "sequencer/bench-12": "e8bb95c1af545dd61dcbd042",
  "sequencer/swarm/3": "531063b9b733b6898f7d9d46",
  "sequencer/swarm/4": "5938ba9237f821d3e352912e",
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
