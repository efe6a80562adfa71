import type {
  DestinationSet,
  FaultKind,
  GroupId,
  LatencyModel,
  MessageId,
  Overlay,
  ProcessId,
  ProtocolContext,
  ProtocolDefinition,
  Topology,
  TraceEvent,
  TraceSink,
} from "@amcast/core";
import { assert, destinationKey, replayTraceEvent } from "@amcast/core";

/** Latency statistics of a set of multicasts. */
export interface LatencySummary {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Mean latency over the mean physical floor (max over destinations of the client's delay). */
  readonly floorRatio: number;
  /** Mean latency over the mean of the protocol's own latency model, when it has one. */
  readonly modelRatio: number | null;
  readonly meanFloorMs: number;
  readonly meanModelMs: number | null;
}

/** Kind of a multicast for per-kind tables: "local", or "global-N" for N destinations. */
export function messageKind(dst: DestinationSet): string {
  return dst.length === 1 ? "local" : `global-${dst.length}`;
}

class LatencyAccumulator {
  /** Samples in `values[0 .. count)`; the buffer doubles when full. */
  private values = new Float64Array(1024);
  count = 0;
  floorSumMs = 0;
  modelSumMs = 0;
  modelCount = 0;

  add(latencyMs: number, floorMs: number, modelMs: number | null): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count] = latencyMs;
    this.count += 1;
    this.floorSumMs += floorMs;
    if (modelMs !== null) {
      this.modelSumMs += modelMs;
      this.modelCount += 1;
    }
  }

  /** The samples sorted ascending (a copy). */
  sorted(): Float64Array {
    return this.values.slice(0, this.count).sort();
  }

  /**
   * `sorted`: the samples sorted ascending when the caller has them (`mergeSorted` of the parts
   * they were split into), so they are not sorted twice.
   */
  summary(sorted = this.sorted()): LatencySummary {
    assert(sorted.length === this.count, "the sorted samples are this accumulator's");
    const count = this.count;
    if (count === 0) {
      return {
        count,
        mean: 0,
        p50: 0,
        p99: 0,
        max: 0,
        floorRatio: 0,
        modelRatio: null,
        meanFloorMs: 0,
        meanModelMs: null,
      };
    }
    let sum = 0;
    for (let index = 0; index < count; index += 1) sum += sorted[index] as number;
    const mean = sum / count;
    const meanFloorMs = this.floorSumMs / count;
    const meanModelMs = this.modelCount === count ? this.modelSumMs / count : null;
    return {
      count,
      mean,
      p50: percentile(sorted, 0.5),
      p99: percentile(sorted, 0.99),
      max: sorted[count - 1] as number,
      floorRatio: meanFloorMs > 0 ? mean / meanFloorMs : 0,
      modelRatio: meanModelMs !== null && meanModelMs > 0 ? mean / meanModelMs : null,
      meanFloorMs,
      meanModelMs,
    };
  }
}

