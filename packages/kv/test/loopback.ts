import type { ClusterConfig } from "@amcast/smr";
import { onFreePorts } from "@amcast/smr";

/**
 * A cluster on loopback (`perGroup` replicas per group, each on a free port; `rest` as given),
 * started by `start`. Should another process take one of the ports before its replica listens
 * (`start` fails with EADDRINUSE), `undo` stops what `start` had started and the cluster starts
 * again on other ports.
 */
export function loopbackCluster(
  groups: readonly string[],
  perGroup: number,
  rest: Omit<ClusterConfig, "groups">,
  start: (cluster: ClusterConfig) => Promise<void>,
  undo: () => Promise<void>,
): Promise<ClusterConfig> {
  return onFreePorts(
    groups.length * perGroup,
    async (ports) => {
      const cluster: ClusterConfig = {
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
      await start(cluster);
      return cluster;
    },
    undo,
  );
}
