import { randomBytes } from "node:crypto";
import { Packr } from "msgpackr";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  decodeChallenge,
  decodeData,
  decodeWelcome,
  deriveLinkKey,
  encodeData,
  encodeHello,
  NONCE_BYTES,
  NodeTable,
  QueueOverflowError,
  sessionKey,
} from "../src/index.js";
import type { TestNode } from "./helpers.js";
import { FlakyProxy, nodesClosedAfterEach, SECRET, TABLE, until, wire } from "./helpers.js";

const node = nodesClosedAfterEach();
const proxies: FlakyProxy[] = [];
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  for (const proxy of proxies.splice(0)) await proxy.close();
});

/** Messages from `from` to `to` numbered 0..count-1, as bodies. */
function numbers(received: TestNode["received"]): number[] {
  return received.map(([, , body]) => (body as { n: number }).n);
}

/** A connection to a node that speaks the wire format by hand (to send what a real node never would). */
class RawPeer {
  readonly ws: WebSocket;
  private readonly inbox: Buffer[] = [];
  private waiting: ((frame: Buffer) => void) | undefined;
  closed = false;
  closeCode = 0;
  sendKey: Buffer = Buffer.alloc(0);
  receiveKey: Buffer = Buffer.alloc(0);
  sendCounter = 0;
  receiveCounter = 0;

  constructor(port: number) {
    this.ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    sockets.push(this.ws);
    this.ws.on("message", (data: Buffer) => {
      if (this.waiting !== undefined) {
        const waiting = this.waiting;
        this.waiting = undefined;
        waiting(data);
      } else this.inbox.push(data);
    });
    this.ws.on("close", (code) => {
      this.closed = true;
      this.closeCode = code;
    });
    this.ws.on("error", () => {});
  }

