import { protocolNames } from "@amcast/protocols";
import type { ProtocolName, ReplicationMode } from "@amcast/smr";
import { createSimCluster } from "@amcast/smr";
import { describe, expect, it } from "vitest";
import type { TpccCommand, TpccReply, TpccScale } from "../src/index.js";
import {
  checkTpccConsistency,
  DEFAULT_SCALE,
  destinationsOf,
  STANDARD_MIX,
  simulateTpcc,
  TpccLayout,
  TpccShard,
} from "../src/index.js";

const GROUPS = ["east", "west", "south"];
const SMALL: TpccScale = { ...DEFAULT_SCALE, districtsPerWarehouse: 3, customersPerDistrict: 12, items: 100 };

function cluster(
  scale: TpccScale,
  options: { protocol?: ProtocolName; mode?: ReplicationMode; linearizable?: boolean } = {},
) {
  const layout = new TpccLayout(GROUPS, scale);
  const shards = new Map<string, TpccShard>();
  const sim = createSimCluster<TpccCommand, TpccReply>({
    groups: GROUPS,
    application: (group, replica) => {
      const shard = new TpccShard(group, layout);
      shards.set(replica, shard);
      return shard.application;
    },
    latencyMs: [
      [1, 30, 60],
      [30, 1, 45],
      [60, 45, 1],
    ],
    seed: 4,
    ...options,
  });
  return { sim, shards, layout };
}

describe("the gTPC-C database", () => {
  it("starts consistent: every TPC-C condition holds over the initial population", () => {
    const layout = new TpccLayout(GROUPS, { ...SMALL, warehousesPerGroup: 2 });
    const replicas = new Map(GROUPS.map((group) => [`${group}/0`, new TpccShard(group, layout)]));
    const report = checkTpccConsistency(replicas, layout);
    expect(report.violations).toEqual([]);
    expect(report.warehouses).toBe(6);
    expect(report.orders).toBe(6 * 3 * 12);
    expect(report.conditions).toContain("3.3.2.10");
  });

  it("runs each transaction's part at each group, and a NewOrder with an unused item rolls back everywhere", () => {
    const layout = new TpccLayout(GROUPS, SMALL);
    const east = new TpccShard("east", layout); // warehouse 1
    const west = new TpccShard("west", layout); // warehouse 2
    const order: TpccCommand = {
      tx: "new-order",
      w: 1,
      d: 2,
      c: 3,
      lines: [
        { item: 5, supply: 1, quantity: 4 },
        { item: 6, supply: 2, quantity: 7 },
      ],
      entryMs: 10,
    };
    expect(destinationsOf(order, layout)).toEqual(["east", "west"]);
    const stock = (west.warehouses.get(2)?.stockQuantity[5] as number) ?? 0;
    const home = east.execute(order);
    const remote = west.execute(order);
    expect(home).toMatchObject({ committed: true, result: { orderId: 13 } });
    expect(remote).toMatchObject({
      committed: true,
      result: { stock: [stock >= 17 ? stock - 7 : stock - 7 + 91] },
    });
    expect(west.warehouses.get(2)?.stockRemoteCount[5]).toBe(1);
    expect(east.warehouses.get(1)?.stockRemoteCount[4]).toBe(0);
    const district = east.warehouses.get(1)?.districts[1];
    expect(district?.nextOrderId).toBe(14);
    expect(district?.orders.get(13)?.allLocal).toBe(false);

    const bad: TpccCommand = { ...order, lines: [...order.lines, { item: 101, supply: 2, quantity: 1 }] };
    expect(east.execute(bad)).toEqual({ committed: false, reason: "unused item" });
    expect(west.execute(bad)).toEqual({ committed: false, reason: "unused item" });
    expect(district?.nextOrderId).toBe(14);

    // A remote payment: the district's YTD at home, the customer's balance and history remotely.
    const payment: TpccCommand = {
      tx: "payment",
      w: 1,
      d: 1,
      cw: 2,
      cd: 3,
      customer: { last: "BARBARBAR" },
      amountCents: 500,
      dateMs: 11,
    };
    expect(east.execute(payment)).toMatchObject({
      committed: true,
      result: { warehouseYtdCents: 3 * 12 * 1000 + 500 },
    });
    const paid = west.execute(payment);
    expect(paid).toMatchObject({ committed: true });
    const customerId = (paid as unknown as { result: { customer: number } }).result.customer;
    expect(west.warehouses.get(2)?.districts[2]?.customers[customerId - 1]?.last).toBe("BARBARBAR");
    expect(west.warehouses.get(2)?.history.at(-1)).toMatchObject({ w: 1, d: 1, amountCents: 500 });

    const delivered = east.execute({ tx: "delivery", w: 1, carrier: 3, dateMs: 12 });
    // Each district's oldest undelivered order: the first of the last 30% (9 of 12 delivered).
    expect(delivered).toEqual({ committed: true, result: { delivered: [9, 9, 9] } });
    expect(east.execute({ tx: "stock-level", w: 1, d: 2, threshold: 200 })).toMatchObject({
      committed: true,
    });
    expect(
      checkTpccConsistency(
        new Map([
          ["east/0", east],
          ["west/0", west],
          ["south/0", new TpccShard("south", layout)],
        ]),
        layout,
      ).violations,
    ).toEqual([]);
  });

  it("finds replicas that differ and databases that break the conditions", () => {
    const layout = new TpccLayout(GROUPS, SMALL);
    const replicas = new Map<string, TpccShard>();
    for (const group of GROUPS)
      for (const index of [0, 1]) replicas.set(`${group}/${index}`, new TpccShard(group, layout));
    const broken = replicas.get("west/1") as TpccShard;
    const warehouse = broken.warehouses.get(2);
    if (warehouse === undefined) throw new Error("west holds warehouse 2");
    warehouse.ytdCents += 1;
    // A remote NewOrder applied at the supplier only: its stock moved without an order line.
    broken.execute({
      tx: "new-order",
      w: 1,
      d: 1,
      c: 1,
      lines: [{ item: 9, supply: 2, quantity: 3 }],
      entryMs: 0,
    });
    const report = checkTpccConsistency(replicas, layout);
    expect(report.violations.map((violation) => violation.condition)).toEqual(["replicas"]);
    expect(report.violations[0]?.message).toBe("replicas west/0 and west/1 of west differ");
    // The broken replica alone stands for its group: the conditions catch what it did.
    replicas.delete("west/0");
    const conditions = checkTpccConsistency(replicas, layout).violations.map(
      (violation) => violation.condition,
    );
    expect(conditions).toEqual(["3.3.2.1", "3.3.2.8", "stock"]);
  });
});

