import type { Socket } from "node:net";
import type { TransportLimits } from "./limits.js";

/**
 * Bytes a connection may send after its HTTP upgrade and before it authenticates. The one
 * frame it may send is a HELLO: about 2.2 KB with the longest ids the table allows, plus its
 * WebSocket header. (What comes before the upgrade is bounded by the HTTP server's header limit.)
 */
export const PRE_HANDSHAKE_BYTES_MAX = 16 * 1024;

/** Counters of what the gate did, for the transport's stats. */
export interface StrangerStats {
  /** Pre-handshake connections closed to make room for a newer one (over a bound). */
  strangersEvicted: number;
  /** Pre-handshake connections closed at `handshakeTimeoutMs`. */
  strangersTimedOut: number;
  /** Pre-handshake connections closed for sending over PRE_HANDSHAKE_BYTES_MAX. */
  strangersOversized: number;
}

interface Stranger {
  readonly address: string;
  readonly timer: NodeJS.Timeout;
  bytes: number;
  onData: ((chunk: Buffer) => void) | undefined;
}

/**
 * Holds a listening node's connections from their TCP accept to their authentication (a valid
 * HELLO), with a bound on how many, how many per remote address, how long and how many bytes.
 * A connection over a count bound closes the OLDEST pending one (of its address, or of all):
 * a flood of idle connections then cannot lock out a peer, whose handshake takes a few round
 * trips, unless the flood opens a bound's worth of connections within those round trips. Memory
 * is bounded by the bounds: each pending connection holds at most its HTTP headers and
 * PRE_HANDSHAKE_BYTES_MAX.
 */
export class StrangerGate {
  /** Pending connections, oldest first (a Map keeps insertion order). */
  private readonly strangers = new Map<Socket, Stranger>();
  private readonly byAddress = new Map<string, Set<Socket>>();

  constructor(
    private readonly limits: TransportLimits,
    /** Counted into (the transport's stats). */
    private readonly stats: StrangerStats,
    /** Rate-limited by the caller: a flood would otherwise flood the log too. */
    private readonly log: (line: string) => void,
  ) {}

  /** Connections accepted and not yet authenticated. */
  get size(): number {
    return this.strangers.size;
  }

  /** A TCP connection was accepted: track it, making room under the bounds first. */
  admit(socket: Socket): void {
    const address = socket.remoteAddress ?? "?";
    let same = this.byAddress.get(address);
    if (same !== undefined && same.size >= this.limits.preHandshakeConnectionsPerAddressMax) {
      this.stats.strangersEvicted += 1;
      this.drop(
        same.values().next().value as Socket,
        `over preHandshakeConnectionsPerAddressMax ${this.limits.preHandshakeConnectionsPerAddressMax} from ${address}: closed the oldest`,
      );
    }
    if (this.strangers.size >= this.limits.preHandshakeConnectionsMax) {
      this.stats.strangersEvicted += 1;
      this.drop(
        this.strangers.keys().next().value as Socket,
        `over preHandshakeConnectionsMax ${this.limits.preHandshakeConnectionsMax}: closed the oldest`,
      );
    }
    const timeoutMs = this.limits.handshakeTimeoutMs;
    const timer = setTimeout(() => {
      this.stats.strangersTimedOut += 1;
      this.drop(socket, `no handshake within ${timeoutMs} ms`);
    }, timeoutMs);
    timer.unref();
    this.strangers.set(socket, { address, timer, bytes: 0, onData: undefined });
    if (same === undefined) {
      same = new Set();
      this.byAddress.set(address, same);
    }
    same.add(socket);
    socket.once("close", () => this.forget(socket));
  }

  /** The connection is a WebSocket now: count what it sends until it authenticates. */
  upgraded(socket: Socket): void {
    const stranger = this.strangers.get(socket);
    if (stranger === undefined) return;
    stranger.onData = (chunk: Buffer) => {
      // Still called for the chunk that carried the HELLO, after it authenticated.
      if (this.strangers.get(socket) !== stranger) return;
      stranger.bytes += chunk.length;
      if (stranger.bytes > PRE_HANDSHAKE_BYTES_MAX) {
        this.stats.strangersOversized += 1;
        this.drop(socket, `sent over ${PRE_HANDSHAKE_BYTES_MAX} bytes before authenticating`);
      }
    };
    socket.on("data", stranger.onData);
  }

  /** The connection authenticated: it is no stranger any more. */
  authenticated(socket: Socket): void {
    this.forget(socket);
  }

  /** Closes every pending connection (the node stops). */
  closeAll(): void {
    for (const socket of [...this.strangers.keys()]) {
      this.forget(socket);
      socket.destroy();
    }
  }

  private drop(socket: Socket, why: string): void {
    const stranger = this.strangers.get(socket);
    if (stranger === undefined) return;
    this.log(`closed an unauthenticated connection from ${stranger.address}: ${why}`);
    this.forget(socket);
    socket.destroy();
  }

  private forget(socket: Socket): void {
    const stranger = this.strangers.get(socket);
    if (stranger === undefined) return;
    clearTimeout(stranger.timer);
    if (stranger.onData !== undefined) socket.off("data", stranger.onData);
    this.strangers.delete(socket);
    const same = this.byAddress.get(stranger.address);
    same?.delete(socket);
    if (same?.size === 0) this.byAddress.delete(stranger.address);
  }
}

/**
 * A log that writes at most `linesMax` lines per `windowMs` and counts the rest, reporting how
 * many it left out when the window ends: for what strangers can cause at any rate.
 */
export class RateLimitedLog {
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private written = 0;
  private suppressed = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: (line: string) => void,
    private readonly linesMax = 10,
    private readonly windowMs = 10_000,
  ) {}

  line(text: string): void {
    const nowMs = performance.now();
    if (nowMs - this.windowStartMs >= this.windowMs) {
      this.flush();
      this.windowStartMs = nowMs;
      this.written = 0;
    }
    if (this.written < this.linesMax) {
      this.written += 1;
      this.log(text);
      return;
    }
    this.suppressed += 1;
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.windowStartMs + this.windowMs - nowMs);
      this.timer.unref();
    }
  }

  /** Reports the lines left out, if any (also called when the node stops). */
  flush(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.suppressed === 0) return;
    this.log(
      `... and ${this.suppressed} more such line(s) about unauthenticated connections (at most ${this.linesMax} per ${this.windowMs / 1000} s)`,
    );
    this.suppressed = 0;
  }
}