/** One ascending array of the ascending `parts`' values (a k-way merge: no sort of the whole). */
function mergeSorted(parts: readonly Float64Array[]): Float64Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const merged = new Float64Array(length);
  const next = parts.map(() => 0);
  for (let index = 0; index < length; index += 1) {
    let from = -1;
    let smallest = Number.POSITIVE_INFINITY;
    for (let part = 0; part < parts.length; part += 1) {
      const at = next[part] as number;
      const values = parts[part] as Float64Array;
      if (at < values.length && (from < 0 || (values[at] as number) < smallest)) {
        from = part;
        smallest = values[at] as number;
      }
    }
    merged[index] = smallest;
    next[from] = (next[from] as number) + 1;
  }
  return merged;
}

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array, fraction: number): number {
  assert(sorted.length > 0, "percentile of nothing");
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/**
 * What every multicast of one client to one destination set shares: its kind, its latency floor,
 * the protocol's modelled latency and the accumulator of its kind. Computed once per (client,
 * destination set), not once per multicast.
 */
interface Shape {
  readonly kind: string;
  readonly floorMs: number;
  /** The client's latency model (its region), for a multicast under a later overlay view. */
  readonly latencyModel: LatencyModel;
  readonly modelMs: number | null;
  readonly perKind: LatencyAccumulator;
}

/**
 * A client's shapes by destination set, the last one used (most multicasts repeat it), and the
 * last local one by its destination array (a workload repeats one array for its local
 * multicasts, so a global multicast in between costs the local ones no lookup).
 */
interface ClientShapes {
  readonly byDst: Map<string, Shape>;
  last: Shape | undefined;
  lastKey: string;
  lastLocal: Shape | undefined;
  lastLocalDst: DestinationSet | undefined;
}

interface InFlight {
  readonly client: string;
  readonly dst: DestinationSet;
  readonly shape: Shape;
  readonly multicastMs: number;
  /** The overlay view every group had installed when the multicast started (0 without views). */
  readonly view: number;
  /**
   * Destination groups of a multi-group multicast that have not delivered yet (first replica to
   * deliver counts), copied from `dst` on its first delivery; a local one needs no list.
   */
  groupsLeft: GroupId[] | undefined;
  lastDeliveryMs: number;
  completeMs: number;
}

/** One multicast's outcome, for per-message CSVs, time series and before/after comparisons. */
export interface MessageSample {
  readonly multicastMs: number;
  readonly latencyMs: number;
  readonly kind: string;
  readonly client: string;
  readonly dst: DestinationSet;
  /** The protocol's latency model for it, on the overlay view it started under; null: none. */
  readonly modelMs: number | null;
}

/**
 * Genuineness, measured: messages about a multicast received by a group that is not one of its
 * destinations (a replica of an outside group): protocol messages, and client requests to an
 * outside entry group. Counted from `send` events that carry the multicast's id, so only runs
 * that record sends have it. A genuine
 * protocol (Skeen) scores zero; FlexCast's notifications go to outside groups by design.
 */
export interface Genuineness {
  /** Outside messages over all multicasts, per multicast. */
  readonly outsideMessagesPerMulticast: number;
  /** Distinct outside groups that received something about a multicast, per multicast. */
  readonly outsideGroupsPerMulticast: number;
  /** Share of multicasts (0..1) with at least one outside message. */
  readonly multicastsWithOutside: number;
  /** Most outside groups any one multicast involved. */
  readonly outsideGroupsMax: number;
  /** Outside messages per multicast, by kind of message (local, global-2, ...). */
  readonly byKind: ReadonlyMap<string, number>;
}

export interface RunMetrics {
  readonly multicasts: number;
  /** Multicasts delivered by every destination group. */
  readonly delivered: number;
  readonly completed: number;
  readonly latency: LatencySummary;
  /** Multicast to the client's completion (every destination answered). */
  readonly completeLatency: LatencySummary;
  readonly byKind: ReadonlyMap<string, LatencySummary>;
  /** Completed multicasts per second of (virtual) time between the first multicast and the last completion. */
  readonly multicastsPerSec: number;
  readonly samples: readonly MessageSample[];
  /** Faults and overlay views as they happened, for marking plots. */
  readonly marks: readonly RunMark[];
  /** Null unless the run recorded protocol sends (`--trace-sends`). */
  readonly genuineness: Genuineness | null;
}

/** Something worth marking on a plot over time: a fault or a view change. */
export interface RunMark {
  readonly t: number;
  readonly label: string;
}

/**
 * Folds trace events into run metrics as they are produced, so a long run needs no stored trace.
 * Latency of a multicast = time from the multicast to the delivery at its last destination group
 * (a group delivers when its first replica does).
 */
export class MetricsCollector implements TraceSink {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly latency = new LatencyAccumulator();
  private readonly completeLatency = new LatencyAccumulator();
  private readonly byKind = new Map<string, LatencyAccumulator>();
  /**
   * Per client: the shape of its multicasts by destination set (`destinationKey`); null for an
   * ignored client (one lookup per multicast answers both).
   */
  private readonly shapes = new Map<string, ClientShapes | null>();
  private readonly samples: MessageSample[] = [];
  private readonly marks: RunMark[] = [];
  private multicasts = 0;
  private delivered = 0;
  private completed = 0;
  private firstMulticastMs = Number.POSITIVE_INFINITY;
  private lastCompleteMs = 0;
  /** Group of every replica (`member` events). */
  private readonly groupOf = new Map<string, string>();
  /**
   * Destinations of every multicast, kept only once `send` events show up (then they are needed
   * for messages sent after a multicast completes); runs without recorded sends keep nothing.
   */
  private dstById: Map<string, DestinationSet> | null = null;
  private readonly outsideMessages = new Map<string, number>();
  private readonly outsideGroups = new Map<string, Set<string>>();
  /** Overlay views: the newest one each group installed (first replica), and the one all did. */
  private readonly viewOfGroup = new Map<string, number>();
  private viewEverywhere = 0;
  /** The protocol's context per view (the view's overlay), for the latency model. */
  private readonly contextOfView = new Map<number, ProtocolContext | null>();

  constructor(
    private readonly topology: Topology,
    private readonly clientRegions: ReadonlyMap<string, string>,
    private readonly protocol: ProtocolDefinition<unknown>,
    /** The context the protocol's latency model is evaluated in (groups, overlay, parameters). */
    private readonly context: ProtocolContext,
    private readonly keepSamples: boolean,
    /** Clients whose multicasts are not workload (a reconfiguration controller). */
    private readonly ignoredClients: ReadonlySet<string> = new Set(),
    /**
     * With overlay views (reconfiguration): the overlay of view v > 0, so the latency model of a
     * multicast follows the view every group had installed when it started; undefined: no model
     * once the first view is installed.
     */
    private readonly overlayOfView?: (view: number) => Overlay | undefined,
  ) {
    this.contextOfView.set(0, context);
  }

  /** Folds one event object (a trace read back, or the network runtime's merged trace). */
  onEvent(event: TraceEvent): void {
    replayTraceEvent(event, this);
  }

  member(group: GroupId, proc: ProcessId): void {
    this.groupOf.set(proc, group);
  }

  multicast(id: MessageId, client: ProcessId, dst: DestinationSet, t: number): void {
    let shapes = this.shapes.get(client);
    if (shapes === undefined) {
      shapes = this.ignoredClients.has(client)
        ? null
        : { byDst: new Map(), last: undefined, lastKey: "", lastLocal: undefined, lastLocalDst: undefined };
      this.shapes.set(client, shapes);
    }
    if (shapes === null) return;
    this.multicasts += 1;
    if (t < this.firstMulticastMs) this.firstMulticastMs = t;
    this.dstById?.set(id, dst);
    this.inFlight.set(id, {
      client,
      dst,
      shape: this.shape(shapes, client, dst),
      multicastMs: t,
      view: this.viewEverywhere,
      groupsLeft: undefined,
      lastDeliveryMs: -1,
      completeMs: -1,
    });
  }

  /** The first replica of a group to deliver counts for its group. */
  deliver(id: MessageId, group: GroupId, _proc: ProcessId, t: number): void {
    const record = this.inFlight.get(id);
    if (record === undefined || record.lastDeliveryMs >= 0) return;
    if (record.dst.length > 1) {
      record.groupsLeft ??= [...record.dst];
      const groupsLeft = record.groupsLeft;
      const index = groupsLeft.indexOf(group);
      if (index < 0) return;
      // Order does not matter: the last one takes the freed place.
      const last = groupsLeft.pop() as GroupId;
      if (index < groupsLeft.length) groupsLeft[index] = last;
      if (groupsLeft.length > 0) return;
    } else if (group !== record.dst[0]) return;
    record.lastDeliveryMs = t;
    this.delivered += 1;
    this.maybeFinish(id, record);
  }

  complete(id: MessageId, _client: ProcessId, t: number): void {
    const record = this.inFlight.get(id);
    if (record === undefined) return;
    record.completeMs = t;
    this.completed += 1;
    if (t > this.lastCompleteMs) this.lastCompleteMs = t;
    this.maybeFinish(id, record);
  }

  fault(proc: ProcessId, kind: FaultKind, t: number): void {
    if (kind !== "byzantine" && this.marks.length < MARKS_MAX)
      this.marks.push({ t, label: `${kind} ${proc}` });
  }

  view(group: GroupId, view: number, t: number): void {
    this.onView(group, view);
    const label = `view ${view}`;
    if (this.marks.length < MARKS_MAX && !this.marks.some((mark) => mark.label === label))
      this.marks.push({ t, label });
  }

  /** The shape of `client`'s multicasts to `dst` (`shapes` are the client's), computed on first use. */
  private shape(shapes: ClientShapes, client: string, dst: DestinationSet): Shape {
    // Most of a client's multicasts go to its home group alone: the last shape answers them.
    if (dst === shapes.lastLocalDst) return shapes.lastLocal as Shape;
    const key = dst.length === 1 ? (dst[0] as GroupId) : destinationKey(dst);
    let shape = shapes.last !== undefined && key === shapes.lastKey ? shapes.last : shapes.byDst.get(key);
    if (shape === undefined) {
      shape = this.newShape(client, dst);
      shapes.byDst.set(key, shape);
    }
    this.remember(shapes, dst, key, shape);
    return shape;
  }

  /**
   * The shape of `client`'s multicasts to `dst`, computed. A function of its own: the closures it
   * makes would otherwise cost every lookup above a context object.
   */
  private newShape(client: string, dst: DestinationSet): Shape {
    const region = this.clientRegions.get(client);
    assert(region !== undefined, () => `client ${client} has no region`);
    const latencyModel: LatencyModel = {
      clientToGroupMs: (group) => this.topology.regionToGroupMs(region, group),
      groupToGroupMs: (from, to) => this.topology.groupToGroupMs(from, to),
    };
    let floorMs = 0;
    for (const group of dst) floorMs = Math.max(floorMs, latencyModel.clientToGroupMs(group));
    const kind = messageKind(dst);
    let perKind = this.byKind.get(kind);
    if (perKind === undefined) {
      perKind = new LatencyAccumulator();
      this.byKind.set(kind, perKind);
    }
    return {
      kind,
      floorMs,
      latencyModel,
      modelMs: this.protocol.modelLatencyMs?.(dst, this.context, latencyModel) ?? null,
      perKind,
    };
  }

  private remember(shapes: ClientShapes, dst: DestinationSet, key: string, shape: Shape): void {
    shapes.last = shape;
    shapes.lastKey = key;
    if (dst.length === 1) {
      shapes.lastLocal = shape;
      shapes.lastLocalDst = dst;
    }
  }

  private onView(group: string, view: number): void {
    if (view <= (this.viewOfGroup.get(group) ?? 0)) return;
    this.viewOfGroup.set(group, view);
    let everywhere = view;
    for (const other of this.context.groups)
      everywhere = Math.min(everywhere, this.viewOfGroup.get(other) ?? 0);
    this.viewEverywhere = everywhere;
  }

  /** The protocol's context in `view` (its overlay), or null when the view's overlay is unknown. */
  private contextIn(view: number): ProtocolContext | null {
    let context = this.contextOfView.get(view);
    if (context === undefined) {
      const overlay = this.overlayOfView?.(view);
      context = overlay === undefined ? null : { ...this.context, overlay };
      this.contextOfView.set(view, context);
    }
    return context;
  }

  send(_from: ProcessId, to: ProcessId, _kind: string, id: MessageId | undefined): void {
    if (this.dstById === null) {
      // The first recorded send: from now on remember destinations, starting with what is in flight.
      this.dstById = new Map([...this.inFlight].map(([inFlightId, record]) => [inFlightId, record.dst]));
    }
    // Client requests count too: an entry group outside the destinations (ByzCast's auxiliary
    // lca) takes part from the request on. Replies go to clients, which belong to no group.
    if (id === undefined) return;
    const group = this.groupOf.get(to);
    const dst = this.dstById.get(id);
    if (group === undefined || dst === undefined || dst.includes(group)) return;
    this.outsideMessages.set(id, (this.outsideMessages.get(id) ?? 0) + 1);
    let groups = this.outsideGroups.get(id);
    if (groups === undefined) {
      groups = new Set();
      this.outsideGroups.set(id, groups);
    }
    groups.add(group);
  }

  private genuineness(): Genuineness | null {
    const dstById = this.dstById;
    if (dstById === null || dstById.size === 0) return null;
    let messages = 0;
    let groups = 0;
    let touched = 0;
    let groupsMax = 0;
    const kindTotals = new Map<string, { messages: number; multicasts: number }>();
    for (const [id, dst] of dstById) {
      const outside = this.outsideMessages.get(id) ?? 0;
      const outsideGroups = this.outsideGroups.get(id)?.size ?? 0;
      messages += outside;
      groups += outsideGroups;
      if (outside > 0) touched += 1;
      groupsMax = Math.max(groupsMax, outsideGroups);
      const kind = messageKind(dst);
      const totals = kindTotals.get(kind) ?? { messages: 0, multicasts: 0 };
      totals.messages += outside;
      totals.multicasts += 1;
      kindTotals.set(kind, totals);
    }
    const kinds = [...kindTotals.keys()].sort((a, b) => kindOrder(a) - kindOrder(b));
    return {
      outsideMessagesPerMulticast: messages / dstById.size,
      outsideGroupsPerMulticast: groups / dstById.size,
      multicastsWithOutside: touched / dstById.size,
      outsideGroupsMax: groupsMax,
      byKind: new Map(
        kinds.map((kind) => {
          const totals = kindTotals.get(kind) as { messages: number; multicasts: number };
          return [kind, totals.messages / totals.multicasts];
        }),
      ),
    };
  }

  private maybeFinish(id: string, record: InFlight): void {
    if (record.lastDeliveryMs < 0 || record.completeMs < 0) return;
    this.inFlight.delete(id);
    const { floorMs, perKind, kind } = record.shape;
    // The shape's model is view 0's; a multicast started under a later view follows its overlay.
    let modelMs = record.shape.modelMs;
    if (record.view !== 0) {
      const context = this.contextIn(record.view);
      modelMs =
        context === null
          ? null
          : (this.protocol.modelLatencyMs?.(record.dst, context, record.shape.latencyModel) ?? null);
    }
    const latencyMs = record.lastDeliveryMs - record.multicastMs;
    this.latency.add(latencyMs, floorMs, modelMs);
    this.completeLatency.add(record.completeMs - record.multicastMs, floorMs, modelMs);
    perKind.add(latencyMs, floorMs, modelMs);
    if (this.keepSamples) {
      this.samples.push({
        multicastMs: record.multicastMs,
        latencyMs,
        kind,
        client: record.client,
        dst: record.dst,
        modelMs,
      });
    }
  }

  finish(): RunMetrics {
    // Kinds of which at least one multicast finished (an accumulator exists from the first multicast).
    const kinds = [...this.byKind]
      .filter(([, accumulator]) => accumulator.count > 0)
      .map(([kind]) => kind)
      .sort((a, b) => kindOrder(a) - kindOrder(b));
    const spanMs = this.lastCompleteMs - this.firstMulticastMs;
    // Every sample of `latency` is a sample of exactly one kind: the kinds' sorted samples merged
    // are the whole's sorted, summed in the same order (so the same mean to the last bit).
    const sortedByKind = new Map(
      kinds.map((kind) => [kind, (this.byKind.get(kind) as LatencyAccumulator).sorted()]),
    );
    return {
      multicasts: this.multicasts,
      delivered: this.delivered,
      completed: this.completed,
      latency: this.latency.summary(mergeSorted([...sortedByKind.values()])),
      completeLatency: this.completeLatency.summary(),
      byKind: new Map(
        kinds.map((kind) => [
          kind,
          (this.byKind.get(kind) as LatencyAccumulator).summary(sortedByKind.get(kind)),
        ]),
      ),
      multicastsPerSec: spanMs > 0 ? (this.completed * 1000) / spanMs : 0,
      samples: this.samples,
      marks: this.marks,
      genuineness: this.genuineness(),
    };
  }
}

/** Marks kept per run: plots show a handful, not thousands. */
const MARKS_MAX = 100;

function kindOrder(kind: string): number {
  return kind === "local" ? 1 : Number(kind.slice("global-".length));
}
