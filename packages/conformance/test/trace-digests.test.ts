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
  "skeen/crash/mixed": "51249d3d295d75e4418da39a",
  "skeen/byzantine/mixed": "8557dd617fe421a61c4fac8a",
  "skeen/solo/crashes": "2b2e8e606571e1f28c3fa743",
  "skeen/crash/crashes": "3fde297b6ce53c73208bab5a",
  "skeen/byzantine/strategies": "6f184c24dfc40b2fc067b1e9",
  "skeen/solo/reorder": "1e516b5152b4c35785f7c70c",
  "skeen/crash/mixed/linearizable": "5b59a362a245e9f23caf907f",
  "skeen/bench-12": "a9951644198ae213962284ec",
  "skeen/swarm/3": "c0a701b230c7d0f3da8c508a",
  "skeen/swarm/4": "8d2fe2c57966e470c77f1163",
  "skeen/swarm/5": "6b399a29e0102f7193fa5aec",
  "byzcast/solo/mixed": "dd042e0ce5590215698a04ef",
  "byzcast/crash/mixed": "e761ea662acba328ea8181c9",
  "byzcast/byzantine/mixed": "5ca11038ecb532ea2aa983f6",
  "byzcast/solo/crashes": "2e7cc141338947d2a65381df",
  "byzcast/crash/crashes": "121757b0fd7edda8da57802b",
  "byzcast/byzantine/strategies": "d2c2fbf45f1ae852ce26f38a",
  "byzcast/solo/reorder": "7cb5148b8cccd1e766dcfc22",
  "byzcast/crash/mixed/linearizable": "9765375934decea23ffa1ec1",
  "byzcast/swarm/6/reconfigure": "a964b7a84a5156e6aadc8b4b",
  "byzcast/swarm/3": "db21d8b2cc20ac1b2c3962ad",
  "byzcast/swarm/4": "2f07dafbda4811bbe6616f67",
  "byzcast/swarm/5": "57d7ebb55385b8c3e8ffe799",
  "flexcast/solo/mixed": "6941522896cdbed303d1e25d",
  "flexcast/crash/mixed": "63b249096eb0d8de955aa19a",
  "flexcast/byzantine/mixed": "43946dec0cec2413f6267901",
  "flexcast/solo/crashes": "7a1d6bb16642cac32ffefb1c",
  "flexcast/crash/crashes": "e0aac79aa92080a415401b04",
  "flexcast/byzantine/strategies": "a0013cd2ffb6afc66deb8df0",
  "flexcast/solo/reorder": "979f4e5bd4aedaca228a8a28",
  "flexcast/crash/mixed/linearizable": "3039a295509d61afb6705196",
  "flexcast/swarm/6/reconfigure": "2f8e83a3159143c4cbdc9d97",
  "flexcast/bench-12": "70c57e967d1df67723ca4108",
  "flexcast/swarm/3": "3b6ea6b85f4d3a9dd423ecef",
  "flexcast/swarm/4": "e050a36134cf51e3f2ae8f4b",
  "flexcast/swarm/5": "9d7f3de03370282eed7156f1",
  "sequencer/solo/mixed": "0e8c85362a70b4d55e596c40",
  "sequencer/crash/mixed": "03941ce33a171995e2673ed1",
  "sequencer/byzantine/mixed": "f55d02a557b892c56347f986",
  "sequencer/solo/crashes": "0e6e78bc20c86f78d27994ed",
  "sequencer/crash/crashes": "e42f9d71bcbd78658898fada",
  "sequencer/byzantine/strategies": "666f30d4cc81bdc6f98b05f8",
  "sequencer/solo/reorder": "3fbffe90453318d0ae10657c",
  "sequencer/crash/mixed/linearizable": "958340f76553ce7ba8ac7f9d",
  "sequencer/bench-12": "e8bb95c1af545dd61dcbd042",
  "sequencer/swarm/3": "f8ef03d8690e834e68ec4fdd",
  "sequencer/swarm/4": "ebde5e824b551894f95cab85",
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
