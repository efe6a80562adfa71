import type {
  ClientLogic,
  DestinationSet,
  Multicast,
  ProcessLogic,
  ProcessOutput,
  TraceEvent,
} from "@amcast/core";
import { percent, topologyFromMatrix } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { SimClient, SimOptions, SimProcess } from "../src/index.js";
import { simulate } from "../src/index.js";

const topology = topologyFromMatrix("two", {
  regions: ["A", "B"],
  latencyMs: [
    [1, 40],
    [60, 2],
  ],
});

/** A toy server: answers every request with a reply, records what it received in order. */
class Echo implements ProcessLogic {
  readonly wantsTicks = false;
  readonly received: unknown[] = [];
  constructor(readonly id: string) {}
  receive(from: string, body: unknown): readonly ProcessOutput[] {
    this.received.push(body);
    const request = body as { id: string };
    return [
      { kind: "deliver", group: "G", message: { id: request.id, client: from, dst: ["G"], payloadBytes: 0 } },
      {
        kind: "send",
        to: from,
        body: { reply: request.id },
        bytes: 10,
        label: "reply",
        id: request.id,
        protocol: false,
      },
    ];
  }
  tick(): readonly ProcessOutput[] {
    return [];
  }
}

/** A toy client: sends each multicast to `server` and completes on the reply. */
class ToyClient implements ClientLogic {
  readonly wantsTicks = false;
  private seq = 0;
  constructor(
    readonly id: string,
    private readonly server: string,
  ) {}
  multicast(
    dst: DestinationSet,
    payloadBytes: number,
  ): { message: Multicast; outputs: readonly ProcessOutput[] } {
    const message = { id: `${this.id}:${this.seq}`, client: this.id, dst, payloadBytes };
    this.seq += 1;
    return {
      message,
      outputs: [
        {
          kind: "send",
          to: this.server,
          body: { id: message.id, seq: this.seq },
          bytes: 100,
          label: "request",
          id: message.id,
          protocol: false,
        },
      ],
    };
  }
  receive(_from: string, body: unknown): readonly ProcessOutput[] {
    return [{ kind: "complete", id: (body as { reply: string }).reply }];
  }
  tick(): readonly ProcessOutput[] {
    return [];
  }
}

function setup(
  overrides: Partial<SimOptions> & { clientCount?: number; multicasts?: number; open?: boolean } = {},
) {
  const echo = new Echo("G/0");
  const processes: SimProcess[] = [{ logic: echo, region: "A", group: "G" }];
  const clients: SimClient[] = Array.from({ length: overrides.clientCount ?? 1 }, (_, index) => ({
    logic: new ToyClient(`c${index}`, "G/0"),
    region: "B",
    loop:
      overrides.open === true
        ? { kind: "open", multicasts: overrides.multicasts ?? 3, ratePerSec: 1000, outstandingMax: 2 }
        : { kind: "closed", multicasts: overrides.multicasts ?? 3, outstanding: 1, thinkMs: 0 },
    payloadBytes: 0,
    startMs: 0,
    destinations: () => ["G"],
  }));
  const events: TraceEvent[] = [];
  const options: SimOptions = {
    seed: 1,
    topology,
    processes,
    clients,
    network: { jitterSdFraction: 0, reorder: null },
    processing: { perMessageUs: 0, perByteNs: 0 },
    faults: { crashes: [], partitions: [] },
    tickMs: 10,
    timeLimitMs: 100_000,
    recordSends: false,
    onEvent: (event) => events.push(event),
    ...overrides,
  };
  return { echo, events, options };
}

