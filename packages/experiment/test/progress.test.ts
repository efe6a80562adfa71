import type { TraceEvent } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { duration, Progress } from "../src/progress.js";

/** Feeds `count` events of one run, the clock moving `msPerEvent` each. */
function feed(progress: Progress, clock: { now: number }, count: number, msPerEvent: number): void {
  for (let index = 0; index < count; index += 1) {
    clock.now += msPerEvent;
    const event: TraceEvent = { ev: "complete", id: `c0:${index}`, client: "c0", t: index };
    progress.onEvent(event);
  }
}

describe("progress", () => {
  it("redraws one line on a terminal: run, simulated time, multicasts, elapsed and ETA", () => {
    const written: string[] = [];
    const clock = { now: 0 };
    const progress = new Progress(
      { isTTY: true, columns: 200, write: (text) => written.push(text) },
      2,
      [8192, 8192],
      () => clock.now,
    );
    progress.startRun(1, "skeen/solo/w", 8192);
    // Half the first run in 10 s: a quarter of all the work, so 30 s to go.
    feed(progress, clock, 4096, 10_000 / 4096);
    const line = written[written.length - 1] as string;
    expect(line.startsWith("\r\x1b[K")).toBe(true);
    expect(line).toMatch(
      /\[1\/2\] skeen\/solo\/w: 4\.1 s simulated, 4096\/8192 multicasts; 10s elapsed, ETA 30s/,
    );
    progress.finishRun("[1/2] done");
    expect(written.slice(-2)).toEqual(["\r\x1b[K", "[1/2] done\n"]);
  });

  it("writes a plain line now and then to a log, never a carriage return", () => {
    const written: string[] = [];
    const clock = { now: 0 };
    const progress = new Progress({ write: (text) => written.push(text) }, 1, [1_000_000], () => clock.now);
    progress.startRun(1, "r", 1_000_000);
    feed(progress, clock, 4096 * 20, 1); // 82 s of events
    expect(written.length).toBe(2); // at 30 s and at 60 s
    for (const line of written) expect(line).toMatch(/^ {2}\.\.\. \[1\/1\] r: .* elapsed, ETA \S+\n$/);
    expect(written.join("")).not.toContain("\r");
  });

  it("says durations briefly", () => {
    expect(duration(45_000)).toBe("45s");
    expect(duration(185_000)).toBe("3m05s");
    expect(duration(3_720_000)).toBe("1h02m");
  });
});
