import { createHmac, timingSafeEqual } from "node:crypto";
import { ID_BYTES_MAX } from "./nodes.js";

/**
 * The wire format. Every WebSocket message is one binary frame; numbers are big-endian; byte 0 is
 * the frame type, byte 1 the wire version.
 *
 * Handshake (the dialer D opened the connection to the acceptor A):
 *   CHALLENGE A->D  [1][v][nonceA:16]
 *   HELLO     D->A  [2][v][len:2][D][len:2][A][nonceA:16][nonceD:16][epoch:f64][received:f64][peerEpoch:f64]
 *                   [tableDigest:32][mac:32]
 *                   mac = HMAC(K(D->A), every byte before it)
 *   WELCOME   A->D  [3][v][nonceD:16][epoch:f64][received:f64][peerEpoch:f64][mac:32]
 *                   mac = HMAC(K(A->D), every byte before it || nonceA)
 * Only D and A hold K(D->A) and K(A->D), and the nonces are fresh per connection, so a valid
 * HELLO proves the dialer is D and a valid WELCOME proves the acceptor is A; neither can be
 * replayed on another connection. `epoch` identifies the sender's incarnation (a restarted
 * process draws a new one); `received` is the last sequence number it took from the peer's
 * incarnation `peerEpoch` (0 when it knows none), so a restarted peer ignores a count that is not
 * about it.
 *
 * Data, both ways once the handshake is done:
 *   DATA            [4][v][ack:f64][firstSeq:f64][count:u32][mac:32][payload]
 *                   mac = HMAC(session key of the direction, frameCounter:u64 || header || payload)
 *   payload = `count` msgpack values back to back, each [fromProcess, toProcess, body, sentAt]
 *   with processes as indices in the node table and sentAt the send instant on the nodes' shared
 *   clock, in units of 10 us (the receiver's measure of the message's delay). Messages are numbered firstSeq..firstSeq+count-1 on
 *   the link; `ack` acknowledges every message up to it in the other direction; `count` 0 is a
 *   bare acknowledgement. The frame counter is implicit (both ends count frames on the
 *   connection), so a frame replayed, dropped or reordered inside a connection fails its MAC.
 */
export const FrameType = { Challenge: 1, Hello: 2, Welcome: 3, Data: 4 } as const;

/**
 * Why an acceptor refused a HELLO, sent as the code of the WebSocket close frame (4000-4999 are
 * the application's), so that a dialer can say which peer refused it and why instead of
 * redialling blindly. Only the code crosses: no text, nothing about keys. A refusal comes before
 * anything is authenticated (the keys may be what is wrong), so anyone on the path could forge
 * one; it can only make a dialer give up, which dropping the connection achieves as well.
 *
 * - NotAuthenticated: the HELLO does not verify as coming from the node it names (wrong keyring
 *   or secret on either side, or a sender the acceptor's table does not link to it). One code
 *   for all of these, so a prober learns nothing about which node ids exist.
 * - WrongNode: the HELLO is for another node (the dialer has this node's address under another id).
 * - OtherDeployment, WrongDialer: authenticated, but the two nodes' tables differ.
 * - Down: authenticated, but the acceptor declared the dialer crashed for good.
 * - Partitioned: authenticated, but a fault plan's partition cuts the link now (redial at heal).
 */
export const HandshakeRefusal = {
  NotAuthenticated: 4001,
  WrongNode: 4002,
  OtherDeployment: 4003,
  WrongDialer: 4004,
  Down: 4005,
  Partitioned: 4006,
} as const;
export type HandshakeRefusalCode = (typeof HandshakeRefusal)[keyof typeof HandshakeRefusal];

/** What a refusal means, told from the dialer `self` that `peer` refused; undefined for other close codes. */
export function describeRefusal(code: number, self: string, peer: string): string | undefined {
  switch (code) {
    case HandshakeRefusal.NotAuthenticated:
      return `${peer} refused the handshake: it could not authenticate ${self} (the keyring of ${self} or of ${peer} does not come from the cluster's secret, or ${peer}'s deployment has no link from ${self})`;
    case HandshakeRefusal.WrongNode:
      return `${peer} refused the handshake: another node listens at ${peer}'s address (check the deployment's addresses)`;
    case HandshakeRefusal.OtherDeployment:
      return `${peer} refused the handshake: it runs another deployment (the node tables differ)`;
    case HandshakeRefusal.WrongDialer:
      return `${peer} refused the handshake: it dials this link itself (the deployments differ)`;
    case HandshakeRefusal.Down:
      return `${peer} refused the handshake: it declared ${self} crashed for good`;
    case HandshakeRefusal.Partitioned:
      return `${peer} refused the handshake: a partition cuts the link`;
    default:
      return undefined;
  }
}
export const WIRE_VERSION = 2;
export const NONCE_BYTES = 16;
export const MAC_BYTES = 32;
export const DIGEST_BYTES = 32;
/** Bytes of a DATA frame before its payload: header and MAC. */
export const DATA_HEADER_BYTES = 22;
export const DATA_PREFIX_BYTES = DATA_HEADER_BYTES + MAC_BYTES;

