import type {
  DestinationSet,
  GroupConfig,
  GroupId,
  GroupInput,
  GroupLogic,
  GroupOutput,
  JsonFields,
  LatencyModel,
  MessageId,
  Multicast,
  ParamsSystem,
  ProtocolContext,
  ProtocolDefinition,
  WireDescription,
} from "@amcast/core";
import { assert, assertNever } from "@amcast/core";

/**
 * Linearizable multicast: atomic global order (Pacheco, Dotti, Pedone, LADC 2022) for any protocol.
 *
 * Classic atomic multicast keeps the delivered-before relation acyclic; a partitioned SMR service
 * also needs real-time order: if m was delivered somewhere before m' was multicast, no process may
 * deliver m' before m. The ACK barrier gives it, wrapped around the protocol's own logic:
 *
 * 1. Ordered: the inner protocol's `deliver(m)` fixes m's position in this group's sequence; the
 *    group releases (delivers to the application) strictly in that order, local messages included.
 * 2. Acknowledge: when a global m reaches the head of the queue (everything ordered before it
 *    here is released), the group sends ACK(m) to every other destination of m.
 * 3. Release: the head is released once every other destination acknowledged it. Local messages
 *    exchange nothing, so they pay only when they queue behind a global one.
 *
 * Why it works: when m is released at time t, every destination h acknowledged m, so everything
 * ordered before m at h was released there, and each of those had in turn been acknowledged by
 * all its destinations. By induction over the (acyclic) order, every message that precedes m, at
 * any group, was ordered at all its destinations before t. A message m' multicast after t reaches
 * each of its destinations after those positions were fixed, so it is ordered after all of them,
 * and no real-time edge can close a cycle. Acknowledging as soon as m is ordered (before its
 * predecessors are released) is not enough: a message ordered before m at h but not yet at
 * another of its destinations g could still be overtaken at g by a message multicast after m's
 * release, which the swarm tests found. No deadlock: a group waits only on the predecessors of its
 * head, and the inner order is acyclic. Cost: one more message delay for a global message that is
 * not held up by others (linearizable.md §4-5).
 */
export type LinearizableMessage<M> =
  | { readonly type: "inner"; readonly body: M }
  | { readonly type: "ack"; readonly id: MessageId };

interface Waiting {
  readonly message: Multicast;
  /**
   * The inner logic's delivery, released as it is (with the result it answered itself for a
   * reconfiguration control message, if any).
   */
  readonly delivery: Extract<GroupOutput<unknown>, { kind: "deliver" }>;
  /** Other destinations whose ACK is still missing. */
  readonly missing: Set<GroupId>;
  /** Whether this group acknowledged it (it reached the head of the queue). */
  acknowledged: boolean;
}

/** The barrier's state as plain data (`LinearizableGroup.snapshot`). */
interface LinearizableState {
  readonly queue: readonly {
    readonly delivery: Extract<GroupOutput<unknown>, { kind: "deliver" }>;
    readonly missing: readonly GroupId[];
    readonly acknowledged: boolean;
  }[];
  readonly earlyAcks: readonly { readonly id: MessageId; readonly groups: readonly GroupId[] }[];
  readonly inner: unknown;
}

export class LinearizableGroup<M> implements GroupLogic<LinearizableMessage<M>> {
  readonly group: GroupId;
  private readonly inner: GroupLogic<M>;
  /** Messages ordered here, in order, not yet released (head first). */
  private readonly queue: Waiting[] = [];
  private queueHead = 0;
  /**
   * ACKs that arrived before the inner protocol ordered the message here. Bounded by the messages
   * in flight to this group: every ACK is for a message that will be ordered here.
   */
  private readonly earlyAcks = new Map<MessageId, Set<GroupId>>();
  private readonly waitingById = new Map<MessageId, Waiting>();

  /** Present when the inner logic can snapshot: the barrier's own state around the inner one's. */
  readonly snapshot?: () => unknown;
  readonly restore?: (state: unknown) => void;

  constructor(config: GroupConfig, inner: GroupLogic<M>) {
    this.group = config.group;
    this.inner = inner;
    if (inner.snapshot !== undefined && inner.restore !== undefined) {
      const innerSnapshot = inner.snapshot.bind(inner);
      const innerRestore = inner.restore.bind(inner);
      this.snapshot = () => this.barrierState(innerSnapshot());
      this.restore = (state) => this.restoreBarrier(state as LinearizableState, innerRestore);
    }
  }

  /** The queue from its head, early ACKs sorted by message id (their groups sorted), and the inner state. */
  private barrierState(inner: unknown): LinearizableState {
    const queue = this.queue.slice(this.queueHead).map((waiting) => ({
      delivery: waiting.delivery,
      missing: [...waiting.missing].sort(),
      acknowledged: waiting.acknowledged,
    }));
    const earlyAcks = [...this.earlyAcks.keys()]
      .sort()
      .map((id) => ({ id, groups: [...(this.earlyAcks.get(id) as Set<GroupId>)].sort() }));
    return { queue, earlyAcks, inner };
  }

  private restoreBarrier(state: LinearizableState, innerRestore: (state: unknown) => void): void {
    assert(this.queue.length === 0 && this.earlyAcks.size === 0, "the barrier restores into a fresh group");
    innerRestore(state.inner);
    for (const saved of state.queue) {
      const waiting: Waiting = {
        message: saved.delivery.message,
        delivery: saved.delivery,
        missing: new Set(saved.missing),
        acknowledged: saved.acknowledged,
      };
      this.queue.push(waiting);
      this.waitingById.set(waiting.message.id, waiting);
    }
    for (const { id, groups } of state.earlyAcks) this.earlyAcks.set(id, new Set(groups));
  }

