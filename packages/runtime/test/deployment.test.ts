import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LocalitySpec, Overlay } from "@amcast/core";
import { overlayToJson, parseOverlay, percent, Topology } from "@amcast/core";
import { protocolByName } from "@amcast/protocols";
import type { ReconfigSpec, SystemSpec, WorkloadShift, WorkloadSpec } from "@amcast/system";
import { buildSystem, SYSTEM_SCHEMA, systemToJson } from "@amcast/system";
import { afterAll, describe, expect, it } from "vitest";
import { deploymentToJson, loadDeployment } from "../src/index.js";

/**
 * One spec, carried whole: a system spec with every field set (none at its default) goes
 * through a deployment file, as the cluster runner writes it and every node reads it, and comes
 * back equal field by field. `Required<...>` makes TypeScript refuse this fixture when a field is
 * added to the spec types without a value here; the loop over the schema's keys and the
 * fixture's makes the test fail when a field is carried by one and not the other.
 */

const TREE: Overlay = parseOverlay(
  {
    kind: "tree",
    name: "round-trip-tree",
    groups: [
      { id: "x", role: "auxiliary" },
      { id: "a", role: "target" },
      { id: "b", role: "target" },
      { id: "c", role: "target" },
    ],
    edges: [
      ["x", "a"],
      ["x", "b"],
      ["x", "c"],
    ],
  },
  "tree",
);

const TABLE_LOCALITY: Required<LocalitySpec> = {
  localPercent: 20,
  globalSizes: [],
  globalChoice: "table",
  destinationTable: new Map([
    ["a", [{ dst: ["a", "b"], weight: 95 }]],
    ["b", [{ dst: ["b", "a"], weight: 1 }]],
  ]),
};

const SHIFT: Required<WorkloadShift> = { atMs: 750, locality: TABLE_LOCALITY };

const WORKLOAD: Required<WorkloadSpec> = {
  name: "every-field",
  clientsPerGroup: 2,
  loop: "open",
  multicastsPerClient: 17,
  outstanding: 3,
  thinkMs: 4.5,
  ratePerSec: 33.5,
  outstandingMax: 9,
  payloadBytes: 123,
  groups: ["a", "b"],
  locality: { localPercent: 70, globalSizes: [2], globalChoice: "nearest" },
  startSpreadMs: 12,
  shift: SHIFT,
};

const RECONFIG: Required<ReconfigSpec> = {
  policy: "random",
  statsEveryMs: 300,
  windowCollections: 4,
  minGainFraction: 0.12,
  solver: "exhaustive",
  solverTimeLimitMs: 777,
  loadLimitFraction: 0.4,
  viewsMax: 5,
  controlMulticastsMax: 99,
  measuredDelays: false,
  firstGainPercentMin: 15,
};

const FULL: Required<SystemSpec> = {
  label: "byzcast+lin/crash/every-field/storm/seed-9",
  seed: 9,
  topology: new Topology(
    "round-trip",
    {
      regions: ["ra", "rb", "rc"],
      latencyMs: [
        [1, 20, 30.5],
        [21, 1.5, 25],
        [31, 26, 2],
      ],
    },
    [
      { id: "a", region: "ra" },
      { id: "b", region: "rb" },
      { id: "c", region: "rc" },
      { id: "x", region: "ra", role: "auxiliary" },
    ],
    [{ region: "rb", count: 2, home: "b" }],
  ),
  protocol: protocolByName("byzcast", "test", "protocol"),
  overlay: TREE,
  // ByzCast takes no parameters: an empty object is the only value it accepts besides none.
  params: {},
  mode: "crash",
  f: 1,
  workload: WORKLOAD,
  byzantine: [{ proc: "a/1", strategy: "forge" }],
  linearizable: true,
  reconfig: RECONFIG,
  faultPlan: "storm",
  network: { jitterSdFraction: 0.2, reorder: { chance: percent(30), extraDelayMsMax: 40 } },
  processing: { perMessageUs: 20, perByteNs: 2 },
  faults: {
    crashes: [
      { proc: "a/0", atMs: 100, recoverAtMs: 300 },
      { leaderOf: "b", atMs: 200 },
    ],
    partitions: [{ side: ["c/0", "c/1"], atMs: 50, healAtMs: 90 }],
    byzantine: ["a/1"],
  },
  timeLimitMs: 12_345,
  endsAtTimeLimit: true,
  tickMs: 7,
  realTime: true,
};

