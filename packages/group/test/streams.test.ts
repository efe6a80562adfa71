import { describe, expect, it } from "vitest";
import { digest } from "../src/auth.js";
import { makeCopyInput } from "../src/inputs.js";
import {
  IncomingStreams,
  isStreamItem,
  OutgoingStreams,
  STREAM_ITEM_BYTES_MAX,
  STREAM_ITEM_MESSAGES_MAX,
} from "../src/streams.js";

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

describe("outgoing streams: what one decided batch sends to a group leaves as one item", () => {
  const message = (n: number, bytes = 10) => ({ body: { n }, description: { kind: "m", bytes } });
  const bodiesOf = (items: ReadonlyArray<readonly [string, ReadonlyArray<{ body: unknown }>]>) =>
    items.map(([group, messages]) => [group, messages.map((queued) => queued.body)]);
  const released = (streams: OutgoingStreams) => {
    const items: [string, ReadonlyArray<{ body: unknown }>][] = [];
    streams.release((group, messages) => items.push([group, messages]));
    return items;
  };

  it("sends at once outside a batch, and one item per destination group (in first-send order) for a batch", () => {
    const streams = new OutgoingStreams();
    expect(streams.add("B", message(0))?.map((queued) => queued.body)).toEqual([{ n: 0 }]);
    streams.hold();
    expect(streams.add("C", message(1))).toBeUndefined();
    expect(streams.add("B", message(2))).toBeUndefined();
    expect(streams.add("C", message(3))).toBeUndefined();
    expect(bodiesOf(released(streams))).toEqual([
      ["C", [{ n: 1 }, { n: 3 }]],
      ["B", [{ n: 2 }]],
    ]);
    // Released: alone again, and nothing left queued for a checkpoint.
    expect(streams.add("B", message(4))?.length).toBe(1);
    expect(released(streams)).toEqual([]);
    expect(streams.snapshot()).toEqual([]);
  });

  it("starts a new item when the queue would pass an item's message or byte limit", () => {
    const streams = new OutgoingStreams();
    streams.hold();
    for (let n = 0; n < STREAM_ITEM_MESSAGES_MAX; n += 1)
      expect(streams.add("B", message(n))).toBeUndefined();
    expect(streams.add("B", message(STREAM_ITEM_MESSAGES_MAX))?.length).toBe(STREAM_ITEM_MESSAGES_MAX);
    expect(streams.add("C", message(0, STREAM_ITEM_BYTES_MAX - 5))).toBeUndefined();
    expect(streams.add("C", message(1, 10))?.length).toBe(1);
    expect(bodiesOf(released(streams))).toEqual([
      ["B", [{ n: STREAM_ITEM_MESSAGES_MAX }]],
      ["C", [{ n: 1 }]],
    ]);
  });

  it("recognises the shape of an item: a non-empty array of at most STREAM_ITEM_MESSAGES_MAX messages", () => {
    expect(isStreamItem([{ n: 0 }])).toBe(true);
    expect(isStreamItem([])).toBe(false);
    expect(isStreamItem({ n: 0 })).toBe(false);
    expect(isStreamItem(new Array(STREAM_ITEM_MESSAGES_MAX + 1).fill(0))).toBe(false);
  });
});
