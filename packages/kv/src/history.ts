import type { HistoryEvent, KvOutput } from "@amcast/check";
import type { TraceId } from "@amcast/core";
import type { KvCommand } from "./operations.js";

export interface HistoryRecorderOptions {
  /** The run label every event carries (several runs in one file). */
  readonly run?: string;
  /** Prepended to operation ids, so recorders of several processes never collide. */
  readonly idPrefix?: string;
}

/**
 * Records what clients see as a history (docs/history.md): an `invoke` when an operation is
 * called and a `complete` when it returns, with times from the caller's clock (the clock of the
 * run's trace). Events go to `onEvent` as they happen, in order.
 */
export class HistoryRecorder {
  private nextOp = 0;
  private readonly run: string | undefined;
  private readonly idPrefix: string | undefined;

  constructor(
    private readonly onEvent: (event: HistoryEvent) => void,
    options: HistoryRecorderOptions = {},
  ) {
    this.run = options.run;
    this.idPrefix = options.idPrefix;
  }

  /** Records a call; returns the operation's id for its completion. */
  invoke(client: TraceId, command: KvCommand, t: number): TraceId {
    const op = this.idPrefix === undefined ? this.nextOp : `${this.idPrefix}${this.nextOp}`;
    this.nextOp += 1;
    const { f, ...args } = command;
    this.onEvent({
      ev: "invoke",
      op,
      client,
      t,
      f,
      args,
      ...(this.run === undefined ? {} : { run: this.run }),
    });
    return op;
  }

  /** The call returned `result`. */
  ok(op: TraceId, client: TraceId, result: KvOutput, t: number): void {
    this.onEvent({
      ev: "complete",
      op,
      client,
      t,
      result,
      ...(this.run === undefined ? {} : { run: this.run }),
    });
  }

  /** The call ended without a result: surely without effect (`fail`), or perhaps with (`unknown`). */
  ended(op: TraceId, client: TraceId, outcome: "fail" | "unknown", error: string, t: number): void {
    this.onEvent({
      ev: "complete",
      op,
      client,
      t,
      outcome,
      error,
      ...(this.run === undefined ? {} : { run: this.run }),
    });
  }
}
