import { InputError, Topology } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { protocolByName } from "../src/index.js";
import type { NetSystem } from "../src/net-system.js";
import { netSystemDoc, netSystemFromDoc } from "../src/net-system.js";

const topology = new Topology(
  "pair",
  {
    regions: ["a", "b"],
    latencyMs: [
      [1, 10],
      [10, 1],
    ],
  },
  [
    { id: "a", region: "a" },
    { id: "b", region: "b" },
  ],
  [],
);

function system(params: unknown): NetSystem {
  return {
    label: "pair",
    spec: {
      seed: 1,
      topology,
      protocol: protocolByName("skeen", "test", "protocol"),
      overlay: null,
      ...(params === undefined ? {} : { params }),
      mode: "solo",
      f: 0,
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
        locality: { localPercent: 100, globalSizes: [], globalChoice: "uniform" },
        startSpreadMs: 0,
      },
      byzantine: [],
    },
    network: { jitterSdFraction: 0, reorder: null },
    tickMs: 10,
    recordSends: false,
  };
}

/** The system as a node reads it from a deployment file. */
const roundTrip = (params: unknown): NetSystem =>
  netSystemFromDoc(JSON.parse(JSON.stringify(netSystemDoc(system(params)))), "deploy.json");

describe("the network runtime's system document", () => {
  it("carries the protocol's parameters to every node, and none when there are none", () => {
    expect(roundTrip({}).spec.params).toEqual({});
    expect("params" in roundTrip(undefined).spec).toBe(false);
  });

  it("has the protocol check them, naming the file and field", () => {
    expect(() => roundTrip({ x: 1 })).toThrow(InputError);
    expect(() => roundTrip({ x: 1 })).toThrow(/^deploy\.json: system\.params\.x: is not a known field here/);
  });
});
