import { describe, expect, it } from "vitest";
import { parseLatencyCsv, parseTopology } from "../src/index.js";
import { expectInputError } from "./helpers.js";

const CSV = "region,A,B,C\nA,1,10,20\nB,11,2,30\nC,21,31,3\n";
const read = (name: string): string => {
  if (name === "m.csv") return CSV;
  throw new Error(`no file ${name}`);
};

describe("latency CSV", () => {
  it("reads a square one-way matrix", () => {
    const matrix = parseLatencyCsv(CSV, "m.csv");
    expect(matrix.regions).toEqual(["A", "B", "C"]);
    expect(matrix.latencyMs[1]?.[2]).toBe(30);
  });

  it("names the file, line and column of a bad cell", () => {
    expectInputError(
      () => parseLatencyCsv("region,A,B\nA,1,x\nB,1,1\n", "m.csv"),
      /m\.csv: line 2, column B: expected a delay in ms >= 0, got "x"/,
    );
    expectInputError(
      () => parseLatencyCsv("region,A,B\nB,1,1\nA,1,1\n", "m.csv"),
      /line 2: expected the row of region "A"/,
    );
    expectInputError(() => parseLatencyCsv("region,A,B\nA,1,1\n", "m.csv"), /expected 2 rows/);
    expectInputError(() => parseLatencyCsv("region,A,B\nA,1,-1\nB,1,1\n", "m.csv"), /column B/);
  });
});

describe("topology", () => {
  it("places one group per region and measures delays", () => {
    const topology = parseTopology(
      { kind: "topology", name: "t", latencyCsv: "m.csv", groups: "one-per-region" },
      "t.json",
      read,
    );
    expect(topology.groupIds).toEqual(["A", "B", "C"]);
    expect(topology.groupToGroupMs("A", "C")).toBe(20);
    expect(topology.groupToGroupMs("C", "A")).toBe(21);
    expect(topology.byNearness("B", ["A", "B", "C"])).toEqual(["B", "A", "C"]);
  });

  it("reads inline matrices, explicit groups and clients", () => {
    const topology = parseTopology(
      {
        kind: "topology",
        name: "t",
        regions: ["X", "Y"],
        latencyMs: [
          [1, 5],
          [6, 1],
        ],
        groups: [
          { id: "g1", region: "X" },
          { id: "g2", region: "Y" },
        ],
        clients: [{ region: "Y", count: 3, home: "g2" }],
      },
      "t.json",
      read,
    );
    expect(topology.groupRegion("g2")).toBe("Y");
    expect(topology.clients).toEqual([{ region: "Y", count: 3, home: "g2" }]);
  });

  it("rejects bad files with the file, the field and what was expected", () => {
    const base = { kind: "topology", name: "t", latencyCsv: "m.csv", groups: "one-per-region" };
    expectInputError(
      () => parseTopology({ ...base, kind: "overlay" }, "t.json", read),
      /t\.json: kind: expected "topology"/,
    );
    expectInputError(
      () => parseTopology({ ...base, latencyCsv: "nope.csv" }, "t.json", read),
      /t\.json: latencyCsv: cannot read "nope.csv"/,
    );
    expectInputError(
      () => parseTopology({ ...base, groups: [{ id: "g", region: "Mars" }] }, "t.json", read),
      /groups\[0\]\.region: expected one of the matrix's regions \(A, B or C\), got "Mars"/,
    );
    expectInputError(
      () =>
        parseTopology(
          {
            ...base,
            groups: [
              { id: "g", region: "A" },
              { id: "g", region: "B" },
            ],
          },
          "t.json",
          read,
        ),
      /groups\[1\]\.id: group "g" is listed twice/,
    );
    expectInputError(
      () => parseTopology({ ...base, clients: [{ region: "A", count: 0 }] }, "t.json", read),
      /clients\[0\]\.count: expected a whole number from 1/,
    );
    expectInputError(
      () => parseTopology({ ...base, clients: [{ region: "A", count: 1, home: "Q" }] }, "t.json", read),
      /clients\[0\]\.home: expected a group of this topology/,
    );
    expectInputError(
      () => parseTopology({ ...base, latencyCSV: "m.csv" }, "t.json", read),
      /latencyCSV: is not a known field/,
    );
    expectInputError(
      () =>
        parseTopology(
          { kind: "topology", name: "t", regions: ["X", "Y"], latencyMs: [[1, 2]], groups: "one-per-region" },
          "t.json",
          read,
        ),
      /latencyMs: expected 2 rows/,
    );
    expectInputError(() => parseTopology([], "t.json", read), /t\.json: expected an object/);
  });
});
