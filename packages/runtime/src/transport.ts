import { randomBytes, randomInt } from "node:crypto";
import type { Server } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { ProcessId } from "@amcast/core";
import { Unpackr } from "msgpackr";
import type { RawData } from "ws";
import { WebSocket, WebSocketServer } from "ws";
import type { LatencyEmulation } from "./delay.js";
import { DelayLine } from "./delay.js";
import {
  DATA_PREFIX_BYTES,
  decodeChallenge,
  decodeData,
  decodeHello,
  decodeWelcome,
  describeRefusal,
  encodeChallenge,
  encodeData,
  encodeHello,
  encodeWelcome,
  FrameError,
  FrameType,
  HandshakeRefusal,
  NONCE_BYTES,
  sessionKey,
  verifyHello,
} from "./frame.js";
import type { Keyring } from "./keys.js";
import type { TransportLimits } from "./limits.js";
import { checkLimits, DEFAULT_LIMITS, QueueOverflowError } from "./limits.js";
import { MessagePacker } from "./message-packer.js";
import type { NodeAddress, NodeId, NodeRole, NodeSpec, NodeTable } from "./nodes.js";
import type { StrangerStats } from "./strangers.js";
import { RateLimitedLog, StrangerGate } from "./strangers.js";

export interface TransportOptions {
  readonly self: NodeId;
  readonly table: NodeTable;
  readonly keyring: Keyring;
  /** Where this node listens; null for a node that only dials (a client host). Port 0: any free port. */
  readonly listen: NodeAddress | null;
  readonly limits?: Partial<TransportLimits>;
  readonly latency?: LatencyEmulation;
  /** One line per notable event (connections, rejected frames); never called per message. */
  readonly log: (line: string) => void;
  /**
   * A message for one of this node's processes. Called synchronously, in order per link; the
   * sender is authenticated: `from` is hosted by the peer node at the other end of the link.
   * `delayMs`: from the sender's `send` to now, on the stamp clocks of both nodes (emulated
   * latency, batching, the wire and the links' queues included); a peer could lie about it.
   */
  readonly onMessage: (from: ProcessId, to: ProcessId, body: unknown, delayMs: number) => void;
  /** The transport became congested (some peer's send queue is over half its bound) or relieved. */
  readonly onCongestion?: (congested: boolean) => void;
  /**
   * A link failed for good: it gave up reconnecting after `reconnectAttemptsMax` attempts, or
   * (on a node that only dials, a client host) its peer refused the handshake
   * `REFUSALS_MAX_DIAL_ONLY` times in a row. `reason` says which and why.
   */
  readonly onLinkFailed?: (peer: NodeId, reason: string) => void;
  /**
   * A message released by latency emulation did not fit its send queue (`QueueOverflowError`):
   * the node cannot go on. (Without emulation, `send` throws it to the caller instead.)
   */
  readonly onFatal?: (error: Error) => void;
  /** Clock in ms for latency emulation (defaults to performance.now). */
  readonly now?: () => number;
  /**
   * Clock in ms stamped on every message when it is sent, and read when it arrives, so the
   * receiver learns its delay. Nodes must share it (the cluster runner's start instant); the
   * default, the wall clock, is only as good as the machines' clock synchronisation.
   */
  readonly stampMs?: () => number;
}

export interface TransportStats extends StrangerStats {
  /** Messages put into frames / handed to this node's processes. */
  messagesSent: number;
  messagesReceived: number;
  /** DATA frames with messages, and bare acknowledgements. */
  dataFramesSent: number;
  ackFramesSent: number;
  framesReceived: number;
  wireBytesSent: number;
  wireBytesReceived: number;
  /** Frames sent again on a new connection because they were not acknowledged on the old one. */
  framesResent: number;
  /** Messages received again (after a reconnect) and dropped. */
  duplicatesDropped: number;
  /** Frames refused (malformed, oversized, forged, out of order); each closed its connection. */
  framesRejected: number;
  handshakesRejected: number;
  /** Handshakes this node dialed that the peer refused (or answered with a WELCOME that does not verify). */
  handshakesRefused: number;
  connectionsOpened: number;
  connectionsLost: number;
  /** Largest number of messages queued to one peer at any time. */
  sendQueueMessagesPeak: number;
  congestionEpisodes: number;
  /** Messages to a peer declared down (`peerDown`), dropped instead of queued. */
  messagesToDownPeers: number;
  /** Messages sent while a partition cut their link, held until it healed (`partition`). */
  messagesHeldByPartition: number;
}

/** WebSocket close code 1001: the endpoint is going away (this node stops). */
const GOING_AWAY = 1001;
/** How long a stopping node waits for the close handshake before it drops the socket. */
const CLOSE_GRACE_MS = 500;
/**
 * Refusals in a row after which a node that only dials (a client host) gives a link up. A client
 * host has nobody to serve while it waits, and a wrong keyring does not fix itself; a replica
 * keeps redialling (and says why it is refused), since the peer's operator may fix the peer.
 */
export const REFUSALS_MAX_DIAL_ONLY = 3;

type ConnectionState = "awaiting-challenge" | "awaiting-hello" | "awaiting-welcome" | "open" | "closed";

/** One WebSocket connection, from its handshake to its close. */
class Connection {
  state: ConnectionState;
  link: PeerLink | undefined;
  nonceAcceptor: Buffer = Buffer.alloc(0);
  nonceDialer: Buffer = Buffer.alloc(0);
  sendKey: Buffer = Buffer.alloc(0);
  receiveKey: Buffer = Buffer.alloc(0);
  /** Frames sent and received on this connection: the implicit counter in DATA MACs. */
  sendCounter = 0;
  receiveCounter = 0;
  handshakeTimer: NodeJS.Timeout | undefined;
  lastHeardMs: number;
  /** The TCP socket of an accepted connection, until it authenticates (the stranger gate tracks it). */
  socket: Socket | undefined;

  constructor(
    readonly ws: WebSocket,
    readonly dialer: boolean,
    /** Who is at the other end, for the log: the peer's id once known, else its address. */
    public label: string,
    nowMs: number,
  ) {
    this.state = dialer ? "awaiting-challenge" : "awaiting-hello";
    this.lastHeardMs = nowMs;
  }
}

/** A frame of the send side: numbered messages, packed, kept until acknowledged. */
interface SentFrame {
  firstSeq: number;
  readonly count: number;
  readonly payload: Buffer;
  /** Times written (more than once: sent again on a new connection). */
  writes: number;
}

/** A message sent while a partition cuts its link: it leaves when the partition heals. */
interface CutMessage {
  readonly from: ProcessId;
  readonly to: ProcessId;
  readonly packed: Buffer;
}

