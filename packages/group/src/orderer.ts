import type { ProcessId } from "@amcast/core";
import type { OrderedInput } from "./inputs.js";

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
  /** Ticks since the replica started: the orderer's clock. */
  now(): number;
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
  /** Decided entries kept behind the newest for replicas that lag (no snapshot transfer yet). */
  readonly retainedEntriesMax: number;
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
}
