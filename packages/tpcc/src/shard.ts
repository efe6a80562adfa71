import type { GroupId } from "@amcast/core";
import { assert, Prng } from "@amcast/core";
import type { Application, Message } from "@amcast/smr";
import type { TpccLayout, TpccScale } from "./config.js";
import type { CustomerSelector, TpccCommand, TpccReply } from "./transactions.js";

export interface Customer {
  readonly id: number;
  readonly first: string;
  readonly last: string;
  /** "GC" (good credit) or "BC" (bad credit). */
  readonly credit: "GC" | "BC";
  readonly discountBp: number;
  balanceCents: number;
  ytdPaymentCents: number;
  paymentCount: number;
  deliveryCount: number;
}

export interface OrderLine {
  readonly item: number;
  readonly supply: number;
  readonly quantity: number;
  readonly amountCents: number;
  /** Null until the order is delivered. */
  deliveryMs: number | null;
}

export interface Order {
  readonly id: number;
  readonly customer: number;
  readonly entryMs: number;
  /** Null until delivered. */
  carrier: number | null;
  readonly lineCount: number;
  readonly allLocal: boolean;
  readonly lines: readonly OrderLine[];
}

/** A payment, kept by the customer's warehouse (`customer*`), naming the paid district (`w`, `d`). */
export interface HistoryRow {
  readonly customerW: number;
  readonly customerD: number;
  readonly customer: number;
  readonly w: number;
  readonly d: number;
  readonly amountCents: number;
  readonly dateMs: number;
}

export interface District {
  readonly id: number;
  readonly taxBp: number;
  ytdCents: number;
  nextOrderId: number;
  readonly customers: readonly Customer[];
  /** Customer ids by last name, ordered by first name (TPC-C selects the middle one). */
  readonly byLastName: ReadonlyMap<string, readonly number[]>;
  readonly orders: Map<number, Order>;
  /** Undelivered orders, oldest first, from `newOrdersHead` on. */
  readonly newOrders: number[];
  newOrdersHead: number;
  /** The last order of each customer, for OrderStatus. */
  readonly lastOrderOf: Map<number, number>;
}

export interface Warehouse {
  readonly id: number;
  readonly taxBp: number;
  ytdCents: number;
  readonly districts: readonly District[];
  /** Stock of every item (index item - 1). */
  readonly stockQuantity: Int32Array;
  readonly stockYtd: Int32Array;
  readonly stockOrderCount: Int32Array;
  readonly stockRemoteCount: Int32Array;
  /** Payments by customers of this warehouse. */
  readonly history: HistoryRow[];
}

/** TPC-C's last-name syllables: a name is three of them, by the digits of a number 0-999. */
const SYLLABLES = ["BAR", "OUGHT", "ABLE", "PRI", "PRES", "ESE", "ANTI", "CALLY", "ATION", "EING"];

export function lastName(number: number): string {
  return `${SYLLABLES[Math.floor(number / 100) % 10]}${SYLLABLES[Math.floor(number / 10) % 10]}${SYLLABLES[number % 10]}`;
}

/** How many distinct last names a district's customers use (TPC-C: 1,000 for 3,000 customers). */
export function lastNameCount(scale: TpccScale): number {
  return Math.max(1, Math.min(1000, Math.floor(scale.customersPerDistrict / 3)));
}

/** Item prices in cents (1.00-100.00), the same for every warehouse: the ITEM table is replicated. */
export function itemPrices(scale: TpccScale): Int32Array {
  const prng = new Prng(scale.populationSeed).derive("items");
  return Int32Array.from({ length: scale.items }, () => prng.intBetween(100, 10_000));
}

