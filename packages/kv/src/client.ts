import type { KvOutput } from "@amcast/check";
import type { TraceId } from "@amcast/core";
import type { Client } from "@amcast/smr";
import { KvError } from "./errors.js";
import type { HistoryRecorder } from "./history.js";
import type { KvCommand, KvLimits, KvReply } from "./operations.js";
import { DEFAULT_KV_LIMITS, mergeReplies, planOperation } from "./operations.js";
import type { PartitioningSpec } from "./partitioning.js";
import { Partitioning } from "./partitioning.js";

export interface KvClientOptions {
  /** Which shard holds which key: the same partitioning the replicas were given. */
  readonly partitioning: Partitioning | PartitioningSpec;
  /** What the client refuses to send (defaults: `DEFAULT_KV_LIMITS`). */
  readonly limits?: Partial<KvLimits>;
  /** Records every operation's call and return. */
  readonly history?: HistoryRecorder;
  /**
   * The clock the history is timed with, in ms; default: the service client's (`nowMs`), the
   * clock of its trace (virtual time on the simulator, the client host's on the network).
   */
  readonly clock?: () => number;
}

/**
 * A client of the key-value service, over any amcast service client (`createSimCluster`'s or
 * `connectClient`'s). Each operation is one atomic multicast to the shards it touches, so
 * multi-key writes are atomic and multi-key reads see one consistent state of every shard they
 * read (and, with the linearizable variant of the protocol, a state no older than any write that
 * completed before the read began). Operations the client refuses reject with a `KvError`
 * before anything is sent; a cluster that does not answer rejects with code `unavailable`.
 */
export class KvClient {
  readonly partitioning: Partitioning;
  private readonly limits: KvLimits;
  private readonly history: HistoryRecorder | undefined;
  private readonly clock: () => number;

  constructor(
    private readonly service: Client<KvCommand, KvReply>,
    options: KvClientOptions,
  ) {
    this.partitioning =
      options.partitioning instanceof Partitioning
        ? options.partitioning
        : Partitioning.fromSpec(options.partitioning, "KvClient partitioning");
    this.limits = { ...DEFAULT_KV_LIMITS, ...options.limits };
    this.history = options.history;
    this.clock = options.clock ?? (() => service.nowMs());
  }

  /** The value of `key`, or null if it has none. */
  async get(key: string): Promise<string | null> {
    return (await this.execute({ f: "get", key })) as string | null;
  }

  async put(key: string, value: string): Promise<void> {
    await this.execute({ f: "put", key, value });
  }

  /** Removes `key`; true if it had a value. */
  async delete(key: string): Promise<boolean> {
    return (await this.execute({ f: "delete", key })) as boolean;
  }

  /** Sets `key` to `value` if it holds `expected` (null: if it has no value); true if it did. */
  async compareAndSet(key: string, expected: string | null, value: string): Promise<boolean> {
    return (await this.execute({ f: "cas", key, expected, value })) as boolean;
  }

  /** Writes every entry atomically, across shards. */
  async multiPut(
    entries: Readonly<Record<string, string>> | Iterable<readonly [string, string]>,
  ): Promise<void> {
    const record =
      Symbol.iterator in entries ? Object.fromEntries(entries as Iterable<[string, string]>) : entries;
    await this.execute({ f: "multi-put", entries: record as Readonly<Record<string, string>> });
  }

  /** The values of `keys` (null for none), read atomically across shards. */
  async multiGet(keys: readonly string[]): Promise<Map<string, string | null>> {
    const found = (await this.execute({ f: "multi-get", keys: [...keys] })) as Record<string, string | null>;
    return new Map(keys.map((key) => [key, found[key] ?? null]));
  }

  /** Every key in [from, to) (`to` null: to the end) with its value, in key order, read atomically. */
  async range(from: string, to: string | null): Promise<[string, string][]> {
    const found = (await this.execute({ f: "range", from, to })) as Record<string, string>;
    return Object.keys(found)
      .sort()
      .map((key) => [key, found[key] as string]);
  }

  /** Runs any operation (the vocabulary of key-value histories) and returns its raw result. */
  async execute(command: KvCommand): Promise<KvOutput> {
    const shards = planOperation(command, this.partitioning, this.limits);
    const client: TraceId = this.service.id;
    const op = this.history?.invoke(client, command, this.clock());
    let replies: Awaited<ReturnType<Client<KvCommand, KvReply>["multicast"]>>;
    try {
      replies = await this.service.multicast(shards, command);
    } catch (error) {
      const message = (error as Error).message;
      if (op !== undefined) this.history?.ended(op, client, "unknown", message, this.clock());
      throw new KvError("unavailable", message);
    }
    let result: KvOutput;
    try {
      result = mergeReplies(command, replies);
    } catch (error) {
      // A shard refused: its part did not run, another shard's may have.
      if (op !== undefined)
        this.history?.ended(op, client, "unknown", (error as Error).message, this.clock());
      throw error;
    }
    if (op !== undefined) this.history?.ok(op, client, result, this.clock());
    return result;
  }
}