const dir = mkdtempSync(join(tmpdir(), "amcast-deployment-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function deploymentOf(system: unknown, replicas: readonly string[], extra: object = {}): string {
  const file = join(dir, `deployment-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      kind: "deployment",
      name: "round trip",
      system,
      traceSends: true,
      latencyEmulation: true,
      replicas: replicas.map((id, index) => ({ id, host: "127.0.0.1", port: 7000 + index })),
      ...extra,
    }),
  );
  return file;
}

const { reconfig: _controller, ...withoutController } = FULL;
const REPLICAS = buildSystem(withoutController)
  .membership.processes()
  .map((process) => process.id);

/** A field's value in a form that compares by content (classes by what they hold). */
function comparable(key: keyof SystemSpec, value: unknown): unknown {
  switch (key) {
    case "topology": {
      const topology = value as Topology;
      return {
        name: topology.name,
        matrix: topology.matrix(),
        groups: topology.groups,
        clients: topology.clients,
      };
    }
    case "overlay":
      return value === null ? null : overlayToJson(value as Overlay);
    case "protocol":
      return (value as SystemSpec["protocol"]).name;
    default:
      return value;
  }
}

describe("a system spec through the deployment file", () => {
  it("comes back with every field equal", () => {
    const deployment = loadDeployment(deploymentOf(systemToJson(FULL), REPLICAS));
    const keys = new Set([...Object.keys(SYSTEM_SCHEMA), ...Object.keys(FULL)]) as Set<keyof SystemSpec>;
    expect(keys.size).toBe(Object.keys(FULL).length);
    for (const key of keys) {
      expect(FULL[key], `the fixture sets ${key}`).not.toBeUndefined();
      expect(comparable(key, deployment.system[key]), key).toEqual(comparable(key, FULL[key]));
    }
    // The same object for the protocol: the registry's.
    expect(deployment.system.protocol).toBe(FULL.protocol);
    expect(deployment.traceSends).toBe(true);
    expect(deployment.latencyEmulation).toBe(true);
    expect(deployment.storage).toBeUndefined();
  });

  it("carries the replicas' fsync policy, and names a bad one", () => {
    const json = systemToJson(FULL);
    const read = loadDeployment(deploymentOf(json, REPLICAS, { storage: { fsync: "interval" } }));
    expect(read.storage).toEqual({ fsync: "interval" });
    expect(deploymentToJson(read).storage).toEqual({ fsync: "interval" });
    expect(() => loadDeployment(deploymentOf(json, REPLICAS, { storage: { fsync: "always" } }))).toThrow(
      /storage\.fsync: expected one of batch, interval or none, got "always"/,
    );
    expect(() =>
      loadDeployment(deploymentOf(json, REPLICAS, { storage: { fsync: "none", dir: "x" } })),
    ).toThrow(/storage\.dir: is not a known field here/);
  });

  it("carries whether journals are truncated and whether the cluster ran before (defaults: truncated, new)", () => {
    const json = systemToJson(FULL);
    const storage = { fsync: "batch", truncate: false, clusterState: "existing" };
    const read = loadDeployment(deploymentOf(json, REPLICAS, { storage }));
    expect(read.storage).toEqual(storage);
    expect(deploymentToJson(read).storage).toEqual(storage);
    const defaults = { fsync: "batch", truncate: true, clusterState: "new" };
    expect(loadDeployment(deploymentOf(json, REPLICAS, { storage: defaults })).storage).toEqual({
      fsync: "batch",
    });
    expect(() =>
      loadDeployment(deploymentOf(json, REPLICAS, { storage: { fsync: "batch", clusterState: "old" } })),
    ).toThrow(/storage\.clusterState: expected "new" or "existing", got "old"/);
  });

  it("writes plain JSON: written again, the parsed spec gives the same document", () => {
    const json = systemToJson(FULL);
    const again = systemToJson(loadDeployment(deploymentOf(json, REPLICAS)).system);
    expect(again).toEqual(JSON.parse(JSON.stringify(json)));
  });

  it("keeps optional fields absent when they are absent", () => {
    const { linearizable: _lin, reconfig: _re, endsAtTimeLimit: _end, params: _params, ...plain } = FULL;
    const { shift: _shift, ...unshifted } = WORKLOAD;
    const bare: SystemSpec = {
      ...plain,
      workload: { ...unshifted, clientsPerGroup: null, groups: null },
      network: { jitterSdFraction: 0, reorder: null },
      faults: { crashes: [], partitions: [] },
    };
    const read = loadDeployment(deploymentOf(systemToJson(bare), REPLICAS)).system;
    expect("linearizable" in read).toBe(false);
    expect("params" in read).toBe(false);
    expect("reconfig" in read).toBe(false);
    expect("endsAtTimeLimit" in read).toBe(false);
    expect("shift" in read.workload).toBe(false);
    expect(read.workload.groups).toBeNull();
    expect(read.network.reorder).toBeNull();
    expect("byzantine" in read.faults).toBe(false);
  });

  it("names the field of a bad value, and refuses unknown fields", () => {
    const json = systemToJson(FULL) as Record<string, Record<string, unknown>>;
    const bad =
      (system: unknown): (() => unknown) =>
      () =>
        loadDeployment(deploymentOf(system, REPLICAS));
    expect(bad({ ...json, workload: { ...json.workload, outstanding: 0 } })).toThrow(
      /system\.workload\.outstanding: expected a whole number >= 1, got 0/,
    );
    expect(bad({ ...json, mode: "paxos" })).toThrow(/system\.mode: expected one of solo, crash or byzantine/);
    expect(bad({ ...json, linearizable: "yes" })).toThrow(/system\.linearizable: expected true or false/);
    expect(bad({ ...json, protocol: "tob" })).toThrow(/system\.protocol: unknown protocol "tob"/);
    expect(bad({ ...json, colour: "blue" })).toThrow(/system\.colour: is not a known field here/);
    // The protocol checks its parameters, naming the file and the field.
    expect(bad({ ...json, params: { x: 1 } })).toThrow(
      /deployment-\w+\.json: system\.params\.x: is not a known field here/,
    );
    expect(bad({ ...json, faults: { ...json.faults, crashes: [{ atMs: 1 }] } })).toThrow(
      /system\.faults\.crashes\[0\]: a crash names either proc or leaderOf/,
    );
  });
});
