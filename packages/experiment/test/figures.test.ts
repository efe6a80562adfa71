import { describe, expect, it } from "vitest";
import { estimate } from "../src/aggregate.js";
import { lineFigureSvg, seriesStyles } from "../src/chart.js";
import { cdfPoints } from "../src/figures.js";
import { sequenceOf } from "../src/sequence.js";

describe("estimates over seeds", () => {
  it("gives the mean and Student's t 95% interval", () => {
    expect(estimate([10])).toEqual({ mean: 10, ci95: 0, n: 1 });
    // n = 4, sd = 1.2910: 3.182 * 1.2910 / 2.
    const four = estimate([1, 2, 3, 4]);
    expect(four.mean).toBe(2.5);
    expect(four.ci95).toBeCloseTo(2.054, 3);
    // Beyond 31 seeds the normal quantile.
    const many = estimate(Array.from({ length: 100 }, (_, index) => index % 2));
    expect(many.ci95).toBeCloseTo((1.96 * Math.sqrt(100 / 99 / 4)) / 10, 4);
  });
});

describe("series styles", () => {
  it("give every series its own colour and dash, the same whatever else is drawn", () => {
    const keys = [
      "skeen",
      "flexcast/o1",
      "flexcast/o2",
      "flexcast/o1+lin",
      "byzcast/two-level",
      "byzcast/three-level",
      "skeen+lin",
    ];
    const styles = seriesStyles(keys);
    const looks = [...styles.values()].map((style) => `${style.color} ${style.dash}`);
    expect(new Set(looks).size).toBe(keys.length);
    // A protocol's family keeps its colour family; the first variant its base colour.
    expect(styles.get("skeen")?.color).toBe("#0072B2");
    expect(styles.get("flexcast/o1")?.color).toBe("#D55E00");
    expect(styles.get("byzcast/two-level")?.color).toBe("#009E73");
    expect(seriesStyles(keys)).toEqual(styles);
  });
});

describe("figures", () => {
  it("stack mark labels in rows so that none overlaps another", () => {
    const marks = [0.5, 0.6, 0.7, 5, 5.1].map((x, index) => ({ x, label: `view ${index + 2}`, key: "a" }));
    const svg = lineFigureSvg(
      [
        {
          title: "p",
          lines: [
            {
              key: "a",
              points: [
                { x: 0, y: 1 },
                { x: 10, y: 2 },
              ],
            },
          ],
          marks,
        },
      ],
      {
        title: "t",
        x: { label: "time (s)", scale: "linear" },
        y: { label: "ms", scale: "linear" },
        styles: seriesStyles(["a"]),
      },
    );
    const labels = [
      ...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)" font-size="10" fill="[^"]+">(view \d)<\/text>/g),
    ].map((match) => ({ x: Number(match[1]), y: Number(match[2]), width: (match[3] as string).length * 6 }));
    expect(labels).toHaveLength(5);
    for (const a of labels)
      for (const b of labels)
        if (a !== b && a.y === b.y) expect(a.x + a.width <= b.x || b.x + b.width <= a.x).toBe(true);
  });

  it("put the legend to the right of every panel, outside the data", () => {
    const lines = ["s1", "s2", "s3"].map((key, index) => ({
      key,
      points: [
        { x: 1, y: index },
        { x: 100, y: index + 1 },
      ],
    }));
    const svg = lineFigureSvg(
      [
        { title: "one", lines },
        { title: "two", lines },
      ],
      {
        title: "t",
        x: { label: "x", scale: "log" },
        y: { label: "y", scale: "linear" },
        styles: seriesStyles(["s1", "s2", "s3"]),
      },
    );
    const frames = [
      ...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="[\d.]+" fill="none"/g),
    ].map((match) => Number(match[1]) + Number(match[2]));
    const legendX = Math.min(
      ...[...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+">s\d<\/text>/g)].map((match) => Number(match[1])),
    );
    expect(frames).toHaveLength(2);
    expect(legendX).toBeGreaterThan(Math.max(...frames));
    // A log axis ticks at 1, 2, 5, 10, ...
    expect(svg).toMatch(/>1<\/text>[\s\S]*>2<\/text>[\s\S]*>5<\/text>[\s\S]*>10<\/text>/);
  });

  it("draws a distribution from its smallest to its largest value", () => {
    const points = cdfPoints([5, 1, 3, 2, 4]);
    expect(points[0]).toEqual({ x: 1, y: 0.2 });
    expect(points[points.length - 1]).toEqual({ x: 5, y: 1 });
  });

  it("draws a distribution as steps: flat between samples, a jump at each", () => {
    const options = {
      title: "t",
      x: { label: "ms", scale: "linear" as const },
      y: { label: "fraction", scale: "linear" as const, min: 0, max: 1 },
      styles: seriesStyles(["a"]),
    };
    const panel = [{ title: "p", lines: [{ key: "a", points: cdfPoints([10, 20, 40]) }] }];
    const corners = (svg: string): number[][] =>
      ((/<polyline [^>]*points="([^"]+)"/.exec(svg) as RegExpExecArray)[1] as string)
        .split(" ")
        .map((pair) => pair.split(",").map(Number));
    const stepped = corners(lineFigureSvg(panel, { ...options, steps: true }));
    // Three samples: three jumps, two flat runs between them.
    expect(stepped).toHaveLength(5);
    for (let index = 1; index < stepped.length; index += 1) {
      const [x0, y0] = stepped[index - 1] as number[];
      const [x1, y1] = stepped[index] as number[];
      // Each segment is either flat (same y, rightwards) or a jump (same x, upwards on screen).
      expect(
        index % 2 === 1
          ? y1 === y0 && (x1 as number) > (x0 as number)
          : x1 === x0 && (y1 as number) < (y0 as number),
      ).toBe(true);
    }
    expect(corners(lineFigureSvg(panel, options))).toHaveLength(3);
  });
});

