import { join, resolve } from "node:path";
import type { GroupLogic, OverlayProtocolDefinition } from "@amcast/core";
import { parseOverlay } from "@amcast/core";
import type { FlexCastMessage, FlexCastParams } from "@amcast/flexcast";
import { FlexCastGroup, flexcastProtocol } from "@amcast/flexcast";
import { readJson } from "@amcast/system";
import { describe, expect, it } from "vitest";
import { faultFreeScenario, loadExperiment, runScenario } from "../src/index.js";

const ROOT = resolve(__dirname, "../../..");

/** The retained-history budget of these runs: at 48 groups the stated bound is this (rule 9). */
const HISTORY_ENTRIES_MAX = 6144;

/**
 * The scale-48 setup (48 groups, four per AWS region) under a heavier load than the benchmark's:
 * 32 closed-loop clients per group instead of 4 (the same locality). Returns every group's peak
 * retained history, the bound the groups state, how many multicasts were held back, and the
 * run's verdict.
 */
function scale48(boundHistory: boolean) {
  const inner = flexcastProtocol({ boundHistory, historyEntriesMax: HISTORY_ENTRIES_MAX });
  const logics: GroupLogic<FlexCastMessage>[] = [];
  const protocol: OverlayProtocolDefinition<FlexCastMessage, FlexCastParams | undefined> = {
    ...inner,
    createGroup: (config) => {
      const logic = inner.createGroup(config);
      logics.push(logic);
      return logic;
    },
  };
  const experiment = loadExperiment(join(ROOT, "experiments", "scale-48.json"));
  const workload = experiment.workloads[0];
  if (workload === undefined) throw new Error("scale-48 has a workload");
  const path = join(ROOT, "overlays", "aws-48-cdag-o1.json");
  const outcome = runScenario(
    faultFreeScenario(experiment, {
      label: `scale-48/bound-${boundHistory}`,
      seed: 1,
      protocol,
      overlay: parseOverlay(readJson(path, "overlay"), path),
      workload: { ...workload, clientsPerGroup: 32, multicastsPerClient: 40 },
      check: true,
    }),
  );
  const groups = logics.filter((logic): logic is FlexCastGroup => logic instanceof FlexCastGroup);
  return {
    passed: outcome.check?.passed,
    stop: outcome.check?.stop?.reason,
    groups: groups.length,
    peak: Math.max(...groups.map((group) => group.historyPeak)),
    bound: groups[0]?.historyEntriesBound,
    held: groups.reduce((sum, group) => sum + group.requestsHeldBack, 0),
  };
}

describe("FlexCast's retained history at 48 groups under load (rule 9)", () => {
  it("stays within the stated bound with rule 9, and outgrows it without", () => {
    const bounded = scale48(true);
    expect(bounded.groups).toBe(48);
    expect(bounded.passed).toBe(true);
    expect(bounded.stop).toBe("drained");
    expect(bounded.bound).toBeLessThanOrEqual(HISTORY_ENTRIES_MAX);
    expect(bounded.held).toBeGreaterThan(0);
    expect(bounded.peak).toBeLessThanOrEqual(bounded.bound as number);
    // The same load without rule 9: the budget only sets off flushes, and one group holds more.
    const unbounded = scale48(false);
    expect(unbounded.passed).toBe(true);
    expect(unbounded.held).toBe(0);
    expect(unbounded.peak).toBeGreaterThan(HISTORY_ENTRIES_MAX);
  }, 300_000);
});
