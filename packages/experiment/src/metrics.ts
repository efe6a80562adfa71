import type {
  DestinationSet,
  GroupId,
  LatencyModel,
  Overlay,
  ProtocolContext,
  ProtocolDefinition,
  Topology,
  TraceEvent,
  TraceId,
} from "@amcast/core";
import { assert } from "@amcast/core";

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
  readonly samples: number[] = [];
  floorSumMs = 0;
  modelSumMs = 0;
  modelCount = 0;

  add(latencyMs: number, floorMs: number, modelMs: number | null): void {
    this.samples.push(latencyMs);
    this.floorSumMs += floorMs;
    if (modelMs !== null) {
      this.modelSumMs += modelMs;
      this.modelCount += 1;
    }
  }

  summary(): LatencySummary {
    const count = this.samples.length;
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
    const sorted = Float64Array.from(this.samples).sort();
    let sum = 0;
    for (const value of sorted) sum += value;
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

/** Nearest-rank percentile of sorted samples. */
export function percentile(sorted: Float64Array, fraction: number): number {
  assert(sorted.length > 0, "percentile of nothing");
  const rank = Math.ceil(fraction * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

interface InFlight {
  readonly client: string;
  readonly dst: DestinationSet;
  readonly multicastMs: number;
  /** The overlay view every group had installed when the multicast started (0 without views). */
  readonly view: number;
  /** Destination groups that have not delivered yet (first replica to deliver counts); a few each. */
  readonly groupsLeft: GroupId[];
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
export class MetricsCollector {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly latency = new LatencyAccumulator();
  private readonly completeLatency = new LatencyAccumulator();
  private readonly byKind = new Map<string, LatencyAccumulator>();
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

  onEvent(event: TraceEvent): void {
    switch (event.ev) {
      case "multicast": {
        if (this.ignoredClients.has(String(event.client))) return;
        this.multicasts += 1;
        this.firstMulticastMs = Math.min(this.firstMulticastMs, event.t);
        const dst = event.dst as DestinationSet;
        this.dstById?.set(String(event.id), dst);
        this.inFlight.set(String(event.id), {
          client: String(event.client),
          dst,
          multicastMs: event.t,
          view: this.viewEverywhere,
          groupsLeft: [...dst],
          lastDeliveryMs: -1,
          completeMs: -1,
        });
        break;
      }
      case "deliver": {
        const record = this.inFlight.get(String(event.id));
        if (record === undefined) return;
        const index = record.groupsLeft.indexOf(String(event.group));
        if (index < 0) return;
        record.groupsLeft.splice(index, 1);
        if (record.groupsLeft.length === 0) {
          record.lastDeliveryMs = event.t;
          this.delivered += 1;
          this.maybeFinish(String(event.id), record);
        }
        break;
      }
      case "complete": {
        const record = this.inFlight.get(String(event.id));
        if (record === undefined) return;
        record.completeMs = event.t;
        this.completed += 1;
        this.lastCompleteMs = Math.max(this.lastCompleteMs, event.t);
        this.maybeFinish(String(event.id), record);
        break;
      }
      case "fault":
        if (event.kind !== "byzantine" && this.marks.length < MARKS_MAX)
          this.marks.push({ t: event.t, label: `${event.kind} ${event.proc}` });
        break;
      case "view":
        this.onView(String(event.group), event.view);
        if (
          this.marks.length < MARKS_MAX &&
          !this.marks.some((mark) => mark.label === `view ${event.view}`)
        ) {
          this.marks.push({ t: event.t, label: `view ${event.view}` });
        }
        break;
      case "member":
        this.groupOf.set(String(event.proc), String(event.group));
        break;
      case "send":
        this.onSend(event.to, event.id);
        break;
      default:
        break;
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

  private onSend(to: TraceId, id: TraceId | undefined): void {
    if (this.dstById === null) {
      // The first recorded send: from now on remember destinations, starting with what is in flight.
      this.dstById = new Map([...this.inFlight].map(([inFlightId, record]) => [inFlightId, record.dst]));
    }
    // Client requests count too: an entry group outside the destinations (ByzCast's auxiliary
    // lca) takes part from the request on. Replies go to clients, which belong to no group.
    if (id === undefined) return;
    const group = this.groupOf.get(String(to));
    const key = String(id);
    const dst = this.dstById.get(key);
    if (group === undefined || dst === undefined || dst.includes(group)) return;
    this.outsideMessages.set(key, (this.outsideMessages.get(key) ?? 0) + 1);
    let groups = this.outsideGroups.get(key);
    if (groups === undefined) {
      groups = new Set();
      this.outsideGroups.set(key, groups);
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
    const region = this.clientRegions.get(record.client);
    assert(region !== undefined, () => `client ${record.client} has no region`);
    const latencyModel: LatencyModel = {
      clientToGroupMs: (group) => this.topology.regionToGroupMs(region, group),
      groupToGroupMs: (from, to) => this.topology.groupToGroupMs(from, to),
    };
    let floorMs = 0;
    for (const group of record.dst) floorMs = Math.max(floorMs, latencyModel.clientToGroupMs(group));
    const context = this.contextIn(record.view);
    const modelMs =
      context === null ? null : (this.protocol.modelLatencyMs?.(record.dst, context, latencyModel) ?? null);
    const latencyMs = record.lastDeliveryMs - record.multicastMs;
    const kind = messageKind(record.dst);
    this.latency.add(latencyMs, floorMs, modelMs);
    this.completeLatency.add(record.completeMs - record.multicastMs, floorMs, modelMs);
    let perKind = this.byKind.get(kind);
    if (perKind === undefined) {
      perKind = new LatencyAccumulator();
      this.byKind.set(kind, perKind);
    }
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
    const kinds = [...this.byKind.keys()].sort((a, b) => kindOrder(a) - kindOrder(b));
    const spanMs = this.lastCompleteMs - this.firstMulticastMs;
    return {
      multicasts: this.multicasts,
      delivered: this.delivered,
      completed: this.completed,
      latency: this.latency.summary(),
      completeLatency: this.completeLatency.summary(),
      byKind: new Map(kinds.map((kind) => [kind, (this.byKind.get(kind) as LatencyAccumulator).summary()])),
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
