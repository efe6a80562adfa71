import type { Server } from "node:net";
import { createServer, Socket } from "node:net";
import type { ProcessId } from "@amcast/core";
import { Topology } from "@amcast/core";
import { protocolByName } from "@amcast/protocols";
import type { SystemSpec } from "@amcast/system";
import { afterEach } from "vitest";
import type { NodeSpec, TransportLimits, TransportOptions } from "../src/index.js";
import { Keyring, NodeTable, Transport } from "../src/index.js";

export const SECRET = Buffer.from("0123456789abcdef0123456789abcdef");

/** Three nodes: replicas a and b, and a client host with clients c0 and c1. */
export const NODES: NodeSpec[] = [
  { id: "a", role: "replica", processes: ["a/0"] },
  { id: "b", role: "replica", processes: ["b/0"] },
  { id: "clients", role: "clients", processes: ["c0", "c1"] },
];

export const TABLE = new NodeTable(NODES);

export interface TestNode {
  readonly transport: Transport;
  readonly received: [ProcessId, ProcessId, unknown][];
  readonly logs: string[];
  readonly port: number;
}

/** Starts node `id` of `table` on loopback with its keyring derived from `secret`. */
export async function startNode(
  id: string,
  options: {
    table?: NodeTable;
    secret?: Buffer;
    limits?: Partial<TransportLimits>;
    extra?: Partial<TransportOptions>;
    onMessage?: (from: ProcessId, to: ProcessId, body: unknown) => void;
  } = {},
): Promise<TestNode> {
  const table = options.table ?? TABLE;
  const received: [ProcessId, ProcessId, unknown][] = [];
  const logs: string[] = [];
  const node = table.node(id);
  if (node === undefined) throw new Error(`no node ${id}`);
  const transport = new Transport({
    self: id,
    table,
    keyring: Keyring.fromSecret(
      options.secret ?? SECRET,
      id,
      table.nodes.map((peer) => peer.id),
    ),
    listen: node.role === "replica" ? { host: "127.0.0.1", port: 0 } : null,
    log: (line) => logs.push(line),
    onMessage: (from, to, body) => {
      received.push([from, to, body]);
      options.onMessage?.(from, to, body);
    },
    ...(options.limits === undefined ? {} : { limits: options.limits }),
    ...options.extra,
  });
  const port = await transport.start();
  return { transport, received, logs, port };
}

/**
 * `startNode` for one test file: every node it starts is closed after each test. Call it at the
 * top level of the file; hooks the file registers after it run before this one.
 */
export function nodesClosedAfterEach(): typeof startNode {
  const open: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((started) => started.transport.close()));
  });
  return async (id, options) => {
    const started = await startNode(id, options);
    open.push(started);
    return started;
  };
}

/** Tells every node where the replicas listen (ports from `nodes`, or overridden). */
export function wire(nodes: Record<string, TestNode>, overrides: Record<string, number> = {}): void {
  const addresses = new Map<string, { host: string; port: number }>();
  for (const [id, node] of Object.entries(nodes))
    if (node.port > 0) addresses.set(id, { host: "127.0.0.1", port: overrides[id] ?? node.port });
  for (const node of Object.values(nodes)) node.transport.setAddresses(addresses);
}

/** Resolves once `check` holds, polling; rejects after `timeoutMs` with `what`. */
export async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/**
 * A TCP proxy between a dialer and a listener that can fail like a network: `blackhole` discards
 * what flows one way (as a cable cut before TCP notices), `cut` destroys every connection at once,
 * discarding whatever is buffered.
 */
export class FlakyProxy {
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  /** Discard data from the dialer to the listener / from the listener to the dialer. */
  blackholeForward = false;
  blackholeBackward = false;
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((inbound) => {
      const outbound = new Socket();
      outbound.connect(this.targetPort, "127.0.0.1");
      const pair: [Socket, Socket] = [inbound, outbound];
      this.pairs.add(pair);
      inbound.on("data", (data) => {
        if (!this.blackholeForward) outbound.write(data);
      });
      outbound.on("data", (data) => {
        if (!this.blackholeBackward) inbound.write(data);
      });
      const close = (): void => {
        inbound.destroy();
        outbound.destroy();
        this.pairs.delete(pair);
      };
      inbound.on("close", close);
      outbound.on("close", close);
      inbound.on("error", close);
      outbound.on("error", close);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  cut(): number {
    const count = this.pairs.size;
    for (const [inbound, outbound] of [...this.pairs]) {
      inbound.destroy();
      outbound.destroy();
    }
    this.pairs.clear();
    return count;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A small system: two groups of the skeen protocol in crash mode, one client each; tests vary it. */
export const SMALL_SPEC: SystemSpec = {
  label: "support/skeen/crash/w",
  seed: 1,
  topology: new Topology(
    "two",
    {
      regions: ["a", "b"],
      latencyMs: [
        [1, 10],
        [10, 1],
      ],
    },
    [
      { id: "a", region: "a" },
      { id: "b", region: "b" },
    ],
    [],
  ),
  protocol: protocolByName("skeen", "test", "protocol"),
  overlay: null,
  mode: "crash",
  f: 1,
  workload: {
    name: "w",
    clientsPerGroup: 1,
    loop: "closed",
    multicastsPerClient: 5,
    outstanding: 1,
    thinkMs: 0,
    ratePerSec: 1,
    outstandingMax: 1,
    payloadBytes: 8,
    groups: null,
    locality: { localPercent: 50, globalSizes: [2], globalChoice: "uniform" },
    startSpreadMs: 0,
  },
  byzantine: [],
  faultPlan: "",
  network: { jitterSdFraction: 0, reorder: null },
  processing: { perMessageUs: 0, perByteNs: 0 },
  faults: { crashes: [], partitions: [] },
  timeLimitMs: 10_000,
  tickMs: 10,
  realTime: false,
};
