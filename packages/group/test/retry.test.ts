import { describe, expect, it } from "vitest";
import { RetryTimer } from "../src/client.js";

describe("RetryTimer (a client's wait before sending a request again)", () => {
  it("waits its floor until an answer was timed, doubling per retry up to 8x", () => {
    const timer = new RetryTimer(100);
    expect([0, 1, 2, 3, 4, 9].map((retries) => timer.waitTicks(retries))).toEqual([
      100, 200, 400, 800, 800, 800,
    ]);
  });

  it("never waits less than its floor when answers come fast", () => {
    const timer = new RetryTimer(100);
    for (let index = 0; index < 50; index += 1) timer.observe(3);
    expect(timer.waitTicks(0)).toBe(100);
  });

  it("follows a slow group's round trip (smoothed, plus four deviations), within 16x the floor", () => {
    const timer = new RetryTimer(100);
    // A saturated group answering in about 3 s (300 ticks), give or take 20.
    for (let index = 0; index < 200; index += 1) timer.observe(index % 2 === 0 ? 280 : 320);
    const wait = timer.waitTicks(0);
    expect(wait).toBeGreaterThan(320);
    expect(wait).toBeLessThan(400);
    expect(timer.waitTicks(1)).toBe(2 * wait);
    // The cap: 16 floors, however slow the answers and however many retries.
    for (let index = 0; index < 50; index += 1) timer.observe(10_000);
    expect(timer.waitTicks(0)).toBe(1600);
    expect(timer.waitTicks(3)).toBe(1600);
  });

  it("comes back down when the group speeds up again", () => {
    const timer = new RetryTimer(10);
    for (let index = 0; index < 20; index += 1) timer.observe(500);
    expect(timer.waitTicks(0)).toBeGreaterThan(100);
    for (let index = 0; index < 60; index += 1) timer.observe(5);
    expect(timer.waitTicks(0)).toBe(10);
  });
});
