import type { TraceEvent } from "@amcast/core";
import { targetGroups } from "@amcast/core";
import type { ScenarioSpec } from "./scenario.js";

/** Multicasts a run's workload makes (its clients times their multicasts each). */
export function expectedMulticasts(spec: Pick<ScenarioSpec, "workload" | "overlay" | "topology">): number {
  const { workload, topology, overlay } = spec;
  const clients =
    workload.clientsPerGroup !== null
      ? workload.clientsPerGroup * (workload.groups ?? targetGroups(overlay, topology)).length
      : topology.clients.reduce((sum, placement) => sum + placement.count, 0);
  return clients * workload.multicastsPerClient;
}

/** Something progress is written to: a terminal (redrawn line) or a log (plain lines). */
export interface ProgressSink {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

/** How often a terminal's progress line is redrawn, and a log gets a line during a long run. */
const REDRAW_MS = 200;
const PLAIN_EVERY_MS = 30_000;
/** Events between two looks at the clock (reading it per event would cost more than the event). */
const EVENTS_PER_CLOCK_LOOK = 4096;

/**
 * Progress of an experiment's runs: on a terminal, one line redrawn in place with the run, its
 * simulated time, multicasts done, and the time elapsed and left (estimated from the multicasts
 * still to make); in a log, a plain line every 30 s of a long run. Finished runs print their own
 * line either way.
 */
export class Progress {
  private readonly started: number;
  private readonly totalWeight: number;
  private doneWeight = 0;
  private runWeight = 1;
  private runLabel = "";
  private runNumber = 0;
  private completes = 0;
  private simulatedMs = 0;
  private events = 0;
  private lastDrawMs = 0;
  private lastPlainMs = 0;
  private live = false;

  constructor(
    private readonly sink: ProgressSink,
    private readonly total: number,
    /** Expected multicasts of each run still to run, in order. */
    weights: readonly number[],
    private readonly now: () => number = () => performance.now(),
  ) {
    this.totalWeight = weights.reduce((sum, weight) => sum + Math.max(1, weight), 0);
    this.started = this.now();
    this.lastPlainMs = this.started;
  }

  startRun(number: number, label: string, weight: number): void {
    this.runNumber = number;
    this.runLabel = label;
    this.runWeight = Math.max(1, weight);
    this.completes = 0;
    this.simulatedMs = 0;
    this.events = 0;
    this.lastPlainMs = this.now();
  }

  /** Sees every event of the running run; cheap unless it is time to redraw. */
  onEvent(event: TraceEvent): void {
    if (event.ev === "complete") this.completes += 1;
    this.events += 1;
    if (this.events % EVENTS_PER_CLOCK_LOOK !== 0) return;
    this.simulatedMs = event.t;
    const now = this.now();
    if (this.sink.isTTY === true) {
      if (now - this.lastDrawMs < REDRAW_MS) return;
      this.lastDrawMs = now;
      const text = this.statusText(now);
      const columns = this.sink.columns ?? 0;
      const width = (columns > 20 ? columns : 100) - 1;
      this.sink.write(`\r\x1b[K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      this.live = true;
    } else if (now - this.lastPlainMs >= PLAIN_EVERY_MS) {
      this.lastPlainMs = now;
      this.sink.write(`  ... ${this.statusText(now)}\n`);
    }
  }

  /** Prints a finished run's line (clearing the live line first). */
  finishRun(line: string): void {
    this.doneWeight += this.runWeight;
    this.clear();
    this.sink.write(`${line}\n`);
  }

  /** Clears the live line (before other output). */
  clear(): void {
    if (this.live) this.sink.write("\r\x1b[K");
    this.live = false;
  }

  statusText(now: number = this.now()): string {
    const elapsedMs = now - this.started;
    const current = Math.min(1, this.completes / this.runWeight) * this.runWeight;
    const done = this.doneWeight + current;
    const leftMs = done > 0 ? (elapsedMs / done) * (this.totalWeight - done) : Number.NaN;
    return (
      `[${this.runNumber}/${this.total}] ${this.runLabel}: ${(this.simulatedMs / 1000).toFixed(1)} s simulated, ` +
      `${this.completes}/${this.runWeight} multicasts; ${duration(elapsedMs)} elapsed, ETA ${Number.isFinite(leftMs) ? duration(leftMs) : "?"}`
    );
  }
}

/** 45s, 3m05s, 1h02m. */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}
