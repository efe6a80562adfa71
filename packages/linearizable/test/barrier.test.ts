import type { GroupInput, GroupLogic, GroupOutput, Multicast } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { LinearizableMessage } from "../src/index.js";
import { LinearizableGroup } from "../src/index.js";

/** An inner protocol that delivers each request at once: the order of requests is its order. */
class Immediate implements GroupLogic<never> {
  step(input: GroupInput<never>): readonly GroupOutput<never>[] {
    return input.kind === "request" ? [{ kind: "deliver", message: input.message }] : [];
  }
}

const message = (id: string, dst: string[]): Multicast => ({ id, client: "c", dst, payloadBytes: 0 });
const barrier = (group: string) =>
  new LinearizableGroup<never>(
    { group, groups: ["g1", "g5", "g7"], overlay: null, params: undefined },
    new Immediate(),
  );
const transcript = (outputs: readonly GroupOutput<LinearizableMessage<never>>[]): string[] =>
  outputs.map((output) =>
    output.kind === "deliver"
      ? `deliver ${output.message.id}`
      : output.kind === "send"
        ? `send ${output.to} ${output.body.type === "ack" ? `ack ${output.body.id}` : "inner"}`
        : output.kind,
  );

describe("the ACK barrier", () => {
  it("releases a local message at once when nothing is ahead of it (local messages pay nothing)", () => {
    expect(transcript(barrier("g5").step({ kind: "request", message: message("l", ["g5"]) }))).toEqual([
      "deliver l",
    ]);
  });

  it("acknowledges a global message and releases it once every other destination acknowledged it", () => {
    const g5 = barrier("g5");
    expect(transcript(g5.step({ kind: "request", message: message("m", ["g5", "g7"]) }))).toEqual([
      "send g7 ack m",
    ]);
    expect(transcript(g5.step({ kind: "peer", from: "g7", body: { type: "ack", id: "m" } }))).toEqual([
      "deliver m",
    ]);
  });

  it("keeps an ACK that arrives before the message is ordered here", () => {
    const g7 = barrier("g7");
    expect(g7.step({ kind: "peer", from: "g5", body: { type: "ack", id: "m" } })).toEqual([]);
    expect(transcript(g7.step({ kind: "request", message: message("m", ["g5", "g7"]) }))).toEqual([
      "send g5 ack m",
      "deliver m",
    ]);
  });

  it("holds later messages, local ones included, behind an unacknowledged global one", () => {
    const g5 = barrier("g5");
    g5.step({ kind: "request", message: message("m", ["g5", "g7"]) });
    expect(transcript(g5.step({ kind: "request", message: message("l", ["g5"]) }))).toEqual([]);
    expect(g5.held).toBe(2);
    expect(transcript(g5.step({ kind: "peer", from: "g7", body: { type: "ack", id: "m" } }))).toEqual([
      "deliver m",
      "deliver l",
    ]);
  });

  it("acknowledges a message only once everything ordered before it here was released (transitive chains)", () => {
    // x (to g1, g5) is ordered at g5 before m (to g5, g7). Acknowledging m at once would let g7
    // release m while x is not yet ordered at g1, where a message multicast after m's release
    // could still overtake x: a real-time cycle. So g5 acknowledges m only after releasing x.
    const g5 = barrier("g5");
    expect(transcript(g5.step({ kind: "request", message: message("x", ["g1", "g5"]) }))).toEqual([
      "send g1 ack x",
    ]);
    expect(transcript(g5.step({ kind: "request", message: message("m", ["g5", "g7"]) }))).toEqual([]);
    expect(transcript(g5.step({ kind: "peer", from: "g7", body: { type: "ack", id: "m" } }))).toEqual([]);
    expect(transcript(g5.step({ kind: "peer", from: "g1", body: { type: "ack", id: "x" } }))).toEqual([
      "deliver x",
      "send g7 ack m",
      "deliver m",
    ]);
  });
});
