import type { KvInput, KvOutput } from "@amcast/check";
import type { GroupId } from "@amcast/core";
import { describeValue } from "@amcast/core";
import type { Replies } from "@amcast/smr";
import { KvError } from "./errors.js";
import type { Partitioning } from "./partitioning.js";

/**
 * A command is what a client multicasts: one operation, in the vocabulary of key-value histories
 * (`KvInput` of @amcast/check), so what the service executes is what the checker models.
 */
export type KvCommand = KvInput;

/** A replica's answer to a command: its shard's part of the result, or why it refused. */
export type KvReply = { readonly ok: KvOutput } | { readonly error: string };

/** What a client refuses to send. */
export interface KvLimits {
  /** UTF-8 bytes of a key (default 256). */
  readonly keyBytesMax: number;
  /** UTF-8 bytes of a value (default 65,536). */
  readonly valueBytesMax: number;
  /** Keys of one multi-key operation (default 1,024). */
  readonly keysPerOperationMax: number;
}

export const DEFAULT_KV_LIMITS: KvLimits = {
  keyBytesMax: 256,
  valueBytesMax: 65_536,
  keysPerOperationMax: 1024,
};

/** UTF-8 length of a string, counted without encoding it. */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && index + 1 < text.length) {
      // A surrogate pair is one 4-byte code point.
      bytes += 4;
      index += 1;
    } else bytes += 3;
  }
  return bytes;
}

function checkKey(key: unknown, limits: KvLimits): string {
  if (typeof key !== "string")
    throw new KvError("bad-argument", `a key is a string, got ${describeValue(key)}`);
  // Results are objects keyed by key, and wire decoders drop this one (prototype pollution).
  if (key === "__proto__") throw new KvError("bad-argument", `the key "__proto__" is reserved`);
  const bytes = utf8Bytes(key);
  if (bytes > limits.keyBytesMax)
    throw new KvError(
      "key-too-large",
      `key ${describeValue(key)} has ${bytes} bytes (at most ${limits.keyBytesMax})`,
    );
  return key;
}

function checkValue(key: string, value: unknown, limits: KvLimits): string {
  if (typeof value !== "string")
    throw new KvError(
      "bad-argument",
      `the value of ${describeValue(key)} is a string, got ${describeValue(value)}`,
    );
  const bytes = utf8Bytes(value);
  if (bytes > limits.valueBytesMax)
    throw new KvError(
      "value-too-large",
      `the value of ${describeValue(key)} has ${bytes} bytes (at most ${limits.valueBytesMax})`,
    );
  return value;
}

function checkKeyCount(count: number, limits: KvLimits): void {
  if (count === 0) throw new KvError("bad-argument", "a multi-key operation names at least one key");
  if (count > limits.keysPerOperationMax)
    throw new KvError(
      "too-many-keys",
      `${count} keys in one operation (at most ${limits.keysPerOperationMax})`,
    );
}

/**
 * Checks an operation against the limits and finds its shards: the one multicast that runs it
 * goes to exactly these groups. Throws a KvError for anything it would refuse.
 */
export function planOperation(
  command: KvCommand,
  partitioning: Partitioning,
  limits: KvLimits = DEFAULT_KV_LIMITS,
): GroupId[] {
  switch (command.f) {
    case "get":
    case "delete":
      return [partitioning.shardOf(checkKey(command.key, limits))];
    case "put": {
      const key = checkKey(command.key, limits);
      checkValue(key, command.value, limits);
      return [partitioning.shardOf(key)];
    }
    case "cas": {
      const key = checkKey(command.key, limits);
      if (command.expected !== null) checkValue(key, command.expected, limits);
      checkValue(key, command.value, limits);
      return [partitioning.shardOf(key)];
    }
    case "multi-put": {
      const entries = Object.entries(command.entries);
      checkKeyCount(entries.length, limits);
      for (const [key, value] of entries) checkValue(checkKey(key, limits), value, limits);
      return shardsOfKeys(
        entries.map(([key]) => key),
        partitioning,
      );
    }
    case "multi-get": {
      checkKeyCount(command.keys.length, limits);
      for (const key of command.keys) checkKey(key, limits);
      if (new Set(command.keys).size !== command.keys.length)
        throw new KvError("bad-argument", "a multi-get names a key twice");
      return shardsOfKeys(command.keys, partitioning);
    }
    case "range": {
      checkKey(command.from, limits);
      if (command.to !== null) checkKey(command.to, limits);
      if (command.to !== null && command.to < command.from)
        throw new KvError(
          "bad-argument",
          `range end ${describeValue(command.to)} is below its start ${describeValue(command.from)}`,
        );
      const shards = partitioning.shardsOfRange(command.from, command.to);
      if (shards.length === 0)
        throw new KvError(
          "unknown-shard",
          `no shard holds keys in [${describeValue(command.from)}, ${describeValue(command.to)})`,
        );
      return shards;
    }
  }
}

function shardsOfKeys(keys: readonly string[], partitioning: Partitioning): GroupId[] {
  return [...new Set(keys.map((key) => partitioning.shardOf(key)))];
}

/**
 * The operation's result from the replies of its shards: each shard answered for its own keys,
 * so multi-key results are the union of the parts.
 */
export function mergeReplies(command: KvCommand, replies: Replies<KvReply>): KvOutput {
  const parts: KvOutput[] = [];
  for (const [group, reply] of Object.entries(replies)) {
    if (typeof reply !== "object" || reply === null)
      throw new KvError("rejected", `shard ${group} answered ${describeValue(reply)}`);
    if ("error" in reply) throw new KvError("rejected", `shard ${group}: ${reply.error}`);
    parts.push(reply.ok);
  }
  switch (command.f) {
    case "multi-get":
    case "range":
      // fromEntries defines properties (assigning could hit Object.prototype's setters).
      return Object.fromEntries(
        parts.flatMap((part) => Object.entries(part as Record<string, string | null>)),
      );
    case "put":
    case "multi-put":
      return null;
    default:
      if (parts.length !== 1)
        throw new KvError("rejected", `expected one shard's reply, got ${parts.length}`);
      return parts[0] as KvOutput;
  }
}