/** A frame received while the host holds the peer's input: taken later, in order. */
interface HeldFrame {
  readonly firstSeq: number;
  readonly count: number;
  readonly payload: Buffer;
}

/**
 * The reliable FIFO link to one peer node. It outlives connections: messages are numbered on the
 * link, kept until the peer acknowledges them, and sent again on the next connection; the
 * receiving side takes each sequence number once.
 */
class PeerLink {
  readonly dials: boolean;
  address: NodeAddress | undefined;
  conn: Connection | undefined;
  /** The peer's incarnation, once a handshake told it. */
  peerEpoch: number | undefined;

  // Send side.
  nextSeq = 1;
  batch: Buffer[] = [];
  batchBytes = 0;
  /** Framed, unacknowledged frames; `unackedHead` is the first live one. */
  unacked: SentFrame[] = [];
  unackedHead = 0;
  /** Frames of `unacked` already written on the current connection (from the head). */
  writtenUpTo = 0;
  queuedMessages = 0;
  queuedBytes = 0;
  congested = false;

  // Receive side.
  received = 0;
  receivedSinceAck = 0;
  ackTimer: NodeJS.Timeout | undefined;
  held: HeldFrame[] = [];
  heldHead = 0;
  heldMessages = 0;

  // Dialing.
  reconnectAttempts = 0;
  reconnectTimer: NodeJS.Timeout | undefined;
  failed = false;
  /** Declared crashed (`peerDown`, until `peerUp`): no dialing, nothing queued, messages to it dropped. */
  down = false;
  /** Handshakes refused in a row, and the last refusal logged (each new one is logged once). */
  refusals = 0;
  lastRefusal: string | undefined;

  // Partitions (fault injection).
  /** A partition cuts the link: no connection; messages wait in `cutHeld`, in send order. */
  cut = false;
  cutHeld: CutMessage[] = [];

  constructor(
    readonly peer: NodeSpec,
    dials: boolean,
    readonly sendKey: Buffer,
    readonly receiveKey: Buffer,
  ) {
    this.dials = dials;
  }

  get open(): boolean {
    return this.conn !== undefined && this.conn.state === "open";
  }
}

/** Message send stamps count units of 10 us. */
const STAMP_UNITS_PER_MS = 100;

/**
 * Authenticated, reliable FIFO links between the nodes of a cluster over WebSockets, with
 * batching, bounded queues and optional latency emulation. See frame.ts for the wire format.
 *
 * - One connection per pair of nodes (client hosts dial replicas; the smaller replica id dials
 *   the other), carrying both directions; every frame is MACed with the session key of its
 *   direction, derived from the ordered pair's key and the handshake's nonces.
 * - Messages are numbered per link and direction; acknowledgements are cumulative and ride on
 *   data frames (or go alone after `ackDelayMs`). A dropped connection is redialled with
 *   backoff; the handshake tells each side what the other took, and everything after is sent
 *   again; the receiver drops what it already took.
 * - A frame that is malformed, oversized, forged or out of order is dropped and logged and its
 *   connection closed; the link reconnects and carries on. Nothing a peer sends can throw out of
 *   the transport.
 */
export class Transport {
  readonly limits: TransportLimits;
  readonly stats: TransportStats = {
    messagesSent: 0,
    messagesReceived: 0,
    dataFramesSent: 0,
    ackFramesSent: 0,
    framesReceived: 0,
    wireBytesSent: 0,
    wireBytesReceived: 0,
    framesResent: 0,
    duplicatesDropped: 0,
    framesRejected: 0,
    handshakesRejected: 0,
    handshakesRefused: 0,
    connectionsOpened: 0,
    connectionsLost: 0,
    sendQueueMessagesPeak: 0,
    congestionEpisodes: 0,
    messagesToDownPeers: 0,
    messagesHeldByPartition: 0,
    strangersEvicted: 0,
    strangersTimedOut: 0,
    strangersOversized: 0,
  };
  /** This incarnation: a restarted node draws a new one, and peers then renumber their links. */
  readonly epoch = randomInt(1, 2 ** 47);
  private readonly options: TransportOptions;
  private readonly self: NodeSpec;
  private readonly links = new Map<NodeId, PeerLink>();
  /** Links by the index of each process their peer hosts, for `send`. */
  private readonly linkOfProcess: (PeerLink | undefined)[] = [];
  private readonly packer = new MessagePacker();
  private readonly unpackr = new Unpackr({ useRecords: false });
  private readonly delay: DelayLine<{ link: PeerLink; packed: Buffer }> | undefined;
  private readonly now: () => number;
  private readonly stampMs: () => number;
  private server: Server | undefined;
  /** Accepted connections before they authenticate: bounded in number, time and bytes. */
  private readonly gate: StrangerGate;
  /** What strangers cause is logged through this: a flood must not flood the log. */
  private readonly strangerLog: RateLimitedLog;
  private readonly acceptedConnections = new Set<Connection>();
  private readonly flushLinks = new Set<PeerLink>();
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private congestedLinks = 0;
  private readonly heldRoles = new Set<NodeRole>();
  private closed = false;
  private readonly connectedWaiters = new Set<{
    readonly peers: readonly NodeId[] | undefined;
    readonly resolve: () => void;
    readonly reject: (error: Error) => void;
    timer: NodeJS.Timeout;
  }>();

  constructor(options: TransportOptions) {
    this.options = options;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    checkLimits(this.limits);
    this.now = options.now ?? (() => performance.now());
    this.stampMs = options.stampMs ?? (() => performance.timeOrigin + performance.now());
    this.strangerLog = new RateLimitedLog(options.log);
    this.gate = new StrangerGate(this.limits, this.stats, (line) => this.strangerLog.line(line));
    const self = options.table.node(options.self);
    if (self === undefined) throw new Error(`node ${options.self} is not in the node table`);
    if (options.keyring.node !== self.id)
      throw new Error(`the keyring is node ${options.keyring.node}'s, not ${self.id}'s`);
    this.self = self;
    for (const peer of options.table.nodes) {
      if (!options.table.linked(self, peer)) continue;
      const sendKey = options.keyring.sendKey(peer.id);
      const receiveKey = options.keyring.receiveKey(peer.id);
      if (sendKey === undefined || receiveKey === undefined)
        throw new Error(`the keyring of ${self.id} has no key for peer ${peer.id}`);
      const link = new PeerLink(peer, options.table.dials(self, peer), sendKey, receiveKey);
      this.links.set(peer.id, link);
      for (const process of peer.processes) {
        const index = options.table.processIndex(process) as number;
        this.linkOfProcess[index] = link;
      }
    }
    this.delay =
      options.latency === undefined
        ? undefined
        : new DelayLine(
            options.latency,
            this.now,
            ({ link, packed }) => {
              try {
                this.enqueue(link, packed);
              } catch (error) {
                if (options.onFatal === undefined) throw error;
                options.onFatal(error as Error);
              }
            },
            this.limits.sendQueueMessagesMax * Math.max(1, this.links.size),
          );
  }

