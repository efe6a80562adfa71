/** The properties the oracles check, in the order reports list them. */
export type Property =
  | "integrity"
  | "validity"
  | "agreement"
  | "prefix-order"
  | "acyclic-order"
  | "real-time-order";

export const PROPERTIES: readonly Property[] = [
  "integrity",
  "validity",
  "agreement",
  "prefix-order",
  "acyclic-order",
  "real-time-order",
];

export interface CheckOptions {
  /**
   * Whether the run ended on its own (default true). A run cut by a time limit (false) cannot be
   * asked to have delivered everything, so validity and uniform agreement are skipped.
   */
  readonly liveness?: boolean;
  /** Also check real-time order, for protocols that promise linearizable multicast (default false). */
  readonly realTime?: boolean;
  /** How many violations each property keeps (default 10); the report says when more were found. */
  readonly maxViolationsPerProperty?: number;
  /** The run's label in the report (default: the `run` field of the first event). */
  readonly run?: string;
}

export interface Violation {
  readonly property: Property;
  /** One or a few human-readable lines, starting with the property and including the witness. */
  readonly message: string;
  /** The same witness as data: processes, message ids, positions, cycle edges. */
  readonly witness: unknown;
}

export interface CheckCounts {
  /** Distinct multicast messages. */
  multicasts: number;
  /** Deliver events, Byzantine processes' included. */
  deliveries: number;
  /** Replicas: processes named by member or deliver events. */
  processes: number;
  /** Replicas with a crash or byzantine fault event. */
  faultyProcesses: number;
}

export interface CheckReport {
  readonly run: string | undefined;
  readonly violations: readonly Violation[];
  readonly checked: readonly Property[];
  /** True when the run had no member events and groups were read off the deliver events. */
  readonly membershipInferred: boolean;
  readonly counts: CheckCounts;
  /** Some property had more violations than `maxViolationsPerProperty`. */
  readonly truncated: boolean;
  /** The properties whose violations were cut at the cap. */
  readonly truncatedProperties: readonly Property[];
}
