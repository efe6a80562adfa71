import type { ClusterConfig } from "@amcast/smr";
import { loopbackGroups, onFreePorts } from "@amcast/smr";

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
      const cluster: ClusterConfig = { ...rest, groups: loopbackGroups(ports, groups, perGroup) };
      await start(cluster);
      return cluster;
    },
    undo,
  );
}
