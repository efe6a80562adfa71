import { Worker } from "node:worker_threads";
import type { OptimizeAnswer, OptimizeRequest } from "@amcast/optimizer";

/** An answer and the time the optimiser took for it, in its own thread (ms). */
export interface TimedAnswer {
  readonly answer: OptimizeAnswer;
  readonly solveMs: number;
}

/** What the worker posts back: an answer, or the error the optimiser threw. */
export type ThreadReply = TimedAnswer | { readonly error: string };

/** Heap of the optimiser thread (MB): the largest ILPs of 16 groups stay well below it. */
const THREAD_HEAP_MB = 512;

/**
 * Runs the optimiser in a worker thread, so a solve (up to its time limit, seconds for large
 * trees) does not hold up the event loop of the process that asked: on the network runtime, the
 * client host's workload clients. One solve at a time; the thread starts at the first request,
 * keeps the process alive only while a solve is under way, and ends with `close()`.
 */
export class OptimizerThread {
  private worker: Worker | null = null;
  private waiting: { resolve: (answer: TimedAnswer) => void; reject: (error: Error) => void } | null = null;
  private closed = false;

  /** Solves `request` in the thread; rejects while another solve is under way or after `close()`. */
  solve(request: OptimizeRequest): Promise<TimedAnswer> {
    if (this.closed) return Promise.reject(new Error("the optimiser thread is closed"));
    if (this.waiting !== null)
      return Promise.reject(new Error("the optimiser thread solves one request at a time"));
    const worker = this.worker ?? this.start();
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      worker.ref();
      worker.postMessage(request);
    });
  }

  /** Whether a solve is under way. */
  get busy(): boolean {
    return this.waiting !== null;
  }

  /**
   * Ends the thread. A solve under way is abandoned: its promise never settles (its process is
   * stopping; an error would report a failure that did not happen).
   */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.waiting = null;
    if (worker !== null) await worker.terminate();
  }

  private start(): Worker {
    // The compiled entry, from dist/ or src/ alike (tests run the sources; a thread runs JavaScript).
    const worker = new Worker(new URL("../dist/optimizer-worker.js", import.meta.url), {
      resourceLimits: { maxOldGenerationSizeMb: THREAD_HEAP_MB },
    });
    worker.on("message", (reply: ThreadReply) => {
      worker.unref();
      const waiting = this.waiting;
      this.waiting = null;
      if ("error" in reply) waiting?.reject(new Error(`the optimiser failed: ${reply.error}`));
      else waiting?.resolve(reply);
    });
    worker.on("error", (error) => {
      if (this.worker === worker) this.worker = null;
      this.fail(error);
    });
    worker.on("exit", (code) => {
      if (this.worker === worker) this.worker = null;
      this.fail(new Error(`the optimiser thread exited (code ${code})`));
    });
    this.worker = worker;
    return worker;
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(error);
  }
}
