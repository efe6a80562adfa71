import type { Server } from "node:http";
import { createServer } from "node:http";

/**
 * A node's health endpoint for orchestrators (Kubernetes probes, compose health checks):
 * `GET /healthz` answers 200 while the process runs, `GET /readyz` 200 once `ready()` holds and
 * 503 before; anything else 404. It reads no request body and keeps no connection alive, so a
 * stranger can cost it nothing but the answer.
 */
export function startHealthServer(options: {
  readonly host: string;
  readonly port: number;
  readonly ready: () => boolean;
}): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? "").split("?")[0];
    const status =
      request.method !== "GET"
        ? 405
        : path === "/healthz"
          ? 200
          : path === "/readyz"
            ? options.ready()
              ? 200
              : 503
            : 404;
    response.writeHead(status, { "content-type": "text/plain", connection: "close" });
    response.end(status === 200 ? "ok\n" : status === 503 ? "not connected to every replica yet\n" : "\n");
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 5_000;
  server.maxConnections = 64;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      server.unref();
      resolve(server);
    });
  });
}
