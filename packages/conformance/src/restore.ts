import type { GroupConfig, GroupId, GroupLogic, ProtocolDefinition, TraceEvent } from "@amcast/core";
import { assert } from "@amcast/core";
import type { ScenarioSpec } from "@amcast/experiment";
import { runScenario } from "@amcast/experiment";
import { decodePartition, encodePartition } from "@amcast/storage";

/**
 * Snapshots change nothing: a group logic restored from the snapshot it took at any point takes
 * every later step exactly as the one that took it would. `restoringEvery(protocol, steps)` runs
 * each group's logic as usual but, every `steps` steps, replaces it with a fresh one from
 * `createGroup` restored from its snapshot — after a trip through the checkpoint codec (msgpack),
 * so what a snapshot holds must be plain data — and checks that the fresh one's snapshot is the
 * same bytes (equal state gives equal data). `restoreChangesNothing` compares the run's trace,
 * sends included, with the same run's without restoring: any state a snapshot forgets, or
 * restores differently, shows as a different delivery or send.
 */
export function restoringEvery(
  protocol: ProtocolDefinition<unknown>,
  steps: number,
): ProtocolDefinition<unknown> {
  assert(Number.isInteger(steps) && steps >= 1, "restore every >= 1 steps");
  return {
    ...protocol,
    createGroup: (config) => new RestoringGroup(protocol, config as GroupConfig<unknown>, steps),
  } as ProtocolDefinition<unknown>;
}

class RestoringGroup implements GroupLogic<unknown> {
  readonly group: GroupId;
  private logic: GroupLogic<unknown>;
  private taken = 0;
  /** Restores done (a run that never restored proves nothing). */
  restores = 0;
  readonly snapshot?: () => unknown;
  readonly restore?: (state: unknown) => void;

  constructor(
    private readonly protocol: ProtocolDefinition<unknown>,
    private readonly config: GroupConfig<unknown>,
    private readonly steps: number,
  ) {
    this.logic = protocol.createGroup(config as never);
    this.group = config.group;
    // The group layer checkpoints only logics that snapshot: keep the run what it is without us.
    if (this.logic.snapshot !== undefined) {
      this.snapshot = () => (this.logic.snapshot as () => unknown)();
      this.restore = (state) => (this.logic.restore as (state: unknown) => void)(state);
    }
  }

  step(input: Parameters<GroupLogic<unknown>["step"]>[0]): ReturnType<GroupLogic<unknown>["step"]> {
    const outputs = this.logic.step(input);
    this.taken += 1;
    if (this.taken % this.steps === 0) this.restoreFresh();
    return outputs;
  }

  private restoreFresh(): void {
    const { snapshot, restore } = this.logic;
    assert(
      snapshot !== undefined && restore !== undefined,
      () => `${this.protocol.name}'s group logic has no snapshot/restore`,
    );
    const bytes = encodePartition(snapshot.call(this.logic));
    const fresh = this.protocol.createGroup(this.config as never);
    (fresh.restore as (state: unknown) => void).call(fresh, decodePartition(bytes));
    const again = encodePartition((fresh.snapshot as () => unknown).call(fresh));
    assert(
      Buffer.from(again).equals(Buffer.from(bytes)),
      () =>
        `${this.protocol.name} at ${this.group}: the restored group's snapshot differs from the one it came from`,
    );
    this.logic = fresh;
    this.restores += 1;
  }
}

/** What `restoreChangesNothing` found: the first differing trace line, if any. */
export interface RestoreComparison {
  readonly events: number;
  readonly restores: number;
  /** Undefined when both traces are the same. */
  readonly firstDifference?: { readonly index: number; readonly plain: string; readonly restored: string };
}

/** Runs `spec` as it is and with every group restored every `steps` steps; compares the traces. */
export function restoreChangesNothing(spec: ScenarioSpec, steps: number): RestoreComparison {
  const trace = (around?: (protocol: ProtocolDefinition<unknown>) => ProtocolDefinition<unknown>) => {
    const lines: string[] = [];
    const onTrace = (event: TraceEvent) => lines.push(JSON.stringify(event));
    runScenario(
      { ...spec, recordSends: true, check: false, keepSamples: false, onTrace },
      around === undefined ? {} : { aroundProtocol: around },
    );
    return lines;
  };
  const groups: RestoringGroup[] = [];
  const plain = trace();
  const restored = trace((protocol) => {
    const restoring = restoringEvery(protocol, steps);
    return {
      ...restoring,
      createGroup: (config: never) => {
        const group = restoring.createGroup(config) as RestoringGroup;
        groups.push(group);
        return group;
      },
    } as ProtocolDefinition<unknown>;
  });
  const restores = groups.reduce((sum, group) => sum + group.restores, 0);
  const length = Math.max(plain.length, restored.length);
  for (let index = 0; index < length; index += 1) {
    if (plain[index] !== restored[index]) {
      return {
        events: plain.length,
        restores,
        firstDifference: {
          index,
          plain: plain[index] ?? "(trace ended)",
          restored: restored[index] ?? "(trace ended)",
        },
      };
    }
  }
  return { events: plain.length, restores };
}