describe("simulator", () => {
  it("delays messages by the one-way latency of the regions' link", () => {
    const { events, options } = setup({ multicasts: 2 });
    const result = simulate(options);
    expect(result.stoppedBy).toBe("drained");
    // Client in B -> server in A: 60 ms; reply A -> B: 40 ms.
    expect(events.filter((event) => event.ev !== "member").map((event) => `${event.ev}@${event.t}`)).toEqual([
      "multicast@0",
      "deliver@60",
      "complete@100",
      "multicast@100",
      "deliver@160",
      "complete@200",
    ]);
    expect(events[0]).toEqual({ ev: "member", group: "G", proc: "G/0", t: 0 });
    expect(result.messageEvents).toBe(4);
    expect(result.clientMessages).toBe(4);
  });

  it("is deterministic: the same seed gives the same trace, another seed another", () => {
    const trace = (seed: number): string => {
      const { events, options } = setup({
        seed,
        clientCount: 4,
        multicasts: 50,
        network: { jitterSdFraction: 0.3, reorder: { chance: percent(30), extraDelayMsMax: 80 } },
        processing: { perMessageUs: 300, perByteNs: 5 },
      });
      simulate(options);
      return JSON.stringify(events);
    };
    expect(trace(7)).toBe(trace(7));
    expect(trace(7)).not.toBe(trace(8));
  });

  it("keeps every link FIFO under jitter and reordering", () => {
    const { echo, options } = setup({
      clientCount: 1,
      multicasts: 200,
      open: true,
      network: { jitterSdFraction: 0.5, reorder: { chance: percent(50), extraDelayMsMax: 500 } },
    });
    const client = options.clients[0] as SimClient;
    const result = simulate({
      ...options,
      clients: [
        { ...client, loop: { kind: "open", multicasts: 200, ratePerSec: 2000, outstandingMax: 200 } },
      ],
    });
    expect(result.stoppedBy).toBe("drained");
    const seqs = echo.received.map((body) => (body as { seq: number }).seq);
    expect(seqs.length).toBe(200);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("serves one input at a time at the configured processing cost", () => {
    const { events, options } = setup({
      clientCount: 5,
      multicasts: 1,
      processing: { perMessageUs: 2000, perByteNs: 10_000 },
    });
    simulate(options);
    // Five requests of 100 bytes reach the server at 60 ms; each costs 2 ms + 100 * 10 us = 3 ms.
    expect(events.filter((event) => event.ev === "deliver").map((event) => event.t)).toEqual([
      63, 66, 69, 72, 75,
    ]);
  });

  it("loses what reaches a crashed process and records the fault", () => {
    const { events, options } = setup({
      multicasts: 3,
      faults: { crashes: [{ proc: "G/0", atMs: 150, recoverAtMs: 400 }], partitions: [] },
    });
    const result = simulate(options);
    // The second request reaches the server at 160 ms, while it is down: the client waits forever.
    expect(result.stoppedBy).toBe("stalled");
    expect(result.lostToCrashes).toBe(1);
    expect(events.filter((event) => event.ev === "fault")).toEqual([
      { ev: "fault", proc: "G/0", kind: "crash", t: 150 },
      { ev: "fault", proc: "G/0", kind: "recover", t: 400 },
    ]);
    expect(result.completed).toBe(1);
  });

  it("holds messages across a partition and delivers them when it heals", () => {
    const { events, options } = setup({
      multicasts: 1,
      faults: { crashes: [], partitions: [{ side: ["G/0"], atMs: 0, healAtMs: 500 }] },
    });
    const result = simulate(options);
    expect(result.stoppedBy).toBe("drained");
    expect(events.find((event) => event.ev === "deliver")?.t).toBe(560);
  });

  it("stops at the time limit", () => {
    const { options } = setup({ multicasts: 1000, timeLimitMs: 1000 });
    const result = simulate(options);
    expect(result.stoppedBy).toBe("time-limit");
    expect(result.endMs).toBe(1000);
    expect(result.completed).toBe(10);
  });

  it("skips open-loop arrivals beyond the in-flight cap", () => {
    const { options } = setup({ open: true, multicasts: 100 });
    const result = simulate(options);
    expect(result.stoppedBy).toBe("drained");
    expect(result.arrivalsSkipped).toBeGreaterThan(0);
    expect(result.multicasts + result.arrivalsSkipped).toBe(100);
    expect(result.completed).toBe(result.multicasts);
  });

  it("records sends when asked, with their arrival times", () => {
    const { events, options } = setup({ multicasts: 1, recordSends: true });
    simulate(options);
    // The latency matrix is asymmetric: 60 ms from the client to the group, 40 ms back.
    expect(events.filter((event) => event.ev === "send")).toEqual([
      { ev: "send", from: "c0", to: "G/0", kind: "request", id: "c0:0", bytes: 100, t: 0, arriveT: 60 },
      { ev: "send", from: "G/0", to: "c0", kind: "reply", id: "c0:0", bytes: 10, t: 60, arriveT: 100 },
    ]);
  });
});
