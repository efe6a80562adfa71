import type { ProcessId } from "@amcast/core";
import type { CopyInput, OrderedInput } from "./inputs.js";

/**
 * The part of a replica that agrees on the order of inputs inside one group. Every mode offers
 * the same contract: inputs a replica receives directly are `submit`ted; consensus messages from
 * the group's other replicas are `receive`d; ticks drive timeouts; decided batches come out
 * through `OrdererHost.decide`, in the same order at every correct replica, each input at most
 * once per batch (the replica drops repeats across batches).
 */
export interface Orderer {
  submit(input: OrderedInput): void;
  receive(from: ProcessId, message: unknown): void;
  tick(): void;
  /** Nothing received is waiting to be ordered, nothing proposed is waiting to be decided. */
  idle(): boolean;
  /** The replica this one believes leads, if any. */
  leader(): ProcessId | undefined;
  /**
   * Drops retained entries up to `position` (a checkpoint covers them; lagging replicas fetch
   * that checkpoint instead).
   */
  compact(position: number): void;
  /**
   * Continues after a checkpoint installed from the group, covering everything up to `position`
   * (`mark`: what `OrdererHost.executed` reported there). Ignored unless it is ahead.
   */
  install(position: number, mark: number | string): void;
  /**
   * A position the replica's journal kept, executed again after a restart (its batch already
   * decided through `OrdererHost.decide`): the orderer continues after it, keeping it where it
   * can (Raft: as the log entry there, for followers that lack it). Absent: `install`.
   */
  restoreDecided?(position: number, mark: number | string, batch: readonly OrderedInput[]): void;
  /**
   * What the disk keeps across a crash that loses memory (see snapshot.ts, HardState).
   * `withLog`: with the orderer's log past its last executed position, for a journal of decided
   * positions (the positions up to there are in it); that part is what amnesia loses
   * (`amnesiaHardState`).
   *
   * Its shape lets a journal write only what changed (the network runtime's journal does, every
   * turn): a plain object, nested in plain objects at any depth, whose arrays are collections of
   * records never changed in place (a record that changes is a new object: needed for a correct
   * journal) and kept as the same object while unchanged (keeps what it writes small; an equal
   * copy is written again). Everything else is small and written whole when it
   * changes. Put what grows with the load into such arrays (Raft: the log entries; PBFT: the
   * prepared certificates); a new field of either kind needs nothing from the journal.
   */
  hardState(withLog?: boolean): unknown;
  /**
   * The replica was rebuilt from its disk, its journal replayed (whose sends did not go out
   * again): learn where the group stands, which an idle group would not say unasked. Absent when
   * the orderer hears it anyway (Raft: the leader's heartbeats).
   */
  restarted?(): void;
}

/**
 * What of a hard state survives an amnesia crash: all but the orderer's log (the `log` of a
 * hard state that holds one, `Orderer.hardState(true)`), which is lost with the journal.
 */
export function amnesiaHardState(hardState: unknown): unknown {
  if (typeof hardState !== "object" || hardState === null || !("log" in hardState)) return hardState;
  const { log: _lost, ...kept } = hardState as { log: unknown };
  return kept;
}

/** What an orderer may do: talk to the group's other replicas and hand out decided batches. */
export interface OrdererHost {
  readonly self: ProcessId;
  /** The group's replicas, self included, in membership order. */
  readonly replicas: readonly ProcessId[];
  send(to: ProcessId, message: unknown, bytes: number, label: string): void;
  decide(batch: readonly OrderedInput[]): void;
  /**
   * Whether an input still needs ordering: false once it was executed, or for a stream copy of an
   * item already taken. Pools drop what is no longer useful instead of ordering it for nothing.
   */
  useful(input: OrderedInput): boolean;
  /**
   * Ordered copies identical to `copy` that its group still needs to take its item: the stream
   * quorum minus those already ordered. A leader proposes no more than that many (PbftOrderer).
   * Absent: every copy is proposed.
   */
  copiesNeeded?(copy: CopyInput): number;
  /** Ticks since the replica started: the orderer's clock. */
  now(): number;
  /**
   * Whether the replica checkpoints (its protocol and application can snapshot): retained
   * entries then go at checkpoints (`compact`), a replica behind them fetches a checkpoint, and
   * `retainedEntriesMax` does not apply.
   */
  readonly checkpoints: boolean;
  /** The entry at `position` was executed; `mark` is the orderer's note there (Raft: term; PBFT: chain). */
  executed(position: number, mark: number | string): void;
  /** The replica's latest checkpoint, to offer a follower behind the retained log (Raft's leader). */
  latestCheckpoint(): { readonly position: number; readonly root: string } | undefined;
  /**
   * This replica is behind what its group retains: fetch a checkpoint above `abovePosition`, the
   * one `trusted` names (crash mode: the leader's), or one f+1 replicas vouch for.
   */
  fetchState(
    abovePosition: number,
    trusted: { readonly position: number; readonly root: string } | undefined,
  ): void;
}

