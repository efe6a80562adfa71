import type {
  DestinationSet,
  FlatProtocolDefinition,
  GroupConfig,
  GroupId,
  GroupInput,
  GroupLogic,
  GroupOutput,
  GroupOutputSink,
  LatencyModel,
  MessageId,
  Multicast,
  WireDescription,
} from "@amcast/core";
import { assert, assertNever, BinaryHeap, compareIds, GroupOutputCollector } from "@amcast/core";

/**
 * Skeen's atomic multicast (Birman and Joseph, TOCS 1987), destinations exchanging proposals:
 *
 * 1. The client sends m to every destination group.
 * 2. On m, a destination advances its logical clock, proposes the new value as m's timestamp, and
 *    sends the proposal to every other destination.
 * 3. With every destination's proposal, m's final timestamp is their maximum; the clock advances
 *    to at least that value.
 * 4. A group delivers its pending messages in (timestamp, id) order: the head is delivered once its
 *    timestamp is final. A proposal only ever grows into the final timestamp, so nothing pending
 *    can later be ordered before a final head.
 *
 * A single-group message needs no exchange: its proposal is final at once (step 3 with one
 * proposal). It still waits behind pending messages with smaller proposals, as step 4 requires.
 * Two message delays for a global message (client -> destinations -> proposals), one for a local.
 */
export interface SkeenPropose {
  readonly type: "propose";
  readonly id: MessageId;
  readonly ts: number;
}
export type SkeenMessage = SkeenPropose;

interface Pending {
  message: Multicast | undefined;
  /** Groups whose proposal arrived, this group included once it has proposed (a few). */
  readonly proposers: GroupId[];
  /** The largest proposal so far: the final timestamp once every destination proposed. */
  maxProposal: number;
  /** (ts, id) currently held in the delivery queue; grows from the proposal to the final value. */
  ts: number;
  final: boolean;
  /** Bumped when `ts` changes so stale queue entries are recognised and skipped. */
  version: number;
}

/** A Skeen group's state as plain data (`SkeenGroup.snapshot`). */
export interface SkeenState {
  readonly clock: number;
  readonly delivered: number;
  readonly pending: readonly {
    readonly id: MessageId;
    readonly message: Multicast | null;
    readonly proposers: readonly GroupId[];
    readonly maxProposal: number;
    readonly ts: number;
    readonly final: boolean;
  }[];
}

interface QueueEntry {
  readonly ts: number;
  readonly id: MessageId;
  readonly version: number;
}

function queuedBefore(a: QueueEntry, b: QueueEntry): boolean {
  return a.ts < b.ts || (a.ts === b.ts && compareIds(a.id, b.id) < 0);
}

export class SkeenGroup implements GroupLogic<SkeenMessage> {
  readonly group: GroupId;
  private clock = 0;
  /**
   * Messages proposed here and not yet delivered, plus proposals from other groups for messages
   * not yet received. Each entry leaves on delivery, so the table holds at most the messages in
   * flight to this group.
   */
  private readonly pending = new Map<MessageId, Pending>();
  private readonly queue = new BinaryHeap<QueueEntry>(queuedBefore);
  private deliveredCount = 0;
  /** Collects the outputs of `step` (`stepInto` hands them to the caller's sink). */
  private readonly collector = new GroupOutputCollector<SkeenMessage>();

