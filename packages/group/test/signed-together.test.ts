import type { ProcessOutput } from "@amcast/core";
import { skeen } from "@amcast/skeen";
import { describe, expect, it } from "vitest";
import type { GroupWire } from "../src/index.js";
import { createClient, createReplica, Membership, SimulatedSignatures } from "../src/index.js";
import type { SignedWith } from "../src/inputs.js";
import { requestsRoot, requestsTree } from "../src/inputs.js";

/**
 * A client may sign the requests of one turn together (`signsTogether`, the network runtime's
 * clients): one signature over the root of the Merkle tree of their digests; each request carries
 * its place in the tree. A replica shown one recomputes the root from its digest and that place.
 */
const membership = Membership.uniform(["g1"], 4);
const signatures = new SimulatedSignatures(7);
const byzantineReplica = () =>
  createReplica({
    protocol: skeen,
    group: "g1",
    id: "g1/0",
    membership,
    overlay: null,
    mode: "byzantine",
    f: 1,
    signer: signatures.signerFor("g1/0"),
    verifier: signatures,
  });
const client = (signsTogether: boolean) =>
  createClient({
    id: "c0",
    protocol: skeen,
    membership,
    overlay: null,
    mode: "byzantine",
    f: 1,
    outstandingMax: 32,
    signer: signatures.signerFor("c0"),
    signsTogether,
  });

type Request = Extract<GroupWire, { t: "request" }>;
const requestOf = (outputs: readonly ProcessOutput[]): Request =>
  (outputs[0] as { body: GroupWire }).body as Request;
/**
 * Whether a fresh primary (g1/0) proposes `request`: it checks the signature of what it proposes,
 * so a request it refuses is dropped (`bad-signature`) instead of going out in a pre-prepare.
 */
function proposed(request: Request): boolean {
  const primary = byzantineReplica();
  const outputs = primary.receive("c0", request);
  const prePrepares = outputs.filter(
    (output) => output.kind === "send" && output.label === "pbft.pre-prepare",
  );
  expect(prePrepares.length === 3 || primary.drops.size > 0).toBe(true);
  return prePrepares.length === 3;
}

describe("requests signed together", () => {
  it("share one signature over their tree's root, and the group's primary proposes each of them", () => {
    const c = client(true);
    const requests = [0, 1, 2].map(() => requestOf(c.multicast(["g1"], 8).outputs));
    expect(requests.map((request) => request.signature)).toEqual(["", "", ""]);
    c.sealRequests();
    const [first, ...others] = requests as [Request, Request, Request];
    // Three leaves: two levels, the third leaf moves up alone at the first.
    expect(requests.map((request) => request.signedWith)).toEqual([
      { at: 0, path: [expect.any(String), expect.any(String)] },
      { at: 1, path: [expect.any(String), expect.any(String)] },
      { at: 2, path: ["", expect.any(String)] },
    ]);
    for (const request of others) expect(request.signature).toBe(first.signature);
    for (const request of requests) expect(proposed(request)).toBe(true);
    // A request made alone is signed alone, as without `signsTogether`.
    const alone = requestOf(c.multicast(["g1"], 8).outputs);
    c.sealRequests();
    expect([alone.signature === "", alone.signedWith]).toEqual([false, undefined]);
    expect(proposed(alone)).toBe(true);
  });

  it("splits a long turn into even trees of at most 16 leaves", () => {
    const c = client(true);
    const requests = Array.from({ length: 20 }, () => requestOf(c.multicast(["g1"], 8).outputs));
    c.sealRequests();
    expect(requests.map((request) => request.signedWith?.at)).toEqual([
      ...Array.from({ length: 10 }, (_, at) => at),
      ...Array.from({ length: 10 }, (_, at) => at),
    ]);
    expect(new Set(requests.map((request) => request.signature)).size).toBe(2);
    for (const request of requests) expect(proposed(request)).toBe(true);
  });

  it("refuses a request whose place leads elsewhere, or a malformed place", () => {
    const c = client(true);
    const [a, b] = [0, 1].map(() => requestOf(c.multicast(["g1"], 8).outputs)) as [Request, Request];
    c.sealRequests();
    const [x, y] = [0, 1].map(() => requestOf(c.multicast(["g1"], 8).outputs)) as [Request, Request];
    c.sealRequests();
    // A's signature and place, on a request (x) of another tree: the root differs.
    expect(proposed({ ...x, signature: a.signature, signedWith: a.signedWith as SignedWith })).toBe(false);
    // Its own signature, its sibling swapped for another leaf's: the root differs.
    expect(proposed({ ...y, signedWith: { at: 1, path: [a.signedWith?.path[0] ?? ""] } })).toBe(false);
    // The other leaf's index: the sibling is hashed on the wrong side.
    expect(proposed({ ...y, signedWith: { at: 0, path: y.signedWith?.path ?? [] } })).toBe(false);
    // Deeper than 16 leaves allow, or an index past its depth: malformed.
    expect(proposed({ ...b, signedWith: { at: 0, path: ["", "", "", "", ""] } })).toBe(false);
    expect(proposed({ ...b, signedWith: { at: 2, path: ["x"] } })).toBe(false);
    // The genuine ones still go through.
    for (const request of [a, b, x, y]) expect(proposed(request)).toBe(true);
  });

  it("every leaf's place leads to its tree's root, and no other leaf's digest does", () => {
    const hash = signatures.digest;
    for (let leaves = 2; leaves <= 16; leaves += 1) {
      const digests = Array.from({ length: leaves }, (_, index) => hash(`leaf ${leaves}/${index}`));
      const { root, places } = requestsTree(hash, digests);
      digests.forEach((digest, index) => {
        const place = places[index] as (typeof places)[number];
        expect(place.path.length).toBe(Math.ceil(Math.log2(leaves)));
        expect(requestsRoot(hash, digest, place)).toBe(root);
        const other = digests[(index + 1) % leaves] as string;
        expect(requestsRoot(hash, other, place)).not.toBe(root);
      });
    }
  });
});
