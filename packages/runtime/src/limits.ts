/**
 * Every bound of the transport. Each queue, batch and retry has one; all are per link (one link
 * per pair of nodes) unless stated otherwise.
 */
export interface TransportLimits {
  /** Largest WebSocket message accepted (ws `maxPayload`); a larger one closes the connection. */
  readonly frameBytesMax: number;
  /** A batch is framed once it holds this many messages... */
  readonly batchMessagesMax: number;
  /** ...or this many bytes of packed messages (a single larger message gets a frame of its own). */
  readonly batchBytesMax: number;
  /**
   * How long a batch may wait for more messages: 0 frames it at the end of the current event-loop
   * turn (after every input that arrived together was handled), which batches under load and adds
   * no delay when idle.
   */
  readonly batchDelayMs: number;
  /**
   * Hard bound on messages queued to one peer (framed but unacknowledged, plus the open batch).
   * Half of it marks the link congested (hosts stop taking new work), a quarter clears it;
   * exceeding it is an overload error.
   */
  readonly sendQueueMessagesMax: number;
  /** The same bound in bytes of packed messages. */
  readonly sendQueueBytesMax: number;
  /** Messages held (received, not yet handed to the process) while the host holds a peer's input. */
  readonly heldMessagesMax: number;
  /** An acknowledgement goes out once this many messages are unacknowledged... */
  readonly ackEveryMessages: number;
  /** ...or this long after the first of them, if no data frame carried it earlier. */
  readonly ackDelayMs: number;
  /**
   * A connection that has not finished its handshake by then is closed (an accepted one counts
   * from its TCP connection, before any HTTP or WebSocket byte).
   */
  readonly handshakeTimeoutMs: number;
  /**
   * Connections a listening node holds before they authenticate (TCP connected, HTTP upgrade,
   * CHALLENGE sent, no valid HELLO yet), from all addresses together; a new one over the bound
   * closes the oldest. Authenticated connections do not count.
   */
  readonly preHandshakeConnectionsMax: number;
  /** The same bound per remote address (a flood from one address cannot take them all). */
  readonly preHandshakeConnectionsPerAddressMax: number;
  /** Reconnect backoff: first delay, doubling up to the maximum (with jitter)... */
  readonly reconnectDelayMsMin: number;
  readonly reconnectDelayMsMax: number;
  /** ...for at most this many attempts in a row, after which the link is reported failed. */
  readonly reconnectAttemptsMax: number;
  /** Period of WebSocket pings; a connection silent for three periods is closed (dead peer). */
  readonly keepaliveMs: number;
}

export const DEFAULT_LIMITS: TransportLimits = {
  frameBytesMax: 4 * 1024 * 1024,
  batchMessagesMax: 512,
  batchBytesMax: 256 * 1024,
  batchDelayMs: 0,
  sendQueueMessagesMax: 262_144,
  sendQueueBytesMax: 64 * 1024 * 1024,
  heldMessagesMax: 262_144,
  ackEveryMessages: 256,
  ackDelayMs: 5,
  handshakeTimeoutMs: 5_000,
  // Peers handshake in a few round trips, so few are ever pending at once; 256 strangers hold
  // a few MiB at most (each is bounded in bytes too, see strangers.ts).
  preHandshakeConnectionsMax: 256,
  // Above the nodes of a large cluster run on one machine (all dial from one address at start).
  preHandshakeConnectionsPerAddressMax: 64,
  reconnectDelayMsMin: 20,
  reconnectDelayMsMax: 1_000,
  // About ten minutes of retrying at the maximum delay: long enough to restart a machine.
  reconnectAttemptsMax: 600,
  keepaliveMs: 5_000,
};

/** Checks a set of limits for consistency; throws an Error naming the first problem. */
export function checkLimits(limits: TransportLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
      throw new Error(`transport limit ${name} is ${value}, expected a number >= 0`);
  }
  const positive: (keyof TransportLimits)[] = [
    "frameBytesMax",
    "batchMessagesMax",
    "batchBytesMax",
    "sendQueueMessagesMax",
    "sendQueueBytesMax",
    "heldMessagesMax",
    "ackEveryMessages",
    "handshakeTimeoutMs",
    "preHandshakeConnectionsMax",
    "preHandshakeConnectionsPerAddressMax",
    "reconnectDelayMsMin",
    "reconnectAttemptsMax",
    "keepaliveMs",
  ];
  for (const name of positive)
    if (limits[name] <= 0) throw new Error(`transport limit ${name} must be > 0, got ${limits[name]}`);
  if (limits.batchBytesMax + 1024 > limits.frameBytesMax)
    throw new Error(
      `batchBytesMax ${limits.batchBytesMax} must leave room for the frame header under frameBytesMax ${limits.frameBytesMax}`,
    );
  if (limits.reconnectDelayMsMax < limits.reconnectDelayMsMin)
    throw new Error("reconnectDelayMsMax must be >= reconnectDelayMsMin");
}

/** A send queue went over its hard bound: the node is overloaded beyond what backpressure holds. */
export class QueueOverflowError extends Error {
  override readonly name = "QueueOverflowError";
}
