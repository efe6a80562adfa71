import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SystemSpec } from "@amcast/system";
import { systemToJson } from "@amcast/system";
import { afterAll, describe, expect, it } from "vitest";
import {
  deriveSigningSeed,
  Ed25519Signatures,
  Keyring,
  loadDeployment,
  PUBLIC_KEY_BYTES,
  publicKeyOf,
  publicKeysFromSecret,
} from "../src/index.js";
import { SECRET, SMALL_SPEC } from "./helpers.js";

const PROCESSES = ["g/0", "g/1", "c0"];
const PUBLIC_KEYS = new Map(PROCESSES.map((id) => [id, publicKeyOf(deriveSigningSeed(SECRET, id))]));

/** The signatures of a node running `processes`, with every public key. */
function node(...processes: string[]): Ed25519Signatures {
  return new Ed25519Signatures(
    PUBLIC_KEYS,
    new Map(processes.map((id) => [id, deriveSigningSeed(SECRET, id)])),
    "test",
  );
}

describe("Ed25519 signatures", () => {
  it("verify what the process signed, and nothing else", () => {
    const g0 = node("g/0");
    const other = node("g/1");
    const signature = g0.signerFor("g/0").sign("copy|g/0|item-7");
    expect(Buffer.from(signature, "base64")).toHaveLength(64);
    expect(other.verify("g/0", "copy|g/0|item-7", signature)).toBe(true);
    // Another item under the same signature (a replayed signature), another claimed signer,
    // another process's signature, random and truncated bytes, an unknown signer: all refused.
    expect(other.verify("g/0", "copy|g/0|item-8", signature)).toBe(false);
    expect(other.verify("g/1", "copy|g/0|item-7", signature)).toBe(false);
    expect(other.verify("g/0", "copy|g/0|item-7", other.signerFor("g/1").sign("copy|g/0|item-7"))).toBe(
      false,
    );
    expect(other.verify("g/0", "copy|g/0|item-7", Buffer.alloc(64, 7).toString("base64"))).toBe(false);
    expect(other.verify("g/0", "copy|g/0|item-7", signature.slice(0, 40))).toBe(false);
    expect(other.verify("g/0", "copy|g/0|item-7", "not base64 at all!")).toBe(false);
    expect(other.verify("x/9", "copy|g/0|item-7", signature)).toBe(false);
    expect(other.verify("g/0", "copy|g/0|item-7", 42 as unknown as string)).toBe(false);
    expect(other.stats).toMatchObject({ verified: 8, rejected: 7, verifiedFromMemory: 0 });
    // Checked again (an input inside a batch): answered from memory, for that data only.
    expect(other.verify("g/0", "copy|g/0|item-7", signature)).toBe(true);
    expect(other.verify("g/0", "copy|g/0|item-8", signature)).toBe(false);
    expect(other.stats).toMatchObject({ verified: 9, verifiedFromMemory: 1 });
  });

  it("sign only for the processes whose keys the node holds", () => {
    expect(() => node("g/0").signerFor("g/1").sign("x")).toThrow(/holds no signing key of g\/1/);
  });

  it("refuse a signing key that does not match the listed public key", () => {
    const swapped = new Map(PUBLIC_KEYS);
    swapped.set("g/0", PUBLIC_KEYS.get("g/1") as Buffer);
    expect(
      () => new Ed25519Signatures(swapped, new Map([["g/0", deriveSigningSeed(SECRET, "g/0")]]), "d.json"),
    ).toThrow(/d\.json: publicKeys\.g\/0: does not match the signing key this node holds/);
  });

  it("come from the keyring: its file keeps the signing keys of the node's processes only", () => {
    const keyring = Keyring.fromSecret(SECRET, "clients", ["g/0", "clients"], ["c0"]);
    const json = keyring.toJson();
    expect(Object.keys(json.signing ?? {})).toEqual(["c0"]);
    const read = Keyring.fromJson(JSON.parse(JSON.stringify(json)), "k.json");
    expect(read.signingSeeds.get("c0")).toEqual(deriveSigningSeed(SECRET, "c0"));
    expect(() => Keyring.fromJson({ ...json, signing: { c0: "abc" } }, "k.json")).toThrow(
      /k\.json: signing\.c0: expected 64 hex digits, got 3 characters/,
    );
    // Crash and solo keyrings carry no signing keys.
    expect("signing" in Keyring.fromSecret(SECRET, "g/0", ["g/0", "clients"]).toJson()).toBe(false);
  });
});

describe("public keys in the deployment", () => {
  const dir = mkdtempSync(join(tmpdir(), "amcast-public-keys-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const replicas = ["a/0", "a/1", "a/2", "a/3", "b/0", "b/1", "b/2", "b/3"];
  const load = (mode: SystemSpec["mode"], publicKeys: unknown): ReturnType<typeof loadDeployment> => {
    const file = join(dir, `deployment-${Math.random().toString(36).slice(2)}.json`);
    const ids = replicas.filter((id) => mode === "byzantine" || Number(id.slice(2)) < 3);
    writeFileSync(
      file,
      JSON.stringify({
        kind: "deployment",
        system: systemToJson({ ...SMALL_SPEC, mode }),
        replicas: ids.map((id, index) => ({ id, host: "127.0.0.1", port: 7000 + index })),
        ...(publicKeys === undefined ? {} : { publicKeys }),
      }),
    );
    return loadDeployment(file);
  };
  const all = publicKeysFromSecret(SECRET, [...replicas, "c0", "c1"]);

  it("lists every process of a Byzantine run, replicas and clients", () => {
    const deployment = load("byzantine", all);
    expect([...deployment.publicKeys.keys()].sort()).toEqual([...replicas, "c0", "c1"]);
    expect(deployment.publicKeys.get("b/2")).toHaveLength(PUBLIC_KEY_BYTES);
    // Left out, the file still loads (amcast keys reads it to derive them); a node refuses it.
    expect(load("byzantine", undefined).publicKeys.size).toBe(0);
  });

  it("names a missing, malformed or unwanted key", () => {
    const { c0: _client, ...withoutClient } = all;
    expect(() => load("byzantine", withoutClient)).toThrow(
      /publicKeys\.c0: is missing: every process of a Byzantine run signs/,
    );
    expect(() => load("byzantine", { ...all, "b/1": "zz" })).toThrow(
      /publicKeys\.b\/1: expected 64 hex digits, got 2 characters/,
    );
    expect(() => load("byzantine", { ...all, "g/9": all["a/0"] })).toThrow(
      /publicKeys\.g\/9: is not a known field/,
    );
    expect(() => load("crash", all)).toThrow(/publicKeys: only a Byzantine run signs; this one is crash/);
  });
});
