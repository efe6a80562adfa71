import { describe, expect, it } from "vitest";
import type { FieldRecord } from "../src/index.js";
import { closestName, didYouMean, JsonFields } from "../src/index.js";
import { expectInputError } from "./helpers.js";

describe("did you mean", () => {
  it("finds the known name a typo meant: a letter missing, extra, wrong or swapped, any case", () => {
    const known = ["clientsPerGroup", "multicastsPerClient", "payloadBytes", "seeds"];
    expect(closestName("clientPerGroup", known)).toBe("clientsPerGroup");
    expect(closestName("multicastPerClient", known)).toBe("multicastsPerClient");
    expect(closestName("payloadbytes", known)).toBe("payloadBytes");
    expect(closestName("paylaodBytes", known)).toBe("payloadBytes");
    expect(closestName("seed", known)).toBe("seeds");
    // Not a typo of anything: no guess, rather than a wild one.
    expect(closestName("timeout", known)).toBeUndefined();
    expect(closestName("foo", known)).toBeUndefined();
    expect(didYouMean("sedes", known)).toBe(' (did you mean "seeds"?)');
    expect(didYouMean("xyz", known)).toBe("");
  });

  it("is in the errors of unknown fields, wrong choices and missing fields written under another name", () => {
    const doc = (value: unknown) => JsonFields.root(value, "f.json");
    expectInputError(() => {
      const fields = doc({ payloadByte: 1 });
      fields.number("payloadBytes", {}, 64);
      fields.done();
    }, /f\.json: payloadByte: is not a known field here \(did you mean "payloadBytes"\?\)/);
    expectInputError(
      () => doc({ loop: "clsoed" }).choice("loop", ["closed", "open"] as const),
      /loop: expected one of closed or open, got "clsoed" \(did you mean "closed"\?\)/,
    );
    expectInputError(
      () => doc({ nmae: "x" }).string("name"),
      /name: is missing \(expected a string\) \("nmae" is there: a misspelling\?\)/,
    );
  });
});

describe("recording the fields a reader reads", () => {
  it("reports each field with its type, default, limits and whether the reader needs it", () => {
    const records: FieldRecord[] = [];
    JsonFields.recording(
      (record) => records.push(record),
      () => {
        const fields = JsonFields.root({ name: "n", items: [{ size: 3 }] }, "f.json");
        fields.string("name");
        fields.number("count", { integer: true, min: 1 }, 4);
        if (fields.has("extra")) fields.string("extra");
        for (const item of fields.array("items").objects()) item.number("size", { min: 0, max: 10 });
        fields.numbers("seeds", { integer: true, min: 0 }, [1]);
      },
    );
    const byPath = new Map(records.map((record) => [record.path, record]));
    expect(byPath.get("name")).toMatchObject({ type: "string", required: true });
    expect(byPath.get("count")).toMatchObject({
      type: "integer",
      required: false,
      defaultValue: 4,
      limits: ">= 1",
    });
    expect(byPath.get("extra")).toMatchObject({ presenceChecked: true, required: false });
    expect(byPath.get("items[].size")).toMatchObject({ type: "number", limits: "0 to 10" });
    expect(byPath.get("seeds")).toMatchObject({ type: "list of integers", defaultValue: [1] });
    // Outside `recording`, nothing is reported.
    const before = records.length;
    JsonFields.root({ name: "n" }, "f.json").string("name");
    expect(records).toHaveLength(before);
  });
});
