import type { ProcessOutput } from "@amcast/core";
import { InputError, OutputCollector } from "@amcast/core";
import { skeen } from "@amcast/skeen";
import { describe, expect, it } from "vitest";
import type { GroupWire, Replica } from "../src/index.js";
import { createClient, createReplica, Membership } from "../src/index.js";

const membership = Membership.uniform(["g1", "g2"], 1);
const replica = (group: string): Replica<unknown> =>
  createReplica({
    protocol: skeen,
    group,
    id: `${group}/0`,
    membership,
    overlay: null,
    mode: "solo",
    f: 0,
  }) as Replica<unknown>;
const client = () =>
  createClient({
    id: "c0",
    protocol: skeen,
    membership,
    overlay: null,
    mode: "solo",
    f: 0,
    outstandingMax: 2,
  });

function sends(outputs: readonly ProcessOutput[]): string[] {
  return outputs.flatMap((output) =>
    output.kind === "send" ? [`${output.label} -> ${output.to}`] : [`${output.kind}`],
  );
}
const bodyOf = (output: ProcessOutput | undefined): GroupWire => (output as { body: GroupWire }).body;

describe("membership", () => {
  it("maps replicas to groups and back", () => {
    const three = Membership.uniform(["b", "a"], 3);
    expect(three.groups).toEqual(["a", "b"]);
    expect(three.replicas("a")).toEqual(["a/0", "a/1", "a/2"]);
    expect(three.groupOf("b/2")).toBe("b");
    expect(three.groupOf("c0")).toBeUndefined();
    expect(
      () =>
        new Membership(
          new Map([
            ["a", ["p"]],
            ["b", ["p"]],
          ]),
        ),
    ).toThrow(/two groups/);
  });
});

