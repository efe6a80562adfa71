import { Prng, percent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { HistoryEvent, KvInput, KvOutput, KvState, WitnessOperation } from "../src/index.js";
import { checkLinearizability, historyOperations, kvModel } from "../src/index.js";

const KEYS = ["a", "b", "c"];

/** A random operation over KEYS, writing `value` if it writes. */
function randomInput(prng: Prng, value: string): KvInput {
  const key = KEYS[prng.int(KEYS.length)] as string;
  const other = KEYS[prng.int(KEYS.length)] as string;
  switch (prng.int(8)) {
    case 0:
    case 1:
      return { f: "put", key, value };
    case 2:
      return { f: "get", key };
    case 3:
      return { f: "delete", key };
    case 4:
      return { f: "cas", key, expected: prng.chance(percent(50)) ? null : `v${prng.int(8)}`, value };
    case 5:
      return { f: "multi-put", entries: { [key]: value, [other]: value } };
    case 6:
      return { f: "multi-get", keys: [...new Set([key, other])] };
    default:
      return key <= other
        ? { f: "range", from: key, to: other === key ? null : other }
        : { f: "range", from: other, to: key };
  }
}

/** A plausible wrong result: another written value, a flipped boolean, a dropped or changed key. */
function perturb(prng: Prng, input: KvInput, output: KvOutput): KvOutput {
  if (typeof output === "boolean") return !output;
  if (input.f === "get") return output === null ? `v${prng.int(8)}` : null;
  if (typeof output === "object" && output !== null) {
    const copy: Record<string, string | null> = { ...output };
    const key = KEYS[prng.int(KEYS.length)] as string;
    if (input.f === "multi-get") {
      if (key in copy) copy[key] = copy[key] === null ? `v${prng.int(8)}` : null;
    } else if (key in copy) delete copy[key];
    else if (input.f === "range" && key >= input.from && (input.to === null || key < input.to))
      copy[key] = `v${prng.int(8)}`;
    return copy;
  }
  return output;
}

/**
 * A random history of `count` operations: each runs over a random interval and takes effect at a
 * random point inside it (so the history is linearizable), then some results are perturbed, some
 * calls never return, and some fail.
 */
function randomHistory(seed: number, count: number): HistoryEvent[] {
  const prng = new Prng(seed);
  const spanMs = 4 * count;
  const ops = Array.from({ length: count }, (_, index) => {
    const start = prng.int(spanMs);
    const end = start + 1 + prng.int(6);
    return {
      index,
      input: randomInput(prng, `v${index}`),
      start,
      end,
      point: start + prng.float() * (end - start),
    };
  });
  const outputs = new Map<number, KvOutput>();
  let state: KvState = kvModel.init();
  for (const op of [...ops].sort((a, b) => a.point - b.point)) {
    // The output the operation has when applied at its point: the one the model accepts.
    const output = realOutput(state, op.input);
    outputs.set(op.index, output);
    state = kvModel.step(state, op.input, output) as KvState;
  }
  const timeline: { t: number; order: number; event: HistoryEvent }[] = [];
  for (const op of ops) {
    const { f, ...args } = op.input;
    const client = `c${op.index}`;
    timeline.push({
      t: op.start,
      order: 0,
      event: { ev: "invoke", op: op.index, client, t: op.start, f, args },
    });
    const fate = prng.int(20);
    if (fate === 0) continue; // never returns
    if (fate === 1) {
      timeline.push({
        t: op.end,
        order: 1,
        event: { ev: "complete", op: op.index, client, t: op.end, outcome: "unknown" },
      });
      continue;
    }
    let result = outputs.get(op.index) as KvOutput;
    if (fate <= 5) result = perturb(prng, op.input, result);
    timeline.push({
      t: op.end,
      order: 1,
      event: { ev: "complete", op: op.index, client, t: op.end, result },
    });
  }
  // Equal times: returns first (they happened first), so a real-time edge is never invented.
  timeline.sort((a, b) => a.t - b.t || b.order - a.order);
  return timeline.map((entry) => entry.event);
}

function realOutput(state: KvState, input: KvInput): KvOutput {
  switch (input.f) {
    case "get":
      return state.get(input.key);
    case "put":
    case "multi-put":
      return null;
    case "delete":
      return state.has(input.key);
    case "cas":
      return state.get(input.key) === input.expected;
    case "multi-get":
      return Object.fromEntries(input.keys.map((key) => [key, state.get(key)]));
    case "range":
      return Object.fromEntries(state.range(input));
  }
}

/**
 * The brute-force oracle: tries every order of the operations (failed calls dropped, reads with
 * unknown results dropped) that respects real time, applying the model from its initial state.
 */
function bruteForce(events: readonly HistoryEvent[]): boolean {
  const operations = historyOperations(events, "random")
    .filter((op) => op.outcome !== "fail")
    .map((op) => {
      const input = kvModel.readInput(op.f, op.args, "random");
      return {
        input,
        output: op.outcome === "ok" ? kvModel.readOutput(input, op.result, "random") : undefined,
        invokeIndex: op.invokeIndex,
        completeIndex: op.completeIndex,
      };
    })
    .filter((op) => op.output !== undefined || !kvModel.readOnly(op.input));
  const used = new Array<boolean>(operations.length).fill(false);
  const extend = (state: KvState, placed: number): boolean => {
    if (placed === operations.length) return true;
    for (let index = 0; index < operations.length; index += 1) {
      if (used[index]) continue;
      const op = operations[index] as (typeof operations)[number];
      // Every operation not yet placed that returned before this one was invoked must come first.
      const waits = operations.some(
        (other, otherIndex) =>
          !used[otherIndex] && otherIndex !== index && other.completeIndex < op.invokeIndex,
      );
      if (waits) continue;
      const next = kvModel.step(state, op.input, op.output);
      if (next === undefined) continue;
      used[index] = true;
      if (extend(next, placed + 1)) return true;
      used[index] = false;
    }
    return false;
  };
  return extend(kvModel.init(), 0);
}

describe("the linearizability checker agrees with brute force on random small histories", () => {
  it("on 600 random histories of 1-7 operations over three keys (both verdicts occur)", () => {
    const verdicts = { linearizable: 0, violation: 0 };
    for (let seed = 1; seed <= 600; seed += 1) {
      const events = randomHistory(seed, 1 + (seed % 7));
      const expected = bruteForce(events);
      const report = checkLinearizability(events, kvModel);
      expect(report.verdict, `seed ${seed}`).toBe(expected ? "linearizable" : "violation");
      verdicts[report.verdict as "linearizable" | "violation"] += 1;
      if (report.witness !== null) {
        // The witness is itself a history that brute force cannot order.
        const ids = new Set(report.witness.operations.map((operation) => operation.id));
        const sub = events.filter((event) => ids.has(event.op));
        const shrunk = report.witness.operations.some((operation) => !Number.isFinite(operation.completeMs))
          ? undefined
          : bruteForce(sub);
        if (shrunk !== undefined) expect(shrunk, `witness of seed ${seed}`).toBe(false);
      }
    }
    expect(verdicts.linearizable).toBeGreaterThan(100);
    expect(verdicts.violation).toBeGreaterThan(100);
  });

  it("a witness fails on its own and is minimal: without any one operation (and the reads of what it wrote) the rest is linearizable", () => {
    let witnesses = 0;
    for (let seed = 1000; seed < 1200; seed += 1) {
      const events = randomHistory(seed, 7);
      const report = checkLinearizability(events, kvModel);
      const witness = report.witness;
      if (witness === null) continue;
      witnesses += 1;
      // The witness as a history of its own calls (reads possibly weakened), in its order.
      const sub: HistoryEvent[] = [];
      const original = new Map(events.map((event, index) => [`${event.ev}/${String(event.op)}`, index]));
      const timeline: { at: number; event: HistoryEvent }[] = [];
      for (const operation of witness.operations) {
        const { f, ...args } = operation.input as KvInput;
        const client = String(operation.client);
        timeline.push({
          at: original.get(`invoke/${String(operation.id)}`) as number,
          event: { ev: "invoke", op: operation.id, client, t: operation.invokeMs, f, args },
        });
        if (operation.output !== undefined)
          timeline.push({
            at: original.get(`complete/${String(operation.id)}`) as number,
            event: {
              ev: "complete",
              op: operation.id,
              client,
              t: operation.completeMs,
              result: operation.output,
            },
          });
      }
      sub.push(...timeline.sort((a, b) => a.at - b.at).map((entry) => entry.event));
      expect(bruteForce(sub), `witness of seed ${seed}`).toBe(false);
      // The explanation holds: after the longest legal order, each operation it says cannot come
      // next cannot (the model refuses its result there, or one it must follow is not placed).
      let state = kvModel.init();
      for (const id of witness.prefix) {
        const placed = witness.operations.find((operation) => operation.id === id) as WitnessOperation;
        state = kvModel.step(state, placed.input as KvInput, placed.output as KvOutput) as typeof state;
        expect(state, `seed ${seed}: the prefix is legal`).toBeDefined();
      }
      expect(witness.prefix.length + witness.blocked.length).toBe(witness.operations.length);
      for (const { id, waitsFor } of witness.blocked) {
        const operation = witness.operations.find((candidate) => candidate.id === id) as WitnessOperation;
        if (waitsFor === null)
          expect(
            kvModel.step(state, operation.input as KvInput, operation.output as KvOutput),
            `seed ${seed}: ${operation.text} cannot come next`,
          ).toBeUndefined();
        else expect(witness.prefix).not.toContain(waitsFor);
      }
      const ops = historyOperations(sub, "witness");
      const sources = kvModel.readsFrom(
        ops.map((op) => {
          const input = kvModel.readInput(op.f, op.args, "witness");
          return {
            input,
            output: op.outcome === "ok" ? kvModel.readOutput(input, op.result, "witness") : undefined,
          };
        }),
      );
      ops.forEach((op, index) => {
        // Drop the operation and, transitively, every read of what it wrote.
        const dropped = new Set([index]);
        for (let grew = true; grew; ) {
          grew = false;
          sources.forEach((writers, reader) => {
            if (!dropped.has(reader) && writers.some((writer) => dropped.has(writer))) {
              dropped.add(reader);
              grew = true;
            }
          });
        }
        const keptIds = new Set(ops.filter((_, other) => !dropped.has(other)).map((other) => other.id));
        const rest = sub.filter((event) => keptIds.has(event.op));
        expect(bruteForce(rest), `seed ${seed} without ${String(op.id)}`).toBe(true);
      });
    }
    expect(witnesses).toBeGreaterThan(20);
  });
});
