import type { KeyObject } from "node:crypto";
import { createPrivateKey, createPublicKey, hash, hkdfSync, sign, verify } from "node:crypto";
import type { ProcessId } from "@amcast/core";
import { describeValue, InputError } from "@amcast/core";
import type { SignedDigest, Signer, Verifier } from "@amcast/group";
import type { SystemSpec } from "@amcast/system";

/** Bytes of an Ed25519 private key seed, of a public key and of a signature. */
export const SIGNING_SEED_BYTES = 32;
export const PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;

/** HKDF salt of signing keys: never the same bytes as a link key (keys.ts) of the same secret. */
const SIGNING_KEY_SALT = "amcast/signing-key/v1";
/** DER headers that wrap a raw Ed25519 seed (PKCS#8) and a raw public key (SPKI), RFC 8410. */
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
/**
 * Signatures already checked, remembered so a signature shown again (the same input in another
 * batch, a certificate relayed twice) is not checked again: all the processes of a node share them.
 */
const VERIFIED_MEMORY = 8192;

/**
 * The private key seed of process `process`: HKDF-SHA256 of the cluster secret with the process
 * id as context (a NUL-free id, as for link keys). A node derives only the seeds of its own
 * processes; every other process's public key comes with the deployment.
 */
export function deriveSigningSeed(secret: Uint8Array, process: ProcessId): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, SIGNING_KEY_SALT, process, SIGNING_SEED_BYTES));
}

function privateKeyOf(seed: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: "der", type: "pkcs8" });
}

/** The raw 32-byte public key of a private key seed. */
export function publicKeyOf(seed: Uint8Array): Buffer {
  const der = createPublicKey(privateKeyOf(seed)).export({ format: "der", type: "spki" });
  return Buffer.from(der.subarray(der.length - PUBLIC_KEY_BYTES));
}

/** Reads a hex key of `bytes` bytes from a file's field; never echoes the value (it may be a secret). */
export function readHexKey(value: unknown, bytes: number, source: string, field: string): Buffer {
  if (typeof value !== "string" || !/^[0-9a-f]+$/.test(value) || value.length !== bytes * 2)
    throw new InputError(
      source,
      field,
      `expected ${bytes * 2} hex digits, got ${typeof value === "string" ? `${value.length} characters` : describeValue(value)}`,
    );
  return Buffer.from(value, "hex");
}

/**
 * The digest real signatures bind content with: SHA-256 of the text's UTF-8 bytes, in base64
 * (44 characters). Every digest the group layer signs or compares (a request's, a stream item's,
 * a batch's, the checkpoint chain) is one of these, so a signature covers the full content: two
 * contents share a signature only if they share a SHA-256.
 */
export const sha256Digest: SignedDigest = (text) => hash("sha256", text, "base64");

/** Counters of one process's signature work (for the cost per multicast). */
export interface SignatureStats {
  signed: number;
  verified: number;
  /** Checks answered from memory: the same signature on the same data, checked before. */
  verifiedFromMemory: number;
  rejected: number;
}

/**
 * Ed25519 signatures (node:crypto) for Byzantine mode on the network runtime, behind the group
 * layer's `Signer`/`Verifier` seam: a process signs with its own private key only (a node holds
 * the keys of the processes it hosts), and verifies with the public keys the deployment lists.
 * A signature is 64 bytes, carried as base64 text. Its digest is `sha256Digest`: the group layer
 * decides the text of what is signed, this scheme hashes it collision-resistantly (the simulator's
 * model keeps a cheap one, see `SimulatedSignatures`).
 *
 * node:crypto has no batch verification for Ed25519, so each signature is checked on its own. The
 * group layer checks few: an input received over its sender's own (authenticated) link is checked
 * only when it is shown to others (see PbftOrderer, B1). The signatures that passed are
 * remembered (the last VERIFIED_MEMORY), and a second check of the same signature on the same
 * data costs a map lookup.
 */
export class Ed25519Signatures implements Verifier {
  readonly digest: SignedDigest = sha256Digest;
  private readonly privateKeys = new Map<ProcessId, KeyObject>();
  private readonly publicKeys = new Map<ProcessId, KeyObject>();
  /** signature → "<signer>\0<data>" of a check that passed. */
  private readonly verified = new Map<string, string>();
  readonly stats: SignatureStats = { signed: 0, verified: 0, verifiedFromMemory: 0, rejected: 0 };

  /**
   * `publicKeys`: every process's raw public key; `seeds`: the private key seeds of the processes
   * this node runs. A seed whose public key differs from the listed one is refused (`source`
   * names the deployment in that error).
   */
  constructor(
    publicKeys: ReadonlyMap<ProcessId, Uint8Array>,
    seeds: ReadonlyMap<ProcessId, Uint8Array>,
    source: string,
  ) {
    for (const [id, raw] of publicKeys)
      this.publicKeys.set(
        id,
        createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" }),
      );
    for (const [id, seed] of seeds) {
      const listed = publicKeys.get(id);
      if (listed === undefined || !publicKeyOf(seed).equals(Buffer.from(listed)))
        throw new InputError(
          source,
          `publicKeys.${id}`,
          listed === undefined
            ? "is missing: every process of a Byzantine run needs its public key in the deployment"
            : "does not match the signing key this node holds for it (keys from another secret?)",
        );
      this.privateKeys.set(id, privateKeyOf(seed));
    }
  }

  /**
   * The signer of `id`. Every node builds the whole system, so it asks for every process's
   * signer; only the processes it runs ever sign, and a signer without its key says so.
   */
  signerFor(id: ProcessId): Signer {
    return {
      id,
      digest: this.digest,
      sign: (data) => {
        const key = this.privateKeys.get(id);
        if (key === undefined) throw new Error(`this node holds no signing key of ${id}`);
        this.stats.signed += 1;
        return sign(null, Buffer.from(data), key).toString("base64");
      },
    };
  }

  verify(signer: ProcessId, data: string, signature: string): boolean {
    if (typeof signature !== "string") return false;
    const claim = `${signer}\u0000${data}`;
    if (this.verified.get(signature) === claim) {
      this.stats.verifiedFromMemory += 1;
      return true;
    }
    const key = this.publicKeys.get(signer);
    const bytes = Buffer.from(signature, "base64");
    this.stats.verified += 1;
    // A malformed signature (wrong length, not base64) is a failed check, never an exception.
    if (
      key === undefined ||
      bytes.length !== ED25519_SIGNATURE_BYTES ||
      !verify(null, Buffer.from(data), key, bytes)
    ) {
      this.stats.rejected += 1;
      return false;
    }
    this.verified.set(signature, claim);
    if (this.verified.size > VERIFIED_MEMORY)
      this.verified.delete(this.verified.keys().next().value as string);
    return true;
  }
}

/** Every process's public key (hex), derived from the cluster secret: what a deployment lists. */
export function publicKeysFromSecret(
  secret: Uint8Array,
  processes: readonly ProcessId[],
): Record<ProcessId, string> {
  const keys: Record<ProcessId, string> = {};
  for (const process of processes)
    keys[process] = publicKeyOf(deriveSigningSeed(secret, process)).toString("hex");
  return keys;
}

/** The processes of a node that sign (and so have signing keys): all of them in Byzantine mode, else none. */
export function signingProcesses(
  system: Pick<SystemSpec, "mode">,
  processes: readonly ProcessId[],
): readonly ProcessId[] {
  return system.mode === "byzantine" ? processes : [];
}