  next(): Promise<Buffer> {
    const queued = this.inbox.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** Runs the dialer's side of the handshake as node `from` towards `to` with the given pair keys. */
  async handshake(
    from: string,
    to: string,
    sendPairKey: Buffer,
    receivePairKey: Buffer,
    table = TABLE,
  ): Promise<void> {
    const nonceAcceptor = decodeChallenge(await this.next());
    const nonceDialer = randomBytes(NONCE_BYTES);
    this.ws.send(
      encodeHello(
        {
          from,
          to,
          nonceAcceptor,
          nonceDialer,
          epoch: 1234,
          received: 0,
          peerEpoch: 0,
          tableDigest: table.digest,
        },
        sendPairKey,
      ),
    );
    decodeWelcome(await this.next(), receivePairKey, nonceAcceptor);
    this.sendKey = sessionKey(sendPairKey, nonceAcceptor, nonceDialer);
    this.receiveKey = sessionKey(receivePairKey, nonceAcceptor, nonceDialer);
  }

  /** `messages`: [from, to, body], stamped here as a transport stamps them (sentAt: now, 10 us units). */
  sendData(firstSeq: number, messages: unknown[][], key = this.sendKey, stamp = true): void {
    const packr = new Packr({ useRecords: false });
    const sentAt = Math.round((performance.timeOrigin + performance.now()) * 100);
    const payload = Buffer.concat(
      messages.map((message) => packr.pack(stamp ? [...message, sentAt] : message)),
    );
    this.ws.send(encodeData(0, firstSeq, messages.length, payload, key, this.sendCounter));
    this.sendCounter += 1;
  }
}

describe("transport", () => {
  it("carries messages between nodes in FIFO order, several per frame", async () => {
    const a = await node("a");
    const b = await node("b");
    const clients = await node("clients");
    wire({ a, b, clients });
    await Promise.all([a, b, clients].map((started) => started.transport.whenConnected(10_000)));
    expect(a.transport.connected).toBe(true);
    for (let n = 0; n < 1000; n += 1) clients.transport.send(n % 2 === 0 ? "c0" : "c1", "a/0", { n });
    for (let n = 0; n < 500; n += 1) a.transport.send("a/0", "b/0", { n });
    await until(() => a.received.length === 1000 && b.received.length === 500, "all messages");
    expect(numbers(a.received)).toEqual(Array.from({ length: 1000 }, (_, n) => n));
    expect(a.received.slice(0, 2).map(([from]) => from)).toEqual(["c0", "c1"]);
    expect(numbers(b.received)).toEqual(Array.from({ length: 500 }, (_, n) => n));
    // Sent in one event-loop turn: batched into far fewer frames than messages.
    expect(clients.transport.stats.dataFramesSent).toBeLessThan(100);
    expect(a.transport.stats.framesRejected + b.transport.stats.framesRejected).toBe(0);
  });

  it("survives dropped connections without losing, duplicating or reordering a message", async () => {
    const a = await node("a", { limits: { ackDelayMs: 20, ackEveryMessages: 10_000 } });
    const b = await node("b", { limits: { ackDelayMs: 20, ackEveryMessages: 10_000 } });
    const proxy = new FlakyProxy(b.port);
    proxies.push(proxy);
    await proxy.start();
    // a dials b (a < b) through the proxy.
    wire({ a, b }, { b: proxy.port });
    await a.transport.whenConnected(10_000, ["b"]);
    let sent = 0;
    const sendSome = (count: number): void => {
      for (let index = 0; index < count; index += 1) {
        a.transport.send("a/0", "b/0", { n: sent });
        sent += 1;
      }
    };
    for (let round = 0; round < 8; round += 1) {
      sendSome(300);
      await until(() => b.received.length === sent, "a round's messages");
      // What a sends now is lost on the wire, then the connection dies: it must be sent again.
      proxy.blackholeForward = true;
      sendSome(200);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(proxy.cut()).toBe(1);
      proxy.blackholeForward = false;
      // Acks lost on the way back, then a cut: nothing may be delivered twice.
      proxy.blackholeBackward = round % 2 === 0;
      await until(() => a.transport.connectedTo(["b"]), "reconnection");
      proxy.blackholeBackward = false;
    }
    sendSome(300);
    await until(() => b.received.length >= sent, "every message");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(numbers(b.received)).toEqual(Array.from({ length: sent }, (_, n) => n));
    expect(a.transport.stats.connectionsLost).toBeGreaterThanOrEqual(8);
    expect(a.transport.stats.framesResent).toBeGreaterThan(0);
    expect(b.transport.stats.framesRejected).toBe(0);
  });

  it("drops a frame of garbage bytes, logs it, closes that connection and carries on", async () => {
    const a = await node("a");
    const b = await node("b");
    wire({ a, b });
    await a.transport.whenConnected(10_000, ["b"]);
    const raw = new RawPeer(b.port);
    await raw.next(); // the challenge
    raw.ws.send(randomBytes(200));
    await until(() => raw.closed, "the garbage connection to close");
    expect(b.transport.stats.framesRejected).toBe(1);
    expect(b.logs.some((line) => line.startsWith("dropped a frame from 127.0.0.1"))).toBe(true);
    a.transport.send("a/0", "b/0", { n: 0 });
    await until(() => b.received.length === 1, "a message after the bad frame");
  });

  it("refuses a HELLO with a wrong HMAC: a node cannot pose as another", async () => {
    const b = await node("b");
    const raw = new RawPeer(b.port);
    // Posing as a with the key of another cluster (or a guessed one).
    const wrongKey = deriveLinkKey(Buffer.from("another cluster's secret value!!"), "a", "b");
    const rightReceiveKey = deriveLinkKey(SECRET, "b", "a");
    const handshake = raw.handshake("a", "b", wrongKey, rightReceiveKey).catch((error: Error) => error);
    await until(() => raw.closed, "the forged connection to close");
    expect(b.transport.stats.handshakesRejected).toBe(1);
    expect(b.logs.some((line) => line.includes("HELLO claiming to be a has a wrong HMAC"))).toBe(true);
    raw.ws.terminate();
    void handshake;
    expect(b.received).toEqual([]);
  });

  it("drops a DATA frame with a wrong HMAC on an authenticated connection", async () => {
    const b = await node("b");
    const raw = new RawPeer(b.port);
    await raw.handshake("a", "b", deriveLinkKey(SECRET, "a", "b"), deriveLinkKey(SECRET, "b", "a"));
    const from = TABLE.processIndex("a/0") as number;
    const to = TABLE.processIndex("b/0") as number;
    raw.sendData(1, [[from, to, { n: 0 }]]);
    await until(() => b.received.length === 1, "the authentic message");
    raw.sendData(2, [[from, to, { n: 1 }]], randomBytes(32));
    await until(() => raw.closed, "the connection to close");
    expect(b.received).toHaveLength(1);
    expect(b.logs.some((line) => line.includes("DATA frame has a wrong HMAC"))).toBe(true);
  });

  it("refuses a message without its send stamp", async () => {
    const b = await node("b");
    const raw = new RawPeer(b.port);
    await raw.handshake("a", "b", deriveLinkKey(SECRET, "a", "b"), deriveLinkKey(SECRET, "b", "a"));
    raw.sendData(1, [[TABLE.processIndex("a/0"), TABLE.processIndex("b/0"), { n: 0 }]], undefined, false);
    await until(() => raw.closed, "the connection to close");
    expect(b.received).toEqual([]);
    expect(b.logs.some((line) => line.includes("is not [from, to, body, sentAt]"))).toBe(true);
  });

  it("refuses a message whose sender is not hosted by the authenticated peer", async () => {
    const b = await node("b");
    const raw = new RawPeer(b.port);
    await raw.handshake(
      "clients",
      "b",
      deriveLinkKey(SECRET, "clients", "b"),
      deriveLinkKey(SECRET, "b", "clients"),
    );
    // The client host tries to send as replica a/0.
    raw.sendData(1, [[TABLE.processIndex("a/0"), TABLE.processIndex("b/0"), { forged: true }]]);
    await until(() => raw.closed, "the connection to close");
    expect(b.received).toEqual([]);
    expect(b.logs.some((line) => line.includes("not hosted by clients"))).toBe(true);
  });

  it("drops a frame over the size limit, logs it, closes that connection and carries on", async () => {
    const a = await node("a", { limits: { frameBytesMax: 64 * 1024, batchBytesMax: 32 * 1024 } });
    const b = await node("b", { limits: { frameBytesMax: 64 * 1024, batchBytesMax: 32 * 1024 } });
    wire({ a, b });
    await a.transport.whenConnected(10_000, ["b"]);
    // An authenticated peer (a stranger may send far less: see the stranger tests).
    const raw = new RawPeer(b.port);
    await raw.handshake(
      "clients",
      "b",
      deriveLinkKey(SECRET, "clients", "b"),
      deriveLinkKey(SECRET, "b", "clients"),
    );
    raw.ws.send(Buffer.alloc(200 * 1024));
    await until(() => raw.closed, "the oversized connection to close");
    // 1009: message too big.
    expect(raw.closeCode).toBe(1009);
    expect(b.logs.some((line) => line.includes("over frameBytesMax 65536"))).toBe(true);
    // A message that large is refused at the sender as well.
    expect(() => a.transport.send("a/0", "b/0", { blob: Buffer.alloc(100 * 1024) })).toThrow(
      QueueOverflowError,
    );
    a.transport.send("a/0", "b/0", { n: 0 });
    await until(() => b.received.length === 1, "a message after the oversized frame");
  });

  it("takes a message once when it arrives again on a new connection", async () => {
    const b = await node("b", { limits: { ackDelayMs: 60_000, ackEveryMessages: 100_000 } });
    const from = TABLE.processIndex("a/0") as number;
    const to = TABLE.processIndex("b/0") as number;
    const keys = [deriveLinkKey(SECRET, "a", "b"), deriveLinkKey(SECRET, "b", "a")] as const;
    const first = new RawPeer(b.port);
    await first.handshake("a", "b", ...keys);
    first.sendData(1, [
      [from, to, { n: 0 }],
      [from, to, { n: 1 }],
    ]);
    await until(() => b.received.length === 2, "the first frame");
    // A new connection that (as after a lost acknowledgement) sends messages 1-3 again.
    const second = new RawPeer(b.port);
    await second.handshake("a", "b", ...keys);
    second.sendData(1, [
      [from, to, { n: 0 }],
      [from, to, { n: 1 }],
      [from, to, { n: 2 }],
    ]);
    await until(() => b.received.length === 3, "the new message");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(numbers(b.received)).toEqual([0, 1, 2]);
    expect(b.transport.stats.duplicatesDropped).toBe(2);
    expect(first.closed).toBe(true);
  });

  it("refuses a gap in the sequence numbers", async () => {
    const b = await node("b");
    const raw = new RawPeer(b.port);
    await raw.handshake("a", "b", deriveLinkKey(SECRET, "a", "b"), deriveLinkKey(SECRET, "b", "a"));
    raw.sendData(5, [[TABLE.processIndex("a/0"), TABLE.processIndex("b/0"), {}]]);
    await until(() => raw.closed, "the connection to close");
    expect(b.received).toEqual([]);
    expect(b.logs.some((line) => line.includes("frame starts at message 5, but 1 is next"))).toBe(true);
  });

  it("refuses a peer that runs with another node table", async () => {
    const b = await node("b");
    const other = new NodeTable([
      { id: "a", role: "replica", processes: ["a/0"] },
      { id: "b", role: "replica", processes: ["b/0", "b/1"].slice(0, 1) },
      { id: "x", role: "replica", processes: ["x/0"] },
    ]);
    const raw = new RawPeer(b.port);
    void raw
      .handshake("a", "b", deriveLinkKey(SECRET, "a", "b"), deriveLinkKey(SECRET, "b", "a"), other)
      .catch(() => {});
    await until(() => raw.closed, "the connection to close");
    expect(b.logs.some((line) => line.includes("another node table"))).toBe(true);
  });

  it("signals congestion at half the send-queue bound, clears it when drained, and fails loudly past the bound", async () => {
    const changes: boolean[] = [];
    const limits = { sendQueueMessagesMax: 100, ackEveryMessages: 1 };
    const a = await node("a", { limits, extra: { onCongestion: (congested) => changes.push(congested) } });
    const b = await node("b", { limits });
    // b is not reachable yet: everything a sends stays queued.
    for (let n = 0; n < 60; n += 1) a.transport.send("a/0", "b/0", { n });
    await new Promise((resolve) => setImmediate(resolve));
    expect(changes).toEqual([true]);
    expect(a.transport.congested).toBe(true);
    for (let n = 60; n < 100; n += 1) a.transport.send("a/0", "b/0", { n });
    expect(() => a.transport.send("a/0", "b/0", { n: 100 })).toThrow(QueueOverflowError);
    wire({ a, b });
    await until(() => b.received.length === 100, "the queued messages");
    await until(() => !a.transport.congested, "the congestion to clear");
    expect(changes).toEqual([true, false]);
    expect(numbers(b.received)).toEqual(Array.from({ length: 100 }, (_, n) => n));
  });

  it("holds a peer's input, unacknowledged, until released", async () => {
    const a = await node("a");
    const clients = await node("clients", { limits: { ackDelayMs: 1 } });
    wire({ a, clients });
    await clients.transport.whenConnected(10_000, ["a"]);
    a.transport.holdInputFrom("clients", true);
    for (let n = 0; n < 50; n += 1) clients.transport.send("c0", "a/0", { n });
    // Sent in one turn, they travel in one frame: once it is in, all 50 are held.
    await until(() => a.transport.stats.framesReceived >= 1, "the frame to arrive");
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(a.received).toEqual([]);
    expect(clients.transport.queuedMessages).toBe(50);
    a.transport.holdInputFrom("clients", false);
    expect(numbers(a.received)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    await until(() => clients.transport.queuedMessages === 0, "the acknowledgement");
  });

  it("forgets a peer declared down: no redial, nothing queued, later messages to it dropped", async () => {
    const a = await node("a");
    const b = await node("b");
    wire({ a, b });
    await a.transport.whenConnected(10_000, ["b"]);
    for (let n = 0; n < 10; n += 1) a.transport.send("a/0", "b/0", { n });
    await until(() => b.received.length === 10, "the first messages");
    // b is killed: a's link to it would otherwise redial and hold every message for ever.
    await b.transport.close();
    a.transport.peerDown("b");
    for (let n = 10; n < 20; n += 1) a.transport.send("a/0", "b/0", { n });
    expect(a.transport.queuedMessages).toBe(0);
    // The ten new ones, and any of the first ten b had not acknowledged before it died.
    expect(a.transport.stats.messagesToDownPeers).toBeGreaterThanOrEqual(10);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(a.transport.connectedTo(["b"])).toBe(false);
    expect(a.logs.filter((line) => line.includes("gave up"))).toEqual([]);
  });

  it("numbers its messages from 1 for a peer that comes back after it was declared down, even one it never reached before", {
    timeout: 15_000,
  }, async () => {
    // a starts while b is down (a whole group restarted one by one): what it sends b is framed,
    // then dropped when b is declared down; b's new incarnation must get what a sends next.
    const a = await node("a");
    a.transport.send("a/0", "b/0", { n: -1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    a.transport.peerDown("b");
    const b = await node("b");
    wire({ a, b });
    a.transport.peerUp("b", { host: "127.0.0.1", port: b.port });
    for (let n = 0; n < 5; n += 1) a.transport.send("a/0", "b/0", { n });
    await until(() => b.received.length === 5, "the messages sent after the peer came back", 5_000);
    expect(numbers(b.received)).toEqual([0, 1, 2, 3, 4]);
    expect(b.logs.filter((line) => line.includes("dropped a frame"))).toEqual([]);
  });

  it("emulates per-pair latency in the sender, keeping FIFO order", async () => {
    const arrivals: number[] = [];
    const delayMs = (from: string, to: string): number => (from === "a/0" && to === "b/0" ? 30 : 0);
    const a = await node("a", {
      extra: { latency: { seed: 1, delayMs, jitterSdFraction: 0.2, reorder: null } },
    });
    const b = await node("b", { onMessage: () => arrivals.push(performance.now()) });
    wire({ a, b });
    await a.transport.whenConnected(10_000, ["b"]);
    const sentAt: number[] = [];
    for (let n = 0; n < 40; n += 1) {
      sentAt.push(performance.now());
      a.transport.send("a/0", "b/0", { n });
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await until(() => b.received.length === 40, "the delayed messages");
    expect(numbers(b.received)).toEqual(Array.from({ length: 40 }, (_, n) => n));
    const delays = arrivals.map((at, index) => at - (sentAt[index] as number));
    // A lower bound only: a slow machine makes delays longer, never shorter. With 20% jitter,
    // 30 ms - 4 sd = 6 ms is a floor no correct draw goes under.
    expect(Math.min(...delays)).toBeGreaterThan(5);
    const meanMs = delays.reduce((sum, value) => sum + value, 0) / delays.length;
    process.stdout.write(
      `latency emulation: 30 ms one-way, 20% jitter: mean measured ${meanMs.toFixed(2)} ms over 40 messages\n`,
    );
  });
});

describe("frames", () => {
  it("authenticates DATA with the session key and the frame counter", () => {
    const key = randomBytes(32);
    const frame = encodeData(3, 10, 2, Buffer.from([1, 2, 3]), key, 7);
    expect(decodeData(frame, key, 7)).toMatchObject({ ack: 3, firstSeq: 10, count: 2 });
    // Replayed at another position of the connection, or under another key: refused.
    expect(() => decodeData(frame, key, 8)).toThrow(/wrong HMAC/);
    expect(() => decodeData(frame, randomBytes(32), 7)).toThrow(/wrong HMAC/);
    const tampered = Buffer.from(frame);
    tampered.writeUInt8((tampered.readUInt8(frame.length - 1) ^ 1) & 0xff, frame.length - 1);
    expect(() => decodeData(tampered, key, 7)).toThrow(/wrong HMAC/);
    expect(() => decodeData(frame.subarray(0, 20), key, 7)).toThrow(/bytes/);
  });

  it("derives a distinct key for each ordered pair of nodes", () => {
    const ab = deriveLinkKey(SECRET, "a", "b");
    expect(ab.equals(deriveLinkKey(SECRET, "a", "b"))).toBe(true);
    expect(ab.equals(deriveLinkKey(SECRET, "b", "a"))).toBe(false);
    expect(ab.equals(deriveLinkKey(SECRET, "a", "c"))).toBe(false);
    expect(ab.equals(deriveLinkKey(Buffer.from("0123456789abcdef0123456789abcdeX"), "a", "b"))).toBe(false);
    expect(() => deriveLinkKey(Buffer.from("short"), "a", "b")).toThrow(/at least 16 bytes/);
  });
});