describe("gTPC-C on the simulator", () => {
  // Every registered protocol twice: in solo groups and in a replicated mode (crash and Byzantine
  // alternating), once plain and once linearizable.
  const runs: [ProtocolName, ReplicationMode, boolean][] = protocolNames().flatMap(
    (protocol, index): [ProtocolName, ReplicationMode, boolean][] => [
      [protocol, "solo", index % 2 === 1],
      [protocol, index % 2 === 0 ? "crash" : "byzantine", index % 2 === 0],
    ],
  );
  for (const [protocol, mode, linearizable] of runs)
    it(`${protocol}/${mode}${linearizable ? "/linearizable" : ""}: every replica ends consistent, cross-warehouse transactions commit at every group`, () => {
      const { sim, shards, layout } = cluster(SMALL, { protocol, mode, linearizable });
      // Byzantine groups (four replicas, signatures) cost the most: fewer transactions there.
      const perTerminal = mode === "byzantine" ? 12 : 25;
      const mix = { ...STANDARD_MIX, remoteItemPercent: 10, remoteCustomerPercent: 30, rollbackPercent: 10 };
      const result = simulateTpcc(
        sim,
        layout,
        { terminalsPerWarehouse: 2, transactionsPerTerminal: perTerminal, mix, thinkMs: 0 },
        7,
        () => 1,
      );
      expect(result.disagreements).toBe(0);
      const total = [...result.stats.values()].reduce((sum, stats) => sum + stats.count, 0);
      expect(total).toBe(3 * 2 * perTerminal);
      const newOrders = result.stats.get("new-order");
      expect(newOrders?.multiGroup).toBeGreaterThan(0);
      expect(newOrders?.rolledBack).toBeGreaterThan(0);
      expect(result.stats.get("payment")?.multiGroup).toBeGreaterThan(0);
      const report = checkTpccConsistency(shards, layout);
      expect(report.violations).toEqual([]);
      expect(report.replicas).toBe(shards.size);
      expect(sim.check().violations).toEqual([]);
    });
});