/** Limits and timeouts shared by the replicated orderers. */
export interface OrderingOptions {
  /** Inputs and bytes per proposed batch. */
  readonly batchInputsMax: number;
  readonly batchBytesMax: number;
  /** Batches proposed and not yet decided at once. */
  readonly pipelineMax: number;
  /** Pending inputs a replica keeps (see InputPool). */
  readonly poolInputsMax: number;
  /** Entries per replication message (catch-up comes in chunks). */
  readonly entriesPerMessageMax: number;
  /** Leader heartbeat period, and the base of crash mode's election timeout, in ticks. */
  readonly heartbeatTicks: number;
  readonly electionTimeoutTicks: number;
  /**
   * An input waiting this long is forwarded to the leader; twice this long, the leader is
   * suspected. In Byzantine mode also the base of the view-change timer. Byzantine mode scales
   * all three with how slow the network proved (see PbftOrderer, B3b).
   */
  readonly requestTimeoutTicks: number;
  /**
   * Decided entries kept behind the newest for replicas that lag, when the replica cannot
   * checkpoint (its protocol has no snapshot): such a lagging replica cannot catch up further.
   */
  readonly retainedEntriesMax: number;
  /**
   * A replica that can snapshot checkpoints every this many log positions (the same positions at
   * every replica, so their roots are comparable) and keeps the entries since its previous
   * checkpoint: at least this many, at most twice as many.
   */
  readonly checkpointEntries: number;
}

export const DEFAULT_ORDERING: OrderingOptions = {
  batchInputsMax: 64,
  batchBytesMax: 256 * 1024,
  pipelineMax: 4,
  poolInputsMax: 100_000,
  entriesPerMessageMax: 32,
  heartbeatTicks: 5,
  electionTimeoutTicks: 30,
  requestTimeoutTicks: 100,
  retainedEntriesMax: 200_000,
  checkpointEntries: 1024,
};

/**
 * `solo`: one replica, nothing to agree on. Each input is decided the moment it arrives, alone,
 * in arrival order — today's behaviour of a group that is a single process.
 */
export class SoloOrderer implements Orderer {
  constructor(private readonly host: OrdererHost) {}

  submit(input: OrderedInput): void {
    this.host.decide([input]);
  }

  receive(): void {}

  tick(): void {}

  idle(): boolean {
    return true;
  }

  leader(): ProcessId {
    return this.host.self;
  }

  compact(): void {}

  install(): void {}

  hardState(): undefined {
    return undefined;
  }
}

/**
 * The leader the most replicas name (the first so named, in order, on a tie), or undefined when
 * none names one: who "the leader of a group" is when replicas may disagree during an election —
 * the target of a fault plan's `leaderOf`, on the simulator and on the network runtime alike.
 */
export function mostNamedLeader(named: Iterable<ProcessId | undefined>): ProcessId | undefined {
  const votes = new Map<ProcessId, number>();
  for (const leader of named) if (leader !== undefined) votes.set(leader, (votes.get(leader) ?? 0) + 1);
  let best: ProcessId | undefined;
  for (const [leader, count] of votes)
    if (best === undefined || count > (votes.get(best) ?? 0)) best = leader;
  return best;
}
