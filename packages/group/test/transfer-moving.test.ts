import type { ProcessId } from "@amcast/core";
import { STATE_CODEC } from "@amcast/storage";
import { describe, expect, it } from "vitest";
import type { ReplicaCheckpoint } from "../src/snapshot.js";
import type { TransferMessage } from "../src/transfer.js";
import { StateFetch, serveTransfer } from "../src/transfer.js";

/** A checkpoint at `position` whose partitions `changed` hold that position's bytes; the others the same bytes at every position. */
function checkpointAt(
  position: number,
  names: readonly string[],
  changed: ReadonlySet<string>,
): ReplicaCheckpoint {
  return {
    position,
    state: STATE_CODEC.seal(
      names.map(
        (name) => [name, STATE_CODEC.encode({ name, at: changed.has(name) ? position : 0 })] as const,
      ),
    ),
  };
}

/**
 * A fetching replica `r0` and three servers that all move on to a newer checkpoint once they
 * have served `servedBeforeMoving` partitions between them (as a group under load checkpoints
 * while a replica fetches): the fetch must start over on the newer checkpoint and end with it
 * whole, not with partitions of two checkpoints. Messages are delivered one at a time in send order.
 */
function fetchWhileMoving(older: ReplicaCheckpoint, newer: ReplicaCheckpoint, servedBeforeMoving: number) {
  const queue: { from: ProcessId; to: ProcessId; message: TransferMessage }[] = [];
  let now = 0;
  let served = 0;
  const fetch = new StateFetch(
    {
      self: "r0",
      peers: ["r1", "r2", "r3"],
      send: (to, message) => queue.push({ from: "r0", to, message }),
      now: () => now,
    },
    STATE_CODEC,
    { vouchesNeeded: 2, inFlightPerSource: 2, requestTimeoutTicks: 10 },
    0,
    undefined,
  );
  let result: ReplicaCheckpoint | undefined;
  /** Per partition name, the positions it arrived for (a whole partition, not a refusal). */
  const arrivals = new Map<string, number[]>();
  for (let steps = 0; result === undefined && steps < 10_000; steps += 1) {
    const next = queue.shift();
    if (next === undefined) {
      now += 1;
      fetch.tick();
      continue;
    }
    if (next.to === "r0") {
      if (next.message.type === "partition" && next.message.bytes !== null)
        arrivals.set(next.message.name, [...(arrivals.get(next.message.name) ?? []), next.message.position]);
      result = fetch.onMessage(next.from, next.message);
      continue;
    }
    if (next.message.type === "partition-request") served += 1;
    serveTransfer(served > servedBeforeMoving ? newer : older, "r0", next.message, (to, reply) =>
      queue.push({ from: next.to, to, message: reply }),
    );
  }
  return { result, fetch, arrivals };
}

describe("state transfer while the group checkpoints on", () => {
  const names = [...Array.from({ length: 12 }, (_, index) => `app/p${index}`), "group/order", "protocol"];
  // Half the application partitions and every group-layer one change between the two checkpoints.
  const changed = new Set(names.filter((name, index) => index % 2 === 0 || !name.startsWith("app/")));
  const older = checkpointAt(40, names, changed);
  const newer = checkpointAt(48, names, changed);

  it("a fetch whose servers move to a newer checkpoint installs that checkpoint whole, never a mix of the two", () => {
    const { result, fetch } = fetchWhileMoving(older, newer, 5);
    expect(result?.position).toBe(48);
    expect(result?.state.manifest.root).toBe(newer.state.manifest.root);
    for (const name of names)
      expect(
        Buffer.from(result?.state.partitions.get(name) ?? []).equals(
          Buffer.from(newer.state.partitions.get(name) as Uint8Array),
        ),
        name,
      ).toBe(true);
    expect(fetch.faulty.size).toBe(0);
  });

  it("partitions fetched for the older checkpoint that the newer one holds unchanged are kept, not fetched again", () => {
    const { result, arrivals } = fetchWhileMoving(older, newer, 5);
    expect(result?.position).toBe(48);
    const early = names.filter((name) => arrivals.get(name)?.[0] === 40);
    // Some of each kind arrived before the servers moved on (so the test shows both cases).
    expect(early.filter((name) => changed.has(name)).length).toBeGreaterThan(0);
    expect(early.filter((name) => !changed.has(name)).length).toBeGreaterThan(0);
    for (const name of early) expect(arrivals.get(name), name).toEqual(changed.has(name) ? [40, 48] : [40]);
  });
});
