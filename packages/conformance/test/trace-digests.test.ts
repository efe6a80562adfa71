import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ProtocolDefinition } from "@amcast/core";
import { parseOverlay } from "@amcast/core";
import type { ScenarioSpec } from "@amcast/experiment";
import {
  faultFreeScenario,
  findProjectRoot,
  loadExperiment,
  PROTOCOLS,
  readJson,
  runScenario,
  swarmCase,
} from "@amcast/experiment";
import type { ReplicationMode } from "@amcast/group";
import { REPLICATION_MODES } from "@amcast/group";
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
  "skeen/solo/mixed": "5a98c35ade860d1eb8c8b42c",
  "skeen/crash/mixed": "80bb8cbc6910b9545af20372",
  "skeen/byzantine/mixed": "66e389748a4a312766036951",
  "skeen/solo/crashes": "ce012bde32a4f17b918105a7",
  "skeen/crash/crashes": "a26b202ec44b541a144743a6",
  "skeen/byzantine/strategies": "e26c4b403d6ec2e79bf1247f",
  "skeen/solo/reorder": "a708cecc5585138e953361a7",
  "skeen/crash/mixed/linearizable": "bb819a082e570c421a1de0c9",
  "skeen/bench-12": "cdd779d88cedf4baa7549e91",
  "skeen/swarm/3": "860a8f1ac2f4d913881dc96c",
  "skeen/swarm/4": "062d9243a0f06593411ac0be",
  "skeen/swarm/5": "8b9184febde431a4612c1dd9",
  "byzcast/solo/mixed": "aad479ae3c74d8427d2df973",
  "byzcast/crash/mixed": "0a06fd769359dd1b4ddafde4",
  "byzcast/byzantine/mixed": "214b273b1178f11fd30f250b",
  "byzcast/solo/crashes": "551347278c33faac665f7957",
  "byzcast/crash/crashes": "25cf06d52a0be1d95dab8960",
  "byzcast/byzantine/strategies": "f348368e8b7357c8dba2a91c",
  "byzcast/solo/reorder": "28dc33e2058ff12e066c75d3",
  "byzcast/crash/mixed/linearizable": "368d50bd07904ced25b6a57c",
  "byzcast/swarm/6/reconfigure": "4dce60e62d10bc25b8666df9",
  "byzcast/swarm/3": "b1af836fa82712f8636b2f25",
  "byzcast/swarm/4": "8e0b4ba41f199bc9fd592832",
  "byzcast/swarm/5": "75ef1412c8dd3c364a3ec117",
  "flexcast/solo/mixed": "cc0d7433a7d8f5e91d18358d",
  "flexcast/crash/mixed": "8b7851cf51a61f713bf5bf1d",
  "flexcast/byzantine/mixed": "2a588f60a2da354a9b66342c",
  "flexcast/solo/crashes": "accd421d8665c9be69127688",
  "flexcast/crash/crashes": "42943f401a0c19352e99a798",
  "flexcast/byzantine/strategies": "4fef3ded3c4ef796b2e45ba7",
  "flexcast/solo/reorder": "0b29dfd9f6dba9e891786c40",
  "flexcast/crash/mixed/linearizable": "ebbbd9a4d47dc328c0f98d47",
  "flexcast/swarm/6/reconfigure": "2a4ef6aa45b741362b56201e",
  "flexcast/bench-12": "8c3a30c33895c9897a7d9826",
  "flexcast/swarm/3": "fe01cb079513091b82716019",
  "flexcast/swarm/4": "c815e7d53d74a40a80956287",
  "flexcast/swarm/5": "21c0dfd61edfebac8ee53bb7",
  "sequencer/solo/mixed": "2eb357a04a6d4ac622268c73",
  "sequencer/crash/mixed": "a4d9dd3a2267929105ffa92d",
  "sequencer/byzantine/mixed": "ed61142c999c7ae8d2cc6450",
  "sequencer/solo/crashes": "dc0e72e7095e5110a053379c",
  "sequencer/crash/crashes": "7b56c9bb136cead2f681c613",
  "sequencer/byzantine/strategies": "a6a095460763ca478dbe5951",
  "sequencer/solo/reorder": "3238f729b204c98a27a6d5fc",
  "sequencer/crash/mixed/linearizable": "0c9c870675743a45285d7983",
  "sequencer/bench-12": "55fd7967e935a9d5ce308d83",
  "sequencer/swarm/3": "05d69d17ba37d1a7f2455168",
  "sequencer/swarm/4": "e804978276b8414e6401819a",
  "sequencer/swarm/5": "1279d7f4c65f7456dec9d816",
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