/** The initial database of one warehouse: the same at every replica (a seeded population). */
export function populateWarehouse(id: number, scale: TpccScale, now = 0): Warehouse {
  const prng = new Prng(scale.populationSeed).derive(`warehouse-${id}`);
  const initialOrders = scale.customersPerDistrict;
  // TPC-C: of 3,000 initial orders, 2,101-3,000 (30%) are undelivered.
  const firstUndelivered = Math.floor(initialOrders * 0.7) + 1;
  const names = lastNameCount(scale);
  const districts: District[] = [];
  for (let d = 1; d <= scale.districtsPerWarehouse; d += 1) {
    const customers: Customer[] = [];
    for (let c = 1; c <= scale.customersPerDistrict; c += 1)
      customers.push({
        id: c,
        first: `F${prng.intBetween(0, 999_999).toString(36)}`,
        last: lastName((c - 1) % names),
        credit: prng.int(10) === 0 ? "BC" : "GC",
        discountBp: prng.intBetween(0, 5000),
        // TPC-C: C_BALANCE -10.00, C_YTD_PAYMENT 10.00, one 10.00 HISTORY row per customer.
        balanceCents: -1000,
        ytdPaymentCents: 1000,
        paymentCount: 1,
        deliveryCount: 0,
      });
    const byLastName = new Map<string, number[]>();
    for (const customer of [...customers].sort((a, b) =>
      a.first < b.first ? -1 : a.first > b.first ? 1 : a.id - b.id,
    )) {
      const list = byLastName.get(customer.last);
      if (list === undefined) byLastName.set(customer.last, [customer.id]);
      else list.push(customer.id);
    }
    // Each customer places one initial order, in a random order.
    const owners = customers.map((customer) => customer.id);
    for (let index = owners.length - 1; index > 0; index -= 1) {
      const other = prng.int(index + 1);
      [owners[index], owners[other]] = [owners[other] as number, owners[index] as number];
    }
    const orders = new Map<number, Order>();
    const newOrders: number[] = [];
    const lastOrderOf = new Map<number, number>();
    for (let o = 1; o <= initialOrders; o += 1) {
      const delivered = o < firstUndelivered;
      const lineCount = prng.intBetween(5, 15);
      const lines: OrderLine[] = Array.from({ length: lineCount }, () => ({
        item: prng.intBetween(1, scale.items),
        supply: id,
        quantity: 5,
        // TPC-C: delivered initial lines have amount 0, so balances start consistent.
        amountCents: delivered ? 0 : prng.intBetween(1, 999_999),
        deliveryMs: delivered ? now : null,
      }));
      const customer = owners[o - 1] as number;
      orders.set(o, {
        id: o,
        customer,
        entryMs: now,
        carrier: delivered ? prng.intBetween(1, 10) : null,
        lineCount,
        allLocal: true,
        lines,
      });
      lastOrderOf.set(customer, o);
      if (!delivered) newOrders.push(o);
    }
    districts.push({
      id: d,
      taxBp: prng.intBetween(0, 2000),
      ytdCents: 1000 * scale.customersPerDistrict,
      nextOrderId: initialOrders + 1,
      customers,
      byLastName,
      orders,
      newOrders,
      newOrdersHead: 0,
      lastOrderOf,
    });
  }
  const history: HistoryRow[] = [];
  for (const district of districts)
    for (const customer of district.customers)
      history.push({
        customerW: id,
        customerD: district.id,
        customer: customer.id,
        w: id,
        d: district.id,
        amountCents: 1000,
        dateMs: now,
      });
  return {
    id,
    taxBp: prng.intBetween(0, 2000),
    ytdCents: districts.reduce((sum, district) => sum + district.ytdCents, 0),
    districts,
    stockQuantity: Int32Array.from({ length: scale.items }, () => prng.intBetween(10, 100)),
    stockYtd: new Int32Array(scale.items),
    stockOrderCount: new Int32Array(scale.items),
    stockRemoteCount: new Int32Array(scale.items),
    history,
  };
}

/** Orders StockLevel looks at: the district's last 20 (TPC-C). */
const STOCK_LEVEL_ORDERS = 20;

/**
 * The warehouses of one group, as one replica holds them: runs each delivered transaction's part
 * that falls on its warehouses, in delivery order, deterministically. Every group involved in a
 * transaction decides alone, from the same command, whether it rolls back (an unused item), so
 * all of them decide the same.
 */
