import { describe, expect, it } from "vitest";
import { Cluster } from "../src/runner.js";

/** A stand-in for a node process: only what the start-up waits look at. */
interface FakeNode {
  readonly node: { readonly id: string };
  port: number | undefined;
}

const listening = (entry: unknown): boolean => (entry as FakeNode).port !== undefined;

/** Brings `count` of `nodes` up, one every `everyMs`, telling the cluster each time. */
function bringUp(cluster: Cluster, nodes: FakeNode[], count: number, everyMs: number) {
  const state = { up: 0, timer: undefined as ReturnType<typeof setInterval> | undefined };
  state.timer = setInterval(() => {
    const node = nodes[state.up];
    if (state.up < count && node !== undefined) {
      node.port = 1000 + state.up;
      state.up += 1;
    }
    cluster.changed();
  }, everyMs);
  return state;
}

function fakeNodes(count: number): FakeNode[] {
  return Array.from({ length: count }, (_, i) => ({ node: { id: `n${i}` }, port: undefined }));
}

/** Runs `body` while `up` of `total` fake nodes come up one every `everyMs`; returns how many did. */
async function whileStarting(
  total: number,
  up: number,
  everyMs: number,
  body: (cluster: Cluster, nodes: () => never[]) => Promise<void>,
): Promise<number> {
  const cluster = new Cluster("/nonexistent", undefined);
  const nodes = fakeNodes(total);
  const progress = bringUp(cluster, nodes, up, everyMs);
  try {
    await body(cluster, () => nodes as never[]);
    return progress.up;
  } finally {
    clearInterval(progress.timer);
  }
}

describe("start-up waits", () => {
  it("fail once no further node came up for the quiet time, naming the ones that never did", async () => {
    const came = await whileStarting(4, 3, 50, async (cluster, nodes) => {
      const wait = cluster.untilEvery(nodes, listening, "every replica to listen", 1_000, 10_000);
      await expect(wait).rejects.toThrow(
        /timed out waiting for every replica to listen \(3 of 4 ready, none more for 1000 ms; waiting for n3\)/,
      );
    });
    expect(came).toBe(3);
  });

  it("resolve once every node is up, however long that took in all", async () => {
    // 30 x 50 ms > 1,000 ms: a fixed timeout of 1,000 ms would have failed this start-up.
    const came = await whileStarting(30, 30, 50, (cluster, nodes) =>
      cluster.untilEvery(nodes, listening, "every replica to listen", 1_000, 10_000),
    );
    expect(came).toBe(30);
  });

  it("give up after the cap even while nodes still come up", async () => {
    const came = await whileStarting(50, 50, 20, async (cluster, nodes) => {
      const wait = cluster.untilEvery(nodes, listening, "every replica to listen", 1_000, 200);
      await expect(wait).rejects.toThrow(/ready after 200 ms in all; waiting for n\d+/);
    });
    expect(came).toBeLessThan(50);
  });
});