  constructor(config: GroupConfig) {
    this.group = config.group;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get delivered(): number {
    return this.deliveredCount;
  }

  step(input: GroupInput<SkeenMessage>): readonly GroupOutput<SkeenMessage>[] {
    this.stepInto(input, this.collector);
    return this.collector.take();
  }

  stepInto(input: GroupInput<SkeenMessage>, outputs: GroupOutputSink<SkeenMessage>): void {
    if (input.kind === "request" && input.message.dst.length === 1 && this.queue.size === 0) {
      // Local, with nothing queued before it: its proposal is final at once and it is the head,
      // so it is delivered now (steps 2-4 at once, without a table entry or a queue entry).
      const { message } = input;
      if (message.dst[0] !== this.group)
        assert(false, `${this.group} got ${message.id} for ${message.dst[0]}`);
      this.clock += 1;
      this.deliveredCount += 1;
      outputs.deliver(message);
      return;
    }
    switch (input.kind) {
      case "request":
        this.onRequest(input.message, outputs);
        break;
      case "peer":
        this.onPropose(input.from, input.body);
        break;
      default:
        assertNever(input, "input");
    }
    this.deliverReady(outputs);
  }

  /** Step 2: propose a timestamp for m and send it to the other destinations. */
  private onRequest(message: Multicast, outputs: GroupOutputSink<SkeenMessage>): void {
    if (!message.dst.includes(this.group))
      assert(false, `${this.group} got ${message.id} for ${message.dst.join(",")}`);
    const entry = this.entry(message.id);
    if (entry.message !== undefined) assert(false, `${this.group} got ${message.id} twice`);
    entry.message = message;
    this.clock += 1;
    const ts = this.clock;
    this.propose(entry, this.group, ts);
    for (const group of message.dst) {
      if (group !== this.group) outputs.send(group, { type: "propose", id: message.id, ts });
    }
    this.maybeFinalise(entry);
    this.enqueue(entry, message.id, entry.final ? entry.ts : ts);
  }

  private onPropose(from: GroupId, propose: SkeenPropose): void {
    assert(propose.type === "propose", "Skeen has one message type");
    const entry = this.entry(propose.id);
    if (entry.proposers.includes(from)) assert(false, `${from} proposed twice for ${propose.id}`);
    this.propose(entry, from, propose.ts);
    if (entry.message !== undefined) {
      if (!entry.message.dst.includes(from))
        assert(false, `${from} proposed for ${propose.id} but is not a destination`);
      this.maybeFinalise(entry);
      if (entry.final) this.enqueue(entry, propose.id, entry.ts);
    }
  }

  /** Step 3: with every destination's proposal, fix the final timestamp. */
  private maybeFinalise(entry: Pending): void {
    const message = entry.message;
    if (message === undefined || entry.final || entry.proposers.length < message.dst.length) return;
    assert(entry.proposers.length === message.dst.length, "one proposal per destination");
    const finalTs = entry.maxProposal;
    entry.ts = finalTs;
    entry.final = true;
    this.clock = Math.max(this.clock, finalTs);
  }

  private propose(entry: Pending, from: GroupId, ts: number): void {
    entry.proposers.push(from);
    entry.maxProposal = Math.max(entry.maxProposal, ts);
  }

  private enqueue(entry: Pending, id: MessageId, ts: number): void {
    entry.ts = ts;
    entry.version += 1;
    this.queue.push({ ts, id, version: entry.version });
  }

  /** Step 4: deliver final heads in (timestamp, id) order. */
  private deliverReady(outputs: GroupOutputSink<SkeenMessage>): void {
    for (;;) {
      const head = this.queue.peek();
      if (head === undefined) return;
      const entry = this.pending.get(head.id);
      if (entry === undefined || entry.version !== head.version) {
        this.queue.pop(); // superseded by a later (larger) timestamp for the same message
        continue;
      }
      if (!entry.final) return;
      this.queue.pop();
      this.pending.delete(head.id);
      this.deliveredCount += 1;
      outputs.deliver(entry.message as Multicast);
    }
  }

  /** Plain data: the clock, the count, and every pending entry sorted by message id. */
  snapshot(): SkeenState {
    const ids = [...this.pending.keys()].sort(compareIds);
    return {
      clock: this.clock,
      delivered: this.deliveredCount,
      pending: ids.map((id) => {
        const entry = this.pending.get(id) as Pending;
        return {
          id,
          message: entry.message ?? null,
          proposers: [...entry.proposers],
          maxProposal: entry.maxProposal,
          ts: entry.ts,
          final: entry.final,
        };
      }),
    };
  }

  /** Rebuilds the table and the delivery queue (ordered by (ts, id) alone) from `snapshot`. */
  restore(state: unknown): void {
    const { clock, delivered, pending } = state as SkeenState;
    assert(this.pending.size === 0 && this.clock === 0, "Skeen restores into a fresh group");
    this.clock = clock;
    this.deliveredCount = delivered;
    for (const saved of pending) {
      const entry: Pending = {
        message: saved.message ?? undefined,
        proposers: [...saved.proposers],
        maxProposal: saved.maxProposal,
        ts: saved.ts,
        final: saved.final,
        version: 0,
      };
      this.pending.set(saved.id, entry);
      // Only received messages are queued (a proposal alone waits for its message).
      if (entry.message !== undefined) this.enqueue(entry, saved.id, entry.ts);
    }
  }

  private entry(id: MessageId): Pending {
    let entry = this.pending.get(id);
    if (entry === undefined) {
      entry = { message: undefined, proposers: [], maxProposal: 0, ts: 0, final: false, version: 0 };
      this.pending.set(id, entry);
    }
    return entry;
  }
}

/** One-way delay of the message pattern: client -> every destination -> every other destination. */
function skeenLatencyMs(dst: DestinationSet, latency: LatencyModel): number {
  let last = 0;
  for (const at of dst) {
    let ready = latency.clientToGroupMs(at);
    for (const from of dst) {
      if (from !== at)
        ready = Math.max(ready, latency.clientToGroupMs(from) + latency.groupToGroupMs(from, at));
    }
    last = Math.max(last, ready);
  }
  return last;
}

export const skeen: FlatProtocolDefinition<SkeenMessage> = {
  name: "skeen",
  overlayKind: null,
  entryGroups: (dst) => dst,
  createGroup: (config) => new SkeenGroup(config),
  describe: (body): WireDescription => ({ kind: body.type, id: body.id, bytes: 12 + body.id.length }),
  modelLatencyMs: (dst, _context, latency) => skeenLatencyMs(dst, latency),
};
