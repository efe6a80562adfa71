import type { GroupId, ProcessId } from "@amcast/core";
import { assert, compareIds, sharedId } from "@amcast/core";

/**
 * Which processes replicate which group. The sender of every message is known from the link it
 * came over; membership turns that process id into a group, so no payload field is ever trusted
 * to say where a message came from.
 */
export class Membership {
  readonly groups: readonly GroupId[];
  private readonly replicasByGroup: ReadonlyMap<GroupId, readonly ProcessId[]>;
  private readonly groupByProcess: ReadonlyMap<ProcessId, GroupId>;

  constructor(replicasByGroup: ReadonlyMap<GroupId, readonly ProcessId[]>) {
    const groupByProcess = new Map<ProcessId, GroupId>();
    for (const [group, replicas] of replicasByGroup) {
      assert(replicas.length > 0, () => `group ${group} has no replica`);
      for (const replica of replicas) {
        assert(!groupByProcess.has(replica), () => `process ${replica} is a replica of two groups`);
        groupByProcess.set(replica, group);
      }
    }
    this.groups = [...replicasByGroup.keys()].sort(compareIds);
    this.replicasByGroup = replicasByGroup;
    this.groupByProcess = groupByProcess;
  }

  /** `replicaCount` replicas per group, named "<group>/<index>". */
  static uniform(groups: readonly GroupId[], replicaCount: number): Membership {
    assert(Number.isInteger(replicaCount) && replicaCount >= 1, `replica count ${replicaCount} is not >= 1`);
    return new Membership(
      new Map(
        groups.map((group) => [
          group,
          Array.from({ length: replicaCount }, (_, index) => replicaId(group, index)),
        ]),
      ),
    );
  }

  hasGroup(group: GroupId): boolean {
    return this.replicasByGroup.has(group);
  }

  replicas(group: GroupId): readonly ProcessId[] {
    const replicas = this.replicasByGroup.get(group);
    // A closure here would allocate its context on every call (every copy to a group).
    if (replicas === undefined) assert(false, `unknown group ${group}`);
    return replicas;
  }

  /** The group `process` replicates, or undefined for a client or an unknown process. */
  groupOf(process: ProcessId): GroupId | undefined {
    return this.groupByProcess.get(process);
  }

  /** Every replica with its group, groups in canonical order. */
  processes(): { readonly id: ProcessId; readonly group: GroupId }[] {
    return this.groups.flatMap((group) => this.replicas(group).map((id) => ({ id, group })));
  }
}

export function replicaId(group: GroupId, index: number): ProcessId {
  return sharedId(`${group}/${index}`);
}