  /** Messages ordered but not yet released (for tests and statistics). */
  get held(): number {
    return this.queue.length - this.queueHead;
  }

  step(input: GroupInput<LinearizableMessage<M>>): readonly GroupOutput<LinearizableMessage<M>>[] {
    const outputs: GroupOutput<LinearizableMessage<M>>[] = [];
    switch (input.kind) {
      case "request":
        this.wrap(this.inner.step(input), outputs);
        break;
      case "peer":
        if (input.body.type === "ack") this.onAck(input.from, input.body.id);
        else this.wrap(this.inner.step({ kind: "peer", from: input.from, body: input.body.body }), outputs);
        break;
      default:
        assertNever(input, "input");
    }
    this.release(outputs);
    return outputs;
  }

  /** Rules 1 and 2: pass the inner sends through; hold deliveries and acknowledge global ones. */
  private wrap(
    innerOutputs: readonly GroupOutput<M>[],
    outputs: GroupOutput<LinearizableMessage<M>>[],
  ): void {
    for (const output of innerOutputs) {
      if (output.kind === "send") {
        outputs.push({ kind: "send", to: output.to, body: { type: "inner", body: output.body } });
        continue;
      }
      if (output.kind === "redirect" || output.kind === "view") {
        outputs.push(output);
        continue;
      }
      const message = output.message;
      assert(!this.waitingById.has(message.id), () => `${this.group} ordered ${message.id} twice`);
      const missing = new Set(message.dst.filter((group) => group !== this.group));
      for (const group of this.earlyAcks.get(message.id) ?? []) missing.delete(group);
      this.earlyAcks.delete(message.id);
      const waiting: Waiting = { message, delivery: output, missing, acknowledged: false };
      this.queue.push(waiting);
      this.waitingById.set(message.id, waiting);
    }
  }

  private onAck(from: GroupId, id: MessageId): void {
    const waiting = this.waitingById.get(id);
    if (waiting !== undefined) {
      assert(
        waiting.message.dst.includes(from),
        () => `${from} acknowledged ${id}, which is not addressed to it`,
      );
      waiting.missing.delete(from);
      return;
    }
    let acks = this.earlyAcks.get(id);
    if (acks === undefined) {
      acks = new Set();
      this.earlyAcks.set(id, acks);
    }
    acks.add(from);
  }

  /** Rules 2 and 3: acknowledge the head, release it once every destination acknowledged it. */
  private release(outputs: GroupOutput<LinearizableMessage<M>>[]): void {
    while (this.queueHead < this.queue.length) {
      const head = this.queue[this.queueHead] as Waiting;
      if (!head.acknowledged) {
        head.acknowledged = true;
        for (const group of head.message.dst) {
          if (group !== this.group)
            outputs.push({ kind: "send", to: group, body: { type: "ack", id: head.message.id } });
        }
      }
      if (head.missing.size > 0) break;
      this.queueHead += 1;
      this.waitingById.delete(head.message.id);
      outputs.push(head.delivery);
    }
    if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
  }
}

/** Modelled bytes of an ACK: type tag and message id. */
function ackBytes(id: MessageId): number {
  return 8 + id.length;
}

/**
 * The linearizable variant of `protocol`: the same entry groups, overlay and parameters, its group
 * logic wrapped in the ACK barrier. Its name is the inner one's with "+lin".
 */
export function linearizable<M, P>(
  protocol: ProtocolDefinition<M, P>,
): ProtocolDefinition<LinearizableMessage<M>, P> {
  const inner = (body: LinearizableMessage<M>): Multicast | undefined =>
    body.type === "inner" ? protocol.carried?.(body.body) : undefined;
  const parse = protocol.parseParams;
  const common = {
    name: `${protocol.name}+lin`,
    ...(parse === undefined
      ? {}
      : { parseParams: (params: JsonFields, system: ParamsSystem) => parse.call(protocol, params, system) }),
    entryGroups: (dst: DestinationSet, context: ProtocolContext<P>) => protocol.entryGroups(dst, context),
    createGroup: (config: GroupConfig<P>) => new LinearizableGroup(config, protocol.createGroup(config)),
    describe: (body: LinearizableMessage<M>): WireDescription => {
      if (body.type === "ack") return { kind: "lin.ack", id: body.id, bytes: ackBytes(body.id) };
      return protocol.describe(body.body);
    },
    ...(protocol.checksEntry === undefined ? {} : { checksEntry: protocol.checksEntry }),
    ...(protocol.modelLatencyMs === undefined
      ? {}
      : {
          modelLatencyMs: (dst: DestinationSet, context: ProtocolContext<P>, latency: LatencyModel) =>
            linearizableModelMs(protocol, dst, context, latency),
        }),
  };
  if (protocol.overlayKind !== null) return { ...common, overlayKind: protocol.overlayKind, carried: inner };
  return { ...common, overlayKind: null, ...(protocol.carried === undefined ? {} : { carried: inner }) };
}

/**
 * The inner pattern plus the ACK hop: a global message is released once the slowest destination
 * has ordered it and its ACK crossed to the others. Without per-destination ordering times from
 * the inner model, this counts one extra message delay: the longest one-way delay between two
 * destinations. Local messages: the inner pattern alone.
 */
function linearizableModelMs<M, P>(
  protocol: ProtocolDefinition<M, P>,
  dst: DestinationSet,
  context: ProtocolContext<P>,
  latency: LatencyModel,
): number {
  const inner = protocol.modelLatencyMs?.(dst, context, latency) ?? 0;
  if (dst.length === 1) return inner;
  let ackMs = 0;
  for (const from of dst)
    for (const to of dst) if (from !== to) ackMs = Math.max(ackMs, latency.groupToGroupMs(from, to));
  return inner + ackMs;
}
