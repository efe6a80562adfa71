import { describe, expect, it } from "vitest";
import type { Snapshot, SnapshotSource } from "../src/index.js";
import { buildSnapshot, fetchSnapshot, TransferError } from "../src/index.js";

function stateAt(position: number, partitions = 12): Snapshot {
  return buildSnapshot(
    Array.from(
      { length: partitions },
      (_, index) => [`p${index}`, Buffer.from(`partition ${index} after ${position}`)] as const,
    ),
  );
}

type Behaviour = "correct" | "corrupts" | "unavailable" | "lies-about-root" | "fails-partitions" | "hangs";

function source(
  id: string,
  position: number,
  behaviour: Behaviour = "correct",
): SnapshotSource & { served: number; asked: number } {
  const snapshot = stateAt(position);
  const claimed = behaviour === "lies-about-root" ? stateAt(position + 1) : snapshot;
  const self = {
    id,
    served: 0,
    asked: 0,
    async manifest() {
      if (behaviour === "unavailable") throw new Error(`${id} is down`);
      return { position, manifest: claimed.manifest };
    },
    async partition(at: number, name: string) {
      self.asked += 1;
      await new Promise((resolve) => setTimeout(resolve, 1)); // answers interleave, as over links
      if (behaviour === "fails-partitions") throw new Error(`${id} dropped the request`);
      if (behaviour === "hangs") await new Promise(() => undefined); // never answers
      expect(at).toBe(position);
      self.served += 1;
      const bytes = Buffer.from(claimed.partitions.get(name) as Uint8Array);
      if (behaviour === "corrupts") bytes[0] = (bytes[0] as number) ^ 0x20;
      return bytes;
    },
  };
  return self;
}

describe("state transfer", () => {
  it("fetches partitions in parallel from several replicas and verifies each", async () => {
    const sources = [source("g/0", 100), source("g/1", 100), source("g/2", 100)];
    const result = await fetchSnapshot({ sources, vouchesNeeded: 2 });
    expect(result.position).toBe(100);
    expect(result.snapshot.manifest.root).toBe(stateAt(100).manifest.root);
    expect(result.faulty).toEqual([]);
    for (const one of sources) expect(result.servedBy.get(one.id) ?? 0).toBeGreaterThan(0);
    expect(result.bytesReceived).toBe(
      stateAt(100).manifest.partitions.reduce((sum, entry) => sum + entry.bytes, 0),
    );
  });

  it("detects a Byzantine replica serving corrupt partitions, ignores it and re-fetches elsewhere", async () => {
    const byzantine = source("g/3", 100, "corrupts");
    const sources = [byzantine, source("g/0", 100), source("g/1", 100), source("g/2", 100)];
    const result = await fetchSnapshot({ sources, vouchesNeeded: 2 });
    expect(result.snapshot.manifest.root).toBe(stateAt(100).manifest.root);
    expect(result.faulty).toEqual(["g/3"]);
    expect(result.servedBy.has("g/3")).toBe(false);
    // Detected on its first partitions, then never asked again.
    expect(byzantine.served).toBeLessThanOrEqual(2);
  });

  it("trusts the newest root enough replicas vouch for, not a lone one", async () => {
    const sources = [
      source("g/0", 200, "lies-about-root"), // a newer-looking checkpoint only it reports
      source("g/1", 100),
      source("g/2", 100),
      source("g/3", 90),
    ];
    const result = await fetchSnapshot({ sources, vouchesNeeded: 2 });
    expect(result.position).toBe(100);
    expect(result.servedBy.has("g/0")).toBe(false);
    await expect(fetchSnapshot({ sources, vouchesNeeded: 3 })).rejects.toThrow(
      /no checkpoint is vouched for by 3 of 4 sources/,
    );
  });

  it("routes around replicas that are down or drop requests", async () => {
    const sources = [
      source("g/0", 100, "unavailable"),
      source("g/1", 100, "fails-partitions"),
      source("g/2", 100),
      source("g/3", 100),
    ];
    const result = await fetchSnapshot({ sources, vouchesNeeded: 2 });
    expect(result.snapshot.manifest.root).toBe(stateAt(100).manifest.root);
    expect(result.faulty).toEqual([]);
    expect(result.servedBy.has("g/1")).toBe(false);
  });

  it("does not wait forever for a replica that never answers", async () => {
    const hanging = source("g/0", 100, "hangs");
    const silent = { ...source("g/9", 100), manifest: () => new Promise<never>(() => undefined) };
    const sources = [hanging, silent, source("g/1", 100), source("g/2", 100)];
    const result = await fetchSnapshot({ sources, vouchesNeeded: 2, requestTimeoutMs: 50 });
    expect(result.snapshot.manifest.root).toBe(stateAt(100).manifest.root);
    expect(result.servedBy.has("g/0")).toBe(false);
    // Asked only for its round-robin share of the first pass (12 partitions over 3 vouching
    // sources); once those timed out, the others served them again.
    expect(hanging.asked).toBeLessThanOrEqual(4);
  });

  it("gives up with a reason when every vouching replica is faulty", async () => {
    const sources = [source("g/0", 100, "corrupts"), source("g/1", 100, "corrupts")];
    const failure = fetchSnapshot({ sources, vouchesNeeded: 2 });
    await expect(failure).rejects.toThrow(TransferError);
    await expect(fetchSnapshot({ sources, vouchesNeeded: 2 })).rejects.toThrow(/faulty/);
  });
});
