import type { Multicast } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { canonical, digest, SimulatedSignatures } from "../src/index.js";
import type { OrderedInput } from "../src/inputs.js";
import {
  batchDigest,
  chainDigest,
  copyDigests,
  makeRequestInput,
  requestDigest,
  sameBatchDigest,
} from "../src/inputs.js";

/**
 * The modelled signatures and the group layer's digests keep what they computed with the objects
 * they computed it for. These tests pin that a kept value is always the one a fresh computation
 * gives: the same texts are digested as without the caches.
 */
describe("modelled signatures", () => {
  it("a signature is the digest of the key and the data joined, and verifies as such", () => {
    const signatures = new SimulatedSignatures(7);
    const signer = signatures.signerFor("g1/r0");
    for (const data of ["", "x", "prepare|0|12|abc.def|g1/r0", "é|ünïcode|☃".repeat(5)]) {
      const signature = signer.sign(data);
      expect(signatures.verify("g1/r0", data, signature)).toBe(true);
      expect(signatures.verify("g1/r1", data, signature)).toBe(false);
      expect(signatures.verify("g1/r0", `${data}.`, signature)).toBe(false);
      // The key is the digest of the seed and the id (see SimulatedSignatures.key).
      expect(signature).toBe(digest(`${digest("key|7|g1/r0")}|${data}`));
    }
  });

  it("content that is not a string verifies as its text does", () => {
    const signatures = new SimulatedSignatures(1);
    const signature = signatures.signerFor("c1").sign("12");
    expect(signatures.verify("c1", 12 as unknown as string, signature)).toBe(true);
    expect(signatures.verify("c1", "12", 12 as unknown as string)).toBe(false);
  });
});

describe("canonical", () => {
  it("writes object keys sorted by code unit, undefined fields left out", () => {
    const value = { b: 1, a: [1, "x", null, undefined], é: true, B: { z: undefined, y: 'q"' }, 10: 0, 9: 1 };
    expect(canonical(value)).toBe('{"10":0,"9":1,"B":{"y":"q\\""},"a":[1,"x",null,null],"b":1,"é":true}');
    // The same as JSON of the object rebuilt with its keys sorted by the built-in sort.
    const sorted = (input: unknown): unknown => {
      if (Array.isArray(input)) return input.map((item) => (item === undefined ? null : sorted(item)));
      if (typeof input !== "object" || input === null) return input;
      const record = input as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(record)
          .sort()
          .filter((key) => record[key] !== undefined)
          .map((key) => [key, sorted(record[key])]),
      );
    };
    const shuffled = { zeta: { d: 4, c: [3, { y: 1, x: 2 }], a: "s" }, alpha: 1, Beta: 2, _u: 3, "0a": 4 };
    // Object.fromEntries puts integer-like keys first; none here, so JSON keeps the sorted order.
    expect(canonical(shuffled)).toBe(JSON.stringify(sorted(shuffled)));
  });
});

describe("canonical leaves", () => {
  it("writes strings, numbers and booleans exactly as JSON.stringify does", () => {
    const strings = [
      "",
      "plain",
      'quote"inside',
      "back\\slash",
      "tab\there",
      "nul\u0000",
      "\u001f",
      "line\u2028sep",
      "lone\ud800",
      "\udc00trail",
      "pair😀",
      "é ü ☃",
      "slash/and:colon#",
    ];
    for (const text of strings) {
      expect(canonical(text)).toBe(JSON.stringify(text));
      expect(canonical({ [text]: text })).toBe(`{${JSON.stringify(text)}:${JSON.stringify(text)}}`);
    }
    const numbers = [
      0,
      -0,
      1,
      -1,
      0.1,
      1e21,
      1e-7,
      5e-324,
      2 ** 53,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -Infinity,
    ];
    for (const value of numbers) expect(canonical(value)).toBe(JSON.stringify(value));
    expect(canonical([true, false])).toBe("[true,false]");
  });
});

describe("kept digests", () => {
  const hash = digest;
  const message: Multicast = {
    id: "c1:1",
    client: "c1",
    dst: ["g1", "g2"],
    payloadBytes: 8,
    payload: { op: "x" },
  };

  it("a request's digest follows every field it covers, not only the message object", () => {
    const first = requestDigest(hash, "c1", 1, message, 0, 0);
    expect(first).toBe(hash(`request|c1|1|0|0|${canonical(message)}`));
    expect(requestDigest(hash, "c1", 1, message, 0, 0)).toBe(first);
    expect(requestDigest(hash, "c1", 1, message, 1, 0)).toBe(hash(`request|c1|1|1|0|${canonical(message)}`));
    expect(requestDigest(hash, "c1", 1, message, 0, 1)).toBe(hash(`request|c1|1|0|1|${canonical(message)}`));
    expect(requestDigest(hash, "c2", 2, message, 0, 0)).toBe(hash(`request|c2|2|0|0|${canonical(message)}`));
    // Another digest function is not served the first one's value.
    const other = (text: string) => `other:${text.length}`;
    expect(requestDigest(other, "c1", 1, message, 0, 0)).toBe(
      other(`request|c1|1|0|0|${canonical(message)}`),
    );
    expect(requestDigest(hash, "c1", 1, message, 0, 0)).toBe(first);
  });

  it("a copy's digest is per sender, its item digest per stream position", () => {
    const body = { entries: [{ id: "m1", ts: 3 }], k: 5 };
    const item = hash(`item|g1|5|${canonical(body)}`);
    for (const sender of ["g1/r0", "g1/r1", "g1/r0", "g1/r2"]) {
      expect(copyDigests(hash, sender, "g1", 5, body)).toEqual({
        item,
        signed: hash(`copy|${sender}|${item}`),
      });
    }
    const moved = hash(`item|g1|6|${canonical(body)}`);
    expect(copyDigests(hash, "g1/r1", "g1", 6, body)).toEqual({
      item: moved,
      signed: hash(`copy|g1/r1|${moved}`),
    });
    // Many claimed senders: the values stay right beyond what is kept.
    for (let index = 0; index < 40; index += 1)
      expect(copyDigests(hash, `x${index}`, "g1", 6, body).signed).toBe(hash(`copy|x${index}|${moved}`));
  });

  it("a chain digest is the digest of the previous chain and the batch's, from either of two equal batches", () => {
    const requests = [1, 2, 3].map((seq) =>
      makeRequestInput("c1", seq, { ...message, id: `c1:${seq}` }, 0, 0, "", 10, hash),
    );
    const batch: OrderedInput[] = [...requests];
    const batchHash = batchDigest(hash, batch);
    const own: OrderedInput[] = requests.map((input) =>
      makeRequestInput("c1", input.seq, input.message, 0, 0, "", 10, hash),
    );
    sameBatchDigest(own, batch);
    expect(batchDigest(hash, own)).toBe(batchHash);
    let chain = hash("genesis");
    for (let step = 0; step < 3; step += 1) {
      const expected = hash(`${chain}|${batchHash}`);
      expect(chainDigest(hash, chain, step % 2 === 0 ? batch : own)).toBe(expected);
      expect(chainDigest(hash, chain, step % 2 === 0 ? own : batch)).toBe(expected);
      chain = expected;
    }
  });
});