describe("the sequence diagram", () => {
  it("draws one multicast: lanes, merged copies with their first arrival, deliveries, and what held it", () => {
    const trace = {
      run: "r",
      id: "c0:1",
      why: "test",
      note: null,
      events: [
        { ev: "member", group: "A", proc: "A/0", t: 0 },
        { ev: "member", group: "A", proc: "A/1", t: 0 },
        { ev: "member", group: "B", proc: "B/0", t: 0 },
        { ev: "multicast", id: "c0:1", client: "c0", dst: ["A", "B"], t: 10 },
        { ev: "send", from: "c0", to: "A/0", kind: "request", id: "c0:1", t: 10, arriveT: 15 },
        { ev: "send", from: "c0", to: "B/0", kind: "request", id: "c0:1", t: 10, arriveT: 30 },
        { ev: "send", from: "A/0", to: "B/0", kind: "propose", id: "c0:1", t: 16, arriveT: 40 },
        { ev: "send", from: "A/1", to: "B/0", kind: "propose", id: "c0:1", t: 17, arriveT: 41 },
        { ev: "deliver", id: "c0:1", group: "A", proc: "A/0", t: 20 },
        { ev: "deliver", id: "c0:1", group: "A", proc: "A/1", t: 22 },
        { ev: "deliver", id: "c0:1", group: "B", proc: "B/0", t: 60 },
        { ev: "complete", id: "c0:1", client: "c0", t: 70 },
      ] as const,
    };
    const { summary } = sequenceOf(trace);
    expect(summary.lanes).toEqual(["client c0", "A", "B"]);
    expect(summary.arrows).toContainEqual({
      from: "A",
      to: "B",
      kind: "propose",
      copies: 2,
      sentMs: 6,
      arriveMs: 30,
    });
    expect(summary.deliveries).toEqual([
      { group: "A", t: 10 },
      { group: "B", t: 50 },
    ]);
    expect(summary.latencyMs).toBe(50);
  });
});
