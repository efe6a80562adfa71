import type { KvInput } from "@amcast/check";
import { KV_OPERATIONS } from "@amcast/check";
import type { GroupId } from "@amcast/core";
import { assert, type JsonFields, Prng, percent } from "@amcast/core";
import type { KvCommand } from "./operations.js";
import { Partitioning } from "./partitioning.js";

/** Operations a workload mixes: every key-value operation, by its history name. */
export type WorkloadOperation = KvInput["f"];

/**
 * A key-value workload: closed-loop clients next to each shard, each running a random mix of
 * operations. Single-key operations address the client's home shard; multi-key ones and range
 * reads span `spanShards` consecutive shards starting at the home shard (so under plain atomic
 * multicast a range read and two single-shard writes can show the range-read anomaly).
 */
export interface KvWorkloadSpec {
  readonly clientsPerGroup: number;
  readonly operationsPerClient: number;
  /** Keys per shard; few keys make operations meet often. */
  readonly keysPerShard: number;
  /** Percent of each operation; they sum to 100. */
  readonly mix: Readonly<Partial<Record<WorkloadOperation, number>>>;
  /** Shards a multi-key operation or range read spans (at most the number of shards). */
  readonly spanShards: number;
  /** Operations each client keeps in flight. */
  readonly outstanding: number;
  readonly thinkMs: number;
  /** Clients start at a uniform random time in [0, startSpreadMs). */
  readonly startSpreadMs: number;
}

export const DEFAULT_KV_WORKLOAD: KvWorkloadSpec = {
  clientsPerGroup: 2,
  operationsPerClient: 50,
  keysPerShard: 2,
  mix: { put: 50, get: 10, range: 40 },
  spanShards: 2,
  outstanding: 1,
  thinkMs: 0,
  startSpreadMs: 0,
};

/** Reads a workload object (every field optional, defaults above); `doc` names the file in errors. */
export function readKvWorkload(doc: JsonFields | undefined): KvWorkloadSpec {
  if (doc === undefined) return DEFAULT_KV_WORKLOAD;
  const base = DEFAULT_KV_WORKLOAD;
  const mixDoc = doc.optionalObject("mix");
  let mix = base.mix;
  if (mixDoc !== undefined) {
    const read: Partial<Record<WorkloadOperation, number>> = {};
    let total = 0;
    for (const name of KV_OPERATIONS) {
      const value = mixDoc.number(name, { integer: true, min: 0, max: 100 }, 0);
      if (value > 0) read[name] = value;
      total += value;
    }
    mixDoc.done();
    if (total !== 100) throw doc.error("mix", `percentages sum to ${total}, not 100`);
    mix = read;
  }
  const spec: KvWorkloadSpec = {
    clientsPerGroup: doc.number(
      "clientsPerGroup",
      { integer: true, min: 1, max: 1000 },
      base.clientsPerGroup,
    ),
    operationsPerClient: doc.number(
      "operationsPerClient",
      { integer: true, min: 1, max: 10_000_000 },
      base.operationsPerClient,
    ),
    keysPerShard: doc.number("keysPerShard", { integer: true, min: 1, max: 100_000 }, base.keysPerShard),
    mix,
    spanShards: doc.number("spanShards", { integer: true, min: 1, max: 1000 }, base.spanShards),
    outstanding: doc.number("outstanding", { integer: true, min: 1, max: 1024 }, base.outstanding),
    thinkMs: doc.number("thinkMs", { min: 0 }, base.thinkMs),
    startSpreadMs: doc.number("startSpreadMs", { min: 0 }, base.startSpreadMs),
  };
  doc.done();
  return spec;
}

/**
 * `count` keys for every shard: for a range partitioning, keys inside the shard's range (its
 * start followed by "/0", "/1", ...); for a hash partitioning, the first names "k0", "k1", ...
 * that hash to it.
 */
export function keysByShard(partitioning: Partitioning, count: number): Map<GroupId, string[]> {
  const keys = new Map<GroupId, string[]>(partitioning.groups.map((group) => [group, []]));
  const spec = partitioning.spec;
  if (spec.kind === "range") {
    for (const shard of spec.shards) {
      const own = keys.get(shard.group) as string[];
      for (let index = 0; index < count; index += 1) {
        const key = `${shard.from}/${String(index).padStart(4, "0")}`;
        assert(
          partitioning.shardOf(key) === shard.group,
          () => `key ${key} falls outside ${shard.group}'s range`,
        );
        own.push(key);
      }
    }
    return keys;
  }
  let missing = partitioning.groups.length * count;
  for (let index = 0; missing > 0; index += 1) {
    const key = `k${index}`;
    const own = keys.get(partitioning.shardOf(key)) as string[];
    if (own.length < count) {
      own.push(key);
      missing -= 1;
    }
  }
  return keys;
}

/**
 * A range partitioning of `groups` in the order given, shard i starting at "s<i>" (zero-padded
 * so the shards sort in that order).
 */
