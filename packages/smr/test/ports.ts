import { createServer } from "node:net";

/** Ports the kernel hands out now (free at the time of asking, not reserved). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import("node:net").Server>((resolve) => {
          const server = createServer();
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/**
 * Starts something that listens on `count` ports known up front (a cluster's configuration names
 * every replica's address before any replica listens). The ports are free when asked for but not
 * held: another process on the machine may take one before `start` listens on it. `start` then
 * fails with EADDRINUSE; `undo` stops what it had started, and the whole start is tried again on
 * fresh ports, at most `attempts` times in all.
 */
export async function onFreePorts<T>(
  count: number,
  start: (ports: number[]) => Promise<T>,
  undo: () => Promise<void>,
  attempts = 4,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start(await freePorts(count));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EADDRINUSE" || attempt >= attempts) throw error;
      await undo();
    }
  }
}
