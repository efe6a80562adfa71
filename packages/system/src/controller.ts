import type { DestinationSet, GroupId, GroupRole, ObservedDelay, Overlay, Prng } from "@amcast/core";
import {
  assert,
  assertNever,
  CdagOverlay,
  destinationKey,
  overlayToJson,
  parseOverlay,
  TreeOverlay,
} from "@amcast/core";
import type { DestinationCount, GroupLatencyMs, OptimizeAnswer, OptimizeRequest } from "@amcast/optimizer";
import { optimizeRequest, solveRequest } from "@amcast/optimizer";
import type { ControlPayload, DestinationCount as GroupCount } from "@amcast/reconfig";
import type { TimedAnswer } from "./optimizer-thread.js";
import type { ReconfigSpec } from "./spec.js";

/** One reconfiguration as the controller decided and installed it. */
export interface Reconfiguration {
  readonly view: number;
  readonly overlay: string;
  /** When the controller decided it (the STATS that triggered it completed), ms of virtual time. */
  readonly decidedMs: number;
  /** When the VIEW multicast completed (every target group installed it); null: not yet. */
  installedMs: number | null;
  /** The optimiser's predicted mean latency of the window's workload, before and after (ms). */
  readonly predictedCurrentMs: number | null;
  readonly predictedBestMs: number | null;
  readonly method: string;
  readonly optimal: boolean;
  /** Wall-clock time the optimiser took (ms); not part of the simulated run. */
  readonly solveMs: number;
}

/** An optimiser run the controller made, whether or not it led to a reconfiguration. */
export interface PlanRecord {
  readonly atMs: number;
  readonly currentCostMs: number;
  readonly bestCostMs: number;
  readonly changed: boolean;
  readonly solveMs: number;
  /** Ordered group pairs whose delay came from measurements (the rest from the topology). */
  readonly measuredPairs: number;
}

/** Delays measured from one group to another over a statistics collection or window. */
export interface MeasuredDelay {
  readonly from: GroupId;
  readonly to: GroupId;
  readonly meanMs: number;
  readonly samples: number;
}

type Sent = "stats" | "view" | null;

/**
 * Where the controller's optimiser runs when not in the controller's own thread: e.g. an
 * `OptimizerThread`, so a solve does not hold up the clients that share the controller's event
 * loop (the network runtime). One solve at a time: the controller asks again only once answered.
 */
export interface OffThreadSolver {
  solve(request: OptimizeRequest): Promise<TimedAnswer>;
}

/** What a reconfiguration controller did, as plain JSON. */
export interface ControllerReport {
  readonly reconfigurations: readonly Reconfiguration[];
  readonly plans: readonly PlanRecord[];
  /** The overlay of every view it sent (view 0: the initial one), in its JSON form. */
  readonly overlays: readonly { readonly view: number; readonly overlay: unknown }[];
  /** The group-to-group delays it last had from the replicas (its window's; none when not used). */
  readonly measuredDelays: readonly MeasuredDelay[];
  /** Why optimiser runs off the controller's thread failed (none when all answered). */
  readonly solverErrors: readonly string[];
}

/** The overlay of each view of a controller's report (what latency models per view need). */
export function reportedOverlays(
  report: ControllerReport,
  source: string,
): (view: number) => Overlay | undefined {
  const overlays = new Map(
    report.overlays.map(({ view, overlay }) => [view, parseOverlay(overlay, `${source} (view ${view})`)]),
  );
  return (view) => overlays.get(view);
}

/**
 * The reconfiguration controller: a background client of the run. Its multicasts go to every
 * target group; what it sends next depends on what the previous one returned, so it keeps one in
 * flight. Deterministic for a seed, except `solveMs` (wall clock, reported only).
 */
