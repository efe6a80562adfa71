import type { FlatProtocolDefinition } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { GroupWire } from "../src/index.js";
import { createClient, createReplica, Membership } from "../src/index.js";

/**
 * A one-group protocol that delivers every request at once and, for a payload "stats", asks the
 * replica to add the delays it observed (what a reconfigurable protocol does for STATS).
 */
const statsProtocol: FlatProtocolDefinition<never> = {
  name: "stats-test",
  overlayKind: null,
  entryGroups: (dst) => dst,
  createGroup: () => ({
    step: (input) =>
      input.kind === "request"
        ? [
            input.message.payload === "stats"
              ? { kind: "deliver", message: input.message, result: "counts", withDelays: true }
              : { kind: "deliver", message: input.message },
          ]
        : [],
  }),
  describe: () => ({ kind: "none", bytes: 0 }),
};

// g1 has one replica (solo); g2 three, g3 one: g1/0 hears from all of them.
const membership = new Membership(
  new Map([
    ["g1", ["g1/0"]],
    ["g2", ["g2/0", "g2/1", "g2/2"]],
    ["g3", ["g3/0"]],
  ]),
);
const replica = () =>
  createReplica({
    protocol: statsProtocol,
    group: "g1",
    id: "g1/0",
    membership,
    overlay: null,
    mode: "solo",
    f: 0,
  });
const client = () =>
  createClient({
    id: "c0",
    protocol: statsProtocol,
    membership,
    overlay: null,
    mode: "solo",
    f: 0,
    outstandingMax: 2,
  });
const replyTo = (outputs: readonly { kind: string; body?: unknown }[]): GroupWire =>
  outputs.find((output) => output.kind === "send")?.body as GroupWire;

describe("delays a replica observed, reported with a statistics answer", () => {
  it("reports per sending group the median of its replicas' mean delays, then starts over", () => {
    const g1 = replica();
    for (const [from, delayMs] of [
      ["g2/0", 10],
      ["g2/0", 14], // g2/0: mean 12
      ["g2/1", 30], // g2/1: 30 (slow, or lying: the median ignores it)
      ["g2/2", 11],
      ["g3/0", 50],
      ["c0", 1], // a client: not a group's delay
      ["g3/0", Number.NaN], // not a measurement
      ["g3/0", -1],
    ] as const)
      g1.observeDelay(from, delayMs);
    const c = client();
    const plain = c.multicast(["g1"], 0);
    const plainReply = replyTo(
      g1.receive("c0", plain.outputs[0]?.kind === "send" ? plain.outputs[0].body : null),
    );
    expect(plainReply).toEqual({ t: "reply", id: "c0:0", group: "g1", result: null });

    const stats = c.multicast(["g1"], 0, "stats");
    const request = stats.outputs[0]?.kind === "send" ? stats.outputs[0].body : null;
    const reply = replyTo(g1.receive("c0", request));
    expect(reply).toEqual({
      t: "reply",
      id: "c0:1",
      group: "g1",
      result: "counts",
      delays: [
        ["g2", 12, 4],
        ["g3", 50, 1],
      ],
    });
    // The client hands them over with the completion, as observed by g1.
    expect(c.receive("g1/0", reply)).toEqual([
      {
        kind: "complete",
        id: "c0:1",
        results: { g1: "counts" },
        delays: [
          { from: "g2", to: "g1", meanMs: 12, samples: 4 },
          { from: "g3", to: "g1", meanMs: 50, samples: 1 },
        ],
      },
    ]);
    // Reported once: the next answer covers what comes after.
    const again = c.multicast(["g1"], 0, "stats");
    const next = replyTo(g1.receive("c0", again.outputs[0]?.kind === "send" ? again.outputs[0].body : null));
    expect(next).toMatchObject({ id: "c0:2", delays: [] });
  });

  it("keeps only well-formed entries of a replica's report", () => {
    const c = client();
    c.multicast(["g1"], 0, "stats");
    const reply: GroupWire = {
      t: "reply",
      id: "c0:0",
      group: "g1",
      result: "counts",
      delays: [
        ["g2", 12, 4],
        ["g2", 1, 4], // the same group twice
        ["g9", 5, 1], // no such group
        ["g3", -5, 1],
        ["g3", 5, 0.5],
        "junk",
      ],
    } as unknown as GroupWire;
    expect(c.receive("g1/0", reply)).toEqual([
      {
        kind: "complete",
        id: "c0:0",
        results: { g1: "counts" },
        delays: [{ from: "g2", to: "g1", meanMs: 12, samples: 4 }],
      },
    ]);
  });
});
