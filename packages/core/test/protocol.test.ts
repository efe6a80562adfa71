import { describe, expect, expectTypeOf, it } from "vitest";
import type { FlatProtocolDefinition, GroupInput, ParamsSystem } from "../src/index.js";
import { describeValue, listNames, protocolContext } from "../src/index.js";
import { expectInputError } from "./helpers.js";

/** A protocol with one parameter: the group every multicast enters at (default: the first group). */
const pinned: FlatProtocolDefinition<never, { readonly entry: string }> = {
  name: "pinned",
  overlayKind: null,
  parseParams: (params, system: ParamsSystem) => {
    const entry = params.optionalString("entry") ?? (system.groups[0] as string);
    if (!system.groups.includes(entry))
      throw params.error(
        "entry",
        `expected a group of the system (${listNames(system.groups)}), got ${describeValue(entry)}`,
      );
    return { entry };
  },
  entryGroups: (_dst, { params }) => [params.entry],
  createGroup: () => ({ step: () => [] }),
  describe: () => ({ kind: "none", bytes: 0 }),
};

/** A protocol without parameters. */
const plain: FlatProtocolDefinition<never> = {
  name: "plain",
  overlayKind: null,
  entryGroups: (dst) => dst,
  createGroup: () => ({ step: () => [] }),
  describe: () => ({ kind: "none", bytes: 0 }),
};

const system: ParamsSystem = { groups: ["a", "b", "c"], overlay: null };

describe("protocol parameters", () => {
  it("are parsed by the protocol, defaults included, into the context every part receives", () => {
    const context = protocolContext(pinned, { entry: "b" }, system, "x.json", "protocols[0].params");
    expect(context).toEqual({ groups: ["a", "b", "c"], overlay: null, params: { entry: "b" } });
    expect(pinned.entryGroups(["a", "c"], context)).toEqual(["b"]);
    expect(protocolContext(pinned, undefined, system, "x.json", "params").params).toEqual({ entry: "a" });
  });

  it("name the file, the field and the value when the protocol refuses them", () => {
    expectInputError(
      () => protocolContext(pinned, { entry: "z" }, system, "x.json", "protocols[1].params"),
      /^x\.json: protocols\[1\]\.params\.entry: expected a group of the system \(a, b or c\), got "z"$/,
    );
    expectInputError(
      () => protocolContext(pinned, { entry: 3 }, system, "x.json", "protocols[1].params"),
      /protocols\[1\]\.params\.entry: expected a non-empty string, got 3/,
    );
    expectInputError(
      () => protocolContext(pinned, { entry: "a", entyr: "b" }, system, "x.json", "params"),
      /x\.json: params\.entyr: is not a known field here \(did you mean "entry"\?\) \(known: entry\)/,
    );
    expectInputError(
      () => protocolContext(pinned, ["a"], system, "x.json", "params"),
      /x\.json: params: expected an object, got \["a"\]/,
    );
  });

  it("are refused by a protocol that takes none, unless empty", () => {
    expect(protocolContext(plain, {}, system, "x.json", "params").params).toBeUndefined();
    expect(protocolContext(plain, undefined, system, "x.json", "params").params).toBeUndefined();
    expectInputError(
      () => protocolContext(plain, { entry: "a" }, system, "x.json", "protocols[0].params"),
      /protocols\[0\]\.params\.entry: is not a known field here \(known: \(none\)\)/,
    );
  });
});

describe("group inputs", () => {
  it("are requests and peer messages only: there is no timer input", () => {
    // Checked by the type checker (pnpm run typecheck covers the tests): adding an input kind
    // changes every protocol's contract, and this line with it.
    expectTypeOf<GroupInput<unknown>["kind"]>().toEqualTypeOf<"request" | "peer">();
    const inputs: GroupInput<unknown>[] = [
      { kind: "request", message: { id: "c:0", client: "c", dst: ["a"], payloadBytes: 0 } },
      { kind: "peer", from: "a", body: null },
    ];
    expect(inputs.map((input) => input.kind)).toEqual(["request", "peer"]);
  });
});
