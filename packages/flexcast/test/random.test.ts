import { createHash } from "node:crypto";
import { Prng, percent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { FlexCastOptions } from "../src/index.js";
import type { RandomRunSpec } from "./harness.js";
import { judgeRun, randomRun } from "./harness.js";

/** A configuration per seed: 3-10 groups, random order, sizes, locality, flush interval. */
function specFor(seed: number): RandomRunSpec {
  const prng = new Prng(seed).derive("spec");
  const groups = prng.intBetween(3, 10);
  return {
    seed,
    groups,
    messages: prng.intBetween(20, 120),
    maxDestinations: prng.intBetween(2, groups),
    localPercent: prng.pick([0, 0, 10, 30]),
    options: { flushEvery: prng.pick([1, 3, 8, 1_000_000]), collectGarbage: prng.chance(percent(75)) },
  };
}

/**
 * Digest of the transcripts (every output of every step) of seeds 2000-2039, flushes every 1-8
 * deliveries and GC on and off among them: a change meant to make the logic faster must not
 * change one output. A change of behaviour re-pins it and says why.
 */
const PINNED_TRANSCRIPTS = "e743a59737cade91b9efbbf9";

/** Thousands of steps of group logic per case; generous, as machines running the suite vary. */
const CASE_TIMEOUT_MS = 120_000;

describe("FlexCast under an adversarial scheduler (FIFO links, any cross-link order)", () => {
  it(
    "every destination delivers every message once and the orders never form a cycle",
    () => {
      const failures: string[] = [];
      for (let seed = 0; seed < 150; seed += 1) {
        const spec = specFor(seed);
        const problems = judgeRun(randomRun(spec));
        if (problems.length > 0)
          failures.push(`seed ${seed} ${JSON.stringify(spec)}: ${problems.slice(0, 3).join("; ")}`);
      }
      expect(failures, failures.join("\n")).toEqual([]);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "chained notifications (rule 8): the same, with flushes and garbage collection changing no decision",
    () => {
      const failures: string[] = [];
      let chained = 0;
      for (let seed = 0; seed < 150; seed += 1) {
        const base = specFor(seed);
        const spec = { ...base, options: { ...base.options, notifications: "chain" as const } };
        const run = randomRun(spec);
        const problems = judgeRun(run);
        if (problems.length > 0)
          failures.push(`seed ${seed} ${JSON.stringify(spec)}: ${problems.slice(0, 3).join("; ")}`);
        // A notification passed on from a target to the next: what the rule changes.
        chained += run.transcript.filter((line) => / notif .* via /.test(line)).length;
        if (seed < 40 && spec.options.collectGarbage) {
          const naive = randomRun({ ...spec, options: { ...spec.options, collectGarbage: false } });
          expect(run.transcript, `seed ${seed}`).toEqual(naive.transcript);
        }
      }
      expect(failures, failures.join("\n")).toEqual([]);
      expect(chained).toBeGreaterThan(100);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "garbage collection changes no decision: a naive run that keeps and searches everything does the same",
    () => {
      let flushes = 0;
      let collected = 0;
      for (let seed = 1000; seed < 1040; seed += 1) {
        const spec = { ...specFor(seed), options: { ...specFor(seed).options, collectGarbage: true } };
        const withGc = randomRun(spec);
        const naive = randomRun({ ...spec, options: { ...spec.options, collectGarbage: false } });
        expect(withGc.transcript, `seed ${seed}`).toEqual(naive.transcript);
        for (const [name, group] of withGc.groupsByName) {
          flushes += group.flushesIssued;
          if (group.historyEntries < (naive.groupsByName.get(name)?.historyEntries ?? 0)) collected += 1;
        }
      }
      // The comparison means something only if flushes ran and history was actually dropped.
      expect(flushes).toBeGreaterThan(50);
      expect(collected).toBeGreaterThan(100);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "takes exactly the steps it took before (pinned transcripts)",
    () => {
      const hash = createHash("sha256");
      for (let seed = 2000; seed < 2040; seed += 1) {
        const spec = specFor(seed);
        const run = randomRun({ ...spec, options: { ...spec.options, flushEvery: 1 + (seed % 8) } });
        for (const line of run.transcript) hash.update(`${line}\n`);
        hash.update(`end of seed ${seed}\n`);
      }
      expect(hash.digest("hex").slice(0, 24)).toBe(PINNED_TRANSCRIPTS);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "flushes by retained size too: still correct, and garbage collection still changes no decision",
    () => {
      const failures: string[] = [];
      let flushes = 0;
      for (let seed = 3000; seed < 3060; seed += 1) {
        const base = specFor(seed);
        // Only the history budget triggers flushes: its share is 1-4 entries of own history.
        const options = {
          flushEvery: 1_000_000,
          historyEntriesMax: base.groups * (1 + (seed % 4)),
          collectGarbage: true,
        };
        const run = randomRun({ ...base, options });
        const problems = judgeRun(run);
        if (problems.length > 0) failures.push(`seed ${seed}: ${problems.slice(0, 3).join("; ")}`);
        for (const group of run.groupsByName.values()) flushes += group.flushesIssued;
        if (seed < 3020) {
          const naive = randomRun({ ...base, options: { ...options, collectGarbage: false } });
          expect(run.transcript, `seed ${seed}`).toEqual(naive.transcript);
        }
      }
      expect(failures, failures.join("\n")).toEqual([]);
      expect(flushes).toBeGreaterThan(500);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "holds multicasts back at their lca (rule 9): still correct, every multicast delivered, the history within its stated bound",
    () => {
      const failures: string[] = [];
      let held = 0;
      for (let seed = 4000; seed < 4080; seed += 1) {
        const base = specFor(seed);
        const groups = base.groups;
        // Budgets from far below the flushes' own entries (the share is then 1 entry) to 3G^2,
        // where the stated bound is the budget itself.
        const historyEntriesMax = seed % 2 === 0 ? groups * (1 + (seed % 5)) : 3 * groups * groups;
        const options = { ...base.options, collectGarbage: true, boundHistory: true, historyEntriesMax };
        const run = randomRun({ ...base, messages: 2 * base.messages, options });
        const problems = judgeRun(run);
        if (problems.length > 0) failures.push(`seed ${seed}: ${problems.slice(0, 3).join("; ")}`);
        const logics = [...run.groupsByName.values()];
        const bound = (logics[0] as (typeof logics)[number]).historyEntriesBound;
        if (seed % 2 === 1) expect(bound, `seed ${seed}`).toBeLessThanOrEqual(historyEntriesMax);
        if (run.historyPeak > bound)
          failures.push(`seed ${seed}: peak ${run.historyPeak} over the bound ${bound}`);
        for (const group of logics) {
          held += group.requestsHeldBack;
          if (group.heldRequests > 0) failures.push(`seed ${seed}: ${group.group} still holds requests`);
        }
        if (seed < 4020) {
          // Garbage collection still changes no decision with rule 9.
          const naive = randomRun({
            ...base,
            messages: 2 * base.messages,
            options: { ...options, collectGarbage: false },
          });
          expect(run.transcript, `seed ${seed}`).toEqual(naive.transcript);
        }
      }
      expect(failures, failures.join("\n")).toEqual([]);
      expect(held).toBeGreaterThan(500);
    },
    CASE_TIMEOUT_MS,
  );

  it(
    "keeps the history bounded under a steady workload, where keeping everything grows with the run",
    () => {
      const steadyWith = (messages: number, options: Partial<FlexCastOptions>) =>
        randomRun({
          seed: 7,
          groups: 5,
          messages,
          maxDestinations: 3,
          localPercent: 20,
          options,
          freezePercent: 0,
          linkMessagesMax: 12,
        });
      const steady = (messages: number, collectGarbage: boolean) =>
        steadyWith(messages, { flushEvery: 16, collectGarbage });
      const short = steady(250, true);
      const long = steady(2500, true);
      expect(judgeRun(long)).toEqual([]);
      expect(long.historyPeak).toBeLessThan(short.historyPeak * 1.5 + 20);
      // The history budget alone (no delivery count) bounds it too.
      const budget = { flushEvery: 1_000_000, historyEntriesMax: 5 * 2, collectGarbage: true };
      const budgetShort = steadyWith(250, budget);
      const budgetLong = steadyWith(2500, budget);
      expect(judgeRun(budgetLong)).toEqual([]);
      expect([...budgetLong.groupsByName.values()].some((group) => group.flushesIssued > 0)).toBe(true);
      expect(budgetLong.historyPeak).toBeLessThan(budgetShort.historyPeak * 1.5 + 20);
      const naiveShort = steady(250, false);
      const naiveLong = steady(2500, false);
      expect(naiveLong.historyPeak).toBeGreaterThan(naiveShort.historyPeak * 5);
      expect(long.historyPeak * 20).toBeLessThan(naiveLong.historyPeak);
    },
    CASE_TIMEOUT_MS,
  );
});