const CHALLENGE_BYTES = 2 + NONCE_BYTES;
const WELCOME_BYTES = 2 + NONCE_BYTES + 24 + MAC_BYTES;
const SESSION_LABEL = Buffer.from("amcast/session/v1");

/** A frame that could not be accepted, and why (for the log). */
export class FrameError extends Error {
  override readonly name = "FrameError";
}

function mac(key: Buffer, ...parts: Uint8Array[]): Buffer {
  const hmac = createHmac("sha256", key);
  for (const part of parts) hmac.update(part);
  return hmac.digest();
}

function macMatches(expected: Buffer, frame: Uint8Array, offset: number): boolean {
  if (frame.length < offset + MAC_BYTES) return false;
  return timingSafeEqual(expected, frame.subarray(offset, offset + MAC_BYTES));
}

/** The key of one direction of one connection: the pair key bound to both handshake nonces. */
export function sessionKey(pairKey: Buffer, nonceAcceptor: Uint8Array, nonceDialer: Uint8Array): Buffer {
  return mac(pairKey, SESSION_LABEL, nonceAcceptor, nonceDialer);
}

function checkHeader(frame: Uint8Array, type: number, name: string): void {
  if (frame.length < 2) throw new FrameError(`frame of ${frame.length} bytes is too short`);
  if (frame[0] !== type) throw new FrameError(`expected a ${name} frame, got type ${frame[0]}`);
  if (frame[1] !== WIRE_VERSION) throw new FrameError(`wire version ${frame[1]} is not ${WIRE_VERSION}`);
}

function readCount(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new FrameError(`${field} ${value} is not a count`);
  return value;
}

export function encodeChallenge(nonceAcceptor: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(CHALLENGE_BYTES);
  frame[0] = FrameType.Challenge;
  frame[1] = WIRE_VERSION;
  frame.set(nonceAcceptor, 2);
  return frame;
}

export function decodeChallenge(frame: Buffer): Buffer {
  checkHeader(frame, FrameType.Challenge, "CHALLENGE");
  if (frame.length !== CHALLENGE_BYTES) throw new FrameError(`CHALLENGE of ${frame.length} bytes`);
  return Buffer.from(frame.subarray(2));
}

export interface Hello {
  readonly from: string;
  readonly to: string;
  readonly nonceAcceptor: Buffer;
  readonly nonceDialer: Buffer;
  readonly epoch: number;
  readonly received: number;
  readonly peerEpoch: number;
  readonly tableDigest: Buffer;
}

export function encodeHello(hello: Hello, key: Buffer): Buffer {
  const from = Buffer.from(hello.from);
  const to = Buffer.from(hello.to);
  const length = 2 + 2 + from.length + 2 + to.length + 2 * NONCE_BYTES + 24 + DIGEST_BYTES + MAC_BYTES;
  const frame = Buffer.allocUnsafe(length);
  let at = 0;
  frame[at++] = FrameType.Hello;
  frame[at++] = WIRE_VERSION;
  at = frame.writeUInt16BE(from.length, at);
  at += from.copy(frame, at);
  at = frame.writeUInt16BE(to.length, at);
  at += to.copy(frame, at);
  at += hello.nonceAcceptor.copy(frame, at);
  at += hello.nonceDialer.copy(frame, at);
  at = frame.writeDoubleBE(hello.epoch, at);
  at = frame.writeDoubleBE(hello.received, at);
  at = frame.writeDoubleBE(hello.peerEpoch, at);
  at += hello.tableDigest.copy(frame, at);
  mac(key, frame.subarray(0, at)).copy(frame, at);
  return frame;
}

/**
 * Parses a HELLO without trusting it; the caller looks up the key of the claimed sender and
 * calls `verifyHello`. Every length is checked before it is used.
 */
export function decodeHello(frame: Buffer): Hello & { readonly macOffset: number } {
  checkHeader(frame, FrameType.Hello, "HELLO");
  let at = 2;
  const readId = (field: string): string => {
    if (frame.length < at + 2) throw new FrameError(`HELLO ends inside ${field}`);
    const length = frame.readUInt16BE(at);
    at += 2;
    if (length === 0 || length > ID_BYTES_MAX || frame.length < at + length)
      throw new FrameError(`HELLO ${field} of ${length} bytes`);
    const id = frame.toString("utf8", at, at + length);
    at += length;
    return id;
  };
  const from = readId("sender");
  const to = readId("receiver");
  const rest = 2 * NONCE_BYTES + 24 + DIGEST_BYTES + MAC_BYTES;
  if (frame.length !== at + rest) throw new FrameError(`HELLO of ${frame.length} bytes`);
  const nonceAcceptor = Buffer.from(frame.subarray(at, at + NONCE_BYTES));
  at += NONCE_BYTES;
  const nonceDialer = Buffer.from(frame.subarray(at, at + NONCE_BYTES));
  at += NONCE_BYTES;
  const epoch = readCount(frame.readDoubleBE(at), "epoch");
  const received = readCount(frame.readDoubleBE(at + 8), "received");
  const peerEpoch = readCount(frame.readDoubleBE(at + 16), "peerEpoch");
  at += 24;
  const tableDigest = Buffer.from(frame.subarray(at, at + DIGEST_BYTES));
  at += DIGEST_BYTES;
  return { from, to, nonceAcceptor, nonceDialer, epoch, received, peerEpoch, tableDigest, macOffset: at };
}