export function evenRangePartitioning(groups: readonly GroupId[]): Partitioning {
  const width = String(groups.length).length;
  return Partitioning.range(
    groups.map((group, index) => ({ group, from: `s${String(index).padStart(width, "0")}` })),
  );
}

/** Draws one client's operations; every value it writes is unique (`<client>.<n>`). */
export class KvWorkloadClient {
  private written = 0;
  private readonly thresholds: { readonly operation: WorkloadOperation; readonly upTo: number }[] = [];
  /** The last value this client saw or wrote per key, what its compare-and-sets expect. */
  private readonly lastSeen = new Map<string, string | null>();

  constructor(
    readonly id: string,
    readonly home: GroupId,
    private readonly spec: KvWorkloadSpec,
    private readonly partitioning: Partitioning,
    private readonly keys: ReadonlyMap<GroupId, readonly string[]>,
    private readonly prng: Prng,
  ) {
    let upTo = 0;
    for (const operation of KV_OPERATIONS) {
      const share = spec.mix[operation] ?? 0;
      if (share === 0) continue;
      upTo += share;
      this.thresholds.push({ operation, upTo });
    }
    assert(upTo === 100, "a workload's mix sums to 100");
  }

  /** The next operation. */
  next(): KvCommand {
    const draw = this.prng.int(100);
    const operation = (this.thresholds.find((threshold) => draw < threshold.upTo) ?? this.thresholds[0])
      ?.operation as WorkloadOperation;
    const spanned = this.spannedShards();
    switch (operation) {
      case "get":
        return { f: "get", key: this.homeKey() };
      case "put":
        return { f: "put", key: this.homeKey(), value: this.freshValue() };
      case "delete":
        return { f: "delete", key: this.homeKey() };
      case "cas": {
        const key = this.homeKey();
        const expected = this.prng.chance(percent(80)) ? (this.lastSeen.get(key) ?? null) : null;
        return { f: "cas", key, expected, value: this.freshValue() };
      }
      case "multi-put":
        return {
          f: "multi-put",
          entries: Object.fromEntries(spanned.map((group) => [this.keyOf(group), this.freshValue()])),
        };
      case "multi-get":
        return { f: "multi-get", keys: spanned.map((group) => this.keyOf(group)) };
      case "range":
        return this.rangeOver(spanned);
    }
  }

  /** What an operation returned, so later compare-and-sets expect a value that may still be there. */
  observe(command: KvCommand, result: unknown): void {
    if (command.f === "put" || (command.f === "cas" && result === true))
      this.lastSeen.set(command.key, command.value);
    else if (command.f === "get") this.lastSeen.set(command.key, result as string | null);
    else if (command.f === "multi-put")
      for (const [key, value] of Object.entries(command.entries)) this.lastSeen.set(key, value);
  }

  private freshValue(): string {
    this.written += 1;
    return `${this.id}.${this.written}`;
  }

  private keyOf(group: GroupId): string {
    const own = this.keys.get(group) as readonly string[];
    return own[this.prng.int(own.length)] as string;
  }

  private homeKey(): string {
    return this.keyOf(this.home);
  }

  /** The home shard and the next ones, wrapping around, `spanShards` in all. */
  private spannedShards(): GroupId[] {
    const groups = this.partitioning.groups;
    const start = groups.indexOf(this.home);
    const count = Math.min(this.spec.spanShards, groups.length);
    return Array.from({ length: count }, (_, offset) => groups[(start + offset) % groups.length] as GroupId);
  }

  /**
   * A range read over `spanned`: under a range partitioning, from the first spanned shard's
   * start to the start of the shard after the last (or the end); when the span wraps around, the
   * range from the lowest spanned shard to the end. Under a hash partitioning every range
   * reaches every shard: the whole key space.
   */
  private rangeOver(spanned: readonly GroupId[]): KvCommand {
    const spec = this.partitioning.spec;
    if (spec.kind === "hash") return { f: "range", from: "", to: null };
    const indices = spanned.map((group) => spec.shards.findIndex((shard) => shard.group === group));
    const first = Math.min(...indices);
    const last = Math.max(...indices);
    const wraps = last - first + 1 !== indices.length;
    const from = (spec.shards[first] as { from: string }).from;
    const after = wraps ? undefined : spec.shards[last + 1];
    return { f: "range", from, to: after === undefined ? null : after.from };
  }
}

/** The clients of a workload: `clientsPerGroup` next to every shard, each with its own stream. */
export function workloadClients(
  spec: KvWorkloadSpec,
  partitioning: Partitioning,
  seed: number,
): KvWorkloadClient[] {
  const keys = keysByShard(partitioning, spec.keysPerShard);
  const root = new Prng(seed).derive("kv-workload");
  const clients: KvWorkloadClient[] = [];
  for (const home of partitioning.groups)
    for (let index = 0; index < spec.clientsPerGroup; index += 1) {
      const id = `${home}.${index}`;
      clients.push(new KvWorkloadClient(id, home, spec, partitioning, keys, root.derive(id)));
    }
  return clients;
}
