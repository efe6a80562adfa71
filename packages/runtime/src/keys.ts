import { hkdfSync } from "node:crypto";
import { describeValue, InputError } from "@amcast/core";
import type { NodeId } from "./nodes.js";

/** Bytes of a link key (HMAC-SHA256 key) and of the shortest cluster secret accepted. */
export const LINK_KEY_BYTES = 32;
export const CLUSTER_SECRET_BYTES_MIN = 16;

/** HKDF salt: names the purpose and version, so keys for another use never collide with these. */
const LINK_KEY_SALT = "amcast/link-key/v1";

/**
 * The key that authenticates what `from` sends to `to`: HKDF-SHA256 of the cluster secret with the
 * ordered pair as context. Each ordered pair of nodes has its own key, so a node holding only its
 * own keys (a `Keyring`) can neither forge nor read-as-another any other pair's traffic.
 */
export function deriveLinkKey(secret: Uint8Array, from: NodeId, to: NodeId): Buffer {
  if (secret.length < CLUSTER_SECRET_BYTES_MIN)
    throw new Error(`a cluster secret has at least ${CLUSTER_SECRET_BYTES_MIN} bytes, got ${secret.length}`);
  // A NUL byte cannot occur in a node id (see checkNodeId), so the context is unambiguous.
  return Buffer.from(hkdfSync("sha256", secret, LINK_KEY_SALT, `${from}\u0000${to}`, LINK_KEY_BYTES));
}

/** One node's keys: for every peer, the key of what it sends there and of what it receives from there. */
export class Keyring {
  private constructor(
    readonly node: NodeId,
    private readonly keys: ReadonlyMap<NodeId, { readonly send: Buffer; readonly receive: Buffer }>,
  ) {}

  /** Derives `node`'s keys towards each of `peers` from the cluster secret. */
  static fromSecret(secret: Uint8Array, node: NodeId, peers: readonly NodeId[]): Keyring {
    const keys = new Map<NodeId, { send: Buffer; receive: Buffer }>();
    for (const peer of peers) {
      if (peer === node) continue;
      keys.set(peer, { send: deriveLinkKey(secret, node, peer), receive: deriveLinkKey(secret, peer, node) });
    }
    return new Keyring(node, keys);
  }

  /** Reads a keyring file's JSON (`toJson`); `source` names the file in errors. */
  static fromJson(value: unknown, source: string): Keyring {
    const doc = value as { node?: unknown; keys?: unknown } | null;
    if (typeof doc !== "object" || doc === null || typeof doc.node !== "string")
      throw new InputError(source, "node", "expected a keyring: {node, keys: {PEER: {send, receive}}}");
    if (typeof doc.keys !== "object" || doc.keys === null)
      throw new InputError(source, "keys", "expected an object of peers");
    const keys = new Map<NodeId, { send: Buffer; receive: Buffer }>();
    for (const [peer, pair] of Object.entries(doc.keys as Record<string, unknown>)) {
      const { send, receive } = (pair ?? {}) as { send?: unknown; receive?: unknown };
      keys.set(peer, {
        send: readKey(send, source, `keys.${peer}.send`),
        receive: readKey(receive, source, `keys.${peer}.receive`),
      });
    }
    return new Keyring(doc.node, keys);
  }

  has(peer: NodeId): boolean {
    return this.keys.has(peer);
  }

  /** Key of what this node sends to `peer`. */
  sendKey(peer: NodeId): Buffer | undefined {
    return this.keys.get(peer)?.send;
  }

  /** Key of what this node receives from `peer`. */
  receiveKey(peer: NodeId): Buffer | undefined {
    return this.keys.get(peer)?.receive;
  }

  toJson(): { node: NodeId; keys: Record<NodeId, { send: string; receive: string }> } {
    const keys: Record<NodeId, { send: string; receive: string }> = {};
    for (const [peer, pair] of this.keys)
      keys[peer] = { send: pair.send.toString("hex"), receive: pair.receive.toString("hex") };
    return { node: this.node, keys };
  }
}

function readKey(value: unknown, source: string, field: string): Buffer {
  if (typeof value !== "string" || !/^[0-9a-f]+$/.test(value) || value.length !== LINK_KEY_BYTES * 2)
    throw new InputError(
      source,
      field,
      // Never echo the value: it may be a (mistyped) key.
      `expected ${LINK_KEY_BYTES * 2} hex digits, got ${typeof value === "string" ? `${value.length} characters` : describeValue(value)}`,
    );
  return Buffer.from(value, "hex");
}
