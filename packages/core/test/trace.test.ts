import { describe, expect, it } from "vitest";
import type { TraceEvent } from "../src/index.js";
import { formatTraceLine, InputError, parseTrace } from "../src/index.js";

describe("trace JSON Lines", () => {
  it("round-trips every event kind", () => {
    const events: TraceEvent[] = [
      { ev: "member", group: "g1", proc: "g1/0", t: 0 },
      { ev: "multicast", id: "c0:0", client: "c0", dst: ["g1", "g2"], t: 1.5, run: "r" },
      { ev: "send", from: "g1/0", to: "g2/0", kind: "propose", id: "c0:0", bytes: 20, t: 2 },
      { ev: "deliver", id: "c0:0", group: "g1", proc: "g1/0", t: 3 },
      { ev: "complete", id: "c0:0", client: "c0", t: 4 },
      { ev: "fault", proc: "g2/0", kind: "crash", t: 5 },
      { ev: "view", group: "g1", view: 2, t: 6 },
      { ev: "deliver", id: 7, group: 1, proc: 10, t: 7 },
      { ev: "stop", reason: "drained", t: 8, owes: ["integrity"], runtime: "net" },
    ];
    const text = `${events.map(formatTraceLine).join("\n")}\n\n`;
    expect(parseTrace(text, "trace.jsonl")).toEqual(events);
  });

  it("names the file, line and field of a bad event", () => {
    const bad = (line: string): string => {
      try {
        parseTrace(`{"ev":"complete","id":"a","client":"c","t":1}\n${line}\n`, "trace.jsonl");
      } catch (error) {
        expect(error).toBeInstanceOf(InputError);
        return (error as Error).message;
      }
      throw new Error("no error");
    };
    expect(bad("not json")).toMatch(/^trace\.jsonl:2: expected one JSON object per line/);
    expect(bad('{"ev":"deliver","id":"a","group":"g","t":1}')).toMatch(
      /trace\.jsonl:2: proc: expected a string or number id/,
    );
    expect(bad('{"ev":"explode","t":1}')).toMatch(/trace\.jsonl:2: ev: expected one of multicast/);
    expect(bad('{"ev":"fault","proc":"p","kind":"sneeze","t":1}')).toMatch(
      /kind: expected crash, recover, byzantine, amnesia or install/,
    );
    expect(bad('{"ev":"multicast","id":"a","client":"c","dst":[],"t":1}')).toMatch(
      /dst: expected a non-empty array/,
    );
    expect(bad('{"ev":"complete","id":"a","client":"c"}')).toMatch(/t: expected a finite number/);
    expect(bad('{"ev":"stop","reason":"drained","t":1,"runtime":"cloud"}')).toMatch(
      /runtime: expected one of sim, net, got "cloud"/,
    );
  });
});
