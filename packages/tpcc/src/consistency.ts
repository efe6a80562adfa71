import type { GroupId, ProcessId } from "@amcast/core";
import type { TpccLayout } from "./config.js";
import type { TpccShard, Warehouse } from "./shard.js";
import { TpccShard as Shard } from "./shard.js";

/** The conditions checked, by name, with what each requires. */
export const CONSISTENCY_CONDITIONS: Readonly<Record<string, string>> = {
  replicas: "every replica of a group holds the same database",
  "3.3.2.1": "W_YTD = sum(D_YTD) for each warehouse",
  "3.3.2.2": "D_NEXT_O_ID - 1 = max(O_ID) = max(NO_O_ID) for each district",
  "3.3.2.3": "max(NO_O_ID) - min(NO_O_ID) + 1 = count(NEW-ORDER) for each district",
  "3.3.2.4": "sum(O_OL_CNT) = count(ORDER-LINE) for each district",
  "3.3.2.5": "O_CARRIER_ID is null exactly for the orders in NEW-ORDER",
  "3.3.2.6": "O_OL_CNT = the order's count of ORDER-LINE rows",
  "3.3.2.7": "OL_DELIVERY_D is null exactly when the order's O_CARRIER_ID is",
  "3.3.2.8": "W_YTD = sum(H_AMOUNT) of the payments to the warehouse, over every warehouse's HISTORY",
  "3.3.2.9": "D_YTD = sum(H_AMOUNT) of the payments to the district",
  "3.3.2.10": "C_BALANCE = sum(delivered OL_AMOUNT) - sum(H_AMOUNT) for each customer",
  "3.3.2.12": "C_BALANCE + C_YTD_PAYMENT = sum(delivered OL_AMOUNT) for each customer",
  "order-ids": "each district's orders are numbered 1 to D_NEXT_O_ID - 1 without a gap",
  stock:
    "S_YTD, S_ORDER_CNT and S_REMOTE_CNT of every stock row match the order lines it supplied, at whichever warehouse the order is (cross-warehouse NewOrders applied at every group or none)",
};

export interface ConsistencyViolation {
  readonly condition: string;
  readonly message: string;
}

export interface ConsistencyReport {
  /** Replicas whose databases were compared. */
  readonly replicas: number;
  readonly warehouses: number;
  readonly orders: number;
  readonly conditions: readonly string[];
  readonly violations: readonly ConsistencyViolation[];
}

/** Violations kept per condition (a broken database would otherwise print millions). */
const VIOLATIONS_PER_CONDITION_MAX = 5;

/**
 * Checks the TPC-C consistency conditions (clause 3.3.2, except 3.3.2.11, which holds for the
 * initial database only) over the final state of every replica: first that the replicas of each
 * group hold the same database, then the conditions over the union of the groups' warehouses
 * (8, 10 and 12 join payments and orders kept by different warehouses, possibly in different
 * groups). `replicas`: each replica's shard, by process id.
 */
