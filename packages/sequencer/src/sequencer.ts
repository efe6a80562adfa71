import type {
  DestinationSet,
  FlatProtocolDefinition,
  GroupConfig,
  GroupId,
  GroupInput,
  GroupLogic,
  GroupOutput,
  JsonFields,
  LatencyModel,
  Multicast,
  ParamsSystem,
  WireDescription,
} from "@amcast/core";
import { assert, assertNever, describeValue, listNames, multicastBytes } from "@amcast/core";

/**
 * Fixed-sequencer atomic multicast (the classic baseline; Défago, Schiper and Urbán, "Total order
 * broadcast and multicast algorithms", ACM Computing Surveys 2004, §3): one group, the sequencer,
 * orders every message.
 *
 * 1. The client sends m to the sequencer group, a destination of m or not. Which group is the
 *    sequencer is the protocol's parameter (`"params": { "sequencer": "Virginia" }`); by default
 *    the first group of the system.
 * 2. The sequencer takes requests in its own order. For each m it takes the next sequence number,
 *    sends ORDER(m, seq) to every destination of m but itself, and delivers m at once if it is a
 *    destination.
 * 3. A destination delivers ORDER(m, seq) as soon as it arrives.
 *
 * Order argument: the layer below hands a group the sequencer's messages in the order the
 * sequencer sent them (FIFO group-to-group streams; in Byzantine mode item k only after k-1 and
 * with f+1 identical copies), so every destination delivers in increasing sequence numbers, and
 * the sequencer's own deliveries follow the same numbering. Every group's delivery sequence is a
 * subsequence of the one sequence the sequencer fixed, so no two groups disagree on a common pair
 * and no cycle can form. Stream order alone carries the order; the sequence number lets a
 * destination check that it only grows.
 *
 * Cost: every message pays client -> sequencer -> destinations (a local message to the sequencer
 * group pays one hop); no destination ever waits for another message (no convoy). Not genuine:
 * the sequencer takes part in every multicast, and its group is the bottleneck of the system.
 */
export interface SequencerParams {
  /** The group that orders every message. */
  readonly sequencer: GroupId;
}

export interface SequencerOrder {
  readonly type: "order";
  readonly seq: number;
  readonly message: Multicast;
}
export type SequencerMessage = SequencerOrder;

export class SequencerGroup implements GroupLogic<SequencerMessage> {
  readonly group: GroupId;
  readonly sequencer: GroupId;
  /** At the sequencer: the next sequence number (rule 2). */
  private nextSeq = 0;
  /** At a destination: the last sequence number delivered from the sequencer (rule 3). */
  private lastSeq = -1;
  private deliveredCount = 0;

  constructor(config: GroupConfig<SequencerParams>) {
    this.group = config.group;
    this.sequencer = config.params.sequencer;
  }

  get delivered(): number {
    return this.deliveredCount;
  }

  step(input: GroupInput<SequencerMessage>): readonly GroupOutput<SequencerMessage>[] {
    switch (input.kind) {
      case "request":
        return this.onRequest(input.message);
      case "peer":
        return this.onOrder(input.from, input.body);
      default:
        return assertNever(input, "input");
    }
  }

  /** Rule 2: number the message, send it to the other destinations, deliver it if addressed. */
  private onRequest(message: Multicast): GroupOutput<SequencerMessage>[] {
    assert(
      this.group === this.sequencer,
      () => `${this.group} got ${message.id}, but ${this.sequencer} orders`,
    );
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const outputs: GroupOutput<SequencerMessage>[] = [];
    for (const group of message.dst)
      if (group !== this.group)
        outputs.push({ kind: "send", to: group, body: { type: "order", seq, message } });
    if (message.dst.includes(this.group)) outputs.push(this.deliver(message));
    return outputs;
  }

  /** Rule 3: deliver in the sequencer's order, as it arrives. */
  private onOrder(from: GroupId, order: SequencerOrder): GroupOutput<SequencerMessage>[] {
    assert(order.type === "order", "the sequencer sends one message type");
    assert(
      from === this.sequencer,
      () => `${this.group} got ${order.message.id} from ${from}, not the sequencer`,
    );
    assert(order.seq > this.lastSeq, () => `${this.group} got seq ${order.seq} after ${this.lastSeq}`);
    assert(
      order.message.dst.includes(this.group),
      () => `${this.group} got ${order.message.id}, not addressed to it`,
    );
    this.lastSeq = order.seq;
    return [this.deliver(order.message)];
  }

  /** Plain data: the next and last sequence numbers and the count. */
  snapshot(): { nextSeq: number; lastSeq: number; delivered: number } {
    return { nextSeq: this.nextSeq, lastSeq: this.lastSeq, delivered: this.deliveredCount };
  }

  restore(state: unknown): void {
    const saved = state as { nextSeq: number; lastSeq: number; delivered: number };
    this.nextSeq = saved.nextSeq;
    this.lastSeq = saved.lastSeq;
    this.deliveredCount = saved.delivered;
  }

  private deliver(message: Multicast): GroupOutput<SequencerMessage> {
    this.deliveredCount += 1;
    return { kind: "deliver", message };
  }
}

/** `params.sequencer`: a group of the system; by default its first group. */
function parseSequencerParams(params: JsonFields, system: ParamsSystem): SequencerParams {
  const sequencer = params.optionalString("sequencer") ?? system.groups[0];
  if (sequencer === undefined || !system.groups.includes(sequencer))
    throw params.error(
      "sequencer",
      `expected a group of the system (${listNames(system.groups)}), got ${describeValue(sequencer)}`,
    );
  return { sequencer };
}

/** The message pattern's delay: client -> sequencer -> every other destination. */
function sequencerLatencyMs(dst: DestinationSet, sequencer: GroupId, latency: LatencyModel): number {
  const ordered = latency.clientToGroupMs(sequencer);
  let last = 0;
  for (const group of dst)
    last = Math.max(last, group === sequencer ? ordered : ordered + latency.groupToGroupMs(sequencer, group));
  return last;
}

export const sequencer: FlatProtocolDefinition<SequencerMessage, SequencerParams> = {
  name: "sequencer",
  overlayKind: null,
  parseParams: parseSequencerParams,
  entryGroups: (_dst, { params }) => [params.sequencer],
  createGroup: (config) => new SequencerGroup(config),
  // A type tag and the sequence number, then the multicast.
  describe: (body): WireDescription => ({
    kind: body.type,
    id: body.message.id,
    bytes: 8 + multicastBytes(body.message),
  }),
  modelLatencyMs: (dst, { params }, latency) => sequencerLatencyMs(dst, params.sequencer, latency),
};