export class ReconfigController {
  readonly reconfigurations: Reconfiguration[] = [];
  readonly plans: PlanRecord[] = [];
  private overlay: Overlay;
  private view = 0;
  private pending: { overlay: Overlay; record: Reconfiguration } | null = null;
  /** The overlay of every view sent (view 0: the initial one), for latency models per view. */
  private readonly overlays = new Map<number, Overlay>();
  private sent: Sent = null;
  /** The last `windowCollections` STATS answers, merged per collection. */
  private readonly window: Map<string, DestinationCount>[] = [];
  /** The delays the replicas reported with the same answers, per collection and ordered pair. */
  private readonly delayWindow: Map<string, MeasuredDelay>[] = [];
  /** A solve is under way off the controller's thread. */
  private solving = false;
  /** Why solves off the controller's thread failed (each one a lost optimiser run). */
  readonly solverErrors: string[] = [];

  constructor(
    private readonly spec: ReconfigSpec,
    initial: Overlay,
    private readonly targets: readonly GroupId[],
    private readonly latencyMs: GroupLatencyMs,
    /** The group next to a client (where its leg to an entry group starts); undefined: unknown. */
    private readonly originOf: (client: string) => GroupId | undefined,
    private readonly prng: Prng,
    /** Wall clock for solve times (the experiment passes performance.now). */
    private readonly clockMs: () => number,
    /**
     * Solves off the controller's thread: an answer applies when it comes (its VIEW goes out
     * with the controller's next multicast), and no other solve starts meanwhile. Undefined: in
     * the controller's thread, at once (the simulator: deterministic, the run waits for nothing).
     */
    private readonly offThread?: OffThreadSolver,
  ) {
    this.overlay = initial;
    this.overlays.set(0, initial);
  }

  /** The overlay of `view`, once the controller has sent it. */
  overlayOf(view: number): Overlay | undefined {
    return this.overlays.get(view);
  }

  /** What the controller did, as plain JSON (a client host on the network sends it to the runner). */
  report(): ControllerReport {
    return {
      reconfigurations: this.reconfigurations,
      plans: this.plans,
      overlays: [...this.overlays].map(([view, overlay]) => ({ view, overlay: overlayToJson(overlay) })),
      measuredDelays: [...this.measuredDelays().values()],
      solverErrors: [...this.solverErrors],
    };
  }

  destinations(): DestinationSet {
    return this.targets;
  }

  payload(): ControlPayload {
    assert(this.sent === null, "the controller keeps one multicast in flight");
    if (this.spec.policy === "random" && this.pending === null && this.view < this.spec.viewsMax) {
      this.pending = {
        overlay: randomOverlayLike(this.overlay, this.prng, `random-${this.view + 1}`),
        record: this.record(this.view + 1, 0, null, null, 0, "random", false),
      };
    }
    if (this.pending !== null) {
      this.sent = "view";
      this.overlays.set(this.view + 1, this.pending.overlay);
      return { control: "view", view: this.view + 1, overlay: overlayToJson(this.pending.overlay) };
    }
    this.sent = "stats";
    return { control: "stats" };
  }

  onComplete(
    results: Readonly<Record<GroupId, unknown>>,
    nowMs: number,
    delays: readonly ObservedDelay[] = [],
  ): void {
    const sent = this.sent;
    this.sent = null;
    switch (sent) {
      case "view": {
        const pending = this.pending;
        assert(pending !== null, "a VIEW was in flight");
        this.pending = null;
        this.overlay = pending.overlay;
        this.view += 1;
        pending.record.installedMs = nowMs;
        this.reconfigurations.push(pending.record);
        return;
      }
      case "stats":
        this.collect(results);
        this.collectDelays(delays);
        this.plan(nowMs);
        return;
      case null:
        assert(false, "a completion with nothing in flight");
        return;
      default:
        assertNever(sent, "control multicast");
    }
  }

  /** The destination-set counts of the window (per origin group), merged. */
  windowCounts(): DestinationCount[] {
    const merged = new Map<string, DestinationCount>();
    for (const collection of this.window) {
      for (const [key, entry] of collection) {
        const known = merged.get(key);
        merged.set(key, known === undefined ? entry : { ...known, count: known.count + entry.count });
      }
    }
    return [...merged.values()];
  }

