import type { KvOutput } from "@amcast/check";
import { kvModel } from "@amcast/check";
import type { GroupId } from "@amcast/core";
import { describeValue, InputError, lowerBound } from "@amcast/core";
import type { Application, Message, StatefulApplication } from "@amcast/smr";
import type { KvCommand, KvReply } from "./operations.js";
import type { Partitioning } from "./partitioning.js";

/**
 * One replica's shard of the store: the keys `partitioning` gives its group. It applies the part
 * of each delivered command that falls in its shard, in delivery order, and answers with that
 * part of the result. Deterministic: every replica of the group holds the same data.
 */
export class KvShard {
  private readonly values = new Map<string, string>();
  /** The keys in order, for range reads. */
  private readonly sorted: string[] = [];

  constructor(
    readonly group: GroupId,
    private readonly partitioning: Partitioning,
  ) {}

  /** The service's application for this replica (give it to createSimCluster or startReplica). */
  readonly application: Application<KvCommand, KvReply> = (message: Message<KvCommand>) =>
    this.execute(message.payload);

  /**
   * The same application with its state explicit (one partition: every key and value, in key
   * order), so a group's checkpoints carry the shard and a replica that restarts with its memory
   * lost gets it back from its group (give it to createSimCluster or startReplica instead).
   */
  readonly stateful: StatefulApplication<KvCommand, KvReply> = {
    apply: (message) => this.execute(message.payload),
    snapshot: () => this.entries(),
    restore: (_partition, state) => {
      this.values.clear();
      this.sorted.length = 0;
      for (const [key, value] of state as [string, string][]) {
        this.values.set(key, value);
        this.sorted.push(key);
      }
    },
  };

  /** Applies one command; a malformed one, or one for keys of another shard, is refused. */
  execute(payload: unknown): KvReply {
    let command: KvCommand;
    try {
      if (typeof payload !== "object" || payload === null)
        throw new InputError("command", "", `expected an operation, got ${describeValue(payload)}`);
      command = kvModel.readInput((payload as { f?: unknown }).f as string, payload, "command");
    } catch (error) {
      return { error: (error as Error).message };
    }
    return this.apply(command);
  }

  /** Every key and value of the shard, in key order. */
  entries(): [string, string][] {
    return this.sorted.map((key) => [key, this.values.get(key) as string]);
  }

  get size(): number {
    return this.values.size;
  }

  private apply(command: KvCommand): KvReply {
    switch (command.f) {
      case "get":
      case "put":
      case "delete":
      case "cas":
        if (!this.partitioning.holds(this.group, command.key))
          return { error: `key ${describeValue(command.key)} is not in shard ${this.group}` };
        return { ok: this.applySingle(command) };
      case "multi-put":
        for (const [key, value] of Object.entries(command.entries))
          if (this.partitioning.holds(this.group, key)) this.set(key, value);
        return { ok: null };
      case "multi-get": {
        const found: [string, string | null][] = [];
        for (const key of command.keys)
          if (this.partitioning.holds(this.group, key)) found.push([key, this.values.get(key) ?? null]);
        return { ok: Object.fromEntries(found) };
      }
      case "range": {
        const found: [string, string][] = [];
        for (let index = lowerBound(this.sorted, command.from); index < this.sorted.length; index += 1) {
          const key = this.sorted[index] as string;
          if (command.to !== null && key >= command.to) break;
          found.push([key, this.values.get(key) as string]);
        }
        return { ok: Object.fromEntries(found) };
      }
    }
  }

  private applySingle(command: Extract<KvCommand, { key: string }>): KvOutput {
    const current = this.values.get(command.key) ?? null;
    switch (command.f) {
      case "get":
        return current;
      case "put":
        this.set(command.key, command.value);
        return null;
      case "delete":
        this.set(command.key, null);
        return current !== null;
      case "cas":
        if (current !== command.expected) return false;
        this.set(command.key, command.value);
        return true;
    }
  }

  private set(key: string, value: string | null): void {
    const present = this.values.has(key);
    if (value === null) {
      if (!present) return;
      this.values.delete(key);
      this.sorted.splice(lowerBound(this.sorted, key), 1);
      return;
    }
    if (!present) this.sorted.splice(lowerBound(this.sorted, key), 0, key);
    this.values.set(key, value);
  }
}
