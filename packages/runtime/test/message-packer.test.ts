import { Packr, Unpackr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { MessagePacker } from "../src/message-packer.js";

const whole = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

describe("MessagePacker", () => {
  it("encodes a body sent again exactly as packing the whole message would, for every integer width", () => {
    const packer = new MessagePacker();
    const body = {
      t: "consensus",
      body: { type: "prepare", view: 3, digest: "x".repeat(50), list: [1, 2, 3] },
    };
    const widths = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1];
    for (const from of widths)
      for (const to of [0, 200, 70_000])
        for (const sentAt of [0, 99, 300, 123_456_789, 2 ** 32 - 1, 2 ** 32, -5, 1.5]) {
          const packed = packer.pack(from, to, body, sentAt);
          expect(packed.equals(whole.pack([from, to, body, sentAt]))).toBe(true);
          expect(unpackr.unpack(packed)).toEqual([from, to, body, sentAt]);
        }
  });

  it("encodes a body again once forgotten, and a different object afresh", () => {
    const packer = new MessagePacker();
    const body: { n: number } = { n: 1 };
    packer.pack(1, 2, body, 10);
    // Changed in place: a forgotten body is encoded again, so the change shows.
    body.n = 2;
    packer.forget();
    expect(unpackr.unpack(packer.pack(1, 3, body, 10))).toEqual([1, 3, { n: 2 }, 10]);
    expect(unpackr.unpack(packer.pack(1, 3, { n: 3 }, 10))).toEqual([1, 3, { n: 3 }, 10]);
    expect(unpackr.unpack(packer.pack(1, 3, "text", 10))).toEqual([1, 3, "text", 10]);
  });
});