export function verifyHello(frame: Buffer, macOffset: number, key: Buffer): boolean {
  return macMatches(mac(key, frame.subarray(0, macOffset)), frame, macOffset);
}

export interface Welcome {
  readonly nonceDialer: Buffer;
  readonly epoch: number;
  readonly received: number;
  readonly peerEpoch: number;
}

export function encodeWelcome(welcome: Welcome, key: Buffer, nonceAcceptor: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(WELCOME_BYTES);
  frame[0] = FrameType.Welcome;
  frame[1] = WIRE_VERSION;
  welcome.nonceDialer.copy(frame, 2);
  frame.writeDoubleBE(welcome.epoch, 2 + NONCE_BYTES);
  frame.writeDoubleBE(welcome.received, 2 + NONCE_BYTES + 8);
  frame.writeDoubleBE(welcome.peerEpoch, 2 + NONCE_BYTES + 16);
  const macOffset = WELCOME_BYTES - MAC_BYTES;
  mac(key, frame.subarray(0, macOffset), nonceAcceptor).copy(frame, macOffset);
  return frame;
}

/** Parses and authenticates a WELCOME with the acceptor's key and the nonce it was challenged with. */
export function decodeWelcome(frame: Buffer, key: Buffer, nonceAcceptor: Buffer): Welcome {
  checkHeader(frame, FrameType.Welcome, "WELCOME");
  if (frame.length !== WELCOME_BYTES) throw new FrameError(`WELCOME of ${frame.length} bytes`);
  const macOffset = WELCOME_BYTES - MAC_BYTES;
  if (!macMatches(mac(key, frame.subarray(0, macOffset), nonceAcceptor), frame, macOffset))
    throw new FrameError("WELCOME has a wrong HMAC");
  return {
    nonceDialer: Buffer.from(frame.subarray(2, 2 + NONCE_BYTES)),
    epoch: readCount(frame.readDoubleBE(2 + NONCE_BYTES), "epoch"),
    received: readCount(frame.readDoubleBE(2 + NONCE_BYTES + 8), "received"),
    peerEpoch: readCount(frame.readDoubleBE(2 + NONCE_BYTES + 16), "peerEpoch"),
  };
}

/** Frame counter bytes for the MAC; one scratch buffer, filled right before each use. */
const counterBytes = Buffer.alloc(8);

function dataMac(key: Buffer, counter: number, frame: Uint8Array): Buffer {
  counterBytes.writeDoubleBE(counter, 0);
  return mac(key, counterBytes, frame.subarray(0, DATA_HEADER_BYTES), frame.subarray(DATA_PREFIX_BYTES));
}

/**
 * Builds a DATA frame around `payload` (already packed messages): header, MAC, payload. One
 * allocation; the payload is copied once.
 */
export function encodeData(
  ack: number,
  firstSeq: number,
  count: number,
  payload: Uint8Array,
  key: Buffer,
  counter: number,
): Buffer {
  const frame = Buffer.allocUnsafe(DATA_PREFIX_BYTES + payload.length);
  frame[0] = FrameType.Data;
  frame[1] = WIRE_VERSION;
  frame.writeDoubleBE(ack, 2);
  frame.writeDoubleBE(firstSeq, 10);
  frame.writeUInt32BE(count, 18);
  frame.set(payload, DATA_PREFIX_BYTES);
  dataMac(key, counter, frame).copy(frame, DATA_HEADER_BYTES);
  return frame;
}

export interface DataHeader {
  readonly ack: number;
  readonly firstSeq: number;
  readonly count: number;
  /** The packed messages (a view into the frame). */
  readonly payload: Buffer;
}

/** Authenticates a DATA frame (MAC first, nothing is read before), then reads its header. */
export function decodeData(frame: Buffer, key: Buffer, counter: number): DataHeader {
  checkHeader(frame, FrameType.Data, "DATA");
  if (frame.length < DATA_PREFIX_BYTES) throw new FrameError(`DATA frame of ${frame.length} bytes`);
  if (!macMatches(dataMac(key, counter, frame), frame, DATA_HEADER_BYTES))
    throw new FrameError("DATA frame has a wrong HMAC");
  const ack = readCount(frame.readDoubleBE(2), "ack");
  const firstSeq = readCount(frame.readDoubleBE(10), "firstSeq");
  const count = frame.readUInt32BE(18);
  if (count > 0 && firstSeq < 1) throw new FrameError(`firstSeq ${firstSeq} of a non-empty frame`);
  return { ack, firstSeq, count, payload: frame.subarray(DATA_PREFIX_BYTES) };
}
