import type { GroupId, WireDescription } from "@amcast/core";
import { assert } from "@amcast/core";
import type { CopyInput } from "./inputs.js";
import type { StreamsState } from "./snapshot.js";
import { compareText } from "./snapshot.js";

/**
 * Protocol messages one stream item carries at most, and their modelled bytes at most (an item
 * also travels inside the receiving group's ordered batches, `OrderingOptions.batchBytesMax`).
 * A receiver refuses an item with more messages as malformed.
 */
export const STREAM_ITEM_MESSAGES_MAX = 256;
export const STREAM_ITEM_BYTES_MAX = 128 * 1024;

/**
 * The streams this group sends on: one stream per destination group, numbered by item. Every
 * correct replica executes the same steps, so it numbers the same items identically.
 *
 * A stream item carries one or more protocol messages (a non-empty array). While a decided batch
 * runs (`hold` ... `release`), the messages the logic sends to one group are queued and leave as
 * one item at the end of the batch: one copy per replica pair, one signature per sending replica
 * and one ordered input per copy at the receiver, however many steps of the batch sent to that
 * group. The batch boundaries are the decided ones, the same at every correct replica, so every
 * correct replica still makes the same items. Outside a batch (solo mode, which decides each
 * input on arrival) a message leaves at once, alone in its item.
 */
export class OutgoingStreams {
  private readonly nextByGroup = new Map<GroupId, number>();
  /** Messages queued per destination group while holding, in the order their groups were first sent to. */
  private readonly queued = new Map<GroupId, { messages: QueuedMessage[]; bytes: number }>();
  private holding = false;

  next(group: GroupId): number {
    const k = this.nextByGroup.get(group) ?? 0;
    this.nextByGroup.set(group, k + 1);
    return k;
  }

  /** From now until `release`, messages are queued per destination group. */
  hold(): void {
    this.holding = true;
  }

  /**
   * A message for `group`: returns the messages of an item to send now — this one alone when not
   * holding, or the group's queue when this one would take it past an item's limits — else
   * undefined (queued).
   */
  add(group: GroupId, message: QueuedMessage): QueuedMessage[] | undefined {
    if (!this.holding) return [message];
    const bytes = message.description.bytes;
    const queue = this.queued.get(group);
    if (queue === undefined) {
      this.queued.set(group, { messages: [message], bytes });
      return undefined;
    }
    if (queue.messages.length < STREAM_ITEM_MESSAGES_MAX && queue.bytes + bytes <= STREAM_ITEM_BYTES_MAX) {
      queue.messages.push(message);
      queue.bytes += bytes;
      return undefined;
    }
    const full = queue.messages;
    queue.messages = [message];
    queue.bytes = bytes;
    return full;
  }

  /**
   * Stops holding; hands `send` the queued items, one per destination group, in the order the
   * groups were first sent to. A callback rather than a list: this runs once per decided batch.
   */
  release(send: (group: GroupId, messages: QueuedMessage[]) => void): void {
    this.holding = false;
    if (this.queued.size === 0) return;
    for (const [group, queue] of this.queued) send(group, queue.messages);
    this.queued.clear();
  }

  /** The next item number per destination group, sorted by group. */
  snapshot(): StreamsState["outgoing"] {
    assert(this.queued.size === 0, "a checkpoint is taken between batches, with nothing queued");
    return [...this.nextByGroup].sort((a, b) => compareText(a[0], b[0]));
  }

  restore(state: StreamsState["outgoing"]): void {
    this.nextByGroup.clear();
    this.queued.clear();
    this.holding = false;
    for (const [group, next] of state) this.nextByGroup.set(group, next);
  }
}

/** A protocol message waiting for its stream item, with the protocol's description of it. */
export interface QueuedMessage {
  readonly body: unknown;
  readonly description: WireDescription;
}

/** Whether `content` has the shape of a stream item: a non-empty array of at most `STREAM_ITEM_MESSAGES_MAX` messages. */
export function isStreamItem(content: unknown): content is readonly unknown[] {
  return Array.isArray(content) && content.length > 0 && content.length <= STREAM_ITEM_MESSAGES_MAX;
}

/** An item of a stream, taken in order, ready for the protocol logic. */
export interface AcceptedItem {
  readonly fromGroup: GroupId;
  readonly k: number;
  /** The item's protocol messages (see `isStreamItem`). */
  readonly body: unknown;
}

interface ItemVotes {
  /** Replicas that voted for this k (their first ordered copy counts, later ones do not). */
  readonly voters: Set<string>;
  /** Votes per item digest, with the body they vouch for. */
  readonly byDigest: Map<string, { count: number; readonly body: unknown }>;
}

interface StreamState {
  next: number;
  readonly votes: Map<number, ItemVotes>;
}

/**
 * Acceptance of incoming stream items, run on ordered copies so every correct replica accepts at
 * the same point of the group's order (reference: byzcast.md §4):
 *
 * - item k of the stream from group A is taken only when `quorum(A)` distinct replicas of A have
 *   sent identical copies of it (1 in crash and solo mode, f+1 in Byzantine mode: at least one
 *   of them is correct, so the item is what A really ordered), and
 * - only when k is the next item expected from A: counting copies alone would let a Byzantine
 *   replica of A push item k+1 ahead of k (send k+1 early, never k) and reorder A's stream.
 *
 * Bounded: items more than `windowMax` ahead of the next expected one are refused before they
 * are ordered (`accepts`), so a Byzantine sender cannot fill memory with far-future votes.
 */
