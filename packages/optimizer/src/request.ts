import type { GroupId, Overlay } from "@amcast/core";
import { overlayToJson, parseOverlay } from "@amcast/core";
import { optimizeCdag } from "./cdag.js";
import { optimizeTree } from "./tree.js";
import type { DestinationCount, GroupLatencyMs, OptimizeResult, TreeOptimizeOptions } from "./types.js";

/**
 * One optimiser run as plain data (structured-cloneable), so it can be solved in another thread:
 * the current overlay, the workload, and the one-way delays between the groups it involves.
 */
export interface OptimizeRequest {
  /** The current overlay, as `overlayToJson` writes it: a C-DAG is reordered, a tree rebuilt. */
  readonly overlay: Record<string, unknown>;
  readonly counts: readonly DestinationCount[];
  /** The groups `delaysMs` covers: every group of the overlay and every origin of `counts`. */
  readonly groups: readonly GroupId[];
  /** `delaysMs[i][j]`: one-way delay from `groups[i]` to `groups[j]` (ms). */
  readonly delaysMs: readonly (readonly number[])[];
  /** Solver, time limit and hysteresis; `loadLimit` applies to trees only. */
  readonly options: TreeOptimizeOptions;
}

/** What an optimiser run proposes, as plain data (`OptimizeResult` with the overlay as JSON). */
export interface OptimizeAnswer extends Omit<OptimizeResult<Overlay>, "overlay"> {
  readonly overlay: Record<string, unknown>;
}

/** The request for optimising `overlay` for `counts` under `latencyMs` (sampled on every pair it needs). */
export function optimizeRequest(
  overlay: Overlay,
  counts: readonly DestinationCount[],
  latencyMs: GroupLatencyMs,
  options: TreeOptimizeOptions,
): OptimizeRequest {
  const groups = [...new Set([...overlay.groups, ...counts.flatMap(({ origin }) => origin ?? [])])];
  return {
    overlay: overlayToJson(overlay),
    counts,
    groups,
    delaysMs: groups.map((from) => groups.map((to) => latencyMs(from, to))),
    options,
  };
}

/** Solves a request in this thread: the C-DAG or tree optimiser, by the overlay's kind. */
export function solveRequest(request: OptimizeRequest): OptimizeAnswer {
  const current = parseOverlay(request.overlay, "optimiser request");
  const index = new Map(request.groups.map((group, i) => [group, i]));
  const latencyMs: GroupLatencyMs = (from, to) => {
    const delay = request.delaysMs[index.get(from) ?? -1]?.[index.get(to) ?? -1];
    if (delay === undefined) throw new Error(`the optimiser request has no delay from ${from} to ${to}`);
    return delay;
  };
  const { loadLimit, ...options } = request.options;
  const result: OptimizeResult<Overlay> =
    current.kind === "cdag"
      ? optimizeCdag(current, request.counts, latencyMs, options)
      : optimizeTree(current, request.counts, latencyMs, {
          ...options,
          ...(loadLimit === undefined ? {} : { loadLimit }),
        });
  return { ...result, overlay: overlayToJson(result.overlay) };
}