  private collect(results: Readonly<Record<GroupId, unknown>>): void {
    const collection = new Map<string, DestinationCount>();
    for (const group of this.targets) {
      const counts = results[group];
      assert(Array.isArray(counts), () => `group ${group} answered STATS with ${JSON.stringify(counts)}`);
      for (const { dst, count, client } of counts as GroupCount[]) {
        // Each multicast is counted once, at its first destination: no double counting here.
        const origin = client === undefined ? undefined : this.originOf(client);
        const key = `${origin ?? ""}\n${destinationKey(dst)}`;
        const entry = collection.get(key);
        collection.set(key, {
          dst,
          count: (entry?.count ?? 0) + count,
          ...(origin === undefined ? {} : { origin }),
        });
      }
    }
    this.window.push(collection);
    if (this.window.length > this.spec.windowCollections) this.window.shift();
  }

  /**
   * One collection's delays: per ordered pair, the median over the reporting replicas of the
   * receiving group (f+1 in Byzantine mode, so one lying replica moves it little).
   */
  private collectDelays(delays: readonly ObservedDelay[]): void {
    const reports = new Map<string, ObservedDelay[]>();
    for (const delay of delays) {
      const key = `${delay.from}\n${delay.to}`;
      const list = reports.get(key);
      if (list === undefined) reports.set(key, [delay]);
      else list.push(delay);
    }
    const collection = new Map<string, MeasuredDelay>();
    for (const [key, list] of reports) {
      list.sort((a, b) => a.meanMs - b.meanMs);
      const middle = list[list.length >> 1] as ObservedDelay;
      collection.set(key, {
        from: middle.from,
        to: middle.to,
        meanMs: middle.meanMs,
        samples: middle.samples,
      });
    }
    this.delayWindow.push(collection);
    if (this.delayWindow.length > this.spec.windowCollections) this.delayWindow.shift();
  }

  /**
   * The delays over the window (per ordered pair, each collection weighted by its samples), or
   * none when the spec does not use measurements.
   */
  measuredDelays(): Map<string, MeasuredDelay> {
    const merged = new Map<string, MeasuredDelay>();
    if (!this.spec.measuredDelays) return merged;
    for (const collection of this.delayWindow) {
      for (const [key, delay] of collection) {
        const known = merged.get(key);
        const samples = (known?.samples ?? 0) + delay.samples;
        const meanMs =
          known === undefined
            ? delay.meanMs
            : (known.meanMs * known.samples + delay.meanMs * delay.samples) / samples;
        merged.set(key, { from: delay.from, to: delay.to, meanMs, samples });
      }
    }
    return merged;
  }

  /**
   * The delay from one group to another the optimiser uses: measured where the window has it,
   * else measured the other way (traffic on an overlay flows one way; WAN delays are about
   * symmetric), else the topology's.
   */
  private delayFunction(): { latencyMs: GroupLatencyMs; measuredPairs: number } {
    const measured = this.measuredDelays();
    if (measured.size === 0) return { latencyMs: this.latencyMs, measuredPairs: 0 };
    const latencyMs: GroupLatencyMs = (from, to) =>
      measured.get(`${from}\n${to}`)?.meanMs ??
      measured.get(`${to}\n${from}`)?.meanMs ??
      this.latencyMs(from, to);
    return { latencyMs, measuredPairs: measured.size };
  }

  private plan(nowMs: number): void {
    // Off the controller's thread, an answer may have come while this STATS was in flight: its
    // view goes out first, and the next plan starts from it.
    if (
      this.spec.policy !== "optimise" ||
      this.view >= this.spec.viewsMax ||
      this.solving ||
      this.pending !== null
    )
      return;
    const counts = this.windowCounts();
    if (counts.every(({ dst }) => dst.length < 2)) return; // nothing an overlay changes
    const { latencyMs, measuredPairs } = this.delayFunction();
    const request = optimizeRequest(this.overlay, counts, latencyMs, {
      solver: this.spec.solver,
      timeLimitMs: this.spec.solverTimeLimitMs,
      minGainFraction: this.spec.minGainFraction,
      ...(this.overlay.kind === "tree" && this.spec.loadLimitFraction !== null
        ? { loadLimit: loadLimit(counts, this.spec.loadLimitFraction) }
        : {}),
    });
    if (this.offThread === undefined) {
      const started = this.clockMs();
      const answer = solveRequest(request);
      this.accept(nowMs, answer, this.clockMs() - started, measuredPairs);
      return;
    }
    this.solving = true;
    this.offThread.solve(request).then(
      ({ answer, solveMs }) => {
        this.solving = false;
        this.accept(nowMs, answer, solveMs, measuredPairs);
      },
      (error: Error) => {
        this.solving = false;
        this.solverErrors.push(error.message);
      },
    );
  }