describe("solo replicas and clients", () => {
  it("run a multicast end to end: request, stream copies, delivery, replies, completion", () => {
    const c = client();
    const g1 = replica("g1");
    const g2 = replica("g2");
    const { message, outputs } = c.multicast(["g1", "g2"], 8);
    expect(message.id).toBe("c0:0");
    expect(sends(outputs)).toEqual(["request -> g1/0", "request -> g2/0"]);
    const request = bodyOf(outputs[0]);

    const fromG1 = g1.receive("c0", request);
    expect(sends(fromG1)).toEqual(["propose -> g2/0"]);
    expect(bodyOf(fromG1[0])).toMatchObject({ t: "copy", k: 0 });
    const fromG2 = g2.receive("c0", request);
    expect(sends(fromG2)).toEqual(["propose -> g1/0"]);

    const atG2 = g2.receive("g1/0", bodyOf(fromG1[0]));
    expect(sends(atG2)).toEqual(["deliver", "reply -> c0"]);
    const atG1 = g1.receive("g2/0", bodyOf(fromG2[0]));
    expect(sends(atG1)).toEqual(["deliver", "reply -> c0"]);

    expect(c.receive("g2/0", bodyOf(atG2[1]))).toEqual([]);
    expect(c.receive("g1/0", bodyOf(atG1[1]))).toEqual([
      { kind: "complete", id: "c0:0", results: { g1: null, g2: null } },
    ]);
    expect(c.inFlightCount).toBe(0);
  });

  it("hand a driver's sink (receiveInto) the same outputs, in the same order, as receive returns", () => {
    // The same inputs to two copies of each process: one answers `receive`, the other fills a sink.
    const run = (into: boolean): ProcessOutput[][] => {
      const c = client();
      const g1 = replica("g1");
      const g2 = replica("g2");
      const take = (
        process: { receive: typeof g1.receive; receiveInto: typeof g1.receiveInto },
        from: string,
        body: unknown,
      ): ProcessOutput[] => {
        if (!into) return [...process.receive(from, body)];
        const sink = new OutputCollector();
        process.receiveInto(from, body, sink);
        return [...sink.take()];
      };
      const steps: ProcessOutput[][] = [];
      for (const dst of [["g1", "g2"], ["g1"], ["g2", "g1"]]) {
        const { outputs } = c.multicast(dst, 8);
        // Replies to the client, with the replica that sent each.
        const replies: [string, unknown][] = [];
        const keep = (from: string, produced: ProcessOutput[]): ProcessOutput[] => {
          steps.push(produced);
          for (const output of produced)
            if (output.kind === "send" && output.to === "c0") replies.push([from, output.body]);
          return produced;
        };
        for (const request of outputs) {
          if (request.kind !== "send") continue;
          const [at, atId, other] = request.to === "g1/0" ? [g1, "g1/0", g2] : [g2, "g2/0", g1];
          for (const output of keep(atId, take(at, "c0", request.body)))
            if (output.kind === "send" && output.to !== "c0") keep(output.to, take(other, atId, output.body));
        }
        for (const [from, body] of replies) steps.push(take(c, from, body));
        // A malformed input: dropped, nothing out.
        steps.push(take(g1, "c0", "garbage"));
      }
      return steps;
    };
    const returned = run(false);
    expect(returned.flat().some((output) => output.kind === "complete")).toBe(true);
    expect(returned.flat().some((output) => output.kind === "deliver")).toBe(true);
    expect(run(true)).toEqual(returned);
  });

  it("drops malformed and misattributed inputs without throwing, and answers a retry from its cache", () => {
    const g1 = replica("g1");
    const { outputs } = client().multicast(["g1"], 0);
    const request = bodyOf(outputs[0]);
    expect(g1.receive("c0", "garbage")).toEqual([]);
    expect(g1.receive("c0", { t: "reply", id: "x", group: "g2", result: null })).toEqual([]);
    // A request whose client field names someone else than the link's sender.
    expect(g1.receive("c9", request)).toEqual([]);
    // A stream copy from a process that is no replica.
    expect(
      g1.receive("c0", { t: "copy", k: 0, body: { type: "propose", id: "x", ts: 1 }, signature: "" }),
    ).toEqual([]);
    // A stream item from a replica that is not an array of messages, or an empty one.
    expect(
      g1.receive("g2/0", { t: "copy", k: 0, body: { type: "propose", id: "x", ts: 1 }, signature: "" }),
    ).toEqual([]);
    expect(g1.receive("g2/0", { t: "copy", k: 0, body: [], signature: "" })).toEqual([]);
    expect(sends(g1.receive("c0", request))).toEqual(["deliver", "reply -> c0"]);
    // The retry is answered from the reply cache, not executed again.
    expect(sends(g1.receive("c0", request))).toEqual(["reply -> c0"]);
    expect(Object.fromEntries(g1.drops)).toEqual({
      malformed: 5,
      "unknown-sender": 1,
      "duplicate-request": 1,
    });
  });

  it("checks a known client's request in full unless it repeats the destination array it sent before", () => {
    const g1 = replica("g1");
    const request = (seq: number, dst: readonly string[]): GroupWire => ({
      t: "request",
      message: { id: `c0:${seq}`, client: "c0", dst, payloadBytes: 0 },
      seq,
      signature: "",
      settled: seq,
    });
    const home = ["g1"];
    expect(sends(g1.receive("c0", request(0, home)))).toEqual(["deliver", "reply -> c0"]);
    // The same array again: taken without a second check of its groups.
    expect(sends(g1.receive("c0", request(1, home)))).toEqual(["deliver", "reply -> c0"]);
    // Another array from the same client is checked: an unknown group, or groups out of order.
    expect(g1.receive("c0", request(2, ["g1", "g9"]))).toEqual([]);
    expect(g1.receive("c0", request(3, ["g2", "g1"]))).toEqual([]);
    // A replica never passes as a client, whatever a client sent before.
    const fromReplica: GroupWire = {
      t: "request",
      message: { id: "g2/0:4", client: "g2/0", dst: home, payloadBytes: 0 },
      seq: 4,
      signature: "",
      settled: 4,
    };
    expect(g1.receive("g2/0", fromReplica)).toEqual([]);
    expect(sends(g1.receive("c0", request(5, ["g1", "g2"])))).toEqual(["propose -> g2/0"]);
    expect(Object.fromEntries(g1.drops)).toEqual({ malformed: 3 });
  });

  it("takes a request's id only as `<client>:<seq>` with seq written as a whole number, up to 16 digits", () => {
    const g1 = replica("g1");
    // A client that numbers from the clock in microseconds (a restarted service's client).
    const seq = 1_796_529_216_605_000;
    const request = (id: string, sequence: number): GroupWire => ({
      t: "request",
      message: { id, client: "c0", dst: ["g1"], payloadBytes: 0 },
      seq: sequence,
      signature: "",
      settled: sequence,
    });
    expect(sends(g1.receive("c0", request(`c0:${seq}`, seq)))).toEqual(["deliver", "reply -> c0"]);
    for (const [id, sequence] of [
      [`c0:0${seq + 1}`, seq + 1], // a leading zero
      [`c0:${seq + 2}0`, seq + 2], // another number
      ["c0:90071992547409920", 2 ** 53 - 1], // past the safe integers
      ["c0:", 0],
      ["c1:5", 5], // another client's id
    ] as const)
      expect(g1.receive("c0", request(id, sequence))).toEqual([]);
    expect(Object.fromEntries(g1.drops)).toEqual({ malformed: 5 });
  });

  it("counts each destination group's reply once and ignores replies from processes that are no replica", () => {
    const c = client();
    c.multicast(["g1", "g2"], 0);
    expect(c.receive("g1/0", { t: "reply", id: "c0:0", group: "g1", result: 1 })).toEqual([]);
    expect(c.receive("g1/0", { t: "reply", id: "c0:0", group: "g1", result: 1 })).toEqual([]);
    expect(c.receive("c5", { t: "reply", id: "c0:0", group: "g2", result: 2 })).toEqual([]);
    expect(c.receive("g2/0", { t: "reply", id: "c0:0", group: "g2", result: 2 })).toEqual([
      { kind: "complete", id: "c0:0", results: { g1: 1, g2: 2 } },
    ]);
  });

  it("completes without results when asked to keep none, and finds replies by id in any order", () => {
    const c = createClient({
      id: "c0",
      protocol: skeen,
      membership,
      overlay: null,
      mode: "solo",
      f: 0,
      outstandingMax: 3,
      results: false,
    });
    const local = ["g1"];
    for (let i = 0; i < 3; i += 1) c.multicast(local, 0);
    // Replies with ids that are not this client's in-flight messages change nothing.
    for (const id of ["c0:3", "c0:01", "c1:1", "c0", "c0:1x", "x"])
      expect(c.receive("g1/0", { t: "reply", id, group: "g1", result: 1 })).toEqual([]);
    expect(c.inFlightCount).toBe(3);
    expect(c.receive("g1/0", { t: "reply", id: "c0:2", group: "g1", result: 1 })).toEqual([
      { kind: "complete", id: "c0:2" },
    ]);
    // A reply from the wrong group is ignored; the right one completes.
    expect(c.receive("g2/0", { t: "reply", id: "c0:0", group: "g2", result: 1 })).toEqual([]);
    expect(c.receive("g1/0", { t: "reply", id: "c0:0", group: "g1", result: 1 })).toEqual([
      { kind: "complete", id: "c0:0" },
    ]);
    // The lowest request in flight is now 1: a new request tells replicas everything below is settled.
    const next = c.multicast(local, 0);
    expect(bodyOf(next.outputs[0])).toMatchObject({ t: "request", seq: 3, settled: 1 });
    expect(c.receive("g1/0", { t: "reply", id: "c0:1", group: "g1", result: 1 })).toEqual([
      { kind: "complete", id: "c0:1" },
    ]);
    expect(bodyOf(c.multicast(local, 0).outputs[0])).toMatchObject({ seq: 4, settled: 3 });
  });

  it("rejects a multicast to a group that does not exist, naming it", () => {
    expect(() => client().multicast(["g1", "g7"], 0)).toThrow(InputError);
    expect(() => client().multicast(["g1", "g7"], 0)).toThrow(
      /multicast: dst: group "g7" does not exist \(groups: g1 or g2\)/,
    );
  });

  it("keeps at most outstandingMax multicasts in flight", () => {
    const c = client();
    c.multicast(["g1"], 0);
    c.multicast(["g1"], 0);
    expect(() => c.multicast(["g1"], 0)).toThrow(/in flight/);
  });
});
