import type { TraceId } from "@amcast/core";
import type { Property, Violation } from "./types.js";

/**
 * Collects violations, keeping at most `cap` per property. A check calls `add` for each violation it
 * finds and may stop at the first `false`: that violation was dropped, so the property is marked
 * truncated and more are pointless to look for.
 */
export class ViolationSink {
  private readonly kept = new Map<Property, Violation[]>();
  private readonly truncated = new Set<Property>();

  constructor(private readonly cap: number) {}

  add(property: Property, message: string, witness: unknown): boolean {
    let list = this.kept.get(property);
    if (list === undefined) {
      list = [];
      this.kept.set(property, list);
    }
    if (list.length >= this.cap) {
      this.truncated.add(property);
      return false;
    }
    list.push({ property, message: `${property}: ${message}`, witness });
    return true;
  }

  /** True once `property` dropped a violation: callers can skip the rest of its work. */
  isFull(property: Property): boolean {
    return this.truncated.has(property);
  }

  violations(order: readonly Property[]): Violation[] {
    return order.flatMap((property) => this.kept.get(property) ?? []);
  }

  truncatedProperties(order: readonly Property[]): Property[] {
    return order.filter((property) => this.truncated.has(property));
  }
}

/** How ids appear in messages: as written, numbers and strings alike. */
export function showId(id: TraceId): string {
  return String(id);
}

/**
 * A time for messages: at most three decimals (simulated times are float milliseconds); the
 * witness keeps the exact value.
 */
export function showTime(t: number): string {
  return String(Math.round(t * 1000) / 1000);
}

/** Two times that must read as different when they differ (a real-time edge needs t1 < t2). */
export function showTimes(t1: number, t2: number): [string, string] {
  const shown: [string, string] = [showTime(t1), showTime(t2)];
  return shown[0] === shown[1] && t1 !== t2 ? [String(t1), String(t2)] : shown;
}

/** A destination set as "[g1,g2]". */
export function showIds(ids: readonly TraceId[]): string {
  return `[${ids.map(showId).join(",")}]`;
}

/** Cycles longer than this are shown by their ends only; the witness keeps every edge. */
const SHOWN_CYCLE_EDGES = 12;

/**
 * "cycle a -> b -> a (reason; reason)" for a cycle of `length` edges, edge i leaving message
 * `idAt(i)` for the reason `reasonAt(i)`. A cycle of thousands of messages is cut in the middle to
 * stay readable, and only the edges shown are described.
 */
export function showCycle(
  length: number,
  idAt: (edge: number) => TraceId,
  reasonAt: (edge: number) => string,
): string {
  const shown =
    length <= SHOWN_CYCLE_EDGES
      ? Array.from({ length }, (_, edge) => edge)
      : Array.from({ length: SHOWN_CYCLE_EDGES }, (_, index) =>
          index < SHOWN_CYCLE_EDGES / 2 ? index : length - SHOWN_CYCLE_EDGES + index,
        );
  const ids: string[] = [];
  const reasons: string[] = [];
  shown.forEach((edge, index) => {
    if (index > 0 && edge !== (shown[index - 1] as number) + 1) {
      const hidden = `... ${edge - (shown[index - 1] as number) - 1} more ...`;
      ids.push(hidden);
      reasons.push(hidden);
    }
    ids.push(showId(idAt(edge)));
    reasons.push(reasonAt(edge));
  });
  ids.push(showId(idAt(0)));
  const size = length > SHOWN_CYCLE_EDGES ? ` of ${length} messages` : "";
  return `cycle${size} ${ids.join(" -> ")} (${reasons.join("; ")})`;
}
