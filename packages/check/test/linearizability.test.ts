import { InputError } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { KvInput } from "../src/index.js";
import { checkLinearizability, formatLinearizabilityReport, kvModel, parseHistory } from "../src/index.js";
import { get, HistoryBuilder, put, range } from "./history.js";

const check = (builder: HistoryBuilder, options = {}) =>
  checkLinearizability(builder.events, kvModel, options);

describe("linearizability of hand-made key-value histories", () => {
  it("a sequential history that reads what was written is linearizable", () => {
    const h = new HistoryBuilder();
    h.op("c1", put("x", "1"), null);
    h.op("c2", get("x"), "1");
    h.op("c1", { f: "delete", key: "x" }, true);
    h.op("c2", get("x"), null);
    h.op("c2", { f: "delete", key: "x" }, false);
    const report = check(h);
    expect(report.verdict).toBe("linearizable");
    expect(report.witness).toBeNull();
    expect(report.operations).toBe(5);
  });

  it("a read after a completed write that returns the old value is not, with both in the witness", () => {
    const h = new HistoryBuilder();
    const write = h.op("c1", put("x", "1"), null);
    const read = h.op("c2", get("x"), null);
    const report = check(h);
    expect(report.verdict).toBe("violation");
    expect(report.witness?.operations.map((operation) => operation.id)).toEqual([write, read]);
    expect(report.witness?.realTime).toEqual([{ before: write, after: read }]);
    expect(report.witness?.minimal).toBe(true);
  });

  it("a read concurrent with a write may return either value", () => {
    for (const seen of [null, "1"]) {
      const h = new HistoryBuilder();
      const write = h.call("c1", put("x", "1"));
      const read = h.call("c2", get("x"));
      h.ret(read, seen).ret(write, null);
      expect(check(h).verdict).toBe("linearizable");
    }
  });

  it("two reads may not see two concurrent writes in opposite orders once the first read returned", () => {
    const h = new HistoryBuilder();
    const a = h.call("w1", put("x", "a"));
    const b = h.call("w2", put("x", "b"));
    h.op("r1", get("x"), "a");
    h.op("r2", get("x"), "b");
    h.op("r3", get("x"), "a");
    h.ret(a, null).ret(b, null);
    const report = check(h);
    expect(report.verdict).toBe("violation");
    // The three reads and both writes are needed: without r3, a then b works.
    expect(report.witness?.operations).toHaveLength(5);
  });

  it("finds the range-read anomaly of plain atomic multicast and names its three operations", () => {
    // r = range[k0, k2) is in flight; w0 = put(k0) completes, then w1 = put(k1) starts and
    // completes; r returns w1's value but not w0's (linearizable.md, section 2).
    const h = new HistoryBuilder();
    h.op("c9", put("k9", "other"), null); // another key: its own part
    const r = h.call("reader", range("k0", "k2"));
    const w0 = h.op("p0", put("k0", "v0"), null);
    const w1 = h.op("p1", put("k1", "v1"), null);
    h.ret(r, { k1: "v1" });
    const report = check(h);
    expect(report.verdict).toBe("violation");
    expect(report.parts).toBe(2);
    const witness = report.witness;
    expect(witness?.part).toBe("keys k0, k1");
    expect(witness?.operations.map((operation) => operation.id)).toEqual([r, w0, w1]);
    expect(witness?.realTime).toEqual([{ before: w0, after: w1 }]);
    const text = formatLinearizabilityReport(report);
    expect(text).toContain("NOT linearizable");
    expect(text).toContain('range["k0", "k2") -> {k1: "v1"}');
    expect(text).toContain("real time: b before c");
  });

  it("a witness's longest legal order is the longest there is: the operations it leaves out cannot come next", () => {
    // A cycle through two multi-gets (from a plain Skeen run): b must follow g and precede c,
    // e must follow c and d and precede f, and f returned before g began.
    const h = new HistoryBuilder();
    const multiGet = (...keys: string[]): KvInput => ({ f: "multi-get", keys });
    const a = h.call("c1", put("x", "a"));
    const b = h.call("c2", multiGet("x", "z"));
    h.ret(a, null);
    const c = h.call("c3", put("x", "c"));
    h.op("c4", put("y", "d"), null);
    const e = h.call("c5", multiGet("y", "x"));
    h.op("c6", put("y", "f"), null);
    h.op("c7", put("z", "g"), null);
    h.ret(c, null).ret(e, { y: "d", x: "c" }).ret(b, { x: "a", z: "g" });
    const report = check(h);
    expect(report.verdict).toBe("violation");
    const witness = report.witness;
    expect(witness?.operations).toHaveLength(7);
    // a, d, c, e, f, g is legal, then b cannot return x = "a"; or a, d, f, g, b, c, then e cannot
    // return y = "d". (The search's pruner gives up on an order as soon as a read can never be
    // satisfied; the witness's order must not stop there.)
    expect(witness?.prefix).toHaveLength(6);
    expect([
      [{ id: b, waitsFor: null, reason: 'x holds "c" there' }],
      [{ id: e, waitsFor: null, reason: 'y holds "f" there' }],
    ]).toContainEqual(witness?.blocked);
    expect(formatLinearizabilityReport(report)).not.toContain("always");
  });

  it("the same reads in a linearizable order pass: the range saw both writes", () => {
    const h = new HistoryBuilder();
    const r = h.call("reader", range("k0", "k2"));
    h.op("p0", put("k0", "v0"), null);
    h.op("p1", put("k1", "v1"), null);
    h.ret(r, { k0: "v0", k1: "v1" });
    expect(check(h).verdict).toBe("linearizable");
  });

  it("a multi-get may not see half of a multi-put", () => {
    const h = new HistoryBuilder();
    const write = h.call("w", { f: "multi-put", entries: { a: "1", b: "1" } });
    h.op("r", { f: "multi-get", keys: ["a", "b"] }, { a: "1", b: null });
    h.ret(write, null);
    expect(check(h).verdict).toBe("violation");
    const whole = new HistoryBuilder();
    const write2 = whole.call("w", { f: "multi-put", entries: { a: "1", b: "1" } });
    whole.op("r", { f: "multi-get", keys: ["a", "b"] }, { a: null, b: null });
    whole.ret(write2, null);
    expect(check(whole).verdict).toBe("linearizable");
  });

  it("compare-and-set succeeds exactly when the key holds the expected value", () => {
    const h = new HistoryBuilder();
    h.op("c1", { f: "cas", key: "x", expected: null, value: "1" }, true);
    h.op("c2", { f: "cas", key: "x", expected: null, value: "2" }, false);
    h.op("c2", { f: "cas", key: "x", expected: "1", value: "3" }, true);
    h.op("c1", get("x"), "3");
    expect(check(h).verdict).toBe("linearizable");
    const wrong = new HistoryBuilder();
    wrong.op("c1", { f: "cas", key: "x", expected: null, value: "1" }, true);
    wrong.op("c2", { f: "cas", key: "x", expected: null, value: "2" }, true);
    expect(check(wrong).verdict).toBe("violation");
  });

  it("a write with an unknown outcome may have happened, a failed one did not", () => {
    const unknown = new HistoryBuilder();
    const lost = unknown.call("c1", put("x", "1"));
    unknown.end(lost, "unknown");
    unknown.op("c2", get("x"), "1");
    unknown.op("c2", get("x"), "1");
    expect(check(unknown).verdict).toBe("linearizable");

    const never = new HistoryBuilder();
    never.call("c1", put("x", "1")); // no complete at all: unknown too
    never.op("c2", get("x"), null);
    never.op("c2", get("x"), "1");
    expect(check(never).verdict).toBe("linearizable");

    const failed = new HistoryBuilder();
    const refused = failed.call("c1", put("x", "1"));
    failed.end(refused, "fail");
    failed.op("c2", get("x"), "1");
    const report = check(failed);
    expect(report.verdict).toBe("violation");
    expect(report.dropped).toBe(1);
  });

  it("splits single-key operations per key and joins the keys a multi-key operation touches", () => {
    const h = new HistoryBuilder();
    for (const key of ["a", "b", "c", "d"]) h.op("c1", put(key, "1"), null);
    expect(check(h).parts).toBe(4);
    h.op("c1", { f: "multi-get", keys: ["a", "b"] }, { a: "1", b: "1" });
    expect(check(h).parts).toBe(3);
    h.op("c1", range("b", "d"), { b: "1", c: "1" });
    const report = check(h);
    expect(report.parts).toBe(2);
    expect(report.largestPart).toBe(5);
  });

  it("an empty range read is checked on its own: it must find nothing", () => {
    const h = new HistoryBuilder();
    h.op("c1", put("a", "1"), null);
    h.op("c1", range("m", "z"), {});
    expect(check(h).verdict).toBe("linearizable");
    h.op("c1", range("b", "c"), { bb: "1" });
    expect(check(h).verdict).toBe("violation");
  });

  it("answers unknown when the state budget runs out, and when the time budget does", () => {
    // Many concurrent writes and reads of one key: a search with real branching.
    const h = new HistoryBuilder();
    const writes = Array.from({ length: 6 }, (_, index) => h.call(`w${index}`, put("x", String(index))));
    const reads = Array.from({ length: 6 }, (_, index) => h.call(`r${index}`, get("x")));
    reads.forEach((read, index) => {
      h.ret(read, String(5 - index));
    });
    for (const write of writes) h.ret(write, null);
    const tight = check(h, { statesMax: 5 });
    expect(tight.verdict).toBe("unknown");
    expect(tight.undecided[0]?.exhausted).toBe("states");
    expect(check(h).verdict).toBe("linearizable");
    let clock = 0;
    const slow = check(h, { timeMs: 10, now: () => (clock += 1000) });
    expect(slow.verdict).toBe("unknown");
    expect(slow.undecided[0]?.exhausted).toBe("time");
  });

  it("rejects malformed histories with the line and field at fault", () => {
    expect(() => parseHistory('{"ev":"invoke","op":1,"client":"c","t":0,"f":"get"}\n', "h.jsonl")).toThrow(
      "h.jsonl:1: args: is missing",
    );
    expect(() => parseHistory('\n{"ev":"complete","op":1,"client":"c","t":"x"}', "h.jsonl")).toThrow(
      "h.jsonl:2: t: expected a finite number",
    );
    expect(() => parseHistory("not json", "h.jsonl")).toThrow(InputError);
    const badArgs = parseHistory(
      '{"ev":"invoke","op":1,"client":"c","t":0,"f":"put","args":{"key":"k","value":3}}',
      "h.jsonl",
    );
    expect(() => checkLinearizability(badArgs, kvModel, { source: "h.jsonl" })).toThrow(
      "h.jsonl operation 1: args.value: expected a string, got 3",
    );
    const orphan = parseHistory('{"ev":"complete","op":7,"client":"c","t":0,"result":null}', "h.jsonl");
    expect(() => checkLinearizability(orphan, kvModel, { source: "h.jsonl" })).toThrow(
      "completes before it is invoked",
    );
  });
});
