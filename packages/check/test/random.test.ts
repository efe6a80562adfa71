import type { DeliverEvent, TraceEvent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { checkRun } from "../src/index.js";
import { deliver, members, multicast } from "./trace.js";

/** A tiny seeded LCG (Numerical Recipes constants): tests stay reproducible without Math.random. */
class Lcg {
  constructor(private state: number) {}

  next(): number {
    this.state = (Math.imul(this.state, 1664525) + 1013904223) >>> 0;
    return this.state / 2 ** 32;
  }

  below(limit: number): number {
    return Math.floor(this.next() * limit);
  }
}

interface Generated {
  readonly events: TraceEvent[];
  /** Per process: its deliver events in order (the same objects as in `events`). */
  readonly deliveries: Map<string, DeliverEvent[]>;
  readonly groupOf: Map<string, string>;
}

/**
 * A correct run: messages m0, m1, ... are multicast at t = index to random destination sets, and
 * every process delivers its group's messages in that one global order, each shortly after the
 * multicast, so even real-time order holds. With `cut`, some processes stop early (a run cut by a
 * time limit): still safe, no longer live.
 */
function generate(seed: number, replicas: number, cut: boolean): Generated {
  const random = new Lcg(seed);
  const groupCount = 2 + random.below(3);
  const groups = Array.from({ length: groupCount }, (_, index) => `g${index}`);
  const procsOf = new Map(
    groups.map((group) => [group, Array.from({ length: replicas }, (_, r) => `${group}/${r}`)]),
  );
  const groupOf = new Map<string, string>();
  for (const [group, procs] of procsOf) for (const proc of procs) groupOf.set(proc, group);
  const messageCount = 20 + random.below(40);
  const events: TraceEvent[] = [...members(Object.fromEntries(procsOf))];
  const deliveries = new Map<string, DeliverEvent[]>([...groupOf.keys()].map((proc) => [proc, []]));
  const stopAt = new Map(
    [...groupOf.keys()].map((proc) => [proc, cut ? random.below(messageCount + 1) : messageCount]),
  );
  for (let index = 0; index < messageCount; index += 1) {
    const dst = groups.filter(() => random.next() < 0.5);
    if (dst.length === 0) dst.push(groups[random.below(groupCount)] as string);
    const id = `m${index}`;
    events.push(multicast(id, `c${random.below(3)}`, dst, index));
    for (const group of dst) {
      for (const proc of procsOf.get(group) ?? []) {
        if (index >= (stopAt.get(proc) ?? 0)) continue;
        const event = deliver(id, proc, group, index + 0.5 + random.next() * 0.4);
        events.push(event);
        deliveries.get(proc)?.push(event);
      }
    }
  }
  // Shuffle the deliveries across the file: the checker must sort by t itself.
  for (let index = events.length - 1; index > 0; index -= 1) {
    const other = random.below(index + 1);
    [events[index], events[other]] = [events[other] as TraceEvent, events[index] as TraceEvent];
  }
  return { events, deliveries, groupOf };
}

/** Swaps the message ids of two deliveries at one process, keeping their times. */
function swapped(generated: Generated, proc: string, first: number, second: number): TraceEvent[] {
  const sequence = generated.deliveries.get(proc) ?? [];
  const a = sequence[first] as DeliverEvent;
  const b = sequence[second] as DeliverEvent;
  return generated.events.map((event) => {
    if (event === a) return { ...a, id: b.id };
    if (event === b) return { ...b, id: a.id };
    return event;
  });
}

const SEEDS = Array.from({ length: 40 }, (_, index) => index + 1);

describe("randomized runs from a global total order", () => {
  it.each(SEEDS)("seed %i: a correct run has no violation", (seed) => {
    const generated = generate(seed, 1 + (seed % 3), false);
    expect(checkRun(generated.events, { realTime: true }).violations).toEqual([]);
  });

  it.each(SEEDS)("seed %i: a correct run cut short has no safety violation", (seed) => {
    const generated = generate(seed, 1 + (seed % 3), true);
    expect(checkRun(generated.events, { realTime: true, liveness: false }).violations).toEqual([]);
  });

  it.each(SEEDS)("seed %i: swapping two deliveries at a replicated group breaks prefix order", (seed) => {
    const generated = generate(seed, 2 + (seed % 2), false);
    const random = new Lcg(seed * 7919);
    const candidates = [...generated.deliveries].filter(([, sequence]) => sequence.length >= 2);
    const [proc, sequence] = candidates[random.below(candidates.length)] as [string, DeliverEvent[]];
    const first = random.below(sequence.length - 1);
    const second = first + 1 + random.below(sequence.length - first - 1);
    const report = checkRun(swapped(generated, proc, first, second), { realTime: false });
    const prefix = report.violations.filter((violation) => violation.property === "prefix-order");
    expect(prefix.length).toBeGreaterThan(0);
    expect(prefix.some((violation) => (violation.witness as { procs: string[] }).procs.includes(proc))).toBe(
      true,
    );
  });

  it.each(SEEDS)("seed %i: swapping two shared deliveries at a single-replica group breaks order", (seed) => {
    const generated = generate(seed, 1, false);
    const random = new Lcg(seed * 104729);
    // Two deliveries of one process whose messages share another destination group: that group
    // delivers them in the original order, so the swap contradicts it.
    const messageDst = new Map<string, readonly string[]>();
    for (const event of generated.events)
      if (event.ev === "multicast") messageDst.set(String(event.id), event.dst.map(String));
    const pairs: [string, number, number][] = [];
    for (const [proc, sequence] of generated.deliveries) {
      const own = generated.groupOf.get(proc);
      for (let first = 0; first < sequence.length; first += 1) {
        for (let second = first + 1; second < sequence.length; second += 1) {
          const a = messageDst.get(String(sequence[first]?.id)) ?? [];
          const b = messageDst.get(String(sequence[second]?.id)) ?? [];
          if (a.some((group) => group !== own && b.includes(group))) pairs.push([proc, first, second]);
        }
      }
    }
    if (pairs.length === 0) return;
    const [proc, first, second] = pairs[random.below(pairs.length)] as [string, number, number];
    const report = checkRun(swapped(generated, proc, first, second));
    const properties = new Set(report.violations.map((violation) => violation.property));
    expect(properties.has("prefix-order")).toBe(true);
    expect(properties.has("acyclic-order")).toBe(true);
  });
});
