import { createServer, type Server } from "node:net";
import type { ClusterConfig } from "./net.js";

/**
 * `count` distinct ports the kernel hands out on loopback now: free when asked for, not held
 * (all are bound at once, so no two are the same, then released before they are returned).
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve, reject) => {
          const server = createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** Whether `error` says an address was taken (a listen that lost its port to another process). */
export function isAddressInUse(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | null)?.code === "EADDRINUSE";
}

/**
 * Starts something that listens on `count` loopback ports known up front (a cluster's
 * configuration names every replica's address before any replica listens, so port 0 cannot be
 * used). The ports are free when asked for but not held: on a busy machine another process may
 * take one before `start` listens on it. `start` then fails with EADDRINUSE (`isAddressInUse`);
 * `undo` stops and clears what it had started, and the whole start is tried again on fresh ports,
 * at most `attempts` times in all. Any other error, or a failure of the last attempt, is passed on.
 */
export async function onFreePorts<T>(
  count: number,
  start: (ports: number[]) => Promise<T>,
  undo: () => Promise<void>,
  attempts = 4,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start(await freeLoopbackPorts(count));
    } catch (error) {
      if (!isAddressInUse(error) || attempt >= attempts) throw error;
      await undo();
    }
  }
}

/** A cluster's replica addresses on loopback: `perGroup` per group, at `ports` group after group. */
export function loopbackGroups(
  ports: readonly number[],
  groups: readonly string[],
  perGroup: number,
): ClusterConfig["groups"] {
  return Object.fromEntries(
    groups.map((group, g) => [
      group,
      Array.from({ length: perGroup }, (_, r) => ({
        host: "127.0.0.1",
        port: ports[g * perGroup + r] as number,
      })),
    ]),
  );
}
