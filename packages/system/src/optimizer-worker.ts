// The optimiser thread's entry (started by OptimizerThread): one request in, one answer out.
import { performance } from "node:perf_hooks";
import { parentPort } from "node:worker_threads";
import type { OptimizeRequest } from "@amcast/optimizer";
import { solveRequest } from "@amcast/optimizer";
import type { ThreadReply } from "./optimizer-thread.js";

const port = parentPort;
if (port === null) throw new Error("the optimiser worker runs in a worker thread");
port.on("message", (request: OptimizeRequest) => {
  const started = performance.now();
  let reply: ThreadReply;
  try {
    const answer = solveRequest(request);
    reply = { answer, solveMs: performance.now() - started };
  } catch (error) {
    reply = { error: error instanceof Error ? (error.stack ?? error.message) : String(error) };
  }
  port.postMessage(reply);
});
