import type { TraceRuntime } from "@amcast/core";

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

/**
 * What to check. By default a run is judged by its `stop` event (docs/trace.md): the properties
 * it lists under `owes` must hold, those under `counts` are checked and counted only; a trace
 * without one owes every property but real-time order. The options override the trace.
 */
export interface CheckOptions {
  /**
   * Whether validity and uniform agreement are owed. False skips them (a run cut short cannot be
   * asked to have delivered everything); true asks for them whatever the trace says.
   */
  readonly liveness?: boolean;
  /** Whether real-time order is owed (linearizable multicast); true asks for it whatever the trace says. */
  readonly realTime?: boolean;
  /** How many violations each property keeps (default 1000); the report says when more were found. */
  readonly maxViolationsPerProperty?: number;
  /** The run's label in the report (default: the `run` field of the first event). */
  readonly run?: string;
}

/** How a run ended, from its `stop` event. */
export interface RunStop {
  readonly reason: string;
  readonly t: number;
  /** The run stopped at its time limit, and the experiment declared that as its planned end. */
  readonly expected: boolean;
  /** Which runtime wrote the run (the stop event's `runtime`; absent there means the simulator). */
  readonly runtime: TraceRuntime;
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
  /** Every violation found (of owed and of counted properties), up to the cap per property. */
  readonly violations: readonly Violation[];
  /** Every property checked: the owed ones and those only counted. */
  readonly checked: readonly Property[];
  /** The properties whose violation fails the run. */
  readonly owed: readonly Property[];
  /** How the run ended (its `stop` event); null when the trace does not say. */
  readonly stop: RunStop | null;
  /**
   * The run passed: no owed property is violated, and a run that owes delivery (validity) ended
   * drained — a run that stopped at a time limit it did not declare, stalled or was interrupted
   * did not finish, and is no pass.
   */
  readonly passed: boolean;
  /** True when the run had no member events and groups were read off the deliver events. */
  readonly membershipInferred: boolean;
  readonly counts: CheckCounts;
  /** Some property had more violations than `maxViolationsPerProperty`. */
  readonly truncated: boolean;
  /** The properties whose violations were cut at the cap. */
  readonly truncatedProperties: readonly Property[];
}
