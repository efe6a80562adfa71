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
  "skeen/solo/mixed": "653d8c7dad3e564a0ec39277",
  "skeen/crash/mixed": "a05914b4d516d80503558ae8",
  "skeen/byzantine/mixed": "90375f9da64e90caa1953e17",
  "skeen/solo/crashes": "a4476abe0699909887711aab",
  "skeen/crash/crashes": "d8da6f63cbbae93913f13bd9",
  "skeen/byzantine/strategies": "4a0e29da2d404f3466d3b249",
  "skeen/solo/reorder": "1432135bc1baf74869dbd2ab",
  "skeen/crash/mixed/linearizable": "1c195285045198c35444bfa4",
  "skeen/bench-12": "ed169cc93b7a4f73ec75c778",
  "skeen/swarm/3": "9e305c7d7b675f22605059cd",
  "skeen/swarm/4": "886132e4e78c758aa525f768",
  "skeen/swarm/5": "26498289b6dbaab5c4a303b7",
  "byzcast/solo/mixed": "e4b0141ab01c446bebdedc39",
  "byzcast/crash/mixed": "cafd92d59bb89304286e7920",
  "byzcast/byzantine/mixed": "98c2a0b5b1d6094167edcbfa",
  "byzcast/solo/crashes": "f870137d7b7e89c8a950be7a",
  "byzcast/crash/crashes": "01aa7ad3e88afc4e1e44d2b2",
  "byzcast/byzantine/strategies": "d1cfbeaeb2ede1437ab1b5d8",
  "byzcast/solo/reorder": "df955a71f6e9c1623c153067",
  "byzcast/crash/mixed/linearizable": "c5ca4e587bcdcc8eca0b4160",
  "byzcast/swarm/6/reconfigure": "67185501db722429b5ad6696",
  "byzcast/swarm/3": "865eba92dbcc667bfbce3ae7",
  "byzcast/swarm/4": "24ff71397d6aa8c860425079",
  "byzcast/swarm/5": "56a34744a93b155018a12d27",
  "flexcast/solo/mixed": "7fea88509c0986a64b66d8ca",
  "flexcast/crash/mixed": "4a1d0a5d3a705dfc0177505e",
  "flexcast/byzantine/mixed": "9685a2b6c042bf00f3f36f35",
  "flexcast/solo/crashes": "22462a9eec18d8e5d2cc61ae",
  "flexcast/crash/crashes": "84ce3f35ab4d578e8466e073",
  "flexcast/byzantine/strategies": "69955edf721a31c539f8f71c",
  "flexcast/solo/reorder": "89d64d1c6bfcf6571fcbd7a4",
  "flexcast/crash/mixed/linearizable": "c093c8df94fdab43548659c5",
  "flexcast/swarm/6/reconfigure": "d43a1cd7ce4fb36de7ad51dc",
  "flexcast/bench-12": "70c32753c06b9be601addd72",
  "flexcast/swarm/3": "f693ecd27541430631de2117",
  "flexcast/swarm/4": "9f685acd30f79222ec2bbaa7",
  "flexcast/swarm/5": "1ecd79b26ab5b46c26f4ccce",
  "sequencer/solo/mixed": "5de390d8e63c4fc7399d4411",
  "sequencer/crash/mixed": "02b90b07199571d42c6a8e0c",
  "sequencer/byzantine/mixed": "be54a9d325d50edd48878b27",
  "sequencer/solo/crashes": "9dd18daaf731832425c65854",
  "sequencer/crash/crashes": "76b3494bd7276bbcd26d27a7",
  "sequencer/byzantine/strategies": "33da250591f0c165922ddaea",
  "sequencer/solo/reorder": "8977954049c215cbfd62b848",
  "sequencer/crash/mixed/linearizable": "1213e00f3b2e1c4123bf4b41",
  "sequencer/bench-12": "7778938cec43c97126c13111",
  "sequencer/swarm/3": "6f44d4a828079042b0de63a2",
  "sequencer/swarm/4": "e72406ff2fabe98e8aa46c40",
  "sequencer/swarm/5": "6ebaa6693370d2fa5a9cfb12",
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