export function checkTpccConsistency(
  replicas: ReadonlyMap<ProcessId, TpccShard>,
  layout: TpccLayout,
): ConsistencyReport {
  const violations: ConsistencyViolation[] = [];
  const counts = new Map<string, number>();
  const fail = (condition: string, message: string): void => {
    const count = counts.get(condition) ?? 0;
    counts.set(condition, count + 1);
    if (count < VIOLATIONS_PER_CONDITION_MAX) violations.push({ condition, message });
  };

  // One replica per group stands for it, once all of its replicas agree.
  const byGroup = new Map<GroupId, { id: ProcessId; shard: TpccShard; digest: string }[]>();
  for (const [id, shard] of replicas) {
    const list = byGroup.get(shard.group) ?? [];
    list.push({ id, shard, digest: shardDigest(shard) });
    byGroup.set(shard.group, list);
  }
  const warehouses = new Map<number, Warehouse>();
  for (const [group, list] of byGroup) {
    const first = list[0];
    if (first === undefined) continue;
    for (const other of list.slice(1))
      if (other.digest !== first.digest)
        fail("replicas", `replicas ${first.id} and ${other.id} of ${group} differ`);
    for (const [id, warehouse] of first.shard.warehouses) warehouses.set(id, warehouse);
  }
  for (let w = 1; w <= layout.warehouses; w += 1)
    if (!warehouses.has(w)) fail("replicas", `no replica holds warehouse ${w} (group ${layout.groupOf(w)})`);

  // Joins across warehouses: payments by paid district, delivered amounts and payments by customer.
  const paidTo = new Map<string, number>();
  const paidBy = new Map<string, number>();
  for (const warehouse of warehouses.values())
    for (const row of warehouse.history) {
      add(paidTo, `${row.w}/${row.d}`, row.amountCents);
      add(paidBy, `${row.customerW}/${row.customerD}/${row.customer}`, row.amountCents);
    }
  const supplied = new Map<string, { quantity: number; lines: number; remote: number }>();
  const initialOrders = layout.scale.customersPerDistrict;
  let orders = 0;

  for (const [w, warehouse] of warehouses) {
    const districtYtd = warehouse.districts.reduce((sum, district) => sum + district.ytdCents, 0);
    if (warehouse.ytdCents !== districtYtd)
      fail("3.3.2.1", `warehouse ${w}: W_YTD ${warehouse.ytdCents} != sum(D_YTD) ${districtYtd}`);
    const warehousePaid = warehouse.districts.reduce(
      (sum, district) => sum + (paidTo.get(`${w}/${district.id}`) ?? 0),
      0,
    );
    if (warehouse.ytdCents !== warehousePaid)
      fail("3.3.2.8", `warehouse ${w}: W_YTD ${warehouse.ytdCents} != sum(H_AMOUNT) ${warehousePaid}`);
    for (const district of warehouse.districts) {
      const where = `district ${w}/${district.id}`;
      const undelivered = Shard.undelivered(district);
      const pending = new Set(undelivered);
      const maxOrder = largest(district.orders.keys(), 0);
      const maxUndelivered = largest(undelivered, 0);
      orders += district.orders.size;
      if (district.nextOrderId - 1 !== maxOrder || (undelivered.length > 0 && maxUndelivered !== maxOrder))
        fail(
          "3.3.2.2",
          `${where}: D_NEXT_O_ID - 1 = ${district.nextOrderId - 1}, max(O_ID) = ${maxOrder}, max(NO_O_ID) = ${undelivered.length === 0 ? "none" : maxUndelivered}`,
        );
      if (undelivered.length > 0) {
        const span =
          maxUndelivered +
          largest(
            undelivered.map((id) => -id),
            0,
          ) +
          1;
        if (span !== undelivered.length)
          fail("3.3.2.3", `${where}: NEW-ORDER spans ${span} order ids but holds ${undelivered.length}`);
      }
      if (district.orders.size !== district.nextOrderId - 1)
        fail("order-ids", `${where}: ${district.orders.size} orders, D_NEXT_O_ID ${district.nextOrderId}`);
      let lineCount = 0;
      let lines = 0;
      const delivered = new Map<number, number>();
      for (const [id, order] of district.orders) {
        lineCount += order.lineCount;
        lines += order.lines.length;
        if ((order.carrier === null) !== pending.has(id))
          fail(
            "3.3.2.5",
            `${where} order ${id}: O_CARRIER_ID ${order.carrier}, ${pending.has(id) ? "in" : "not in"} NEW-ORDER`,
          );
        if (order.lineCount !== order.lines.length)
          fail("3.3.2.6", `${where} order ${id}: O_OL_CNT ${order.lineCount}, ${order.lines.length} lines`);
        for (const line of order.lines) {
          if ((line.deliveryMs === null) !== (order.carrier === null))
            fail(
              "3.3.2.7",
              `${where} order ${id}: OL_DELIVERY_D ${line.deliveryMs}, O_CARRIER_ID ${order.carrier}`,
            );
          if (line.deliveryMs !== null) add(delivered, order.customer, line.amountCents);
          if (id > initialOrders) {
            const key = `${line.supply}/${line.item}`;
            const entry = supplied.get(key) ?? { quantity: 0, lines: 0, remote: 0 };
            entry.quantity += line.quantity;
            entry.lines += 1;
            if (line.supply !== w) entry.remote += 1;
            supplied.set(key, entry);
          }
        }
      }
      if (lineCount !== lines)
        fail("3.3.2.4", `${where}: sum(O_OL_CNT) ${lineCount} != count(ORDER-LINE) ${lines}`);
      const districtPaid = paidTo.get(`${w}/${district.id}`) ?? 0;
      if (district.ytdCents !== districtPaid)
        fail("3.3.2.9", `${where}: D_YTD ${district.ytdCents} != sum(H_AMOUNT) ${districtPaid}`);
      for (const customer of district.customers) {
        const deliveredAmount = delivered.get(customer.id) ?? 0;
        const paid = paidBy.get(`${w}/${district.id}/${customer.id}`) ?? 0;
        if (customer.balanceCents !== deliveredAmount - paid)
          fail(
            "3.3.2.10",
            `${where} customer ${customer.id}: C_BALANCE ${customer.balanceCents} != ${deliveredAmount} delivered - ${paid} paid`,
          );
        if (customer.balanceCents + customer.ytdPaymentCents !== deliveredAmount)
          fail(
            "3.3.2.12",
            `${where} customer ${customer.id}: C_BALANCE + C_YTD_PAYMENT ${customer.balanceCents + customer.ytdPaymentCents} != ${deliveredAmount} delivered`,
          );
      }
    }
  }
  for (const [w, warehouse] of warehouses)
    for (let index = 0; index < warehouse.stockYtd.length; index += 1) {
      const entry = supplied.get(`${w}/${index + 1}`) ?? { quantity: 0, lines: 0, remote: 0 };
      if (
        warehouse.stockYtd[index] !== entry.quantity ||
        warehouse.stockOrderCount[index] !== entry.lines ||
        warehouse.stockRemoteCount[index] !== entry.remote
      )
        fail(
          "stock",
          `warehouse ${w} item ${index + 1}: S_YTD ${warehouse.stockYtd[index]}, S_ORDER_CNT ${warehouse.stockOrderCount[index]}, S_REMOTE_CNT ${warehouse.stockRemoteCount[index]}; its order lines: ${entry.quantity} units, ${entry.lines} lines, ${entry.remote} remote`,
        );
    }
  for (const [condition, count] of counts)
    if (count > VIOLATIONS_PER_CONDITION_MAX)
      violations.push({ condition, message: `... and ${count - VIOLATIONS_PER_CONDITION_MAX} more` });
  return {
    replicas: replicas.size,
    warehouses: warehouses.size,
    orders,
    conditions: Object.keys(CONSISTENCY_CONDITIONS),
    violations,
  };
}