  /** Records an optimiser run and, when it proposes a change, the view to send next. */
  private accept(nowMs: number, answer: OptimizeAnswer, solveMs: number, measuredPairs: number): void {
    this.plans.push({
      atMs: nowMs,
      currentCostMs: answer.currentCostMs,
      bestCostMs: answer.bestCostMs,
      changed: answer.changed,
      solveMs,
      measuredPairs,
    });
    if (!answer.changed || this.view >= this.spec.viewsMax) return;
    const overlay = parseOverlay(answer.overlay, "the optimiser's answer");
    this.pending = {
      overlay,
      record: this.record(
        this.view + 1,
        nowMs,
        answer.currentCostMs,
        answer.bestCostMs,
        solveMs,
        answer.method,
        answer.optimal,
        overlay,
      ),
    };
  }

  private record(
    view: number,
    decidedMs: number,
    predictedCurrentMs: number | null,
    predictedBestMs: number | null,
    solveMs: number,
    method: string,
    optimal: boolean,
    overlay?: Overlay,
  ): Reconfiguration {
    return {
      view,
      overlay: overlay === undefined ? "" : describeOverlay(overlay),
      decidedMs,
      installedMs: null,
      predictedCurrentMs,
      predictedBestMs,
      method,
      optimal,
      solveMs,
    };
  }
}

function loadLimit(counts: readonly DestinationCount[], fraction: number): number {
  let total = 0;
  for (const { count } of counts) total += count;
  return Math.max(1, Math.ceil(total * fraction));
}

/** A short text for an overlay: the C-DAG order, or the tree's parent->children lists. */
export function describeOverlay(overlay: Overlay): string {
  if (overlay.kind === "cdag") return overlay.order.join(">");
  return overlay.groups
    .filter((group) => overlay.children(group).length > 0)
    .map((group) => `${group}:[${overlay.children(group).join(",")}]`)
    .join(" ");
}

/** A random overlay over the same groups as `overlay`: a shuffled order, or a random tree. */
export function randomOverlayLike(overlay: Overlay, prng: Prng, name: string): Overlay {
  if (overlay.kind === "cdag") return new CdagOverlay(name, prng.shuffle([...overlay.order]));
  const auxiliary = overlay.groups.filter((group) => overlay.role(group) === "auxiliary");
  return randomTree(name, overlay.targets, auxiliary, prng);
}

/**
 * A random tree over `targets` and `auxiliary` groups, the auxiliary ones inner nodes at the top
 * (an auxiliary leaf would order messages for no one).
 */
export function randomTree(
  name: string,
  targets: readonly GroupId[],
  auxiliary: readonly GroupId[],
  prng: Prng,
): TreeOverlay {
  const roles = new Map<GroupId, GroupRole>([
    ...auxiliary.map((group) => [group, "auxiliary"] as const),
    ...targets.map((group) => [group, "target"] as const),
  ]);
  const edges: [GroupId, GroupId][] = [];
  const placed: GroupId[] = [];
  for (const group of auxiliary) {
    if (placed.length > 0) edges.push([prng.pick(placed), group]);
    placed.push(group);
  }
  const pending = prng.shuffle([...targets]);
  // Every auxiliary leaf gets a target child, so auxiliary groups are inner nodes.
  for (const group of auxiliary) {
    if (edges.some(([parent]) => parent === group)) continue;
    const child = pending.pop();
    assert(child !== undefined, "there are enough target groups for the auxiliary ones");
    edges.push([group, child]);
    placed.push(child);
  }
  for (const group of pending) {
    if (placed.length > 0) edges.push([prng.pick(placed), group]);
    placed.push(group);
  }
  return new TreeOverlay(name, roles, edges);
}
