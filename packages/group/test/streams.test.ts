import { describe, expect, it } from "vitest";
import { digest } from "../src/auth.js";
import { makeCopyInput } from "../src/inputs.js";
import { IncomingStreams } from "../src/streams.js";

/** A copy of item k of group A's stream, sent by `sender`. */
const copy = (sender: string, k: number, body: unknown) =>
  makeCopyInput(sender, "A", k, body, "", 10, digest);

describe("incoming streams (byzcast.md §4): f+1 identical copies, strictly in stream order", () => {
  it("takes an item once f+1 = 2 replicas sent identical copies", () => {
    const streams = new IncomingStreams(() => 2, 1000);
    expect(streams.onOrderedCopy(copy("A/0", 0, { m: 1 }))).toEqual([]);
    expect(streams.onOrderedCopy(copy("A/1", 0, { m: 1 }))).toEqual([
      { fromGroup: "A", k: 0, body: { m: 1 } },
    ]);
    // The third and fourth copies of an item already taken change nothing.
    expect(streams.onOrderedCopy(copy("A/2", 0, { m: 1 }))).toEqual([]);
    expect(streams.nextExpected("A")).toBe(1);
  });

  it("withholding and reordering: item k+1 sent early by a Byzantine replica waits for item k", () => {
    const streams = new IncomingStreams(() => 2, 1000);
    // The Byzantine A/3 sends item 1 early and never item 0; the correct ones follow in order.
    expect(streams.onOrderedCopy(copy("A/3", 1, { m: "second" }))).toEqual([]);
    expect(streams.onOrderedCopy(copy("A/0", 0, { m: "first" }))).toEqual([]);
    expect(streams.onOrderedCopy(copy("A/0", 1, { m: "second" }))).toEqual([]);
    // Item 1 has f+1 votes now, but item 0 does not: counting copies alone would take it first.
    expect(streams.nextExpected("A")).toBe(0);
    expect(streams.onOrderedCopy(copy("A/1", 0, { m: "first" }))).toEqual([
      { fromGroup: "A", k: 0, body: { m: "first" } },
      { fromGroup: "A", k: 1, body: { m: "second" } },
    ]);
  });

  it("forged or altered items: f copies of a forgery are never enough", () => {
    const streams = new IncomingStreams(() => 2, 1000);
    expect(streams.onOrderedCopy(copy("A/3", 0, { m: "forged" }))).toEqual([]);
    expect(streams.onOrderedCopy(copy("A/0", 0, { m: "real" }))).toEqual([]);
    expect(streams.onOrderedCopy(copy("A/1", 0, { m: "real" }))).toEqual([
      { fromGroup: "A", k: 0, body: { m: "real" } },
    ]);
  });

  it("one vote per replica and item: a replica repeating or changing its copy counts once", () => {
    const streams = new IncomingStreams(() => 2, 1000);
    expect(streams.onOrderedCopy(copy("A/3", 0, { m: "x" }))).toEqual([]);
    expect(streams.onOrderedCopy(copy("A/3", 0, { m: "x" }))).toEqual([]);
    expect(streams.onOrderedCopy(copy("A/3", 0, { m: "y" }))).toEqual([]);
    expect(streams.nextExpected("A")).toBe(0);
  });

  it("replays of taken items and items beyond the window are refused before ordering", () => {
    const streams = new IncomingStreams(() => 1, 10);
    expect(streams.onOrderedCopy(copy("A/0", 0, { m: 1 }))).toHaveLength(1);
    expect(streams.accepts("A", 0)).toBe(false);
    expect(streams.accepts("A", 1)).toBe(true);
    expect(streams.accepts("A", 11)).toBe(false);
    expect(streams.onOrderedCopy(copy("A/0", 50, { m: 51 }))).toEqual([]);
  });
});
