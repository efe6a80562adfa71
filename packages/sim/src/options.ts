import type {
  ClientLogic,
  StopReason as CoreStopReason,
  DestinationSet,
  GroupId,
  MessageId,
  ObservedDelay,
  Prng,
  ProcessId,
  ProcessLogic,
  Ratio,
  Topology,
  TraceEvent,
  TraceSink,
} from "@amcast/core";

/** How links behave. Links are reliable and FIFO between correct processes whatever is set here. */
export interface NetworkOptions {
  /** Standard deviation of the normal jitter on each message, as a fraction of the link's delay. */
  readonly jitterSdFraction: number;
  /**
   * Extra reordering across links: with probability `chance` a message is held up to
   * `extraDelayMsMax` more. FIFO within a link is kept (later messages wait behind it, as on TCP),
   * so this reorders messages of different links relative to each other.
   */
  readonly reorder: { readonly chance: Ratio; readonly extraDelayMsMax: number } | null;
}

/** Service time of one input at a group process: `perMessageUs` plus `perByteNs` per byte. */
export interface ProcessingCost {
  readonly perMessageUs: number;
  readonly perByteNs: number;
}

/**
 * A process stops at `atMs`; messages reaching it while down are lost. It resumes at
 * `recoverAtMs`, if given. Either `proc` names it, or `leaderOf` names a group whose current leader
 * crashes (resolved when the fault strikes).
 *
 * `kind`: `durable` (the default) keeps the process's state, as a real process keeps what it wrote
 * to disk; `amnesia` loses it: the process comes back as its `SimProcess.restart` builds it (a
 * replica that kept only its hard state and must fetch the rest from its group); `journal` keeps
 * only what a journal of decided positions keeps: the process comes back as its
 * `SimProcess.restartFromJournal` builds it (as `durable` when it has none). On the network
 * runtime `journal` is `durable`: a real process always restarts from its journal.
 */
export type CrashFault = (
  | { readonly proc: ProcessId; readonly leaderOf?: undefined }
  | { readonly leaderOf: GroupId; readonly proc?: undefined }
) & {
  readonly atMs: number;
  readonly recoverAtMs?: number;
  readonly kind?: CrashKind;
};

export type CrashKind = "durable" | "amnesia" | "journal";
export const CRASH_KINDS: readonly CrashKind[] = ["durable", "amnesia", "journal"];

/**
 * Links between `side` and everyone else are cut from `atMs` to `healAtMs`. Links stay reliable:
 * what is sent across the cut is held and arrives (in FIFO order) after the partition heals.
 */
export interface PartitionFault {
  readonly side: readonly ProcessId[];
  readonly atMs: number;
  readonly healAtMs: number;
}

export interface FaultOptions {
  readonly crashes: readonly CrashFault[];
  readonly partitions: readonly PartitionFault[];
  /** Processes that are Byzantine for the whole run (their logic misbehaves; the trace says so). */
  readonly byzantine?: readonly ProcessId[];
}

/** A closed-loop client keeps `outstanding` multicasts in flight, waiting `thinkMs` after each. */
export interface ClosedLoop {
  readonly kind: "closed";
  readonly multicasts: number;
  readonly outstanding: number;
  readonly thinkMs: number;
}

/**
 * An open-loop client starts multicasts as a Poisson process at `ratePerSec`. At most
 * `outstandingMax` are in flight; an arrival beyond that is skipped and counted (an overloaded
 * system would otherwise grow an unbounded backlog).
 */
export interface OpenLoop {
  readonly kind: "open";
  readonly multicasts: number;
  readonly ratePerSec: number;
  readonly outstandingMax: number;
}

export interface SimProcess {
  readonly logic: ProcessLogic;
  readonly region: string;
  readonly group: GroupId;
  /**
   * The process after a crash that lost its memory (`amnesia`): built from what its disk kept.
   * Absent: the process cannot recover from amnesia (the simulator refuses such a fault).
   */
  readonly restart?: () => ProcessLogic;
  /**
   * The process after a crash of kind `journal`: rebuilt from what a journal of decided positions
   * keeps (its last checkpoint, the positions decided after it, its orderer's hard state).
   */
  readonly restartFromJournal?: () => ProcessLogic;
}

export interface SimClient {
  readonly logic: ClientLogic;
  readonly region: string;
  readonly loop: ClosedLoop | OpenLoop;
  readonly payloadBytes: number;
  readonly startMs: number;
  /** Draws the destinations of the client's next multicast from the client's own stream. */
  readonly destinations: (prng: Prng, nowMs: number) => DestinationSet;
  /** The payload of the next multicast, if the workload has one (most model only its size). */
  readonly payload?: () => unknown;
  /**
   * A background client (a controller) runs while the workload runs: the run does not wait for
   * its multicasts to be used up, only for the one in flight to complete.
   */
  readonly background?: boolean;
  /**
   * Sees each completed multicast with what its destination groups answered, and the delays the
   * answering replicas reported (a controller).
   */
  readonly onComplete?: (
    id: MessageId,
    results: Readonly<Record<GroupId, unknown>>,
    nowMs: number,
    delays: readonly ObservedDelay[],
  ) => void;
}

export interface SimOptions {
  readonly seed: number;
  readonly topology: Topology;
  readonly processes: readonly SimProcess[];
  readonly clients: readonly SimClient[];
  readonly network: NetworkOptions;
  readonly processing: ProcessingCost;
  readonly faults: FaultOptions;
  /** Period of `tick` for processes that want ticks. */
  readonly tickMs: number;
  /** Virtual time at which the run stops if it has not drained. */
  readonly timeLimitMs: number;
  /** Also emit a `send` event for every message put on a link. */
  readonly recordSends: boolean;
  /**
   * Receives every trace event, in order, as plain arguments: no event object is built (what a
   * consumer that only folds events, such as run metrics, wants).
   */
  readonly sink?: TraceSink;
  /** Receives every trace event, in order, as an object (after `sink`, when both are given). */
  readonly onEvent?: (event: TraceEvent) => void;
  /** The current leader of a group, for `leaderOf` crashes (asked when the crash strikes). */
  readonly leaderOf?: (group: GroupId) => ProcessId | undefined;
}

export const DEFAULT_NETWORK: NetworkOptions = { jitterSdFraction: 0.05, reorder: null };
export const DEFAULT_PROCESSING: ProcessingCost = { perMessageUs: 0, perByteNs: 0 };
export const NO_FAULTS: FaultOptions = { crashes: [], partitions: [] };

/**
 * Why a run ended (docs/trace.md, the `stop` event). The simulator ends drained, stalled or at
 * its time limit; only a run on real processes can also be interrupted from outside.
 */
export type StopReason = CoreStopReason;

export interface SimResult {
  readonly seed: number;
  readonly endMs: number;
  readonly stoppedBy: StopReason;
  /** Messages taken from a link and handed to a process: the simulator's unit of work. */
  readonly messageEvents: number;
  /** Every event popped from the queue (messages, services, ticks, client wake-ups, faults). */
  readonly queueEvents: number;
  readonly protocolMessages: number;
  readonly protocolBytes: number;
  readonly clientMessages: number;
  readonly clientBytes: number;
  readonly sendsByLabel: ReadonlyMap<string, number>;
  /** Messages that reached a crashed process and were lost. */
  readonly lostToCrashes: number;
  readonly multicasts: number;
  readonly completed: number;
  readonly deliveries: number;
  /** Open-loop arrivals skipped because the client had `outstandingMax` in flight. */
  readonly arrivalsSkipped: number;
}
