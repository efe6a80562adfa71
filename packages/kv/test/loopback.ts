import { createServer, type Server } from "node:net";
import type { ClusterConfig } from "@amcast/smr";

/** Ports free on loopback now (the OS picks them; closed again before they are used). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Server>((resolve) => {
          const server = createServer();
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

/** A cluster on loopback: `perGroup` replicas per group, each on a free port; `rest` as given. */
export async function loopbackCluster(
  groups: readonly string[],
  perGroup: number,
  rest: Omit<ClusterConfig, "groups">,
): Promise<ClusterConfig> {
  const ports = await freePorts(groups.length * perGroup);
  return {
    ...rest,
    groups: Object.fromEntries(
      groups.map((group, g) => [
        group,
        Array.from({ length: perGroup }, (_, r) => ({
          host: "127.0.0.1",
          port: ports[g * perGroup + r] as number,
        })),
      ]),
    ),
  };
}