  /** Starts listening (when the node listens); resolves with the port, or 0 for a dial-only node. */
  async start(): Promise<number> {
    this.keepaliveTimer = setInterval(() => this.keepalive(), this.limits.keepaliveMs);
    this.keepaliveTimer.unref();
    const listen = this.options.listen;
    if (listen === null) return 0;
    this.server = this.listen();
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
      server.listen(listen.port, listen.host);
    });
    server.on("error", (error) => this.options.log(`server error: ${error.message}`));
    return (server.address() as AddressInfo).port;
  }

  /**
   * The listening side: an HTTP server whose upgrades become WebSockets. Every TCP connection
   * passes the stranger gate from its accept (before any HTTP byte) until its HELLO verifies,
   * so idle, slow or chatty strangers are bounded in number, per address, time and bytes.
   */
  private listen(): Server {
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limits.frameBytesMax,
      perMessageDeflate: false,
      clientTracking: false,
    });
    const server = createServer();
    server.on("connection", (socket: Socket) => {
      if (this.closed) socket.destroy();
      else this.gate.admit(socket);
    });
    server.on("request", (_request, response) => {
      response.writeHead(426, { "content-type": "text/plain", connection: "close" });
      response.end("an amcast node: WebSocket only\n");
    });
    server.on("upgrade", (request, socket: Socket, head: Buffer) => {
      if (this.closed) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        this.gate.upgraded(socket);
        this.accept(ws, `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`, socket);
      });
    });
    return server;
  }

  /** Accepted connections not yet authenticated (bounded by `preHandshakeConnectionsMax`). */
  get preHandshakeConnections(): number {
    return this.gate.size;
  }

  /** Tells the transport where its peers listen; it then dials the links it owns whose address it knows. */
  setAddresses(addresses: ReadonlyMap<NodeId, NodeAddress>): void {
    for (const link of this.links.values()) {
      const address = addresses.get(link.peer.id);
      if (address !== undefined) link.address = address;
      if (
        link.dials &&
        link.address !== undefined &&
        link.conn === undefined &&
        link.reconnectTimer === undefined
      )
        this.dial(link);
    }
  }

  /** True when the links to `peers` (default: every peer) have open, authenticated connections. */
  connectedTo(peers?: readonly NodeId[]): boolean {
    if (peers === undefined) {
      for (const link of this.links.values()) if (!link.open) return false;
      return true;
    }
    return peers.every((peer) => this.links.get(peer)?.open === true);
  }

  get connected(): boolean {
    return this.connectedTo();
  }

  /**
   * Resolves once the links to `peers` (default: every peer; those this node dials and those
   * that dial it) are open, or rejects after `timeoutMs`.
   */
  whenConnected(timeoutMs: number, peers?: readonly NodeId[]): Promise<void> {
    if (this.connectedTo(peers)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { peers, resolve, reject, timer: setTimeout(() => {}, 0) };
      clearTimeout(waiter.timer);
      waiter.timer = setTimeout(() => {
        this.connectedWaiters.delete(waiter);
        const missing = [...this.links.values()]
          .filter((link) => !link.open && (peers === undefined || peers.includes(link.peer.id)))
          .map((link) => link.peer.id);
        reject(new Error(`${this.self.id}: not connected to ${missing.join(", ")} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectedWaiters.add(waiter);
    });
  }

  get congested(): boolean {
    return this.congestedLinks > 0;
  }

  /** Per peer not declared down: the messages still owed to it and whether its link is up. */
  owedPeers(): { readonly peer: NodeId; readonly messages: number; readonly open: boolean }[] {
    return [...this.links.values()]
      .filter((link) => !link.down)
      .map((link) => ({ peer: link.peer.id, messages: link.queuedMessages, open: link.open }));
  }

  /** Messages queued to every peer (framed and unacknowledged, open batches, latency emulation). */
  get queuedMessages(): number {
    let total = this.delay?.size ?? 0;
    for (const link of this.links.values()) total += link.queuedMessages;
    return total;
  }

  /**
   * Holds (or releases) the input from every peer of `role`: their frames are still read, and
   * their acknowledgements taken, but their messages wait (unacknowledged, so the peer's own
   * queue fills and its host stops producing) until released. A replica holds its client hosts'
   * requests while its own send queues are congested.
   */
  holdInputFrom(role: NodeRole, hold: boolean): void {
    if (hold) {
      this.heldRoles.add(role);
      return;
    }
    if (!this.heldRoles.delete(role)) return;
    for (const link of this.links.values()) if (link.peer.role === role) this.releaseHeld(link);
  }

  /**
   * Sends `body` from process `from` (hosted here) to process `to` (hosted by a peer). Reliable and
   * FIFO per pair of processes. Throws on a process it does not know (a caller bug) and
   * `QueueOverflowError` when the peer's queue is over its hard bound.
   */
  send(from: ProcessId, to: ProcessId, body: unknown): void {
    const { table } = this.options;
    const fromIndex = table.processIndex(from);
    const toIndex = table.processIndex(to);
    if (fromIndex === undefined || table.nodeOfProcess(fromIndex) !== this.self)
      throw new Error(`${this.self.id} does not host process ${from}`);
    const link = toIndex === undefined ? undefined : this.linkOfProcess[toIndex];
    if (toIndex === undefined || link === undefined)
      throw new Error(`${this.self.id} has no link to process ${to}`);
    // The send instant in units of 10 us: an integer packs smaller than a float.
    const sentAt = Math.round(this.stampMs() * STAMP_UNITS_PER_MS);
    const packed = this.packer.pack(fromIndex, toIndex, body, sentAt);
    if (packed.length + DATA_PREFIX_BYTES > this.limits.frameBytesMax)
      throw new QueueOverflowError(
        `a message from ${from} to ${to} packs to ${packed.length} bytes, over frameBytesMax ${this.limits.frameBytesMax}`,
      );
    if (link.cut) this.holdForPartition(link, from, to, packed);
    else this.route(link, from, to, packed);
  }

  /** A message leaves: through latency emulation when there is some, else onto its link. */
  private route(link: PeerLink, from: ProcessId, to: ProcessId, packed: Buffer): void {
    if (this.delay === undefined) this.enqueue(link, packed);
    else this.delay.hold(from, to, { link, packed });
  }

  /** Closes every connection and stops listening and reconnecting. Unsent messages are dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.delay?.close();
    if (this.keepaliveTimer !== undefined) clearInterval(this.keepaliveTimer);
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    for (const link of this.links.values()) {
      if (link.reconnectTimer !== undefined) clearTimeout(link.reconnectTimer);
      if (link.ackTimer !== undefined) clearTimeout(link.ackTimer);
      if (link.conn !== undefined) this.closeConnection(link.conn, "stopping");
    }
    for (const conn of this.acceptedConnections) this.closeConnection(conn, "stopping");
    this.gate.closeAll();
    this.strangerLog.flush();
    for (const waiter of [...this.connectedWaiters]) {
      clearTimeout(waiter.timer);
      this.connectedWaiters.delete(waiter);
      waiter.reject(new Error(`${this.self.id}: stopped before it connected`));
    }
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Fault injection: closes every open connection abruptly, as a network failure would. Links
   * reconnect and lose nothing.
   */
  dropConnections(): void {
    for (const link of this.links.values()) if (link.conn !== undefined) this.closeConnection(link.conn);
  }

  /**
   * Declares `peer` crashed (it was killed; it comes back only through `peerUp`): its link stops
   * dialing and accepting, drops what it queued, and messages to its processes are dropped from
   * now on, as a crashed process loses what is sent to it. Without this, the link would keep
   * every message for a peer that never acknowledges, and the node would never be quiet.
   */
  peerDown(peer: NodeId): void {
    const link = this.links.get(peer);
    if (link === undefined || link.down) return;
    link.down = true;
    link.failed = true;
    if (link.reconnectTimer !== undefined) clearTimeout(link.reconnectTimer);
    link.reconnectTimer = undefined;
    if (link.ackTimer !== undefined) clearTimeout(link.ackTimer);
    link.ackTimer = undefined;
    if (link.conn !== undefined) this.closeConnection(link.conn);
    this.stats.messagesToDownPeers += link.queuedMessages;
    link.batch = [];
    link.batchBytes = 0;
    link.unacked = [];
    link.unackedHead = 0;
    link.writtenUpTo = 0;
    // Its next incarnation counts our messages from 1. (A handshake with a new epoch renumbers
    // too, but only for a peer whose earlier epoch this link knew: not one it never reached.)
    link.nextSeq = 1;
    link.queuedMessages = 0;
    link.queuedBytes = 0;
    link.held = [];
    link.heldHead = 0;
    link.heldMessages = 0;
    link.cutHeld = [];
    if (link.congested) {
      link.congested = false;
      this.congestedLinks -= 1;
      if (this.congestedLinks === 0) this.options.onCongestion?.(false);
    }
  }

  /**
   * `peer`, declared down, was restarted (from its data directory) and listens at `address`: its
   * link comes back, empty. The restarted peer is a new incarnation, so the link renumbers at its
   * first handshake; what was dropped while it was down stays dropped, as a crashed process lost it.
   */
  peerUp(peer: NodeId, address: NodeAddress): void {
    const link = this.links.get(peer);
    if (link === undefined) return;
    link.down = false;
    link.failed = false;
    link.reconnectAttempts = 0;
    link.refusals = 0;
    link.address = address;
    if (link.dials && link.conn === undefined && link.reconnectTimer === undefined && !link.cut)
      this.dial(link);
  }

  /**
   * Fault injection, a fault plan's partition: from now on the links to exactly `peers` are cut
   * (an empty list heals every link). Cutting a link closes its connection (the peer sees close
   * code `HandshakeRefusal.Partitioned`) and refuses handshakes over it; messages sent over it
   * wait at the sender, before latency emulation, in order. Healing it redials at once and sends what
   * waited, in order, through latency emulation: a message sent during a partition leaves when
   * it heals and then takes its usual delay, as in the simulator. What was in flight when the
   * partition began (in the delay line, or written and unacknowledged) is sent again after the
   * heal: nothing is lost or reordered. Both ends of a link must be told (the runner tells every
   * node its cut peers).
   */
  partition(peers: readonly NodeId[]): void {
    const cut = new Set(peers);
    for (const link of this.links.values()) {
      if (link.down) {
        // A peer that is down comes back (`peerUp`) under the cuts in force then.
        link.cut = cut.has(link.peer.id);
        continue;
      }
      if (cut.has(link.peer.id) === link.cut) continue;
      if (cut.has(link.peer.id)) {
        link.cut = true;
        if (link.reconnectTimer !== undefined) clearTimeout(link.reconnectTimer);
        link.reconnectTimer = undefined;
        if (link.conn !== undefined)
          this.closeConnection(link.conn, "partitioned", HandshakeRefusal.Partitioned);
        continue;
      }
      link.cut = false;
      const held = link.cutHeld;
      link.cutHeld = [];
      try {
        for (const { from, to, packed } of held) {
          this.unreserve(link, packed.length);
          this.route(link, from, to, packed);
        }
      } catch (error) {
        // Past a hard bound (the delay line's): the same as when a released message overflows.
        if (this.options.onFatal === undefined) throw error;
        this.options.onFatal(error as Error);
      }
      this.relieve(link);
      link.reconnectAttempts = 0;
      if (link.dials && link.address !== undefined && link.conn === undefined) {
        if (link.reconnectTimer !== undefined) clearTimeout(link.reconnectTimer);
        this.dial(link);
      }
    }
  }

  /** A message over a cut link waits at the sender; it counts against the link's send queue. */
  private holdForPartition(link: PeerLink, from: ProcessId, to: ProcessId, packed: Buffer): void {
    if (link.down) {
      this.stats.messagesToDownPeers += 1;
      return;
    }
    this.reserve(link, packed.length);
    link.cutHeld.push({ from, to, packed });
    this.stats.messagesHeldByPartition += 1;
  }

  /** Frames whatever is batched now, without waiting for the end of the turn (used before stopping). */
  flushNow(): void {
    for (const link of this.links.values()) this.flushLink(link);
  }

  // --- send side -------------------------------------------------------------------------------

  private enqueue(link: PeerLink, packed: Buffer): void {
    if (this.closed) return;
    if (link.down) {
      this.stats.messagesToDownPeers += 1;
      return;
    }
    const limits = this.limits;
    this.reserve(link, packed.length);
    if (
      link.batch.length > 0 &&
      (link.batch.length >= limits.batchMessagesMax || link.batchBytes + packed.length > limits.batchBytesMax)
    )
      this.frameBatch(link);
    link.batch.push(packed);
    link.batchBytes += packed.length;
    this.scheduleFlush(link);
  }

  /**
   * Counts one message of `bytes` more in the peer's send queue: throws past the hard bound,
   * marks the link congested past half of it.
   */
  private reserve(link: PeerLink, bytes: number): void {
    const limits = this.limits;
    if (
      link.queuedMessages + 1 > limits.sendQueueMessagesMax ||
      link.queuedBytes + bytes > limits.sendQueueBytesMax
    ) {
      throw new QueueOverflowError(
        `send queue to ${link.peer.id} holds ${link.queuedMessages} messages / ${link.queuedBytes} bytes, at its bound (${limits.sendQueueMessagesMax} / ${limits.sendQueueBytesMax}); backpressure did not hold the load`,
      );
    }
    link.queuedMessages += 1;
    link.queuedBytes += bytes;
    if (link.queuedMessages > this.stats.sendQueueMessagesPeak)
      this.stats.sendQueueMessagesPeak = link.queuedMessages;
    if (
      !link.congested &&
      (link.queuedMessages * 2 > limits.sendQueueMessagesMax ||
        link.queuedBytes * 2 > limits.sendQueueBytesMax)
    ) {
      link.congested = true;
      this.congestedLinks += 1;
      if (this.congestedLinks === 1) {
        this.stats.congestionEpisodes += 1;
        this.options.onCongestion?.(true);
      }
    }
  }

  private unreserve(link: PeerLink, bytes: number): void {
    link.queuedMessages -= 1;
    link.queuedBytes -= bytes;
  }

  /** Clears the link's congestion once its queue is down to a quarter of the bound. */
  private relieve(link: PeerLink): void {
    const limits = this.limits;
    if (
      link.congested &&
      link.queuedMessages * 4 <= limits.sendQueueMessagesMax &&
      link.queuedBytes * 4 <= limits.sendQueueBytesMax
    ) {
      link.congested = false;
      this.congestedLinks -= 1;
      if (this.congestedLinks === 0) this.options.onCongestion?.(false);
    }
  }

  private scheduleFlush(link: PeerLink): void {
    this.flushLinks.add(link);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    if (this.limits.batchDelayMs > 0)
      this.flushTimer = setTimeout(() => this.flush(), this.limits.batchDelayMs);
    else setImmediate(() => this.flush());
  }

  private flush(): void {
    // What the logic sent this turn is sent; a body object seen again later is encoded afresh.
    this.packer.forget();
    this.flushScheduled = false;
    this.flushTimer = undefined;
    const links = [...this.flushLinks];
    this.flushLinks.clear();
    for (const link of links) this.flushLink(link);
  }

  private flushLink(link: PeerLink): void {
    if (link.batch.length > 0) this.frameBatch(link);
    if (link.receivedSinceAck >= this.limits.ackEveryMessages) this.sendAck(link);
  }

  /** Turns the open batch into a numbered frame, kept until acknowledged; writes it if connected. */
  private frameBatch(link: PeerLink): void {
    const count = link.batch.length;
    const payload = count === 1 ? (link.batch[0] as Buffer) : Buffer.concat(link.batch, link.batchBytes);
    const frame: SentFrame = { firstSeq: link.nextSeq, count, payload, writes: 0 };
    link.nextSeq += count;
    link.batch = [];
    link.batchBytes = 0;
    link.unacked.push(frame);
    this.stats.messagesSent += count;
    if (link.open && link.writtenUpTo === link.unacked.length - 1) {
      this.writeFrame(link, frame);
      link.writtenUpTo = link.unacked.length;
    }
  }

  private writeFrame(link: PeerLink, frame: SentFrame): void {
    const conn = link.conn as Connection;
    const bytes = encodeData(
      link.received,
      frame.firstSeq,
      frame.count,
      frame.payload,
      conn.sendKey,
      conn.sendCounter,
    );
    conn.sendCounter += 1;
    this.ackSent(link);
    if (frame.writes > 0) this.stats.framesResent += 1;
    frame.writes += 1;
    this.stats.dataFramesSent += 1;
    this.stats.wireBytesSent += bytes.length;
    conn.ws.send(bytes, { binary: true });
  }

  private sendAck(link: PeerLink): void {
    if (!link.open || link.receivedSinceAck === 0) return;
    const conn = link.conn as Connection;
    const bytes = encodeData(link.received, 0, 0, Buffer.alloc(0), conn.sendKey, conn.sendCounter);
    conn.sendCounter += 1;
    this.ackSent(link);
    this.stats.ackFramesSent += 1;
    this.stats.wireBytesSent += bytes.length;
    conn.ws.send(bytes, { binary: true });
  }

  private ackSent(link: PeerLink): void {
    // A pending ack timer is left to fire and find nothing to acknowledge: cheaper than clearing
    // and re-arming a timer for every frame, and an acknowledgement only ever comes earlier.
    link.receivedSinceAck = 0;
  }

  /** The peer took every message up to `ack`: forget those frames. */
  private onAck(link: PeerLink, ack: number): void {
    // Messages of the open batch have no number yet: nextSeq - 1 is the last one framed.
    if (ack > link.nextSeq - 1)
      throw new FrameError(`acknowledges message ${ack}, but only ${link.nextSeq - 1} were sent`);
    while (link.unackedHead < link.unacked.length) {
      const frame = link.unacked[link.unackedHead] as SentFrame;
      if (frame.firstSeq + frame.count - 1 > ack) break;
      link.unackedHead += 1;
      link.queuedMessages -= frame.count;
      link.queuedBytes -= frame.payload.length;
    }
    if (link.unackedHead > 0 && (link.unackedHead === link.unacked.length || link.unackedHead > 1024)) {
      // Compact now and then, so the acknowledged prefix does not pin memory.
      link.unacked.splice(0, link.unackedHead);
      link.writtenUpTo = Math.max(0, link.writtenUpTo - link.unackedHead);
      link.unackedHead = 0;
    }
    this.relieve(link);
  }

  // --- receive side ----------------------------------------------------------------------------

  private onData(conn: Connection, link: PeerLink, data: Buffer): void {
    const header = decodeData(data, conn.receiveKey, conn.receiveCounter);
    conn.receiveCounter += 1;
    this.stats.framesReceived += 1;
    if (header.ack > 0) this.onAck(link, header.ack);
    if (header.count === 0) return;
    const frame: HeldFrame = { firstSeq: header.firstSeq, count: header.count, payload: header.payload };
    if (this.heldRoles.has(link.peer.role) || link.heldHead < link.held.length) {
      if (link.heldMessages + frame.count > this.limits.heldMessagesMax)
        throw new FrameError(
          `peer sent over ${this.limits.heldMessagesMax} messages while its input was held`,
        );
      link.held.push(frame);
      link.heldMessages += frame.count;
      return;
    }
    this.take(link, frame);
  }

  private releaseHeld(link: PeerLink): void {
    while (link.heldHead < link.held.length && !this.heldRoles.has(link.peer.role)) {
      const frame = link.held[link.heldHead] as HeldFrame;
      link.heldHead += 1;
      link.heldMessages -= frame.count;
      try {
        this.take(link, frame);
      } catch (error) {
        // A held frame was authentic but bad: the same treatment as when it arrived.
        if (link.conn !== undefined) this.reject(link.conn, error);
        link.held = [];
        link.heldHead = 0;
        link.heldMessages = 0;
        return;
      }
    }
    if (link.heldHead === link.held.length) {
      link.held = [];
      link.heldHead = 0;
    }
  }

  /** Hands a frame's new messages to the node, in order; every message is checked first. */
  private take(link: PeerLink, frame: HeldFrame): void {
    const { firstSeq, count } = frame;
    const last = firstSeq + count - 1;
    if (firstSeq > link.received + 1)
      throw new FrameError(`frame starts at message ${firstSeq}, but ${link.received + 1} is next`);
    if (last <= link.received) {
      this.stats.duplicatesDropped += count;
      return;
    }
    let values: unknown[];
    try {
      values = this.unpackr.unpackMultiple(frame.payload) as unknown[];
    } catch (error) {
      throw new FrameError(`payload does not decode: ${(error as Error).message}`);
    }
    if (!Array.isArray(values) || values.length !== count)
      throw new FrameError(
        `header says ${count} messages, payload holds ${Array.isArray(values) ? values.length : "none"}`,
      );
    const { table } = this.options;
    const skip = link.received + 1 - firstSeq;
    // Check every message before taking any: a frame is taken whole or not at all.
    for (let index = skip; index < count; index += 1) {
      const value = values[index];
      if (!Array.isArray(value) || value.length !== 4 || !Number.isFinite(value[3]))
        throw new FrameError(`message ${firstSeq + index} is not [from, to, body, sentAt]`);
      const fromIndex: unknown = value[0];
      const toIndex: unknown = value[1];
      // The sender must be hosted by the authenticated peer: a node cannot send as another.
      if (typeof fromIndex !== "number" || table.nodeOfProcess(fromIndex) !== link.peer)
        throw new FrameError(
          `message ${firstSeq + index} claims sender ${String(fromIndex)}, not hosted by ${link.peer.id}`,
        );
      if (typeof toIndex !== "number" || table.nodeOfProcess(toIndex) !== this.self)
        throw new FrameError(`message ${firstSeq + index} is for ${String(toIndex)}, not hosted here`);
    }
    this.stats.duplicatesDropped += skip;
    link.received = last;
    link.receivedSinceAck += count - skip;
    this.stats.messagesReceived += count - skip;
    const receivedAt = this.stampMs() * STAMP_UNITS_PER_MS;
    for (let index = skip; index < count; index += 1) {
      const [fromIndex, toIndex, body, sentAt] = values[index] as [number, number, unknown, number];
      const from = table.processId(fromIndex) as ProcessId;
      const to = table.processId(toIndex) as ProcessId;
      const delayMs = Math.max(0, receivedAt - sentAt) / STAMP_UNITS_PER_MS;
      try {
        this.options.onMessage(from, to, body, delayMs);
      } catch (error) {
        // The host's fault, not the peer's: log it and go on with the next message.
        this.options.log(
          `host failed on a message from ${from} to ${to}: ${(error as Error).stack ?? error}`,
        );
      }
    }
    if (link.receivedSinceAck >= this.limits.ackEveryMessages) this.scheduleFlush(link);
    else if (link.ackTimer === undefined)
      link.ackTimer = setTimeout(() => {
        link.ackTimer = undefined;
        this.sendAck(link);
      }, this.limits.ackDelayMs);
  }

  // --- connections -----------------------------------------------------------------------------

  private dial(link: PeerLink): void {
    if (this.closed || link.failed || link.cut) return;
    link.reconnectTimer = undefined;
    const address = link.address as NodeAddress;
    const host = address.host.includes(":") ? `[${address.host}]` : address.host;
    const ws = new WebSocket(`ws://${host}:${address.port}/`, {
      maxPayload: this.limits.frameBytesMax,
      perMessageDeflate: false,
      handshakeTimeout: this.limits.handshakeTimeoutMs,
      // An all-zero mask: ws then skips masking and copying every frame. Masking protects
      // browser-era proxies from cache poisoning; these links are node to node and every
      // frame is authenticated by its HMAC.
      generateMask: () => {},
    });
    const conn = new Connection(ws, true, link.peer.id, this.now());
    conn.link = link;
    link.conn = conn;
    this.watch(conn);
  }

  private accept(ws: WebSocket, label: string, socket: Socket): void {
    if (this.closed) {
      ws.terminate();
      return;
    }
    const conn = new Connection(ws, false, label, this.now());
    conn.socket = socket;
    this.acceptedConnections.add(conn);
    conn.nonceAcceptor = randomBytes(NONCE_BYTES);
    this.watch(conn);
    ws.send(encodeChallenge(conn.nonceAcceptor), { binary: true });
  }

  private watch(conn: Connection): void {
    const { ws } = conn;
    // An accepted connection's handshake is timed by the stranger gate, from its TCP accept.
    if (conn.dialer)
      conn.handshakeTimer = setTimeout(() => {
        if (conn.state !== "open")
          this.reject(conn, new FrameError(`no handshake within ${this.limits.handshakeTimeoutMs} ms`));
      }, this.limits.handshakeTimeoutMs);
    ws.on("message", (data: RawData, isBinary: boolean) => {
      if (conn.state === "closed") return;
      conn.lastHeardMs = this.now();
      try {
        if (!isBinary || !Buffer.isBuffer(data)) throw new FrameError("a text or fragmented frame");
        this.stats.wireBytesReceived += data.length;
        this.onFrame(conn, data);
      } catch (error) {
        this.reject(conn, error);
      }
    });
    ws.on("pong", () => {
      conn.lastHeardMs = this.now();
    });
    ws.on("error", (error: Error & { code?: string }) => {
      // ws reports oversized frames (WS_ERR_UNSUPPORTED_MESSAGE_LENGTH) and protocol errors here,
      // then closes; connection failures while dialing too.
      if (conn.state === "closed") return;
      const oversized = error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";
      if (oversized || (error.code ?? "").startsWith("WS_ERR")) {
        this.stats.framesRejected += 1;
        this.logAbout(conn)(
          `dropped a frame from ${conn.label}: ${oversized ? `over frameBytesMax ${this.limits.frameBytesMax}` : error.message}; connection closed`,
        );
      } else if (conn.state === "open") {
        this.options.log(`connection to ${conn.label} failed: ${error.message}`);
      }
      this.closeConnection(conn);
    });
    ws.on("close", (code: number) => {
      // 1001 "going away": the peer is stopping on purpose (not a lost connection).
      if (code === GOING_AWAY) this.closeConnection(conn, "peer-stopped");
      else if (code === HandshakeRefusal.Partitioned) this.closeConnection(conn, "partitioned");
      else if (conn.dialer && conn.state !== "open" && conn.state !== "closed")
        this.handshakeFailed(conn, describeRefusal(code, this.self.id, conn.label));
      else this.closeConnection(conn);
    });
  }

  private onFrame(conn: Connection, data: Buffer): void {
    switch (conn.state) {
      case "open":
        if (data[0] !== FrameType.Data)
          throw new FrameError(`unexpected frame type ${data[0]} on an open connection`);
        this.onData(conn, conn.link as PeerLink, data);
        return;
      case "awaiting-challenge": {
        const link = conn.link as PeerLink;
        conn.nonceAcceptor = decodeChallenge(data);
        conn.nonceDialer = randomBytes(NONCE_BYTES);
        conn.ws.send(
          encodeHello(
            {
              from: this.self.id,
              to: link.peer.id,
              nonceAcceptor: conn.nonceAcceptor,
              nonceDialer: conn.nonceDialer,
              epoch: this.epoch,
              received: link.received,
              peerEpoch: link.peerEpoch ?? 0,
              tableDigest: this.options.table.digest,
            },
            link.sendKey,
          ),
          { binary: true },
        );
        conn.state = "awaiting-welcome";
        return;
      }
      case "awaiting-hello": {
        const hello = decodeHello(data);
        const refusal = this.checkHello(conn, hello, data);
        if (refusal !== undefined) {
          this.refuse(conn, refusal.code, refusal.why);
          return;
        }
        const link = this.links.get(hello.from) as PeerLink;
        conn.label = hello.from;
        conn.link = link;
        conn.nonceDialer = hello.nonceDialer;
        this.acceptedConnections.delete(conn);
        if (conn.socket !== undefined) this.gate.authenticated(conn.socket);
        conn.socket = undefined;
        this.peerIncarnation(link, hello.epoch);
        conn.ws.send(
          encodeWelcome(
            {
              nonceDialer: hello.nonceDialer,
              epoch: this.epoch,
              received: link.received,
              peerEpoch: hello.epoch,
            },
            link.sendKey,
            conn.nonceAcceptor,
          ),
          { binary: true },
        );
        // A new authenticated connection replaces an old one (the dialer saw it die first).
        if (link.conn !== undefined && link.conn !== conn) this.closeConnection(link.conn);
        this.establish(conn, link, hello.peerEpoch === this.epoch ? hello.received : 0);
        return;
      }
      case "awaiting-welcome": {
        const link = conn.link as PeerLink;
        let welcome: ReturnType<typeof decodeWelcome>;
        try {
          welcome = decodeWelcome(data, link.receiveKey, conn.nonceAcceptor);
        } catch (error) {
          this.stats.framesRejected += 1;
          this.handshakeFailed(
            conn,
            `${link.peer.id} answered with a WELCOME that ${this.self.id} cannot verify (${(error as Error).message}): the keyring of ${this.self.id} or of ${link.peer.id} does not come from the cluster's secret`,
          );
          return;
        }
        if (!welcome.nonceDialer.equals(conn.nonceDialer))
          throw new FrameError("WELCOME answers another HELLO");
        this.peerIncarnation(link, welcome.epoch);
        this.establish(conn, link, welcome.peerEpoch === this.epoch ? welcome.received : 0);
        return;
      }
      default:
        throw new FrameError(`frame on a ${conn.state} connection`);
    }
  }

  /** Why a HELLO is refused (see `HandshakeRefusal`), or undefined when it is accepted. */
  private checkHello(
    conn: Connection,
    hello: ReturnType<typeof decodeHello>,
    data: Buffer,
  ): { readonly code: number; readonly why: string | undefined } | undefined {
    const from = JSON.stringify(hello.from);
    if (hello.to !== this.self.id)
      return {
        code: HandshakeRefusal.WrongNode,
        why: `HELLO from ${from} is for ${JSON.stringify(hello.to)}`,
      };
    const link = this.links.get(hello.from);
    if (link === undefined)
      return { code: HandshakeRefusal.NotAuthenticated, why: `HELLO from unknown or unlinked node ${from}` };
    if (
      !verifyHello(data, hello.macOffset, link.receiveKey) ||
      !hello.nonceAcceptor.equals(conn.nonceAcceptor)
    )
      return {
        code: HandshakeRefusal.NotAuthenticated,
        why: `HELLO claiming to be ${hello.from} has a wrong HMAC or nonce`,
      };
    // Authenticated from here on.
    if (!hello.tableDigest.equals(this.options.table.digest))
      return {
        code: HandshakeRefusal.OtherDeployment,
        why: `${hello.from} runs with another node table (a different deployment)`,
      };
    if (link.dials)
      return {
        code: HandshakeRefusal.WrongDialer,
        why: `${hello.from} dialed, but ${this.self.id} dials that link`,
      };
    if (link.down) return { code: HandshakeRefusal.Down, why: `${hello.from} was declared down for good` };
    // A partition's refusals are expected: not logged.
    if (link.cut) return { code: HandshakeRefusal.Partitioned, why: undefined };
    return undefined;
  }

  /**
   * The peer's incarnation: on a restart (new epoch), what we took from its old incarnation is
   * irrelevant, and what we still owe it is renumbered from 1 (it starts its count anew).
   */
  private peerIncarnation(link: PeerLink, epoch: number): void {
    if (link.peerEpoch !== undefined && link.peerEpoch !== epoch) {
      this.options.log(`${link.peer.id} restarted (new incarnation); renumbering the link`);
      link.received = 0;
      link.receivedSinceAck = 0;
      link.held = [];
      link.heldHead = 0;
      link.heldMessages = 0;
      let seq = 1;
      for (let index = link.unackedHead; index < link.unacked.length; index += 1) {
        const frame = link.unacked[index] as SentFrame;
        frame.firstSeq = seq;
        seq += frame.count;
      }
      link.nextSeq = seq;
    }
    link.peerEpoch = epoch;
  }

  /** The handshake is done: acknowledge what the peer took, send the rest again, in order. */
  private establish(conn: Connection, link: PeerLink, peerReceived: number): void {
    if (conn.handshakeTimer !== undefined) clearTimeout(conn.handshakeTimer);
    conn.sendKey = sessionKey(link.sendKey, conn.nonceAcceptor, conn.nonceDialer);
    conn.receiveKey = sessionKey(link.receiveKey, conn.nonceAcceptor, conn.nonceDialer);
    conn.state = "open";
    link.conn = conn;
    link.reconnectAttempts = 0;
    link.refusals = 0;
    link.lastRefusal = undefined;
    this.stats.connectionsOpened += 1;
    this.onAck(link, peerReceived);
    link.writtenUpTo = link.unackedHead;
    for (let index = link.unackedHead; index < link.unacked.length; index += 1)
      this.writeFrame(link, link.unacked[index] as SentFrame);
    link.writtenUpTo = link.unacked.length;
    if (link.receivedSinceAck > 0) this.sendAck(link);
    for (const waiter of [...this.connectedWaiters]) {
      if (!this.connectedTo(waiter.peers)) continue;
      clearTimeout(waiter.timer);
      this.connectedWaiters.delete(waiter);
      waiter.resolve();
    }
  }

  private reject(conn: Connection, error: unknown): void {
    if (conn.state === "closed") return;
    const log = this.logAbout(conn);
    if (error instanceof FrameError) {
      this.stats.framesRejected += 1;
      log(`dropped a frame from ${conn.label}: ${error.message}; connection closed`);
    } else {
      log(
        `error on the connection with ${conn.label}: ${(error as Error).stack ?? String(error)}; connection closed`,
      );
    }
    this.closeConnection(conn);
  }

  /** The log for lines about `conn`: rate-limited while the other end is a stranger (no HELLO verified). */
  private logAbout(conn: Connection): (line: string) => void {
    return conn.link === undefined ? (line) => this.strangerLog.line(line) : this.options.log;
  }

  /**
   * Refuses an accepted connection's HELLO: closes it with `code`, which tells the dialer why
   * (see `HandshakeRefusal`), and logs `why` (rate-limited: the dialer may be a stranger). A
   * partition's refusals are expected and not logged.
   */
  private refuse(conn: Connection, code: number, why: string | undefined): void {
    this.stats.handshakesRejected += 1;
    if (why !== undefined)
      this.strangerLog.line(`refused a handshake from ${conn.label}: ${why}; connection closed`);
    this.closeConnection(conn, "refused", code);
  }

  /**
   * A handshake this node dialed failed on the peer's word (a refusal) or on its WELCOME. Says
   * so once per distinct reason; a node that only dials gives the link up after
   * REFUSALS_MAX_DIAL_ONLY in a row (see there), anyone else redials with backoff.
   */
  private handshakeFailed(conn: Connection, reason: string | undefined): void {
    const link = conn.link as PeerLink;
    if (reason === undefined) {
      // Closed during the handshake without a reason: a lost connection, redialled.
      this.closeConnection(conn);
      return;
    }
    this.stats.handshakesRefused += 1;
    link.refusals += 1;
    if (reason !== link.lastRefusal) {
      link.lastRefusal = reason;
      this.options.log(reason);
    }
    if (this.options.listen === null && link.refusals >= REFUSALS_MAX_DIAL_ONLY) {
      link.failed = true;
      this.closeConnection(conn);
      this.failLink(link, `${reason} (${link.refusals} times in a row)`);
      return;
    }
    this.closeConnection(conn);
  }

  /** The link is given up: says why, tells the host, and fails whoever waits for it. */
  private failLink(link: PeerLink, reason: string): void {
    link.failed = true;
    if (this.options.onLinkFailed === undefined)
      this.options.log(`gave up the link to ${link.peer.id}: ${reason}`);
    else this.options.onLinkFailed(link.peer.id, reason);
    for (const waiter of [...this.connectedWaiters]) {
      if (waiter.peers !== undefined && !waiter.peers.includes(link.peer.id)) continue;
      clearTimeout(waiter.timer);
      this.connectedWaiters.delete(waiter);
      waiter.reject(new Error(`${this.self.id}: gave up the link to ${link.peer.id}: ${reason}`));
    }
  }

  /**
   * Ends a connection: abruptly for a failure or a bad frame ("abort"), with a close frame when
   * this node stops ("stopping"), after the peer's close frame ("peer-stopped"), when a
   * partition cuts it or the peer says one does ("partitioned", quietly), or to refuse a
   * handshake ("refused"). `code`, if given, goes out in a close frame (see `HandshakeRefusal`).
   */
  private closeConnection(
    conn: Connection,
    how: "abort" | "stopping" | "peer-stopped" | "partitioned" | "refused" = "abort",
    code?: number,
  ): void {
    if (conn.state === "closed") return;
    const wasOpen = conn.state === "open";
    conn.state = "closed";
    if (conn.handshakeTimer !== undefined) clearTimeout(conn.handshakeTimer);
    this.acceptedConnections.delete(conn);
    const closeCode = code ?? (how === "stopping" && wasOpen ? GOING_AWAY : undefined);
    if (closeCode !== undefined && conn.ws.readyState === WebSocket.OPEN) {
      conn.ws.close(closeCode);
      // The close handshake normally ends the socket; this bounds it if the peer does not answer.
      setTimeout(() => conn.ws.terminate(), CLOSE_GRACE_MS).unref();
    } else conn.ws.terminate();
    const link = conn.link;
    if (link === undefined || link.conn !== conn) return;
    link.conn = undefined;
    link.writtenUpTo = link.unackedHead;
    if (wasOpen && how === "abort") {
      this.stats.connectionsLost += 1;
      if (!this.closed) this.options.log(`lost the connection with ${link.peer.id}`);
    } else if (wasOpen && how === "peer-stopped" && !this.closed) this.options.log(`${link.peer.id} stopped`);
    if (link.dials && !this.closed && !link.down) this.scheduleReconnect(link);
  }

  private scheduleReconnect(link: PeerLink): void {
    if (link.reconnectTimer !== undefined || link.failed || link.cut) return;
    link.reconnectAttempts += 1;
    if (link.reconnectAttempts > this.limits.reconnectAttemptsMax) {
      this.failLink(
        link,
        `no connection after ${this.limits.reconnectAttemptsMax} attempts${link.lastRefusal === undefined ? "" : ` (last refusal: ${link.lastRefusal})`}`,
      );
      return;
    }
    const { reconnectDelayMsMin, reconnectDelayMsMax } = this.limits;
    const ceilingMs = Math.min(
      reconnectDelayMsMax,
      reconnectDelayMsMin * 2 ** Math.min(link.reconnectAttempts - 1, 30),
    );
    // Jitter, so peers that lost each other at once do not redial in lockstep.
    const delayMs = ceilingMs * (0.5 + Math.random() * 0.5);
    link.reconnectTimer = setTimeout(() => this.dial(link), delayMs);
  }

  private keepalive(): void {
    const nowMs = this.now();
    const silentMs = 3 * this.limits.keepaliveMs;
    for (const link of this.links.values()) {
      const conn = link.conn;
      if (conn === undefined || conn.state !== "open") continue;
      if (nowMs - conn.lastHeardMs > silentMs) {
        this.options.log(
          `${link.peer.id} was silent for ${Math.round(nowMs - conn.lastHeardMs)} ms; reconnecting`,
        );
        this.closeConnection(conn);
      } else {
        conn.ws.ping();
      }
    }
  }
}
