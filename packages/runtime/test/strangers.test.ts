import type { Socket } from "node:net";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { PRE_HANDSHAKE_BYTES_MAX, REFUSALS_MAX_DIAL_ONLY } from "../src/index.js";
import { nodesClosedAfterEach, until, wire } from "./helpers.js";

/**
 * Strangers: connections to a listening node that have not authenticated. However many come,
 * and however idle, slow or chatty they are, the node holds a bounded number of them for a
 * bounded time and bytes, and its authenticated links carry on. And the other side of the coin:
 * a node with the wrong keys is told so by the peer, and a client host gives up and says why.
 */

const node = nodesClosedAfterEach();
const rawSockets: Socket[] = [];

afterEach(async () => {
  for (const socket of rawSockets.splice(0)) socket.destroy();
});

/** Opens a TCP connection to `port` from local address `from`; resolves once connected. */
function tcp(port: number, from: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress: from });
    rawSockets.push(socket);
    socket.on("error", () => {});
    socket.once("connect", () => resolve(socket));
    socket.once("close", () => reject(new Error("closed before it connected")));
  });
}

const closed = (socket: Socket): boolean => socket.destroyed || socket.readyState === "closed";

describe("connections that do not authenticate", () => {
  it("a flood of idle and slow connections stays capped per node and per address, times out, and authenticated traffic flows throughout", {
    timeout: 30_000,
  }, async () => {
    const limits = {
      preHandshakeConnectionsMax: 40,
      preHandshakeConnectionsPerAddressMax: 12,
      handshakeTimeoutMs: 1_500,
    };
    const a = await node("a", { limits });
    const b = await node("b", { limits });
    const startedMs = performance.now();
    wire({ a, b });
    await a.transport.whenConnected(10_000, ["b"]);
    let counting = true;
    let pendingMax = 0;
    const watch = (async () => {
      while (counting) {
        pendingMax = Math.max(pendingMax, b.transport.preHandshakeConnections);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    // Idle ones from one address, then from eight more; slow ones dribble an HTTP request.
    const flood: Socket[] = [];
    for (let index = 0; index < 150; index += 1) flood.push(await tcp(b.port, "127.0.0.2"));
    for (let index = 0; index < 240; index += 1) flood.push(await tcp(b.port, `127.0.0.${3 + (index % 8)}`));
    // Some complete the WebSocket upgrade, take the CHALLENGE and say nothing more.
    const upgraded = Array.from({ length: 5 }, () => {
      const ws = new WebSocket(`ws://127.0.0.1:${b.port}/`, {
        perMessageDeflate: false,
        localAddress: "127.0.0.30",
      });
      ws.on("error", () => {});
      return ws;
    });
    await until(() => upgraded.every((ws) => ws.readyState === WebSocket.OPEN), "the upgrades");
    const slow: Socket[] = [];
    for (let index = 0; index < 10; index += 1) slow.push(await tcp(b.port, "127.0.0.20"));
    const request = Buffer.from("GET / HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
    let sent = 0;
    const dribble = setInterval(() => {
      for (const socket of slow) if (!closed(socket)) socket.write(request.subarray(sent, sent + 1));
      sent += 1;
    }, 50);

    // With the flood on: the authenticated link carries messages, and a client host that
    // dials now (from 127.0.0.1) gets through.
    for (let n = 0; n < 100; n += 1) a.transport.send("a/0", "b/0", { n });
    await until(() => b.received.length === 100, "a's messages during the flood");
    const clients = await node("clients", { limits });
    wire({ a, b, clients });
    await clients.transport.whenConnected(10_000, ["a", "b"]);
    clients.transport.send("c0", "b/0", { n: 100 });
    await until(() => b.received.length === 101, "the client host's message during the flood");

    expect(pendingMax).toBeLessThanOrEqual(limits.preHandshakeConnectionsMax);
    expect(pendingMax).toBeGreaterThanOrEqual(limits.preHandshakeConnectionsPerAddressMax);
    // 127.0.0.2 never holds more than its share: at most 12 of its 150 are still open.
    const fromTwo = flood.slice(0, 150).filter((socket) => !closed(socket)).length;
    expect(fromTwo).toBeLessThanOrEqual(limits.preHandshakeConnectionsPerAddressMax);
    // Every idle connection beyond the cap is gone: evicted to make room, or (on a loaded machine,
    // where opening 390 sockets outlasts the handshake timeout) timed out first.
    const { strangersEvicted, strangersTimedOut } = b.transport.stats;
    expect(strangersEvicted).toBeGreaterThan(0);
    expect(strangersEvicted + strangersTimedOut).toBeGreaterThanOrEqual(390 - 40);

    // Whatever is left is closed at the handshake timeout, slow or idle.
    await until(
      () => [...flood, ...slow].every(closed) && upgraded.every((ws) => ws.readyState === WebSocket.CLOSED),
      "every stranger to be closed",
      10_000,
    );
    clearInterval(dribble);
    expect(b.transport.preHandshakeConnections).toBe(0);
    // The survivors of the flood (up to the cap, slow ones among them) went at the timeout.
    expect(b.transport.stats.strangersTimedOut).toBeGreaterThanOrEqual(limits.preHandshakeConnectionsMax - 5);
    expect(slow.every(closed)).toBe(true);
    counting = false;
    await watch;
    // The log says so without a line per stranger: at most 10 lines and one summary per 10 s
    // window (a loaded machine can stretch the flood over more than one window).
    const windows = Math.ceil((performance.now() - startedMs) / 10_000);
    const strangerLines = b.logs.filter((line) => line.includes("unauthenticated")).length;
    expect(strangerLines).toBeLessThanOrEqual(11 * windows);
    expect(strangerLines).toBeLessThan(390);
    expect(b.transport.connectedTo(["a", "clients"])).toBe(true);
    a.transport.send("a/0", "b/0", { n: 101 });
    await until(() => b.received.length === 102, "a message after the flood");
  });

  it("closes a stranger that sends more than a HELLO's worth of bytes", { timeout: 15_000 }, async () => {
    const b = await node("b");
    const ws = new WebSocket(`ws://127.0.0.1:${b.port}/`, { perMessageDeflate: false });
    ws.on("error", () => {});
    const gone = new Promise<void>((resolve) => ws.on("close", () => resolve()));
    await new Promise<void>((resolve) => ws.once("message", () => resolve()));
    // Well under frameBytesMax (4 MiB): only the pre-handshake bound stops it.
    ws.send(Buffer.alloc(4 * PRE_HANDSHAKE_BYTES_MAX));
    await gone;
    expect(b.transport.stats.strangersOversized).toBe(1);
    expect(b.transport.preHandshakeConnections).toBe(0);
  });

  it("answers a plain HTTP request with 426 and closes", { timeout: 15_000 }, async () => {
    const b = await node("b");
    const response = await fetch(`http://127.0.0.1:${b.port}/`);
    expect(response.status).toBe(426);
    await response.text();
  });
});

describe("a node with the wrong keys", () => {
  it("a client host is told which peer refused it and why, and gives up after a few refusals", {
    timeout: 15_000,
  }, async () => {
    const a = await node("a");
    const b = await node("b");
    const failed: [string, string][] = [];
    const clients = await node("clients", {
      secret: Buffer.from("another cluster's secret value!!"),
      extra: { onLinkFailed: (peer, reason) => failed.push([peer, reason]) },
    });
    wire({ a, b, clients });
    const startedAt = performance.now();
    const connecting = clients.transport.whenConnected(60_000).then(
      () => "connected",
      (error: Error) => error.message,
    );
    await until(() => failed.length === 2, "both links to fail", 10_000);
    // Bounded: three refusals with backoff, well under a second on loopback.
    expect(performance.now() - startedAt).toBeLessThan(5_000);
    expect(failed.map(([peer]) => peer).sort()).toEqual(["a", "b"]);
    for (const [peer, reason] of failed)
      expect(reason).toBe(
        `${peer} refused the handshake: it could not authenticate clients (the keyring of clients or of ${peer} does not come from the cluster's secret, or ${peer}'s deployment has no link from clients) (${REFUSALS_MAX_DIAL_ONLY} times in a row)`,
      );
    expect(await connecting).toMatch(/^clients: gave up the link to [ab]: [ab] refused the handshake/);
    // Each refusal reason is logged once, not per attempt.
    expect(clients.logs.filter((line) => line.startsWith("a refused the handshake"))).toHaveLength(1);
    expect(clients.transport.stats.handshakesRefused).toBe(2 * REFUSALS_MAX_DIAL_ONLY);
    // The refusing side says what it refused, and no key travels in either direction.
    expect(a.logs.some((line) => line.includes("HELLO claiming to be clients has a wrong HMAC"))).toBe(true);
    expect(a.transport.stats.handshakesRejected).toBe(REFUSALS_MAX_DIAL_ONLY);
  });

  it("a replica keeps redialling (the peer may be fixed) and says why it is refused once", {
    timeout: 15_000,
  }, async () => {
    const failed: string[] = [];
    const a = await node("a", {
      secret: Buffer.from("another cluster's secret value!!"),
      extra: { onLinkFailed: (peer) => failed.push(peer) },
    });
    const b = await node("b");
    wire({ a, b });
    await until(
      () => a.transport.stats.handshakesRefused >= REFUSALS_MAX_DIAL_ONLY + 2,
      "several refusals",
      10_000,
    );
    expect(failed).toEqual([]);
    expect(
      a.logs.filter((line) => line.startsWith("b refused the handshake: it could not authenticate a")),
    ).toHaveLength(1);
  });

  it("a client host with a peer's address wrong is told another node listens there", {
    timeout: 15_000,
  }, async () => {
    const a = await node("a");
    const b = await node("b");
    const failed: string[] = [];
    const clients = await node("clients", {
      extra: { onLinkFailed: (_peer, reason) => failed.push(reason) },
    });
    // The client host has b's address under a's id.
    wire({ a, b, clients }, { a: b.port });
    await until(() => failed.length === 1, "the link to 'a' to fail", 10_000);
    expect(failed[0]).toMatch(/^a refused the handshake: another node listens at a's address/);
    expect(b.logs.some((line) => line.includes(`HELLO from "clients" is for "a"`))).toBe(true);
  });
});
