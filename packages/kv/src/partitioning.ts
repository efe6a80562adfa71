import type { GroupId } from "@amcast/core";
import { describeValue, InputError, JsonFields, listNames, upperBound } from "@amcast/core";
import { KvError } from "./errors.js";

/**
 * How keys map to shards (groups), as plain data (it travels in configuration files):
 * - `hash`: a key lives in `groups[fnv1a(key) mod groups.length]`; a range read asks every shard;
 * - `range`: shard i holds the keys from `shards[i].from` (included) up to the next shard's `from`
 *   (excluded); keys below the first `from` have no shard. Keys compare as JavaScript strings
 *   (UTF-16 code units), the order range reads use.
 */
export type PartitioningSpec =
  | { readonly kind: "hash"; readonly groups: readonly GroupId[] }
  | {
      readonly kind: "range";
      readonly shards: readonly { readonly group: GroupId; readonly from: string }[];
    };

/** FNV-1a over the key's UTF-16 code units: the same on every machine and every Node version. */
function fnv1a(key: string): number {
  let hash = 0x811c_9dc5;
  for (let index = 0; index < key.length; index += 1) {
    hash ^= key.charCodeAt(index);
    hash = Math.imul(hash, 0x0100_0193);
  }
  return hash >>> 0;
}

/** Which shard holds which key. Immutable; every client and replica builds it from the same spec. */
export class Partitioning {
  /** Every shard, each once: hash order, or range order. */
  readonly groups: readonly GroupId[];
  private readonly starts: readonly string[];

  private constructor(readonly spec: PartitioningSpec) {
    if (spec.kind === "hash") {
      this.groups = [...spec.groups];
      this.starts = [];
    } else {
      this.groups = spec.shards.map((shard) => shard.group);
      this.starts = spec.shards.map((shard) => shard.from);
    }
  }

  /** Keys spread by hash over `groups`. */
  static hash(groups: readonly GroupId[]): Partitioning {
    return Partitioning.fromSpec({ kind: "hash", groups }, "partitioning");
  }

  /** Shard i holds [shards[i].from, shards[i + 1].from). */
  static range(shards: readonly { readonly group: GroupId; readonly from: string }[]): Partitioning {
    return Partitioning.fromSpec({ kind: "range", shards }, "partitioning");
  }

  /** Reads and checks a spec (e.g. from a JSON file); `source` names it in errors. */
  static fromSpec(value: unknown, source: string): Partitioning {
    const doc = JsonFields.at(value, source, "");
    const kind = doc.raw("kind");
    if (kind === "hash") {
      const groups = doc.array("groups").strings();
      doc.done();
      if (groups.length === 0) throw doc.error("groups", "name at least one group");
      if (new Set(groups).size !== groups.length) throw doc.error("groups", "lists a group twice");
      return new Partitioning({ kind, groups });
    }
    if (kind === "range") {
      const shards = doc
        .array("shards")
        .objects()
        .map((item) => {
          const group = item.string("group");
          const from = item.raw("from");
          if (typeof from !== "string")
            throw item.error("from", `expected a string, got ${describeValue(from)}`);
          item.done();
          return { group, from };
        });
      doc.done();
      if (shards.length === 0) throw doc.error("shards", "name at least one shard");
      if (new Set(shards.map((shard) => shard.group)).size !== shards.length)
        throw doc.error("shards", "names a group twice (a group holds one range)");
      shards.forEach((shard, index) => {
        const before = shards[index - 1];
        if (before !== undefined && !(before.from < shard.from))
          throw doc.error(
            `shards[${index}].from`,
            `${describeValue(shard.from)} must be above the previous shard's ${describeValue(before.from)}`,
          );
      });
      return new Partitioning({ kind, shards });
    }
    throw new InputError(source, "kind", `expected "hash" or "range", got ${describeValue(kind)}`);
  }

  /** The shard holding `key`; a key no shard covers is a KvError `unknown-shard`. */
  shardOf(key: string): GroupId {
    if (this.spec.kind === "hash") return this.groups[fnv1a(key) % this.groups.length] as GroupId;
    const index = this.rangeIndex(key);
    if (index < 0)
      throw new KvError(
        "unknown-shard",
        `no shard holds key ${describeValue(key)} (the first shard starts at ${describeValue(this.starts[0])})`,
      );
    return this.groups[index] as GroupId;
  }

  /** Whether `group` holds `key`. */
  holds(group: GroupId, key: string): boolean {
    if (this.spec.kind === "hash") return this.groups[fnv1a(key) % this.groups.length] === group;
    const index = this.rangeIndex(key);
    return index >= 0 && this.groups[index] === group;
  }

  /** The shards a range read of [from, to) must ask (`to` null: no upper bound), in shard order. */
  shardsOfRange(from: string, to: string | null): GroupId[] {
    if (this.spec.kind === "hash") return [...this.groups];
    const first = Math.max(0, this.rangeIndex(from));
    const shards: GroupId[] = [];
    for (let index = first; index < this.groups.length; index += 1) {
      if (to !== null && (this.starts[index] as string) >= to) break;
      shards.push(this.groups[index] as GroupId);
    }
    return shards;
  }

  /** Checks that every shard is one of `groups` (the service's); else `unknown-shard`. */
  checkGroups(groups: readonly GroupId[]): void {
    const missing = this.groups.filter((group) => !groups.includes(group));
    if (missing.length > 0)
      throw new KvError(
        "unknown-shard",
        `the partitioning names ${listNames(missing)}, not groups of the service (groups: ${listNames([...groups])})`,
      );
  }

  /** Index of the range shard holding `key` (the last whose start is not above it), or -1 below the first. */
  private rangeIndex(key: string): number {
    return upperBound(this.starts, key) - 1;
  }
}
