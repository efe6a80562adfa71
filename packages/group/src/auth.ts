import type { ProcessId } from "@amcast/core";
import { assert } from "@amcast/core";

/**
 * Canonical JSON: object keys sorted, `undefined` fields left out. Two values that mean the same
 * thing get the same text, so digests and signatures do not depend on field order.
 */
export function canonical(value: unknown): string {
  // Built by appending (no intermediate arrays of parts): every signed or compared digest starts
  // here, once per input per replica.
  switch (typeof value) {
    // The leaves as JSON.stringify writes them, without its general machinery (several times the
    // cost of the text it makes, and canonical JSON is mostly leaves).
    case "string":
      return plainString(value) ? `"${value}"` : JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let text = "[";
        for (let index = 0; index < value.length; index += 1) {
          const item: unknown = value[index];
          if (index > 0) text += ",";
          text += item === undefined ? "null" : canonical(item);
        }
        return `${text}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = sortKeys(Object.keys(record));
      let text = "{";
      for (let index = 0; index < keys.length; index += 1) {
        const key = keys[index] as string;
        const field = record[key];
        if (field === undefined) continue;
        if (text.length > 1) text += ",";
        text += quotedKey(key);
        text += canonical(field);
      }
      return `${text}}`;
    }
  }
  assert(value === undefined, () => `cannot encode a ${typeof value}`);
  return "null";
}

/**
 * A string JSON writes as it is between quotes: no quote, backslash or control character to
 * escape, and no surrogate (a lone one is escaped; pairs are left to JSON.stringify too).
 */
function plainString(text: string): boolean {
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x22 || code === 0x5c || (code >= 0xd800 && code <= 0xdfff)) return false;
  }
  return true;
}

/**
 * `keys` sorted in place as `Array.prototype.sort` sorts strings (by UTF-16 code units): by
 * insertion, as the objects the group layer encodes have a handful of fields, and the built-in
 * sort copied every key list into a work array (a large share of Byzantine mode's garbage).
 */
function sortKeys(keys: string[]): string[] {
  for (let index = 1; index < keys.length; index += 1) {
    const key = keys[index] as string;
    let at = index;
    while (at > 0 && (keys[at - 1] as string) > key) {
      keys[at] = keys[at - 1] as string;
      at -= 1;
    }
    keys[at] = key;
  }
  return keys;
}

/** `"key":` as canonical JSON writes it, kept for the field names seen (a bounded few). */
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = `${JSON.stringify(key)}:`;
    // Field names of the protocols' messages are few; names from elsewhere are not kept forever.
    if (quotedKeys.size < QUOTED_KEYS_MAX) quotedKeys.set(key, quoted);
  }
  return quoted;
}

const quotedKeys = new Map<string, string>();
const QUOTED_KEYS_MAX = 4096;

/**
 * A 64-bit digest of `text` (two independent 32-bit multiply-xor lanes), in base 36. Cheap, and
 * enough to tell honest values apart in a simulation, but NOT collision resistant: a few seconds
 * of search find two texts with the same digest. Only `SimulatedSignatures` signs with it; real
 * signatures bring a cryptographic digest (see `SignedDigest`).
 */
export function digest(text: string): string {
  return keyedDigest("", text, false);
}

/**
 * `digest(\`${key}|${text}\`)` (`keyed`) or `digest(text)`, without building the joined text: a
 * modelled signature is a keyed digest, made and checked once per vote, per request and per copy,
 * and the joined text was a string allocated and flattened only to be read once.
 */
function keyedDigest(key: string, text: string, keyed: boolean): string {
  const prefixLength = keyed ? key.length + 1 : 0;
  let a = 0x811c_9dc5;
  let b = 0x0102_0305 ^ (prefixLength + text.length);
  if (keyed) {
    for (let i = 0; i < key.length; i += 1) {
      const code = key.charCodeAt(i);
      a = Math.imul(a ^ code, 0x0100_0193);
      b = Math.imul(b ^ code, 0x5bd1_e995);
    }
    a = Math.imul(a ^ KEY_SEPARATOR, 0x0100_0193);
    b = Math.imul(b ^ KEY_SEPARATOR, 0x5bd1_e995);
  }
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    a = Math.imul(a ^ code, 0x0100_0193);
    b = Math.imul(b ^ code, 0x5bd1_e995);
  }
  a ^= a >>> 13;
  a = Math.imul(a, 0xc2b2_ae35);
  b ^= b >>> 15;
  b = Math.imul(b, 0x85eb_ca6b);
  b ^= a >>> 7;
  // Base 36 without padding stays unambiguous thanks to the separator, and is cheap to build.
  return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
}

/** `data` as a template literal shows it (what relayed content claims to be a string may not be one). */
function asText(data: unknown): string {
  return typeof data === "string" ? data : `${data}`;
}

/** "|", between a simulated key and the data it signs. */
const KEY_SEPARATOR = 0x7c;

/**
 * The digest a signature scheme binds content with. The group layer signs short texts (a request's
 * digest, a batch's digest, a vote naming one) and compares digests to tell inputs and batches
 * apart, so a signature is worth exactly as much as this function's collision resistance: two
 * contents with one digest share every signature and every vote. Which digest is sound is the
 * scheme's to say, so the scheme supplies it (`Signer.digest`, `Verifier.digest`): the group layer
 * decides what text is digested and signed (inputs.ts and pbft.ts, one function per kind), the
 * scheme only how it is hashed.
 */
export type SignedDigest = (text: string) => string;

/** What a process uses to sign: it signs with its own key only. */
export interface Signer {
  readonly id: ProcessId;
  /** The scheme's digest (the same function as its verifier's). */
  readonly digest: SignedDigest;
  sign(data: string): string;
}

/** Checks that `signer` signed `data`. */
export interface Verifier {
  /** The scheme's digest (the same function as its signers'). */
  readonly digest: SignedDigest;
  verify(signer: ProcessId, data: string, signature: string): boolean;
}

/**
 * Digital signatures as Byzantine mode needs them: what a correct process signed cannot be
 * produced by anyone else, so a signed message can be relayed and still prove its origin (client
 * requests forwarded by a leader, prepare certificates in a view change).
 *
 * This scheme models them for the simulator: each process's secret key is derived from the run's
 * seed, a signature is a keyed digest of the data, and verification recomputes it from the key
 * registry. Byzantine strategies only ever get the signer of the process they run in, so they can
 * sign anything as themselves and nothing as anyone else — the unforgeability the protocols rely
 * on. A network deployment plugs real signatures (e.g. Ed25519) in through the same interfaces.
 *
 * Its digest is the cheap 64-bit `digest`: collisions can be crafted, but no process of a
 * simulated run searches for them (the Byzantine strategies alter, replay and re-sign content,
 * they do not craft collisions, and simulated clients are correct), so the model's
 * unforgeability never rests on collision resistance, and the simulator keeps its speed. Real
 * signatures, which face adversaries that do search, digest with SHA-256.
 */
export class SimulatedSignatures implements Verifier {
  readonly digest: SignedDigest = digest;
  private readonly keys = new Map<ProcessId, string>();

  constructor(private readonly seed: number) {}

  /** The signer of `id`; only the process `id` may be given it. */
  signerFor(id: ProcessId): Signer {
    const key = this.key(id);
    return { id, digest, sign: (data) => keyedDigest(key, asText(data), true) };
  }

  verify(signer: ProcessId, data: string, signature: string): boolean {
    return typeof signature === "string" && keyedDigest(this.key(signer), asText(data), true) === signature;
  }

  private key(id: ProcessId): string {
    let key = this.keys.get(id);
    if (key === undefined) {
      key = digest(`key|${this.seed}|${id}`);
      this.keys.set(id, key);
    }
    return key;
  }
}

/** Modelled size of a signature on the wire (Ed25519). */
export const SIGNATURE_BYTES = 64;
