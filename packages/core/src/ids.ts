import { assert } from "./assert.js";

/** A group: one shard of the partitioned service (e.g. "Tokyo" or "g0"). */
export type GroupId = string;
/** One process: a replica of a group ("Tokyo/0") or a client ("c3"). */
export type ProcessId = string;
/** A client process. */
export type ClientId = string;
/** A multicast message, unique within a run ("c3:17": client c3's 17th multicast). */
export type MessageId = string;

/**
 * The destinations of a multicast: group ids, unique and sorted by code unit order. Every layer
 * uses this canonical form, so two destination sets are equal exactly when their keys are equal.
 * Protocols that need another order (FlexCast's C-DAG positions) sort their own copy.
 */
export type DestinationSet = readonly GroupId[];

/**
 * The engine's one shared copy of an id (the copy it keeps for property names). Ids are compared
 * on every message — senders, destinations, groups —, and two shared copies compare by address,
 * where two separately built strings are compared character by character. Ids built at run time
 * (`c${index}`, `${group}/${index}`) or read from a file go through here once, where they are made.
 */
export function sharedId<T extends string>(id: T): T {
  return Object.keys({ [id]: 0 })[0] as T;
}

/** Builds the canonical destination set from any list of groups; rejects an empty list. */
export function destinationSet(groups: Iterable<GroupId>): DestinationSet {
  // Insertion into a sorted list: destination sets are short, and a workload makes one per
  // multicast (no Set, spread or sort buffers).
  const unique: GroupId[] = [];
  for (const group of groups) {
    if (unique.includes(group)) continue;
    let at = unique.length;
    while (at > 0 && compareIds(unique[at - 1] as GroupId, group) > 0) {
      unique[at] = unique[at - 1] as GroupId;
      at -= 1;
    }
    unique[at] = group;
  }
  assert(unique.length > 0, "a destination set needs at least one group");
  return unique;
}

/** A stable string key for a destination set ("a|b|c"), used for statistics and maps. */
export function destinationKey(dst: DestinationSet): string {
  return dst.join("|");
}

/** Total order on ids by UTF-16 code units; never locale-dependent, so runs are reproducible. */
export function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The message a client multicasts: what every destination group delivers. */
export interface Multicast {
  readonly id: MessageId;
  readonly client: ClientId;
  readonly dst: DestinationSet;
  /** Size of the application payload in bytes; the simulator charges it on the wire. */
  readonly payloadBytes: number;
  /** Application payload; experiments leave it out and only model its size. */
  readonly payload?: unknown;
}

/**
 * Modelled encoded size in bytes of a multicast inside a message (a request, or a protocol message
 * that carries it): id, client, destinations and payload, with a small fixed header.
 */
export function multicastBytes(message: Multicast): number {
  let bytes = 8 + message.id.length + message.client.length + message.payloadBytes;
  for (const group of message.dst) bytes += 2 + group.length;
  return bytes;
}

/** True when `dst` has more than one group. */
export function isGlobal(message: Multicast): boolean {
  return message.dst.length > 1;
}
