import type { DestinationSet, GroupId, GroupRole, Overlay, Prng } from "@amcast/core";
import { assert, assertNever, CdagOverlay, destinationKey, overlayToJson, TreeOverlay } from "@amcast/core";
import type { DestinationCount, GroupLatencyMs, OptimizeResult } from "@amcast/optimizer";
import { optimizeCdag, optimizeTree } from "@amcast/optimizer";
import type { ControlPayload } from "@amcast/reconfig";
import type { ReconfigSpec } from "@amcast/system";

// What a reconfiguring run asks for is part of the system spec (@amcast/system).
export type { ReconfigSpec } from "@amcast/system";
export { CONTROLLER_ID, DEFAULT_RECONFIG } from "@amcast/system";

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
}

type Sent = "stats" | "view" | null;

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
  private sent: Sent = null;
  /** The last `windowCollections` STATS answers, merged per collection. */
  private readonly window: Map<string, DestinationCount>[] = [];

  constructor(
    private readonly spec: ReconfigSpec,
    initial: Overlay,
    private readonly targets: readonly GroupId[],
    private readonly latencyMs: GroupLatencyMs,
    private readonly prng: Prng,
    /** Wall clock for solve times (the experiment passes performance.now). */
    private readonly clockMs: () => number,
  ) {
    this.overlay = initial;
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
      return { control: "view", view: this.view + 1, overlay: overlayToJson(this.pending.overlay) };
    }
    this.sent = "stats";
    return { control: "stats" };
  }

  onComplete(results: Readonly<Record<GroupId, unknown>>, nowMs: number): void {
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
        this.plan(nowMs);
        return;
      case null:
        assert(false, "a completion with nothing in flight");
        return;
      default:
        assertNever(sent, "control multicast");
    }
  }

  /** The destination-set counts of the window, merged. */
  windowCounts(): DestinationCount[] {
    const merged = new Map<string, { dst: DestinationSet; count: number }>();
    for (const collection of this.window) {
      for (const [key, { dst, count }] of collection) {
        const entry = merged.get(key);
        if (entry === undefined) merged.set(key, { dst, count });
        else entry.count += count;
      }
    }
    return [...merged.values()];
  }

  private collect(results: Readonly<Record<GroupId, unknown>>): void {
    const collection = new Map<string, DestinationCount>();
    for (const group of this.targets) {
      const counts = results[group];
      assert(Array.isArray(counts), () => `group ${group} answered STATS with ${JSON.stringify(counts)}`);
      for (const { dst, count } of counts as DestinationCount[]) {
        // Each multicast is counted once, at its first destination: no double counting here.
        const key = destinationKey(dst);
        const entry = collection.get(key);
        collection.set(key, { dst, count: (entry?.count ?? 0) + count });
      }
    }
    this.window.push(collection);
    if (this.window.length > this.spec.windowCollections) this.window.shift();
  }

  private plan(nowMs: number): void {
    if (this.spec.policy !== "optimise" || this.view >= this.spec.viewsMax) return;
    const counts = this.windowCounts();
    if (counts.every(({ dst }) => dst.length < 2)) return; // nothing an overlay changes
    const options = { solver: this.spec.solver, timeLimitMs: this.spec.solverTimeLimitMs };
    const started = this.clockMs();
    const result: OptimizeResult<Overlay> =
      this.overlay.kind === "cdag"
        ? optimizeCdag(this.overlay, counts, this.latencyMs, {
            ...options,
            minGainFraction: this.spec.minGainFraction,
          })
        : optimizeTree(this.overlay, counts, this.latencyMs, {
            ...options,
            minGainFraction: this.spec.minGainFraction,
            ...(this.spec.loadLimitFraction === null
              ? {}
              : { loadLimit: loadLimit(counts, this.spec.loadLimitFraction) }),
          });
    const solveMs = this.clockMs() - started;
    this.plans.push({
      atMs: nowMs,
      currentCostMs: result.currentCostMs,
      bestCostMs: result.bestCostMs,
      changed: result.changed,
      solveMs,
    });
    if (!result.changed) return;
    this.pending = {
      overlay: result.overlay,
      record: this.record(
        this.view + 1,
        nowMs,
        result.currentCostMs,
        result.bestCostMs,
        solveMs,
        result.method,
        result.optimal,
        result.overlay,
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
