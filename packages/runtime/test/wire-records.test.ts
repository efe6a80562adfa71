import { RequestRecord } from "@amcast/group";
import { Packr, Unpackr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { MessagePacker } from "../src/message-packer.js";
import { REQUEST_INPUT_EXTENSION } from "../src/wire-records.js";

const unpackr = new Unpackr({ useRecords: false });
const plain = new Packr({ useRecords: false });

function request(seq: number, signedWith?: { at: number; path: string[] }): RequestRecord {
  const message = {
    id: `c0#${seq}`,
    client: "c0",
    dst: ["g0", "g1"],
    payload: { op: "put", key: `k${seq}` },
  };
  return new RequestRecord("c0", seq, message as never, 2, seq - 3, "digest", "signature", 96, signedWith);
}

/** A Raft append as the group layer sends it, carrying `batch`. */
function append(batch: readonly unknown[]): unknown {
  return {
    t: "consensus",
    body: { type: "append", term: 3, prevIndex: 7, prevTerm: 3, entries: [{ term: 3, batch }], commit: 6 },
  };
}

describe("request inputs on the wire", () => {
  it("decode as the input the sender had: same fields in the same order, key rebuilt, signedWith only when sent", () => {
    const batch = [request(10), request(11, { at: 1, path: ["a", "", "b"] })];
    const decoded = unpackr.unpack(new MessagePacker().pack(1, 2, append(batch), 99)) as [
      number,
      number,
      { body: { entries: { batch: RequestRecord[] }[] } },
      number,
    ];
    const inputs = decoded[2].body.entries[0]?.batch ?? [];
    expect(inputs).toHaveLength(2);
    for (const [index, input] of inputs.entries()) {
      const sent = batch[index] as RequestRecord;
      expect(input).toBeInstanceOf(RequestRecord);
      expect(Object.keys(input)).toEqual(Object.keys(sent));
      expect({ ...input }).toStrictEqual({ ...sent });
    }
    expect(inputs[0]?.key).toBe("c0#10@2");
    expect("signedWith" in (inputs[0] as object)).toBe(false);
    expect(inputs[1]?.signedWith).toEqual({ at: 1, path: ["a", "", "b"] });
  });

  it("write a client's own multicast as its destinations and payload, and rebuild it exactly", () => {
    const own = (seq: number, payload?: unknown): RequestRecord => {
      const message =
        payload === undefined
          ? { id: `c0:${seq}`, client: "c0", dst: ["g0", "g1"], payloadBytes: 64 }
          : { id: `c0:${seq}`, client: "c0", dst: ["g0"], payloadBytes: 64, payload };
      return new RequestRecord("c0", seq, message, 0, seq - 1, "", "", 110);
    };
    // Another client's id, a different key order, an extra key: written whole, as sent.
    const others = [
      new RequestRecord("c0", 9, { id: "c1:9", client: "c1", dst: ["g0"], payloadBytes: 1 }, 0, 0, "", "", 9),
      new RequestRecord("c0", 9, { client: "c0", id: "c0:9", dst: ["g0"], payloadBytes: 1 }, 0, 0, "", "", 9),
      new RequestRecord(
        "c0",
        9,
        { id: "c0:9", client: "c0", dst: ["g0"], payloadBytes: 1, extra: 1 } as never,
        0,
        0,
        "",
        "",
        9,
      ),
    ];
    const batch = [own(10), own(11, { op: "get", key: "k" }), ...others];
    const decoded = unpackr.unpack(new MessagePacker().pack(1, 2, append(batch), 99)) as [
      number,
      number,
      { body: { entries: { batch: RequestRecord[] }[] } },
      number,
    ];
    const inputs = decoded[2].body.entries[0]?.batch ?? [];
    expect(inputs).toHaveLength(batch.length);
    for (const [index, input] of inputs.entries()) {
      const sent = batch[index] as RequestRecord;
      expect(Object.keys(input.message)).toEqual(Object.keys(sent.message));
      expect({ ...input, message: { ...input.message } }).toStrictEqual({
        ...sent,
        message: { ...sent.message },
      });
    }
    // The client's own form carries no map for its multicast: id and client are not on the wire.
    const ownBytes = plain.pack(own(12));
    expect(ownBytes.includes(Buffer.from("c0:12"))).toBe(false);
    expect(plain.pack(others[0]).includes(Buffer.from("c1:9"))).toBe(true);
  });

  it("is much smaller than the same inputs written as maps", () => {
    const batch = Array.from({ length: 19 }, (_, index) => request(100 + index));
    const compact = new MessagePacker().pack(1, 2, append(batch), 99).length;
    const asMaps = plain.pack([1, 2, append(batch.map((input) => ({ ...input }))), 99]).length;
    expect(compact).toBeLessThan(asMaps * 0.7);
  });

  it("refuses a malformed input with one clear error", () => {
    const wrapped = (fields: unknown): Buffer =>
      Buffer.concat([Buffer.from([0xd4, REQUEST_INPUT_EXTENSION, 0x00]), plain.pack(fields)]);
    // The form the packer writes: a marker, then the fields.
    const good = wrapped(["c0", 5, { id: "c0#5" }, 0, 3, "", "", 64]);
    expect(plain.pack(request(5)).subarray(0, 3)).toEqual(good.subarray(0, 3));
    expect(unpackr.unpack(good)).toBeInstanceOf(RequestRecord);
    expect(() => unpackr.unpack(wrapped(["c0", "five", {}, 0, 3, "", "", 64]))).toThrow(
      "a request input has a field of the wrong type",
    );
    expect(() => unpackr.unpack(wrapped("not an array"))).toThrow(
      "a request input is an array of 8 or 9 fields",
    );
    expect(() => unpackr.unpack(wrapped(["c0", 5, {}, 0, 3, "", "", 64, "not a path"]))).toThrow(
      "a request input has a field of the wrong type",
    );
    // A client's own multicast, malformed: destinations not a list of groups, a missing size.
    for (const multicast of [[["g0", 1], 64], ["g0", 64], [["g0"]], [["g0"], 64, null, 1], null])
      expect(() => unpackr.unpack(wrapped(["c0", 5, multicast, 0, 3, "", "", 64]))).toThrow(
        "a request input has a field of the wrong type",
      );
    expect(unpackr.unpack(wrapped(["c0", 5, [["g0"], 64], 0, 3, "", "", 64])).message).toEqual({
      id: "c0:5",
      client: "c0",
      dst: ["g0"],
      payloadBytes: 64,
    });
  });
});
