import type { GroupId, JsonFields } from "@amcast/core";
import { assert, describeValue, InputError } from "@amcast/core";

/**
 * The size of the database. TPC-C fixes 10 districts per warehouse, 3,000 customers per district
 * (and as many initial orders, the last 900 of them undelivered) and 100,000 items; a simulation
 * of twelve regions with replicated groups keeps every row of every replica in memory, so the
 * defaults are scaled down (the ratios are kept: 30% of the initial orders undelivered).
 */
export interface TpccScale {
  readonly warehousesPerGroup: number;
  readonly districtsPerWarehouse: number;
  readonly customersPerDistrict: number;
  readonly items: number;
  /** Seed of the initial population (the same at every replica of a warehouse's group). */
  readonly populationSeed: number;
}

export const STANDARD_DISTRICTS = 10;

export const DEFAULT_SCALE: TpccScale = {
  warehousesPerGroup: 1,
  districtsPerWarehouse: STANDARD_DISTRICTS,
  customersPerDistrict: 60,
  items: 2000,
  populationSeed: 1,
};

/** The transaction mix and the remote rates, in percent (TPC-C's by default). */
export interface TpccMix {
  readonly newOrder: number;
  readonly payment: number;
  readonly orderStatus: number;
  readonly delivery: number;
  readonly stockLevel: number;
  /** Each NewOrder line is supplied by another warehouse with this probability (TPC-C: 1). */
  readonly remoteItemPercent: number;
  /** A Payment is for a customer of another warehouse with this probability (TPC-C: 15). */
  readonly remoteCustomerPercent: number;
  /** NewOrders that name an unused item and roll back (TPC-C: 1). */
  readonly rollbackPercent: number;
  /** Payments and OrderStatus that select the customer by last name (TPC-C: 60). */
  readonly byLastNamePercent: number;
  /**
   * How a remote warehouse is chosen: `uniform` over the other warehouses (TPC-C), or `nearest`
   * (the warehouses of the group nearest the home warehouse's, as gTPC-C's geographic locality).
   */
  readonly remoteChoice: "uniform" | "nearest";
}

export const STANDARD_MIX: TpccMix = {
  newOrder: 45,
  payment: 43,
  orderStatus: 4,
  delivery: 4,
  stockLevel: 4,
  remoteItemPercent: 1,
  remoteCustomerPercent: 15,
  rollbackPercent: 1,
  byLastNamePercent: 60,
  remoteChoice: "uniform",
};

/** Where warehouses live: warehouse ids 1..W, `warehousesPerGroup` consecutive ones per group. */
export class TpccLayout {
  readonly warehouses: number;

  constructor(
    /** The groups holding warehouses, in order. */
    readonly groups: readonly GroupId[],
    readonly scale: TpccScale,
  ) {
    assert(groups.length > 0, "gTPC-C needs a group");
    this.warehouses = groups.length * scale.warehousesPerGroup;
  }

  groupOf(warehouse: number): GroupId {
    assert(warehouse >= 1 && warehouse <= this.warehouses, () => `no warehouse ${warehouse}`);
    return this.groups[Math.floor((warehouse - 1) / this.scale.warehousesPerGroup)] as GroupId;
  }

  /** The warehouses a group holds (none for a group that holds no data, e.g. ByzCast's auxiliaries). */
  warehousesOf(group: GroupId): number[] {
    const index = this.groups.indexOf(group);
    if (index < 0) return [];
    const first = index * this.scale.warehousesPerGroup + 1;
    return Array.from({ length: this.scale.warehousesPerGroup }, (_, offset) => first + offset);
  }
}

/** Reads a `scale` object (fields optional); errors name the file and field. */
export function readScale(doc: JsonFields | undefined): TpccScale {
  if (doc === undefined) return DEFAULT_SCALE;
  const scale: TpccScale = {
    warehousesPerGroup: doc.number(
      "warehousesPerGroup",
      { integer: true, min: 1, max: 100 },
      DEFAULT_SCALE.warehousesPerGroup,
    ),
    districtsPerWarehouse: doc.number(
      "districtsPerWarehouse",
      { integer: true, min: 1, max: 100 },
      DEFAULT_SCALE.districtsPerWarehouse,
    ),
    customersPerDistrict: doc.number(
      "customersPerDistrict",
      { integer: true, min: 3, max: 3000 },
      DEFAULT_SCALE.customersPerDistrict,
    ),
    items: doc.number("items", { integer: true, min: 15, max: 100_000 }, DEFAULT_SCALE.items),
    populationSeed: doc.number("populationSeed", { integer: true, min: 0 }, DEFAULT_SCALE.populationSeed),
  };
  doc.done();
  return scale;
}

/** Reads a `mix` object (fields optional, TPC-C's values by default); the five shares sum to 100. */
export function readMix(doc: JsonFields | undefined): TpccMix {
  if (doc === undefined) return STANDARD_MIX;
  const share = (name: keyof TpccMix): number =>
    doc.number(name, { integer: true, min: 0, max: 100 }, STANDARD_MIX[name] as number);
  const mix: TpccMix = {
    newOrder: share("newOrder"),
    payment: share("payment"),
    orderStatus: share("orderStatus"),
    delivery: share("delivery"),
    stockLevel: share("stockLevel"),
    remoteItemPercent: share("remoteItemPercent"),
    remoteCustomerPercent: share("remoteCustomerPercent"),
    rollbackPercent: share("rollbackPercent"),
    byLastNamePercent: share("byLastNamePercent"),
    remoteChoice: doc.choice("remoteChoice", ["uniform", "nearest"] as const, STANDARD_MIX.remoteChoice),
  };
  doc.done();
  const total = mix.newOrder + mix.payment + mix.orderStatus + mix.delivery + mix.stockLevel;
  if (total !== 100)
    throw new InputError(
      doc.source,
      doc.path,
      `the five transaction shares sum to ${describeValue(total)}, not 100`,
    );
  return mix;
}
