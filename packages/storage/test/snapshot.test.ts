import { describe, expect, it } from "vitest";
import {
  buildSnapshot,
  decodeSnapshot,
  encodeSnapshot,
  partitionMatches,
  SnapshotError,
  snapshotRoot,
  verifyManifest,
  verifySnapshot,
} from "../src/index.js";

const bytes = (text: string): Buffer => Buffer.from(text, "utf8");

function sample(count: number) {
  return buildSnapshot(
    Array.from({ length: count }, (_, index) => [`p${index}`, bytes(`state of ${index}`)] as const),
  );
}

describe("snapshots of partitioned state", () => {
  it("round-trips through its encoding with the same manifest", () => {
    for (const count of [0, 1, 2, 3, 7, 16]) {
      const snapshot = sample(count);
      const decoded = decodeSnapshot(encodeSnapshot(snapshot));
      expect(decoded.manifest).toEqual(snapshot.manifest);
      expect([...decoded.partitions]).toEqual([...snapshot.partitions]);
      verifySnapshot(decoded, snapshot.manifest.root);
    }
  });

  it("has a root that depends on every partition and not on the order they were given in", () => {
    const forward = buildSnapshot([
      ["a", bytes("1")],
      ["b", bytes("2")],
      ["c", bytes("3")],
    ]);
    const backward = buildSnapshot([
      ["c", bytes("3")],
      ["b", bytes("2")],
      ["a", bytes("1")],
    ]);
    expect(backward.manifest).toEqual(forward.manifest);
    const changed = buildSnapshot([
      ["a", bytes("1")],
      ["b", bytes("2")],
      ["c", bytes("4")],
    ]);
    expect(changed.manifest.root).not.toBe(forward.manifest.root);
    // Moving bytes from one partition's name to another's changes the root too.
    const renamed = buildSnapshot([
      ["a", bytes("1")],
      ["b", bytes("3")],
      ["c", bytes("2")],
    ]);
    expect(renamed.manifest.root).not.toBe(forward.manifest.root);
    expect(snapshotRoot([])).not.toBe(snapshotRoot([forward.manifest.partitions[0]?.hash as string]));
  });

  it("detects a corrupt partition alone, checking one partition at a time", () => {
    const snapshot = sample(9);
    const trustedRoot = snapshot.manifest.root;
    verifyManifest(snapshot.manifest, trustedRoot);
    const corrupt = Buffer.from(snapshot.partitions.get("p4") as Uint8Array);
    corrupt[0] = (corrupt[0] as number) ^ 0xff;
    for (const [name, data] of snapshot.partitions)
      expect(partitionMatches(snapshot.manifest, name, data)).toBe(true);
    expect(partitionMatches(snapshot.manifest, "p4", corrupt)).toBe(false);
    expect(partitionMatches(snapshot.manifest, "p5", snapshot.partitions.get("p4") as Uint8Array)).toBe(
      false,
    );
    expect(partitionMatches(snapshot.manifest, "nope", corrupt)).toBe(false);

    const damaged = { ...snapshot, partitions: new Map(snapshot.partitions).set("p4", corrupt) };
    let error: unknown;
    try {
      verifySnapshot(damaged, trustedRoot);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).badPartitions).toEqual(["p4"]);
  });

  it("refuses a manifest whose hashes do not fold into the trusted root", () => {
    const snapshot = sample(4);
    const forged = {
      root: snapshot.manifest.root,
      partitions: snapshot.manifest.partitions.map((entry, index) =>
        index === 2 ? { ...entry, hash: "00".repeat(32) } : entry,
      ),
    };
    expect(() => verifyManifest(forged)).toThrow(/not its hashes' root/);
    expect(() => verifyManifest(snapshot.manifest, sample(5).manifest.root)).toThrow(/not the trusted root/);
  });

  it("refuses malformed encodings with a reason", () => {
    const encoded = encodeSnapshot(sample(3));
    expect(() => decodeSnapshot(encoded.subarray(0, encoded.length - 1))).toThrow(/ends inside a partition/);
    expect(() => decodeSnapshot(Buffer.concat([encoded, Buffer.from([0])]))).toThrow(/trailing bytes/);
    expect(() => decodeSnapshot(bytes("hello world!"))).toThrow(/bad magic/);
  });
});
