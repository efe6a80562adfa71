import { describe, expect, it } from "vitest";
import type { RecoveryPlan } from "../src/recovery.js";
import { readRecoveryPlan, recoveryPassed, runRecoveryCase } from "../src/recovery.js";

/** The recovery experiment's smallest case; the full table is `pnpm run experiment recovery`. */
const PLAN: RecoveryPlan = {
  protocol: "skeen",
  keys: [2000],
  modes: ["crash"],
  roles: ["follower"],
  partitions: 16,
  clients: 4,
  ratePerSecPerClient: 200,
  durationMs: 2000,
  crashAtMs: 700,
  pauseMs: 300,
  checkpointEntries: 128,
  perMessageUs: 20,
  perByteNs: 8,
  seed: 1,
  crashKind: "amnesia",
  oracles: true,
  net: {},
  netFsync: "interval",
  netKeepJournal: false,
};

describe("recovery experiment", () => {
  it.each(["skeen", "flexcast"] as const)(
    "%s: a follower restarted empty installs a checkpoint from its group and catches up; nothing lost or repeated",
    (protocol) => {
      // FlexCast's groups decide fewer, fuller positions (half its multicasts are global, one
      // stream item per decided batch): checkpoints more often, so the log moves past two.
      const checkpointEntries = protocol === "skeen" ? PLAN.checkpointEntries : 32;
      const row = runRecoveryCase({ ...PLAN, protocol, checkpointEntries }, 2000, "crash", "follower");
      expect(row.crashed).toBe(protocol === "skeen" ? "a/2" : "b/2");
      expect(row.violations).toBe(0);
      expect(row.completed).toBe(row.multicasts);
      expect(row.installMs).not.toBeNull();
      expect(row.caughtUpMs).not.toBeNull();
      expect(row.transferredBytes).toBeGreaterThan(2000);
      expect(row.sameRoot).toBe(true);
      expect(recoveryPassed(row)).toBe(true);
    },
  );

  it("Byzantine mode, checkpoints every 4 positions under load: the follower's fetch starts over as its group checkpoints on, and it installs one checkpoint whole (its later checkpoints have its peers' root)", () => {
    // The fetch trusts the newest checkpoint f+1 replicas report alike; the group moves past it
    // within a few transfer round trips, so the fetch starts over on a newer one. It once kept
    // the partitions received for the older one: the application state of one checkpoint beside
    // the protocol state of another, so the follower's later checkpoints had a root of their own.
    // Seed 1 started over (and failed this way) before the fix.
    const row = runRecoveryCase(
      { ...PLAN, partitions: 64, checkpointEntries: 4, oracles: false },
      2000,
      "byzantine",
      "follower",
    );
    expect(row.installMs).not.toBeNull();
    expect(row.completed).toBe(row.multicasts);
    expect(row.sameRoot).toBe(true);
  });

  it("refuses a plan whose replica would come back after the workload, naming the field", () => {
    const text = JSON.stringify({
      name: "r",
      recovery: { keys: [10], modes: ["crash"], roles: ["leader"], crashAtMs: 3000, pauseMs: 2000 },
    });
    expect(() => readRecoveryPlan(text, "r.json")).toThrow(/r\.json.*recovery\.pauseMs/);
    const badMode = JSON.stringify({
      name: "r",
      recovery: { keys: [10], modes: ["solo"], roles: ["leader"] },
    });
    expect(() => readRecoveryPlan(badMode, "r.json")).toThrow(/modes.*expected crash or byzantine/);
  });
});