export class IncomingStreams {
  private readonly streams = new Map<GroupId, StreamState>();
  /** Ordered copies that disagreed with the item finally taken: forgeries and alterations refused. */
  outvotedCopies = 0;

  constructor(
    private readonly quorum: (fromGroup: GroupId) => number,
    private readonly windowMax: number,
  ) {
    assert(windowMax > 0, "a stream window holds something");
  }

  /** Whether a copy of item `k` from `fromGroup` is still worth ordering: not yet taken and not too far ahead. */
  accepts(fromGroup: GroupId, k: number): boolean {
    const next = this.streams.get(fromGroup)?.next ?? 0;
    return k >= next && k < next + this.windowMax;
  }

  /** Ordered copies of item `k` from `fromGroup` with the item digest `itemDigest` so far (0 once taken). */
  votesFor(fromGroup: GroupId, k: number, itemDigest: string): number {
    return this.streams.get(fromGroup)?.votes.get(k)?.byDigest.get(itemDigest)?.count ?? 0;
  }

  /** Next item expected from `fromGroup`. */
  nextExpected(fromGroup: GroupId): number {
    return this.streams.get(fromGroup)?.next ?? 0;
  }

  /**
   * The fast path of `onOrderedCopy` where one copy is a quorum (solo and crash mode): when item
   * `k` is the next expected from `fromGroup` and no copy waits for a later one, it is taken now
   * (true: the caller runs it) without recording a vote. False: nothing was recorded, and the copy
   * takes the general path. Both paths take the same items at the same points.
   */
  takeNext(fromGroup: GroupId, k: number): boolean {
    let stream = this.streams.get(fromGroup);
    if (stream === undefined) {
      stream = { next: 0, votes: new Map() };
      this.streams.set(fromGroup, stream);
    }
    if (k !== stream.next || stream.votes.size > 0 || this.quorum(fromGroup) !== 1) return false;
    stream.next += 1;
    return true;
  }

  /**
   * Per sending group (sorted): the next expected item and the ordered copies counted toward later
   * ones (voters sorted; digests in the order they were first ordered, which picks the winner).
   */
  snapshot(): StreamsState["incoming"] {
    return [...this.streams.keys()].sort(compareText).map((from) => {
      const stream = this.streams.get(from) as StreamState;
      const votes = [...stream.votes]
        .sort((a, b) => a[0] - b[0])
        .map(([k, item]) => ({
          k,
          voters: [...item.voters].sort(compareText),
          byDigest: [...item.byDigest].map(([digest, tally]) => [digest, tally.count, tally.body] as const),
        }));
      return { from, next: stream.next, votes };
    });
  }

  /** Forgets every stream (before `restore`). */
  reset(): void {
    this.streams.clear();
  }

  /** Puts back what `snapshot` returned, into empty streams. */
  restore(state: StreamsState["incoming"]): void {
    assert(this.streams.size === 0, "incoming streams restore into empty ones");
    for (const { from, next, votes } of state) {
      const byK = new Map<number, ItemVotes>();
      for (const { k, voters, byDigest } of votes)
        byK.set(k, {
          voters: new Set(voters),
          byDigest: new Map(byDigest.map(([digest, count, body]) => [digest, { count, body }])),
        });
      this.streams.set(from, { next, votes: byK });
    }
  }

  /** Records an ordered copy; returns the items that became acceptable, in stream order. */
  onOrderedCopy(copy: CopyInput): AcceptedItem[] {
    let stream = this.streams.get(copy.fromGroup);
    if (stream === undefined) {
      stream = { next: 0, votes: new Map() };
      this.streams.set(copy.fromGroup, stream);
    }
    // Stale (already taken) or beyond the window: a replay or a far-ahead forgery, nothing to do.
    if (copy.k < stream.next || copy.k >= stream.next + this.windowMax) return [];
    let votes = stream.votes.get(copy.k);
    if (votes === undefined) {
      votes = { voters: new Set(), byDigest: new Map() };
      stream.votes.set(copy.k, votes);
    }
    if (votes.voters.has(copy.sender)) return [];
    votes.voters.add(copy.sender);
    const tally = votes.byDigest.get(copy.itemDigest);
    if (tally === undefined) votes.byDigest.set(copy.itemDigest, { count: 1, body: copy.body });
    else tally.count += 1;

    const accepted: AcceptedItem[] = [];
    const needed = this.quorum(copy.fromGroup);
    for (;;) {
      const head = stream.votes.get(stream.next);
      if (head === undefined) break;
      let winner: { count: number; readonly body: unknown } | undefined;
      for (const candidate of head.byDigest.values()) if (candidate.count >= needed) winner = candidate;
      if (winner === undefined) break;
      for (const candidate of head.byDigest.values())
        if (candidate !== winner) this.outvotedCopies += candidate.count;
      accepted.push({ fromGroup: copy.fromGroup, k: stream.next, body: winner.body });
      stream.votes.delete(stream.next);
      stream.next += 1;
    }
    return accepted;
  }
}
