import { Topology } from "@amcast/core";
import { protocolByName } from "@amcast/protocols";
import { describe, expect, it } from "vitest";
import type { Codec, Schema, SystemSpec } from "../src/index.js";
import { runChecks, stopEvent } from "../src/index.js";

const SPEC: SystemSpec = {
  label: "checks",
  seed: 1,
  topology: new Topology("one", { regions: ["a"], latencyMs: [[1]] }, [{ id: "a", region: "a" }], []),
  protocol: protocolByName("skeen", "test", "protocol"),
  overlay: null,
  mode: "crash",
  f: 1,
  workload: {
    name: "w",
    clientsPerGroup: 1,
    loop: "closed",
    multicastsPerClient: 1,
    outstanding: 1,
    thinkMs: 0,
    ratePerSec: 1,
    outstandingMax: 1,
    payloadBytes: 0,
    groups: null,
    locality: { localPercent: 100, globalSizes: [2], globalChoice: "uniform" },
    startSpreadMs: 0,
  },
  byzantine: [],
  faultPlan: "",
  network: { jitterSdFraction: 0, reorder: null },
  processing: { perMessageUs: 0, perByteNs: 0 },
  faults: { crashes: [], partitions: [] },
  timeLimitMs: 1000,
  tickMs: 10,
  realTime: false,
};

const SAFETY = ["integrity", "prefix-order", "acyclic-order"];
const ALL = ["integrity", "validity", "agreement", "prefix-order", "acyclic-order"];

describe("runChecks: what a run owes, for both runtimes", () => {
  it("a plain run owes everything but real-time order; asked to, it counts real-time order", () => {
    expect(runChecks(SPEC, "drained")).toEqual({ owes: ALL, counts: [], expectedStop: false });
    expect(runChecks({ ...SPEC, realTime: true }, "drained").counts).toEqual(["real-time-order"]);
  });

  it("linearizable means real-time order is owed", () => {
    const checks = runChecks({ ...SPEC, linearizable: true, realTime: true }, "drained");
    expect(checks.owes).toEqual([...ALL, "real-time-order"]);
    expect(checks.counts).toEqual([]);
  });

  it("delivery is owed at an undeclared time limit, not at a declared one", () => {
    expect(runChecks(SPEC, "time-limit").owes).toEqual(ALL);
    const declared = runChecks({ ...SPEC, endsAtTimeLimit: true }, "time-limit");
    expect(declared).toEqual({ owes: SAFETY, counts: [], expectedStop: true });
    expect(runChecks({ ...SPEC, endsAtTimeLimit: true }, "drained").owes).toEqual(ALL);
  });

  it("a crashed solo group owes no delivery; a replicated one does", () => {
    const crashes = { crashes: [{ proc: "a/0", atMs: 5 }], partitions: [] };
    expect(runChecks({ ...SPEC, mode: "solo", f: 0, faults: crashes }, "drained").owes).toEqual(SAFETY);
    expect(runChecks({ ...SPEC, faults: crashes }, "drained").owes).toEqual(ALL);
  });

  it("the stop event carries the decision", () => {
    expect(stopEvent({ ...SPEC, endsAtTimeLimit: true, realTime: true }, "time-limit", 1000, "sim")).toEqual({
      ev: "stop",
      reason: "time-limit",
      t: 1000,
      owes: SAFETY,
      counts: ["real-time-order"],
      expected: true,
    });
    expect(stopEvent(SPEC, "drained", 5, "sim")).toEqual({ ev: "stop", reason: "drained", t: 5, owes: ALL });
    // Only the network runtime names itself: the simulator's traces stay byte-identical.
    expect(stopEvent(SPEC, "drained", 5, "net")).toEqual({
      ev: "stop",
      reason: "drained",
      t: 5,
      owes: ALL,
      runtime: "net",
    });
  });

  it("a schema must carry every field (checked by the type checker)", () => {
    const number: Codec<number> = { write: (value) => value, read: (value) => value as number };
    const complete: Schema<{ a: number; b?: number }> = {
      a: number,
      b: { ...number, read: () => undefined },
    };
    // @ts-expect-error: `b` has no codec, so this schema does not compile.
    const missing: Schema<{ a: number; b: number }> = { a: number };
    expect(Object.keys(complete)).toEqual(["a", "b"]);
    expect(Object.keys(missing)).toEqual(["a"]);
  });
});
