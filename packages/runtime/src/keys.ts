import { hkdfSync } from "node:crypto";
import type { ProcessId } from "@amcast/core";
import { InputError } from "@amcast/core";
import type { NodeId } from "./nodes.js";
import { deriveSigningSeed, readHexKey, SIGNING_SEED_BYTES } from "./signatures.js";

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

/**
 * One node's keys: for every peer, the key of what it sends there and of what it receives from
 * there; and the Ed25519 signing key seed of each process it runs (Byzantine mode signs with them,
 * see signatures.ts).
 */
export class Keyring {
  private constructor(
    readonly node: NodeId,
    private readonly keys: ReadonlyMap<NodeId, { readonly send: Buffer; readonly receive: Buffer }>,
    /** Signing key seed by process this node runs. */
    readonly signingSeeds: ReadonlyMap<ProcessId, Buffer>,
  ) {}

  /** Derives `node`'s keys towards each of `peers`, and the signing keys of its `processes`, from the cluster secret. */
  static fromSecret(
    secret: Uint8Array,
    node: NodeId,
    peers: readonly NodeId[],
    processes: readonly ProcessId[] = [],
  ): Keyring {
    const keys = new Map<NodeId, { send: Buffer; receive: Buffer }>();
    for (const peer of peers) {
      if (peer === node) continue;
      keys.set(peer, { send: deriveLinkKey(secret, node, peer), receive: deriveLinkKey(secret, peer, node) });
    }
    const seeds = new Map(processes.map((process) => [process, deriveSigningSeed(secret, process)]));
    return new Keyring(node, keys, seeds);
  }

  /** Reads a keyring file's JSON (`toJson`); `source` names the file in errors. */
  static fromJson(value: unknown, source: string): Keyring {
    const doc = value as { node?: unknown; keys?: unknown; signing?: unknown } | null;
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
    const seeds = new Map<ProcessId, Buffer>();
    if (doc.signing !== undefined) {
      if (typeof doc.signing !== "object" || doc.signing === null)
        throw new InputError(source, "signing", "expected an object of processes");
      for (const [process, seed] of Object.entries(doc.signing as Record<string, unknown>))
        seeds.set(process, readHexKey(seed, SIGNING_SEED_BYTES, source, `signing.${process}`));
    }
    return new Keyring(doc.node, keys, seeds);
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

  toJson(): {
    node: NodeId;
    keys: Record<NodeId, { send: string; receive: string }>;
    signing?: Record<ProcessId, string>;
  } {
    const keys: Record<NodeId, { send: string; receive: string }> = {};
    for (const [peer, pair] of this.keys)
      keys[peer] = { send: pair.send.toString("hex"), receive: pair.receive.toString("hex") };
    if (this.signingSeeds.size === 0) return { node: this.node, keys };
    const signing: Record<ProcessId, string> = {};
    for (const [process, seed] of this.signingSeeds) signing[process] = seed.toString("hex");
    return { node: this.node, keys, signing };
  }
}

function readKey(value: unknown, source: string, field: string): Buffer {
  return readHexKey(value, LINK_KEY_BYTES, source, field);
}
