import type { GroupOutput, Multicast, ProtocolContext } from "@amcast/core";
import { InputError, protocolContext } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { SequencerMessage, SequencerParams } from "../src/index.js";
import { SequencerGroup, sequencer } from "../src/index.js";

const GROUPS = ["g1", "g2", "g3"];
/** The context every group and client gets, parsed from an experiment's `params`. */
const contextOf = (params: unknown): ProtocolContext<SequencerParams> =>
  protocolContext(sequencer, params, { groups: GROUPS, overlay: null }, "x.json", "protocols[0].params");
const context = contextOf({ sequencer: "g2" });
const group = (id: string): SequencerGroup => new SequencerGroup({ ...context, group: id });
const message = (id: string, dst: string[]): Multicast => ({ id, client: "c0", dst, payloadBytes: 0 });

/** Short transcript form of outputs: "deliver m1", "send g3 order m1#0". */
function transcript(outputs: readonly GroupOutput<SequencerMessage>[]): string[] {
  return outputs.map((output) =>
    output.kind === "send"
      ? `send ${output.to} ${output.body.type} ${output.body.message.id}#${output.body.seq}`
      : output.kind === "deliver"
        ? `deliver ${output.message.id}`
        : output.kind,
  );
}

describe("fixed sequencer", () => {
  it("sends every multicast to the sequencer, a destination or not", () => {
    expect(sequencer.entryGroups(["g1", "g3"], context)).toEqual(["g2"]);
    expect(sequencer.entryGroups(["g2"], context)).toEqual(["g2"]);
  });

  it("numbers messages at the sequencer, sends them to the other destinations, delivers its own at once", () => {
    const g2 = group("g2");
    expect(transcript(g2.step({ kind: "request", message: message("m1", ["g1", "g3"]) }))).toEqual([
      "send g1 order m1#0",
      "send g3 order m1#0",
    ]);
    expect(transcript(g2.step({ kind: "request", message: message("m2", ["g2"]) }))).toEqual(["deliver m2"]);
    expect(transcript(g2.step({ kind: "request", message: message("m3", ["g1", "g2"]) }))).toEqual([
      "send g1 order m3#2",
      "deliver m3",
    ]);
    expect(g2.delivered).toBe(2);
  });

  it("delivers at a destination in the sequencer's order, as it arrives", () => {
    const g1 = group("g1");
    const order = (id: string, seq: number, dst: string[]) => ({
      kind: "peer" as const,
      from: "g2",
      body: { type: "order" as const, seq, message: message(id, dst) },
    });
    expect(transcript(g1.step(order("m1", 0, ["g1", "g3"])))).toEqual(["deliver m1"]);
    expect(transcript(g1.step(order("m3", 2, ["g1", "g2"])))).toEqual(["deliver m3"]);
    // The layer below keeps the sequencer's stream in order; anything else is a bug.
    expect(() => g1.step(order("m0", 1, ["g1"]))).toThrow(/seq 1 after 2/);
    expect(() => g1.step({ ...order("m4", 4, ["g1"]), from: "g3" })).toThrow(/not the sequencer/);
    expect(() => g1.step({ kind: "request", message: message("m5", ["g1"]) })).toThrow(/g2 orders/);
  });

  it("takes the sequencer as a parameter: any group of the system, the first by default", () => {
    expect(contextOf(undefined).params).toEqual({ sequencer: "g1" });
    expect(contextOf({ sequencer: "g3" }).params).toEqual({ sequencer: "g3" });
    expect(() => contextOf({ sequencer: "Mars" })).toThrow(InputError);
    expect(() => contextOf({ sequencer: "Mars" })).toThrow(
      'x.json: protocols[0].params.sequencer: expected a group of the system (g1, g2 or g3), got "Mars"',
    );
    expect(() => contextOf({ sequencr: "g1" })).toThrow(
      'x.json: protocols[0].params.sequencr: is not a known field here (did you mean "sequencer"?) (known: sequencer)',
    );
  });

  it("models its pattern: client to the sequencer, then to every other destination", () => {
    const latency = {
      clientToGroupMs: (g: string) => ({ g1: 10, g2: 50, g3: 5 })[g] ?? 0,
      groupToGroupMs: (from: string, to: string) => (from === to ? 0 : to === "g3" ? 40 : 30),
    };
    expect(sequencer.modelLatencyMs?.(["g2"], context, latency)).toBe(50);
    // The client is 10 ms from g1 but its message goes through g2: 50 + 30.
    expect(sequencer.modelLatencyMs?.(["g1"], context, latency)).toBe(80);
    expect(sequencer.modelLatencyMs?.(["g1", "g3"], context, latency)).toBe(90);
  });
});