export class TpccShard {
  readonly warehouses = new Map<number, Warehouse>();
  private readonly prices: Int32Array;

  constructor(
    readonly group: GroupId,
    layout: TpccLayout,
  ) {
    this.prices = itemPrices(layout.scale);
    for (const id of layout.warehousesOf(group)) this.warehouses.set(id, populateWarehouse(id, layout.scale));
  }

  /** The service's application for this replica. */
  readonly application: Application<TpccCommand, TpccReply> = (message: Message<TpccCommand>) =>
    this.execute(message.payload);

  execute(command: TpccCommand): TpccReply {
    switch (command.tx) {
      case "new-order":
        return this.newOrder(command);
      case "payment":
        return this.payment(command);
      case "order-status":
        return this.orderStatus(command);
      case "delivery":
        return this.delivery(command);
      case "stock-level":
        return this.stockLevel(command);
    }
  }

  private district(w: number, d: number): District {
    const warehouse = this.warehouses.get(w);
    assert(warehouse !== undefined, () => `${this.group} holds no warehouse ${w}`);
    const district = warehouse.districts[d - 1];
    assert(district !== undefined, () => `warehouse ${w} has no district ${d}`);
    return district;
  }

  private customer(district: District, selector: CustomerSelector): Customer | undefined {
    if ("id" in selector) return district.customers[selector.id - 1];
    const ids = district.byLastName.get(selector.last);
    if (ids === undefined || ids.length === 0) return undefined;
    // TPC-C: the customer at position ceil(n / 2) in first-name order.
    return district.customers[(ids[Math.ceil(ids.length / 2) - 1] as number) - 1];
  }

  private newOrder(command: Extract<TpccCommand, { tx: "new-order" }>): TpccReply {
    // An unused item rolls the whole transaction back, at every group alike.
    if (command.lines.some((line) => line.item < 1 || line.item > this.prices.length))
      return { committed: false, reason: "unused item" };
    const result: Record<string, unknown> = {};
    const home = this.warehouses.get(command.w);
    if (home !== undefined) {
      const district = this.district(command.w, command.d);
      const customer = district.customers[command.c - 1];
      assert(customer !== undefined, () => `no customer ${command.c}`);
      const orderId = district.nextOrderId;
      district.nextOrderId += 1;
      const lines: OrderLine[] = command.lines.map((line) => ({
        item: line.item,
        supply: line.supply,
        quantity: line.quantity,
        amountCents: line.quantity * (this.prices[line.item - 1] as number),
        deliveryMs: null,
      }));
      district.orders.set(orderId, {
        id: orderId,
        customer: command.c,
        entryMs: command.entryMs,
        carrier: null,
        lineCount: lines.length,
        allLocal: command.lines.every((line) => line.supply === command.w),
        lines,
      });
      district.newOrders.push(orderId);
      district.lastOrderOf.set(command.c, orderId);
      const gross = lines.reduce((sum, line) => sum + line.amountCents, 0);
      result.orderId = orderId;
      result.totalCents = Math.round(
        (gross * (10_000 - customer.discountBp) * (10_000 + home.taxBp + district.taxBp)) / 1e8,
      );
    }
    // Stock is updated where it is: at each supplying warehouse this group holds.
    const stock: number[] = [];
    for (const line of command.lines) {
      const supplier = this.warehouses.get(line.supply);
      if (supplier === undefined) continue;
      const index = line.item - 1;
      const quantity = supplier.stockQuantity[index] as number;
      supplier.stockQuantity[index] =
        quantity >= line.quantity + 10 ? quantity - line.quantity : quantity - line.quantity + 91;
      (supplier.stockYtd[index] as number) += line.quantity;
      (supplier.stockOrderCount[index] as number) += 1;
      if (line.supply !== command.w) (supplier.stockRemoteCount[index] as number) += 1;
      stock.push(supplier.stockQuantity[index] as number);
    }
    result.stock = stock;
    return { committed: true, result };
  }

