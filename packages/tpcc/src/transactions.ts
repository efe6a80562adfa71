import type { GroupId } from "@amcast/core";
import type { TpccLayout } from "./config.js";

/** A customer named by id, or (TPC-C) by last name: the middle one of those, by first name. */
export type CustomerSelector = { readonly id: number } | { readonly last: string };

export interface OrderLineRequest {
  readonly item: number;
  /** The warehouse that supplies it: the home warehouse, or a remote one. */
  readonly supply: number;
  readonly quantity: number;
}

/**
 * A transaction as multicast: everything every involved group needs to run its part alone
 * (dates come from the client: replicas read no clock). Money is in cents, rates in basis points.
 */
export type TpccCommand =
  | {
      readonly tx: "new-order";
      readonly w: number;
      readonly d: number;
      readonly c: number;
      readonly lines: readonly OrderLineRequest[];
      readonly entryMs: number;
    }
  | {
      readonly tx: "payment";
      readonly w: number;
      readonly d: number;
      /** The customer's warehouse and district (another warehouse for a remote payment). */
      readonly cw: number;
      readonly cd: number;
      readonly customer: CustomerSelector;
      readonly amountCents: number;
      readonly dateMs: number;
    }
  | {
      readonly tx: "order-status";
      readonly w: number;
      readonly d: number;
      readonly customer: CustomerSelector;
    }
  | { readonly tx: "delivery"; readonly w: number; readonly carrier: number; readonly dateMs: number }
  | { readonly tx: "stock-level"; readonly w: number; readonly d: number; readonly threshold: number };

export type TxType = TpccCommand["tx"];

export const TX_TYPES: readonly TxType[] = [
  "new-order",
  "payment",
  "order-status",
  "delivery",
  "stock-level",
];

/** A group's answer: its part of the result, or that the transaction rolled back. */
export type TpccReply =
  | { readonly committed: true; readonly result: Readonly<Record<string, unknown>> }
  | { readonly committed: false; readonly reason: string };

/** The warehouses a transaction touches. */
export function warehousesOf(command: TpccCommand): number[] {
  switch (command.tx) {
    case "new-order":
      return [...new Set([command.w, ...command.lines.map((line) => line.supply)])];
    case "payment":
      return [...new Set([command.w, command.cw])];
    default:
      return [command.w];
  }
}

/** The groups a transaction is multicast to: those holding the warehouses it touches. */
export function destinationsOf(command: TpccCommand, layout: TpccLayout): GroupId[] {
  return [...new Set(warehousesOf(command).map((warehouse) => layout.groupOf(warehouse)))];
}

/** Whether the transaction touches a warehouse other than its home one. */
export function isRemote(command: TpccCommand): boolean {
  return warehousesOf(command).length > 1;
}
