import { describe, expect, it } from "vitest";
import type { TestNode } from "./helpers.js";
import { nodesClosedAfterEach, until, wire } from "./helpers.js";

/**
 * Partitions as the transport applies them (a fault plan's `partitions` on the network runtime):
 * a cut link has no connection and refuses handshakes; what is sent over it waits at the sender
 * and leaves, in order, when the partition heals, then takes its usual delay, as in the
 * simulator. Links the partition does not cut carry on.
 */

const node = nodesClosedAfterEach();

const numbers = (received: TestNode["received"]): number[] =>
  received.map(([, , body]) => (body as { n: number }).n);
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("partitions in the transport", () => {
  it("holds what crosses the cut until the heal, then delivers it in order; other links carry on", {
    timeout: 20_000,
  }, async () => {
    const a = await node("a");
    const b = await node("b");
    const clients = await node("clients");
    wire({ a, b, clients });
    await clients.transport.whenConnected(10_000, ["a", "b"]);
    await a.transport.whenConnected(10_000, ["b"]);
    for (let n = 0; n < 10; n += 1) a.transport.send("a/0", "b/0", { n });
    await until(() => b.received.length === 10, "the messages before the partition");
    await until(() => a.transport.queuedMessages === 0, "their acknowledgement");

    // b alone on one side: cut from a and from the client host.
    b.transport.partition(["a", "clients"]);
    a.transport.partition(["b"]);
    clients.transport.partition(["b"]);
    for (let n = 10; n < 60; n += 1) a.transport.send("a/0", "b/0", { n });
    for (let n = 0; n < 20; n += 1) b.transport.send("b/0", "a/0", { n });
    clients.transport.send("c0", "b/0", { n: 1000 });
    clients.transport.send("c1", "a/0", { n: 0 });
    await until(() => a.received.length === 1, "the client's message to a, on an uncut link");
    await pause(150);
    expect(b.received).toHaveLength(10);
    expect(a.received).toHaveLength(1);
    expect(a.transport.connectedTo(["b"])).toBe(false);
    expect(b.transport.connectedTo(["a"])).toBe(false);
    expect(a.transport.connectedTo(["clients"])).toBe(true);
    // Owed, so no node is quiet while a partition holds its messages.
    expect(a.transport.queuedMessages).toBe(50);
    expect(a.transport.stats.messagesHeldByPartition).toBe(50);
    expect(b.transport.stats.messagesHeldByPartition).toBe(20);
    // Cut is not lost: nobody logs a lost connection or gives a link up.
    for (const started of [a, b, clients])
      expect(started.logs.filter((line) => /lost the connection|gave up|refused/.test(line))).toEqual([]);

    // The heal reaches the nodes one after the other: the early one's redials are refused for a while.
    a.transport.partition([]);
    await pause(30);
    b.transport.partition([]);
    clients.transport.partition([]);
    await until(() => b.received.length === 61, "everything held for b");
    await until(() => a.received.length === 21, "everything held for a");
    const fromA = b.received.filter(([from]) => from === "a/0");
    expect(numbers(fromA)).toEqual(Array.from({ length: 60 }, (_, n) => n));
    expect(numbers(b.received.filter(([from]) => from === "c0"))).toEqual([1000]);
    expect(numbers(a.received.filter(([from]) => from === "b/0"))).toEqual(
      Array.from({ length: 20 }, (_, n) => n),
    );
    await until(() => a.transport.queuedMessages === 0, "a's queue to drain");
    expect(b.transport.stats.duplicatesDropped).toBe(0);
  });

  it("a message sent during the partition leaves at the heal and then takes its emulated delay", {
    timeout: 20_000,
  }, async () => {
    const delayMs = 40;
    const arrivals: number[] = [];
    const a = await node("a", {
      extra: { latency: { seed: 3, delayMs: () => delayMs, jitterSdFraction: 0, reorder: null } },
    });
    const b = await node("b", { onMessage: () => arrivals.push(performance.now()) });
    wire({ a, b });
    await a.transport.whenConnected(10_000, ["b"]);
    a.transport.partition(["b"]);
    b.transport.partition(["a"]);
    for (let n = 0; n < 5; n += 1) a.transport.send("a/0", "b/0", { n });
    await pause(100);
    expect(b.received).toEqual([]);
    b.transport.partition([]);
    const healedAt = performance.now();
    a.transport.partition([]);
    await until(() => b.received.length === 5, "the held messages");
    expect(numbers(b.received)).toEqual([0, 1, 2, 3, 4]);
    // Not before the heal plus the delay (a slow machine only makes it later).
    expect(Math.min(...arrivals) - healedAt).toBeGreaterThanOrEqual(delayMs - 1);
  });

  it("a partition refuses a handshake over the cut link, quietly", { timeout: 20_000 }, async () => {
    const a = await node("a");
    const b = await node("b");
    // b is told first; a is not told at all: a dials, b refuses, a redials with backoff.
    b.transport.partition(["a"]);
    wire({ a, b });
    await until(() => b.transport.stats.handshakesRejected >= 2, "refused handshakes");
    expect(a.transport.connectedTo(["b"])).toBe(false);
    expect(a.transport.stats.handshakesRefused).toBe(0);
    expect([...a.logs, ...b.logs].filter((line) => /refused|gave up/.test(line))).toEqual([]);
    b.transport.partition([]);
    await a.transport.whenConnected(10_000, ["b"]);
  });
});
