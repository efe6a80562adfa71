import type { Prng } from "@amcast/core";
import { percent } from "@amcast/core";
import type { TpccLayout, TpccMix } from "./config.js";
import { lastName, lastNameCount } from "./shard.js";
import type { CustomerSelector, OrderLineRequest, TpccCommand, TxType } from "./transactions.js";

/**
 * TPC-C's non-uniform random number NURand(A, x, y): some customers and items are far more
 * popular than others. A is TPC-C's for the full-size tables (1023 for customers, 8191 for items,
 * 255 for last names), scaled to the table's size when it is smaller.
 */
function nurand(prng: Prng, a: number, x: number, y: number, c: number): number {
  return (((prng.intBetween(0, a) | prng.intBetween(x, y)) + c) % (y - x + 1)) + x;
}

/** The A of NURand for a range of `size` values: TPC-C's `standard`, or the power of two minus one below a third of it. */
function nurandA(standard: number, size: number): number {
  let a = 1;
  while (a * 2 <= Math.max(1, Math.floor(size / 3))) a *= 2;
  return Math.min(standard, a - 1);
}

/**
 * One TPC-C terminal: bound to a home warehouse, it draws transactions with the mix's shares,
 * NewOrder lines supplied by a remote warehouse and Payments for a remote customer at the mix's
 * rates (a remote warehouse is drawn uniformly from `remoteWarehouses`: every other warehouse,
 * or those of the nearest group, as the mix's `remoteChoice` says).
 */
export class TpccTerminal {
  private readonly thresholds: { readonly tx: TxType; readonly upTo: number }[];
  private readonly customerA: number;
  private readonly itemA: number;
  private readonly nameA: number;
  private readonly names: number;
  /** NURand's run-time constants (TPC-C draws them once per run). */
  private readonly customerC: number;
  private readonly itemC: number;
  private readonly nameC: number;

  constructor(
    readonly id: string,
    readonly warehouse: number,
    private readonly layout: TpccLayout,
    private readonly mix: TpccMix,
    /** The warehouses a remote line or customer may come from. */
    private readonly remoteWarehouses: readonly number[],
    private readonly prng: Prng,
  ) {
    let upTo = 0;
    this.thresholds = [];
    for (const [tx, share] of [
      ["new-order", mix.newOrder],
      ["payment", mix.payment],
      ["order-status", mix.orderStatus],
      ["delivery", mix.delivery],
      ["stock-level", mix.stockLevel],
    ] as const) {
      upTo += share;
      if (share > 0) this.thresholds.push({ tx, upTo });
    }
    const scale = layout.scale;
    this.customerA = nurandA(1023, scale.customersPerDistrict);
    this.itemA = nurandA(8191, scale.items);
    this.names = lastNameCount(scale);
    this.nameA = nurandA(255, this.names);
    // Fixed per terminal stream; TPC-C only asks that they be drawn, not shared.
    this.customerC = prng.intBetween(0, this.customerA);
    this.itemC = prng.intBetween(0, this.itemA);
    this.nameC = prng.intBetween(0, this.nameA);
  }

  /** The next transaction, dated `nowMs`. */
  next(nowMs: number): TpccCommand {
    const draw = this.prng.int(100);
    const tx =
      (this.thresholds.find((threshold) => draw < threshold.upTo) ?? this.thresholds[0])?.tx ?? "new-order";
    const scale = this.layout.scale;
    const w = this.warehouse;
    const d = this.prng.intBetween(1, scale.districtsPerWarehouse);
    switch (tx) {
      case "new-order": {
        const count = this.prng.intBetween(5, 15);
        const rollback = this.prng.chance(percent(this.mix.rollbackPercent));
        const lines: OrderLineRequest[] = Array.from({ length: count }, (_, index) => ({
          // TPC-C: a rolled-back NewOrder's last line names an unused item.
          item:
            rollback && index === count - 1
              ? scale.items + 1
              : nurand(this.prng, this.itemA, 1, scale.items, this.itemC),
          supply: this.remote(this.mix.remoteItemPercent) ?? w,
          quantity: this.prng.intBetween(1, 10),
        }));
        return { tx, w, d, c: this.customerId(), lines, entryMs: nowMs };
      }
      case "payment": {
        const remote = this.remote(this.mix.remoteCustomerPercent);
        return {
          tx,
          w,
          d,
          cw: remote ?? w,
          cd: remote === undefined ? d : this.prng.intBetween(1, scale.districtsPerWarehouse),
          customer: this.customer(),
          amountCents: this.prng.intBetween(100, 500_000),
          dateMs: nowMs,
        };
      }
      case "order-status":
        return { tx, w, d, customer: this.customer() };
      case "delivery":
        return { tx, w, carrier: this.prng.intBetween(1, 10), dateMs: nowMs };
      case "stock-level":
        return { tx, w, d, threshold: this.prng.intBetween(10, 20) };
    }
  }

  /** A remote warehouse with probability `chance` percent (if there is one), else undefined. */
  private remote(chance: number): number | undefined {
    if (this.remoteWarehouses.length === 0 || !this.prng.chance(percent(chance))) return undefined;
    return this.remoteWarehouses[this.prng.int(this.remoteWarehouses.length)];
  }

  private customerId(): number {
    return nurand(this.prng, this.customerA, 1, this.layout.scale.customersPerDistrict, this.customerC);
  }

  private customer(): CustomerSelector {
    if (this.prng.chance(percent(this.mix.byLastNamePercent)))
      return { last: lastName(nurand(this.prng, this.nameA, 0, this.names - 1, this.nameC)) };
    return { id: this.customerId() };
  }
}
