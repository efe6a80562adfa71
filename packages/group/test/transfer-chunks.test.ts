import type { ProcessId } from "@amcast/core";
import { STATE_CODEC } from "@amcast/storage";
import { describe, expect, it } from "vitest";
import type { ReplicaCheckpoint } from "../src/snapshot.js";
import type { TransferMessage } from "../src/transfer.js";
import { StateFetch, serveTransfer, TRANSFER_CHUNK_BYTES } from "../src/transfer.js";

/** Bytes that differ from position to position, so a chunk out of place changes the hash. */
function pattern(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 1) bytes[i] = (i * 31 + seed + (i >> 11)) & 0xff;
  return bytes;
}

/**
 * A fetching replica `r0` and three servers holding the same checkpoint; messages are delivered
 * one at a time in send order. `corrupt` servers flip a byte of every chunk they serve.
 */
function transfer(checkpoint: ReplicaCheckpoint, corrupt: ReadonlySet<ProcessId>) {
  const queue: { from: ProcessId; to: ProcessId; message: TransferMessage; bytes: number }[] = [];
  const largest = { bytes: 0 };
  let now = 0;
  const peers = ["r1", "r2", "r3"];
  const fetch = new StateFetch(
    {
      self: "r0",
      peers,
      send: (to, message, bytes) => queue.push({ from: "r0", to, message, bytes }),
      now: () => now,
    },
    STATE_CODEC,
    { vouchesNeeded: 2, inFlightPerSource: 2, requestTimeoutTicks: 10 },
    0,
    undefined,
  );
  let result: ReplicaCheckpoint | undefined;
  for (let steps = 0; result === undefined && steps < 10_000; steps += 1) {
    const next = queue.shift();
    if (next === undefined) {
      now += 1;
      fetch.tick();
      continue;
    }
    largest.bytes = Math.max(largest.bytes, next.bytes);
    if (next.to === "r0") result = fetch.onMessage(next.from, next.message);
    else
      serveTransfer(checkpoint, "r0", next.message, (to, reply, bytes) => {
        const body =
          corrupt.has(next.to) && reply.type === "partition" && reply.bytes !== null
            ? { ...reply, bytes: flipFirst(reply.bytes) }
            : reply;
        queue.push({ from: next.to, to, message: body, bytes });
      });
  }
  return { result, fetch, largestMessageBytes: largest.bytes };
}

function flipFirst(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes);
  copy[0] = ((copy[0] ?? 0) + 1) & 0xff;
  return copy;
}

describe("state transfer in chunks", () => {
  const big = pattern(2 * TRANSFER_CHUNK_BYTES + 12_345, 1);
  const exact = pattern(TRANSFER_CHUNK_BYTES, 2);
  const small = pattern(100, 3);
  const checkpoint: ReplicaCheckpoint = {
    position: 64,
    state: STATE_CODEC.seal([
      ["app/big", big],
      ["app/exact", exact],
      ["group/order", small],
    ]),
  };

  it("fetches a partition larger than a chunk in chunks and verifies it whole", () => {
    const { result, fetch, largestMessageBytes } = transfer(checkpoint, new Set());
    expect(result?.position).toBe(64);
    expect(Buffer.from(result?.state.partitions.get("app/big") ?? []).equals(Buffer.from(big))).toBe(true);
    expect(Buffer.from(result?.state.partitions.get("app/exact") ?? []).equals(Buffer.from(exact))).toBe(
      true,
    );
    expect(fetch.bytesReceived).toBe(big.length + exact.length + small.length);
    // No message carries more than a chunk and its header.
    expect(largestMessageBytes).toBeLessThanOrEqual(TRANSFER_CHUNK_BYTES + 64);
    expect(fetch.faulty.size).toBe(0);
  });

  it("a server of corrupt chunks is named faulty and its partitions come from the others", () => {
    const { result, fetch } = transfer(checkpoint, new Set(["r2"]));
    expect(result).toBeDefined();
    expect([...fetch.faulty]).toEqual(["r2"]);
    expect(STATE_CODEC.manifestMatches(result?.state.manifest as never, checkpoint.state.manifest.root)).toBe(
      true,
    );
    for (const name of checkpoint.state.partitions.keys())
      expect(
        STATE_CODEC.partitionMatches(
          checkpoint.state.manifest,
          name,
          result?.state.partitions.get(name) as Uint8Array,
        ),
      ).toBe(true);
  });
});
