import { describe, expect, it } from "vitest";
import { mostNamedLeader } from "../src/index.js";

describe("mostNamedLeader", () => {
  it("names the leader most replicas name, the first so named on a tie, none when nobody names one", () => {
    expect(mostNamedLeader(["a/1", undefined, "a/2", "a/2"])).toBe("a/2");
    expect(mostNamedLeader(["a/0", "a/1", "a/1", "a/0"])).toBe("a/0");
    expect(mostNamedLeader([undefined, undefined])).toBeUndefined();
    expect(mostNamedLeader([])).toBeUndefined();
  });
});