  private payment(command: Extract<TpccCommand, { tx: "payment" }>): TpccReply {
    const result: Record<string, unknown> = {};
    const home = this.warehouses.get(command.w);
    if (home !== undefined) {
      home.ytdCents += command.amountCents;
      this.district(command.w, command.d).ytdCents += command.amountCents;
      result.warehouseYtdCents = home.ytdCents;
    }
    const customerWarehouse = this.warehouses.get(command.cw);
    if (customerWarehouse !== undefined) {
      const district = this.district(command.cw, command.cd);
      const customer = this.customer(district, command.customer);
      // The generator names existing customers only; both groups see the same command.
      assert(
        customer !== undefined,
        () => `payment for an unknown customer ${JSON.stringify(command.customer)}`,
      );
      customer.balanceCents -= command.amountCents;
      customer.ytdPaymentCents += command.amountCents;
      customer.paymentCount += 1;
      customerWarehouse.history.push({
        customerW: command.cw,
        customerD: command.cd,
        customer: customer.id,
        w: command.w,
        d: command.d,
        amountCents: command.amountCents,
        dateMs: command.dateMs,
      });
      result.customer = customer.id;
      result.balanceCents = customer.balanceCents;
    }
    return { committed: true, result };
  }

  private orderStatus(command: Extract<TpccCommand, { tx: "order-status" }>): TpccReply {
    const district = this.district(command.w, command.d);
    const customer = this.customer(district, command.customer);
    assert(
      customer !== undefined,
      () => `order status of an unknown customer ${JSON.stringify(command.customer)}`,
    );
    const last = district.lastOrderOf.get(customer.id);
    const order = last === undefined ? undefined : district.orders.get(last);
    return {
      committed: true,
      result: {
        customer: customer.id,
        balanceCents: customer.balanceCents,
        orderId: order?.id ?? null,
        carrier: order?.carrier ?? null,
        lines:
          order?.lines.map((line) => [
            line.item,
            line.supply,
            line.quantity,
            line.amountCents,
            line.deliveryMs,
          ]) ?? [],
      },
    };
  }

  private delivery(command: Extract<TpccCommand, { tx: "delivery" }>): TpccReply {
    const warehouse = this.warehouses.get(command.w);
    assert(warehouse !== undefined, () => `${this.group} holds no warehouse ${command.w}`);
    const delivered: (number | null)[] = [];
    for (const district of warehouse.districts) {
      // The oldest undelivered order of each district; none: that district is skipped.
      if (district.newOrdersHead >= district.newOrders.length) {
        delivered.push(null);
        continue;
      }
      const orderId = district.newOrders[district.newOrdersHead] as number;
      district.newOrdersHead += 1;
      if (district.newOrdersHead > 1024 && district.newOrdersHead * 2 > district.newOrders.length) {
        district.newOrders.splice(0, district.newOrdersHead);
        district.newOrdersHead = 0;
      }
      const order = district.orders.get(orderId) as Order;
      order.carrier = command.carrier;
      let amount = 0;
      for (const line of order.lines) {
        line.deliveryMs = command.dateMs;
        amount += line.amountCents;
      }
      const customer = district.customers[order.customer - 1] as Customer;
      customer.balanceCents += amount;
      customer.deliveryCount += 1;
      delivered.push(orderId);
    }
    return { committed: true, result: { delivered } };
  }

  private stockLevel(command: Extract<TpccCommand, { tx: "stock-level" }>): TpccReply {
    const warehouse = this.warehouses.get(command.w);
    assert(warehouse !== undefined, () => `${this.group} holds no warehouse ${command.w}`);
    const district = this.district(command.w, command.d);
    const low = new Set<number>();
    for (let id = Math.max(1, district.nextOrderId - STOCK_LEVEL_ORDERS); id < district.nextOrderId; id += 1)
      for (const line of district.orders.get(id)?.lines ?? [])
        if ((warehouse.stockQuantity[line.item - 1] as number) < command.threshold) low.add(line.item);
    return { committed: true, result: { lowStock: low.size } };
  }

  /** The undelivered orders of a district, oldest first. */
  static undelivered(district: District): readonly number[] {
    return district.newOrders.slice(district.newOrdersHead);
  }
}
