import type { GroupInput, GroupOutput, Multicast } from "@amcast/core";
import { GroupOutputCollector, Prng } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { SkeenMessage } from "../src/index.js";
import { SkeenGroup, skeen } from "../src/index.js";

const GROUPS = ["g1", "g2", "g3"];
const context = { groups: GROUPS, overlay: null, params: undefined };
const group = (name: string): SkeenGroup => new SkeenGroup({ ...context, group: name });
const message = (id: string, dst: string[]): Multicast => ({ id, client: "c0", dst, payloadBytes: 0 });

/** Short transcript form of outputs: "deliver m1", "send g2 propose m1@1". */
function transcript(outputs: readonly GroupOutput<SkeenMessage>[]): string[] {
  return outputs.map((output) =>
    output.kind === "deliver"
      ? `deliver ${output.message.id}`
      : output.kind === "send"
        ? `send ${output.to} ${output.body.type} ${output.body.id}@${output.body.ts}`
        : output.kind,
  );
}

describe("Skeen group logic", () => {
  it("delivers a single-group message at once, with no timestamp exchange", () => {
    const g1 = group("g1");
    expect(transcript(g1.step({ kind: "request", message: message("m1", ["g1"]) }))).toEqual(["deliver m1"]);
  });

  it("proposes to the other destinations and delivers once every proposal is in (step 2-4)", () => {
    const g1 = group("g1");
    expect(transcript(g1.step({ kind: "request", message: message("m1", ["g1", "g2", "g3"]) }))).toEqual([
      "send g2 propose m1@1",
      "send g3 propose m1@1",
    ]);
    expect(
      transcript(g1.step({ kind: "peer", from: "g2", body: { type: "propose", id: "m1", ts: 5 } })),
    ).toEqual([]);
    expect(
      transcript(g1.step({ kind: "peer", from: "g3", body: { type: "propose", id: "m1", ts: 2 } })),
    ).toEqual(["deliver m1"]);
    expect(g1.pendingCount).toBe(0);
  });

  it("keeps a proposal that arrives before the client's request", () => {
    const g2 = group("g2");
    expect(g2.step({ kind: "peer", from: "g1", body: { type: "propose", id: "m1", ts: 9 } })).toEqual([]);
    expect(transcript(g2.step({ kind: "request", message: message("m1", ["g1", "g2"]) }))).toEqual([
      "send g1 propose m1@1",
      "deliver m1",
    ]);
  });

  it("orders by final timestamp: a later message with a smaller final timestamp goes first", () => {
    const g1 = group("g1");
    g1.step({ kind: "request", message: message("a", ["g1", "g2"]) }); // proposes 1
    g1.step({ kind: "request", message: message("b", ["g1", "g3"]) }); // proposes 2
    // a's final timestamp becomes 10, b's becomes 3: b must come first although it arrived later.
    expect(
      transcript(g1.step({ kind: "peer", from: "g2", body: { type: "propose", id: "a", ts: 10 } })),
    ).toEqual([]);
    expect(
      transcript(g1.step({ kind: "peer", from: "g3", body: { type: "propose", id: "b", ts: 3 } })),
    ).toEqual(["deliver b", "deliver a"]);
  });

  it("holds a local message behind a pending global one with a smaller proposal (convoy)", () => {
    const g1 = group("g1");
    g1.step({ kind: "request", message: message("global", ["g1", "g2"]) }); // proposal 1, pending
    expect(transcript(g1.step({ kind: "request", message: message("local", ["g1"]) }))).toEqual([]); // final 2, waits
    expect(
      transcript(g1.step({ kind: "peer", from: "g2", body: { type: "propose", id: "global", ts: 1 } })),
    ).toEqual(["deliver global", "deliver local"]);
  });

  it("breaks equal final timestamps by message id", () => {
    const g1 = group("g1");
    g1.step({ kind: "request", message: message("y", ["g1", "g2"]) });
    g1.step({ kind: "request", message: message("x", ["g1", "g3"]) });
    g1.step({ kind: "peer", from: "g2", body: { type: "propose", id: "y", ts: 7 } });
    expect(
      transcript(g1.step({ kind: "peer", from: "g3", body: { type: "propose", id: "x", ts: 7 } })),
    ).toEqual(["deliver x", "deliver y"]);
  });

  it("hands a sink (stepInto) the outputs step returns, in order, with one input object reused", () => {
    // Three groups exchange proposals for random multicasts; each input goes to a copy that
    // answers `step` and to one that fills a sink from an input object refilled every time.
    const prng = new Prng(5);
    const stepped = GROUPS.map(group);
    const sunk = GROUPS.map(group);
    const reused = { kind: "request", message: message("", ["g1"]), from: "", body: undefined } as {
      kind: "request" | "peer";
      message: Multicast;
      from: string;
      body: SkeenMessage | undefined;
    };
    const inFlight: [number, GroupInput<SkeenMessage>][] = [];
    let delivered = 0;
    for (let id = 0; id < 300 || inFlight.length > 0; ) {
      if (id < 300 && (inFlight.length === 0 || prng.chance({ numerator: 1, denominator: 3 }))) {
        const dst = prng.sample(GROUPS, 1 + prng.int(3)).sort();
        for (const to of dst)
          inFlight.push([GROUPS.indexOf(to), { kind: "request", message: message(`m${id}`, dst) }]);
        id += 1;
        continue;
      }
      const [at, input] = inFlight.splice(prng.int(inFlight.length), 1)[0] as [
        number,
        GroupInput<SkeenMessage>,
      ];
      const outputs = (stepped[at] as SkeenGroup).step(input);
      const sink = new GroupOutputCollector<SkeenMessage>();
      reused.kind = input.kind;
      if (input.kind === "request") reused.message = input.message;
      else {
        reused.from = input.from;
        reused.body = input.body;
      }
      (sunk[at] as SkeenGroup).stepInto(reused as GroupInput<SkeenMessage>, sink);
      expect(sink.take()).toEqual(outputs);
      for (const output of outputs) {
        if (output.kind === "deliver") delivered += 1;
        if (output.kind === "send")
          inFlight.push([
            GROUPS.indexOf(output.to),
            { kind: "peer", from: GROUPS[at] as string, body: output.body },
          ]);
      }
    }
    expect(delivered).toBeGreaterThan(300);
    expect(sunk.map((g) => g.snapshot())).toEqual(stepped.map((g) => g.snapshot()));
  });

  it("rejects what the layer below must never hand it", () => {
    const g1 = group("g1");
    g1.step({ kind: "request", message: message("m", ["g1", "g2"]) });
    expect(() => g1.step({ kind: "request", message: message("m", ["g1", "g2"]) })).toThrow(/twice/);
    expect(() => g1.step({ kind: "request", message: message("n", ["g2"]) })).toThrow(/got n/);
    expect(() => g1.step({ kind: "peer", from: "g3", body: { type: "propose", id: "m", ts: 1 } })).toThrow(
      /not a destination/,
    );
  });

  it("models two message delays for a global message and one for a local", () => {
    const latency = {
      clientToGroupMs: (g: string) => ({ g1: 10, g2: 50, g3: 5 })[g] ?? 0,
      groupToGroupMs: (from: string, to: string) => (from === to ? 0 : 30),
    };
    expect(skeen.modelLatencyMs?.(["g1"], context, latency)).toBe(10);
    // g2 waits for its own request (50) and g1's proposal (10 + 30); g1 waits for g2's (50 + 30).
    expect(skeen.modelLatencyMs?.(["g1", "g2"], context, latency)).toBe(80);
    expect(skeen.entryGroups(["g1", "g3"], context)).toEqual(["g1", "g3"]);
  });
});
