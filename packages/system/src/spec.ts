import type { LocalitySpec, Overlay, ProcessId, ProtocolDefinition, Topology } from "@amcast/core";
import type { ByzantineStrategy, ReplicationMode } from "@amcast/group";
import { SOLVER_CHOICES } from "@amcast/optimizer";
import type { FaultOptions, NetworkOptions, ProcessingCost } from "@amcast/sim";

/**
 * What one run is, whichever runtime runs it: the protocol on its overlay and topology, how the
 * groups are replicated, the workload, the faults, the network behaviour, how long it may take
 * and what it must satisfy. The simulator runner and the network runtime both take it; the
 * network runtime carries it whole to every node in the deployment file (`systemToJson` /
 * `systemFromJson`, one schema), so no field is lost on the way.
 */
export interface SystemSpec {
  /** The run's label: `protocol/mode/workload[/plan][/seed-N]`. */
  readonly label: string;
  readonly seed: number;
  readonly topology: Topology;
  readonly protocol: ProtocolDefinition<unknown>;
  readonly overlay: Overlay | null;
  /**
   * The protocol's parameters, as the experiment's protocol entry gives them (JSON, checked when
   * the experiment was loaded); absent: none. Parsed by the protocol where the system is built.
   */
  readonly params?: unknown;
  readonly mode: ReplicationMode;
  /** Faults tolerated per group (replicas = replicaCount(mode, f)). */
  readonly f: number;
  readonly workload: WorkloadSpec;
  /** Replicas that run a Byzantine strategy instead of the protocol (Byzantine mode only). */
  readonly byzantine: readonly ByzantineFault[];
  /** Wrap the protocol in the ACK barrier (real-time order); absent: no. */
  readonly linearizable?: boolean;
  /** Reconfigure the overlay on the fly (needs an overlay protocol); absent: never. */
  readonly reconfig?: ReconfigSpec;
  /** Name of the fault plan the run follows ("" when there is one plan). */
  readonly faultPlan: string;
  readonly network: NetworkOptions;
  /** Service time of an input at a group process (the simulator's model; real processes pay what they pay). */
  readonly processing: ProcessingCost;
  readonly faults: FaultOptions;
  readonly timeLimitMs: number;
  /**
   * The run is expected to end at its time limit (e.g. an open-loop saturation sweep): then it
   * does not owe delivery of what was still in flight. Otherwise stopping at the limit fails it.
   */
  readonly endsAtTimeLimit?: boolean;
  /** Period of the ticks of replicas and clients that want them (crash and Byzantine modes). */
  readonly tickMs: number;
  /** Also check real-time order in a plain run, counting how often it breaks (never a failure). */
  readonly realTime: boolean;
}

/** The workload's locality from `atMs` on (a workload that shifts mid-run). */
export interface WorkloadShift {
  readonly atMs: number;
  readonly locality: LocalitySpec;
}

export interface WorkloadSpec {
  readonly name: string;
  /** Clients colocated with each target group (home = that group); null: the topology's clients. */
  readonly clientsPerGroup: number | null;
  readonly loop: "closed" | "open";
  readonly multicastsPerClient: number;
  /** Closed loop: multicasts each client keeps in flight. */
  readonly outstanding: number;
  readonly thinkMs: number;
  /** Open loop: Poisson arrivals per client per second, and the in-flight cap. */
  readonly ratePerSec: number;
  readonly outstandingMax: number;
  readonly payloadBytes: number;
  /** Groups the workload addresses (clients' homes and destinations); null: every target group. */
  readonly groups: readonly string[] | null;
  readonly locality: LocalitySpec;
  /** Clients start at a uniform random time in [0, startSpreadMs), so they do not move in lockstep. */
  readonly startSpreadMs: number;
  /** A change of locality mid-run; absent: none. */
  readonly shift?: WorkloadShift;
}

/** A replica that is Byzantine for the whole run, and how it misbehaves. */
export interface ByzantineFault {
  readonly proc: ProcessId;
  readonly strategy: ByzantineStrategy;
}

/** The optimiser a reconfiguring run uses (see @amcast/optimizer). */
export const RECONFIG_SOLVERS = SOLVER_CHOICES;
export const RECONFIG_POLICIES = ["optimise", "random"] as const;

/**
 * How a run reconfigures its overlay on the fly (the experiment's `reconfig` block).
 *
 * - `optimise`: the controller collects destination-set statistics every `statsEveryMs` (a STATS
 *   multicast to every target group, ordered like any message), keeps the last
 *   `windowCollections` collections, runs the optimiser on them and installs its overlay (a VIEW
 *   multicast) when the predicted gain beats `minGainFraction`.
 * - `random`: every `statsEveryMs` the controller installs a random overlay over the same groups
 *   (swarm tests: reconfigurations at arbitrary moments, back to back when the period is 0).
 */
export interface ReconfigSpec {
  readonly policy: (typeof RECONFIG_POLICIES)[number];
  readonly statsEveryMs: number;
  readonly windowCollections: number;
  readonly minGainFraction: number;
  readonly solver: (typeof RECONFIG_SOLVERS)[number];
  /** Handed to the LP solver; beyond it the optimiser keeps the current overlay. */
  readonly solverTimeLimitMs: number;
  /** Trees: the most multicasts (share of the window, 0..1) one group may order; null: no limit. */
  readonly loadLimitFraction: number | null;
  /** Reconfigurations at most (a bound on the controller's work and on the views groups keep). */
  readonly viewsMax: number;
  /** Control multicasts at most (STATS and VIEW). */
  readonly controlMulticastsMax: number;
  /**
   * The optimiser uses the group-to-group delays the replicas measured (reported with STATS) where
   * there are some, and the topology's matrix elsewhere; false: the matrix only.
   */
  readonly measuredDelays: boolean;
  /**
   * The experiment fails unless every reconfiguring run installs a view and measures at least
   * this gain (%) after the first one; null: no expectation.
   */
  readonly firstGainPercentMin: number | null;
}

export const DEFAULT_RECONFIG: ReconfigSpec = {
  policy: "optimise",
  statsEveryMs: 2000,
  windowCollections: 3,
  minGainFraction: 0.05,
  solver: "ilp",
  solverTimeLimitMs: 30_000,
  loadLimitFraction: null,
  viewsMax: 20,
  controlMulticastsMax: 10_000,
  measuredDelays: true,
  firstGainPercentMin: null,
};

/** The client id of the reconfiguration controller: control payloads only count from it. */
export const CONTROLLER_ID = "ctl";
