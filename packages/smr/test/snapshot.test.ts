import { describe, expect, it } from "vitest";
import type { Message, StatefulApplication } from "../src/index.js";
import {
  createSimCluster,
  restoreApplication,
  restorePartition,
  SnapshotError,
  snapshotApplication,
  verifyManifest,
  WHOLE_STATE,
} from "../src/index.js";

type Put = { key: string; value: number };
const BUCKETS = 16;

/** A key-value store split into hash buckets; replies with the key's previous value. */
function bucketStore(): StatefulApplication<Put, number | null> & { get(key: string): number | undefined } {
  const buckets = new Map<string, Map<string, number>>();
  const bucketOf = (key: string): string => {
    let hash = 0;
    for (const char of key) hash = (hash * 31 + (char.codePointAt(0) as number)) >>> 0;
    return `b${String(hash % BUCKETS).padStart(2, "0")}`;
  };
  return {
    apply({ payload }: Message<Put>) {
      const name = bucketOf(payload.key);
      const bucket = buckets.get(name) ?? new Map<string, number>();
      buckets.set(name, bucket);
      const previous = bucket.get(payload.key) ?? null;
      bucket.set(payload.key, payload.value);
      return previous;
    },
    partitions: () => [...buckets.keys()],
    snapshot: (name) => [...(buckets.get(name) ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)),
    restore: (name, entries) => void buckets.set(name, new Map(entries as [string, number][])),
    get: (key) => buckets.get(bucketOf(key))?.get(key),
  };
}

function fill(application: StatefulApplication<Put, unknown>, keys: number, order: "up" | "down"): void {
  for (let step = 0; step < keys; step += 1) {
    const index = order === "up" ? step : keys - 1 - step;
    application.apply({
      id: `c:${step}`,
      client: "c",
      dst: ["g"],
      payload: { key: `key${index}`, value: index },
    });
  }
}

describe("application snapshots", () => {
  it("restore a fresh replica to the same state and root", () => {
    const original = bucketStore();
    fill(original, 1000, "up");
    const snapshot = snapshotApplication(original);
    expect(snapshot.manifest.partitions).toHaveLength(BUCKETS);
    const copy = bucketStore();
    restoreApplication(copy, snapshot);
    expect(snapshotApplication(copy).manifest.root).toBe(snapshot.manifest.root);
    for (const key of ["key0", "key517", "key999"]) expect(copy.get(key)).toBe(original.get(key));
    expect(copy.get("key1000")).toBeUndefined();
  });

  it("give the same root for the same state whatever order it was written in, and another for other state", () => {
    const up = bucketStore();
    const down = bucketStore();
    fill(up, 300, "up");
    fill(down, 300, "down");
    expect(snapshotApplication(down).manifest.root).toBe(snapshotApplication(up).manifest.root);
    down.apply({ id: "c:x", client: "c", dst: ["g"], payload: { key: "key7", value: -1 } });
    expect(snapshotApplication(down).manifest.root).not.toBe(snapshotApplication(up).manifest.root);
  });

  it("detect a corrupt partition alone: nothing is restored from the whole, the rest restores one by one", () => {
    const original = bucketStore();
    fill(original, 500, "up");
    const snapshot = snapshotApplication(original);
    const trustedRoot = snapshot.manifest.root;
    const victim = snapshot.manifest.partitions[5]?.name as string;
    const corrupt = Buffer.from(snapshot.partitions.get(victim) as Uint8Array);
    corrupt[corrupt.length - 1] = (corrupt[corrupt.length - 1] as number) ^ 1; // one bit of one value
    const served = new Map(snapshot.partitions).set(victim, corrupt);

    const whole = bucketStore();
    let error: unknown;
    try {
      restoreApplication(whole, { manifest: snapshot.manifest, partitions: served }, trustedRoot);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SnapshotError);
    expect((error as SnapshotError).badPartitions).toEqual([victim]);
    expect(whole.partitions?.()).toEqual([]); // all or nothing

    // Partition by partition, as a state transfer fetches them: only the corrupt one is refused,
    // and the good copy (from another replica) is taken.
    verifyManifest(snapshot.manifest, trustedRoot);
    const piecewise = bucketStore();
    const refused: string[] = [];
    for (const [name, bytes] of served)
      if (!restorePartition(piecewise, snapshot.manifest, name, bytes)) refused.push(name);
    expect(refused).toEqual([victim]);
    expect(
      restorePartition(piecewise, snapshot.manifest, victim, snapshot.partitions.get(victim) as Uint8Array),
    ).toBe(true);
    expect(snapshotApplication(piecewise).manifest.root).toBe(trustedRoot);
  });

  it("treat an application without partitions as one partition", () => {
    let counter = 0;
    const app: StatefulApplication<number, number> = {
      apply: ({ payload }) => (counter += payload),
      snapshot: () => counter,
      restore: (_, state) => {
        counter = state as number;
      },
    };
    app.apply({ id: "c:0", client: "c", dst: ["g"], payload: 41 });
    const snapshot = snapshotApplication(app);
    expect(snapshot.manifest.partitions.map((entry) => entry.name)).toEqual([WHOLE_STATE]);
    counter = 0;
    restoreApplication(app, snapshot);
    expect(counter).toBe(41);
  });

  it("agree across the replicas of a group on the simulator (crash mode)", async () => {
    const stores = new Map<string, ReturnType<typeof bucketStore>>();
    const cluster = createSimCluster<Put, number | null>({
      groups: ["left", "right"],
      mode: "crash",
      seed: 7,
      application: (_group, replica) => {
        const store = bucketStore();
        stores.set(replica, store);
        return store;
      },
    });
    const clients = ["left", "right"].map((home) => cluster.client({ home }));
    await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        (clients[index % 2] as (typeof clients)[number]).multicast(
          index % 3 === 0 ? ["left", "right"] : ["left"],
          {
            key: `k${index % 17}`,
            value: index,
          },
        ),
      ),
    );
    const roots = (group: string) =>
      [0, 1, 2].map(
        (index) =>
          snapshotApplication(stores.get(`${group}/${index}`) as ReturnType<typeof bucketStore>).manifest
            .root,
      );
    expect(new Set(roots("left")).size).toBe(1);
    expect(new Set(roots("right")).size).toBe(1);
    expect(roots("left")[0]).not.toBe(roots("right")[0]);
    expect(cluster.check().violations).toEqual([]);
  });
});