/** The largest of `values` (`empty` if none), without spreading them into arguments. */
function largest(values: Iterable<number>, empty: number): number {
  let found = Number.NEGATIVE_INFINITY;
  for (const value of values) if (value > found) found = value;
  return found === Number.NEGATIVE_INFINITY ? empty : found;
}

function add<K>(map: Map<K, number>, key: K, amount: number): void {
  map.set(key, (map.get(key) ?? 0) + amount);
}

/** A canonical text of a replica's database, hashed: equal databases, equal digests. */
export function shardDigest(shard: TpccShard): string {
  let h1 = 0x811c_9dc5;
  let h2 = 0x0100_0193;
  let length = 0;
  const feed = (value: number | string | null): void => {
    const text = value === null ? "~" : String(value);
    for (let index = 0; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      h1 = Math.imul(h1 ^ code, 0x0100_0193);
      h2 = Math.imul(h2 ^ code, 0x5bd1_e995) ^ (h2 >>> 15);
    }
    h1 = Math.imul(h1 ^ 0x2c, 0x0100_0193);
    length += text.length + 1;
  };
  for (const [id, warehouse] of [...shard.warehouses].sort(([a], [b]) => a - b)) {
    feed(id);
    feed(warehouse.ytdCents);
    for (const district of warehouse.districts) {
      feed(district.ytdCents);
      feed(district.nextOrderId);
      for (const customer of district.customers) {
        feed(customer.balanceCents);
        feed(customer.ytdPaymentCents);
        feed(customer.paymentCount);
        feed(customer.deliveryCount);
      }
      for (const [orderId, order] of district.orders) {
        feed(orderId);
        feed(order.customer);
        feed(order.carrier);
        for (const line of order.lines) {
          feed(line.item);
          feed(line.supply);
          feed(line.quantity);
          feed(line.amountCents);
          feed(line.deliveryMs);
        }
      }
      for (const orderId of Shard.undelivered(district)) feed(orderId);
    }
    for (const array of [
      warehouse.stockQuantity,
      warehouse.stockYtd,
      warehouse.stockOrderCount,
      warehouse.stockRemoteCount,
    ])
      for (const value of array) feed(value);
    for (const row of warehouse.history) {
      feed(row.customerD);
      feed(row.customer);
      feed(row.w);
      feed(row.d);
      feed(row.amountCents);
      feed(row.dateMs);
    }
  }
  return `${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}:${length}`;
}
