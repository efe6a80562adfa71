import { byzcast } from "@amcast/byzcast";
import type { CheckReport } from "@amcast/check";
import { checkRun } from "@amcast/check";
import type { DestinationSet, Overlay, ProtocolDefinition, TraceEvent } from "@amcast/core";
import { parseOverlay, Topology } from "@amcast/core";
import { flexcast } from "@amcast/flexcast";
import { createClient, createReplica, Membership } from "@amcast/group";
import type { SimClient } from "@amcast/sim";
import { simulate } from "@amcast/sim";
import { skeen } from "@amcast/skeen";
import { describe, expect, it } from "vitest";
import { linearizable } from "../src/index.js";

/**
 * The anomaly of linearizable.md §2, made deterministic: partitions P0 and P1; a read r over both;
 * a write w0 to P0 issued after P0 delivered r; a write w1 to P1 issued after w0 completed. The
 * link from P0's side to P1 is slow, so P1 learns of r late and delivers w1 first. Every delivery
 * order is acyclic, yet r -> w1 (r delivered before w1 was multicast) and w1 -> r (at P1) form a
 * real-time cycle. The ACK barrier removes it.
 *
 * Regions: C (the clients, next to P0), P0, P1, and R (ByzCast's root, next to C and P0).
 * One-way delays in ms; everything toward P1 from C, P0 or R is slow except the client's own path.
 */
const regions = ["C", "P0", "P1", "R"];
const latencyMs = [
  // to:  C    P0   P1   R
  [0.5, 1, 10, 1], // from C
  [1, 0.5, 400, 1], // from P0
  [10, 10, 0.5, 10], // from P1
  [1, 1, 400, 0.5], // from R
];
const topology = new Topology(
  "anomaly",
  { regions, latencyMs },
  [
    { id: "P0", region: "P0" },
    { id: "P1", region: "P1" },
    { id: "R", region: "R", role: "auxiliary" },
  ],
  [],
);
const tree = parseOverlay(
  {
    kind: "tree",
    name: "root-over-P0-P1",
    groups: [
      { id: "R", role: "auxiliary" },
      { id: "P0", role: "target" },
      { id: "P1", role: "target" },
    ],
    edges: [
      ["R", "P0"],
      ["R", "P1"],
    ],
  },
  "tree.json",
);

/** FlexCast's order puts P0 first: r's lca is P0, which delivers it on arrival and forwards it. */
const order = parseOverlay({ kind: "cdag", name: "P0-then-P1", order: ["P0", "P1"] }, "cdag.json");

interface Scenario {
  readonly protocol: ProtocolDefinition<unknown>;
  readonly overlay: Overlay | null;
  /** When the writer starts: after P0 delivered r, while P1 has not. */
  readonly writerStartMs: number;
}

/** Runs the scenario: client "reader" warms P0 up, then multicasts r; "writer" sends w0, then w1. */
function run({ protocol, overlay, writerStartMs }: Scenario): { report: CheckReport; events: TraceEvent[] } {
  const groups = overlay === null ? ["P0", "P1"] : [...overlay.groups];
  const membership = Membership.uniform(groups, 1);
  const processes = membership.processes().map(({ id, group }) => ({
    logic: createReplica({ protocol, group, id, membership, overlay, mode: "solo", f: 0 }),
    region: topology.groupRegion(group),
    group,
  }));
  const script = (steps: readonly DestinationSet[]) => {
    let next = 0;
    return () => steps[next++] ?? (steps[steps.length - 1] as DestinationSet);
  };
  const client = (id: string, steps: readonly DestinationSet[], startMs: number): SimClient => ({
    logic: createClient({ id, protocol, membership, overlay, mode: "solo", f: 0, outstandingMax: 1 }),
    region: "C",
    loop: { kind: "closed", multicasts: steps.length, outstanding: 1, thinkMs: 0 },
    payloadBytes: 0,
    startMs,
    destinations: script(steps),
  });
  const events: TraceEvent[] = [];
  simulate({
    seed: 1,
    topology,
    processes,
    // The reader's local writes move P0's clock ahead (they matter to Skeen, not to the others).
    clients: [
      client("reader", [["P0"], ["P0"], ["P0"], ["P0"], ["P0"], ["P0", "P1"]], 0),
      client("writer", [["P0"], ["P1"]], writerStartMs),
    ],
    network: { jitterSdFraction: 0, reorder: null },
    processing: { perMessageUs: 0, perByteNs: 0 },
    faults: { crashes: [], partitions: [] },
    tickMs: 10,
    timeLimitMs: 10_000,
    recordSends: false,
    onEvent: (event) => events.push(event),
  });
  return { report: checkRun(events, { realTime: true }), events };
}

const deliveries = (events: readonly TraceEvent[], group: string) =>
  events.flatMap((event) => (event.ev === "deliver" && event.group === group ? [String(event.id)] : []));

const SCENARIOS: readonly (Scenario & { name: string })[] = [
  { name: "skeen", protocol: skeen as ProtocolDefinition<unknown>, overlay: null, writerStartMs: 50 },
  { name: "byzcast", protocol: byzcast as ProtocolDefinition<unknown>, overlay: tree, writerStartMs: 50 },
  { name: "flexcast", protocol: flexcast as ProtocolDefinition<unknown>, overlay: order, writerStartMs: 50 },
];

for (const scenario of SCENARIOS) {
  describe(`${scenario.name}: the real-time anomaly of classic atomic multicast`, () => {
    it("plain: every order is acyclic, but the real-time oracle finds r -> w1 -> r", () => {
      const { report, events } = run(scenario);
      const properties = report.violations.map((violation) => violation.property);
      expect(properties).toEqual(["real-time-order"]);
      const [violation] = report.violations;
      expect(violation?.message).toMatch(/cycle reader:5 -> writer:1 -> reader:5/);
      expect(violation?.message).toMatch(
        /reader:5 delivered at t=[\d.]+ \(by P0\/0\) before writer:1 multicast/,
      );
      // P0 delivered r before w0; P1 delivered w1 before r.
      expect(deliveries(events, "P0").slice(-2)).toEqual(["reader:5", "writer:0"]);
      expect(deliveries(events, "P1")).toEqual(["writer:1", "reader:5"]);
    });

    it("linearizable: the ACK barrier orders w1 after r, and the oracle finds nothing", () => {
      const { report, events } = run({
        ...scenario,
        protocol: linearizable(scenario.protocol) as ProtocolDefinition<unknown>,
      });
      expect(report.violations.map((violation) => violation.message)).toEqual([]);
      expect(report.checked).toContain("real-time-order");
      expect(deliveries(events, "P1")).toEqual(["reader:5", "writer:1"]);
    });
  });
}
