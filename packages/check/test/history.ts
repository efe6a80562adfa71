import type { HistoryEvent, KvInput } from "../src/index.js";

/**
 * Builds histories by hand: `call` and `ret` append events in the order written, at increasing
 * times, so a history reads as the timeline it describes.
 */
export class HistoryBuilder {
  readonly events: HistoryEvent[] = [];
  private t = 0;
  private nextOp = 0;
  private readonly clientOf = new Map<number, string>();

  /** Invokes `input` as `client`; returns the operation id for `ret`. */
  call(client: string, input: KvInput): number {
    const op = this.nextOp;
    this.nextOp += 1;
    this.clientOf.set(op, client);
    const { f, ...args } = input;
    this.t += 1;
    this.events.push({ ev: "invoke", op, client, t: this.t, f, args });
    return op;
  }

  ret(op: number, result: unknown): this {
    this.t += 1;
    this.events.push({ ev: "complete", op, client: this.clientOf.get(op) ?? "", t: this.t, result });
    return this;
  }

  /** A call that ended without taking effect, or with an unknown outcome. */
  end(op: number, outcome: "fail" | "unknown"): this {
    this.t += 1;
    this.events.push({
      ev: "complete",
      op,
      client: this.clientOf.get(op) ?? "",
      t: this.t,
      outcome,
      error: "timeout",
    });
    return this;
  }

  /** A call and its return, nothing in between. */
  op(client: string, input: KvInput, result: unknown): number {
    const op = this.call(client, input);
    this.ret(op, result);
    return op;
  }
}

export const put = (key: string, value: string): KvInput => ({ f: "put", key, value });
export const get = (key: string): KvInput => ({ f: "get", key });
export const range = (from: string, to: string | null): KvInput => ({ f: "range", from, to });
