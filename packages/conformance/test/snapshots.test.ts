import type { ProtocolDefinition } from "@amcast/core";
import type { ScenarioSpec } from "@amcast/experiment";
import { failingViolations, PROTOCOLS, runScenario, swarmCase } from "@amcast/experiment";
import { flexcastProtocol } from "@amcast/flexcast";
import { describe, expect, it } from "vitest";
import { PROPERTY_CASES, restoreChangesNothing } from "../src/index.js";

/**
 * Every protocol's snapshot is its whole state: restoring one (after a trip through the
 * checkpoint codec) and going on changes no delivery and no send. Run over every registered
 * protocol, plain, behind the linearizable barrier and, for overlay protocols, in views; plus
 * FlexCast flushing every few deliveries, so its garbage collection and flush epochs are in the
 * state restored. A protocol (or a change to one) whose snapshot forgets a field fails here.
 */
const mixed = PROPERTY_CASES.find((propertyCase) => propertyCase.id === "mixed");
if (mixed === undefined) throw new Error("the suite has a mixed case");
const mixedCase = mixed;

const RESTORE_EVERY_STEPS = 7;

const flushing = {
  ...flexcastProtocol({ flushEvery: 4, historyEntriesMax: 64 }),
} as ProtocolDefinition<unknown>;

function expectUnchanged(spec: ScenarioSpec): void {
  const comparison = restoreChangesNothing(spec, RESTORE_EVERY_STEPS);
  expect(comparison.restores, "the run restored its groups").toBeGreaterThan(10);
  expect(comparison.firstDifference, `${spec.label}: first trace line that differs`).toBeUndefined();
}

describe("restoring a group logic from its snapshot changes nothing", () => {
  for (const protocol of [...PROTOCOLS, flushing]) {
    const name = protocol === flushing ? "flexcast (flushing every 4)" : protocol.name;
    it(`${name}: plain and linearizable`, () => {
      expectUnchanged(mixedCase.scenario(protocol, "solo", 1));
      expectUnchanged({ ...mixedCase.scenario(protocol, "solo", 2), linearizable: true });
    });
    if (protocol.overlayKind !== null) {
      it(`${name}: in views (reconfiguring during the run)`, () => {
        const { scenario } = swarmCase(protocol, 6, {
          crashes: false,
          realTime: false,
          modes: ["solo"],
          reconfigure: true,
        });
        expectUnchanged(scenario);
      });
    }
  }
});

describe("a reconfigurable group's checkpoint moves between replicas", () => {
  it("FlexCast in views, crash mode: g0/1, back empty after g0 installed view 1, installs a checkpoint; the run holds", () => {
    const flexcast = PROTOCOLS.find(
      (protocol) => protocol.name === "flexcast",
    ) as ProtocolDefinition<unknown>;
    const { scenario } = swarmCase(flexcast, 6, {
      crashes: false,
      realTime: false,
      modes: ["crash"],
      reconfigure: true,
    });
    let g0ViewAtMs: number | undefined;
    let installAtMs: number | undefined;
    const outcome = runScenario({
      ...scenario,
      checkpointEntries: 4,
      faults: { crashes: [{ proc: "g0/1", atMs: 30, recoverAtMs: 1200, kind: "amnesia" }], partitions: [] },
      onTrace: (event) => {
        if (event.ev === "view" && event.group === "g0") g0ViewAtMs ??= event.t;
        if (event.ev === "fault" && event.kind === "install" && event.proc === "g0/1")
          installAtMs ??= event.t;
      },
    });
    expect(g0ViewAtMs).toBeLessThan(1200);
    expect(installAtMs).toBeGreaterThan(1200);
    expect(failingViolations(outcome)).toEqual([]);
    expect(outcome.sim.stoppedBy).toBe("drained");
  });
});
