import type { ClientPlacement, GroupPlacement, Overlay } from "@amcast/core";
import { InputError, parseOverlay, protocolContext, runGroups, Topology } from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { protocolByName } from "@amcast/protocols";
import type { NetworkOptions } from "@amcast/sim";
import type { SystemSpec } from "./scenario.js";
import type { ByzantineFault, WorkloadSpec } from "./spec.js";

/**
 * What a cluster runs, independent of where: the system (protocol, overlay, topology, mode,
 * workload, seed) plus what the network runtime needs besides — the link behaviour latency
 * emulation reproduces, the tick period, whether to trace sends. Every node of a cluster builds
 * the same system from it (`buildSystem` is deterministic) and runs its own part.
 */
export interface NetSystem {
  readonly label: string;
  readonly spec: SystemSpec;
  readonly network: NetworkOptions;
  readonly tickMs: number;
  readonly recordSends: boolean;
}

/** The JSON form of a `NetSystem` (the `system` field of a deployment written by the runner). */
export interface NetSystemDoc {
  readonly label: string;
  readonly seed: number;
  readonly topology: {
    readonly name: string;
    readonly regions: readonly string[];
    readonly latencyMs: readonly (readonly number[])[];
    readonly groups: readonly GroupPlacement[];
    readonly clients: readonly ClientPlacement[];
  };
  readonly protocol: string;
  /** The protocol's parameters as the experiment gives them; absent: none. */
  readonly params?: unknown;
  readonly overlay: unknown;
  readonly mode: ReplicationMode;
  readonly f: number;
  readonly workload: WorkloadSpec;
  readonly byzantine: readonly ByzantineFault[];
  readonly network: NetworkOptions;
  readonly tickMs: number;
  readonly recordSends: boolean;
}

export function netSystemDoc(system: NetSystem): NetSystemDoc {
  const { spec } = system;
  const { topology } = spec;
  const matrix = topology.matrix();
  return {
    label: system.label,
    seed: spec.seed,
    topology: {
      name: topology.name,
      regions: matrix.regions,
      latencyMs: matrix.latencyMs,
      groups: topology.groups,
      clients: topology.clients,
    },
    protocol: spec.protocol.name,
    ...(spec.params === undefined ? {} : { params: spec.params }),
    overlay: spec.overlay === null ? null : overlayDoc(spec.overlay),
    mode: spec.mode,
    f: spec.f,
    workload: spec.workload,
    byzantine: spec.byzantine,
    network: system.network,
    tickMs: system.tickMs,
    recordSends: system.recordSends,
  };
}

/** Rebuilds a system from its JSON form; `source` names the file in errors. */
export function netSystemFromDoc(value: unknown, source: string): NetSystem {
  const doc = value as NetSystemDoc;
  if (typeof doc !== "object" || doc === null || typeof doc.topology !== "object" || doc.topology === null)
    throw new InputError(source, "system", "expected a system as written by the network runner");
  const { topology } = doc;
  const overlay: Overlay | null =
    doc.overlay === null ? null : parseOverlay(doc.overlay, `${source} system.overlay`);
  const rebuilt = new Topology(
    topology.name,
    { regions: topology.regions, latencyMs: topology.latencyMs },
    topology.groups,
    topology.clients,
  );
  const protocol = protocolByName(doc.protocol, source, "system.protocol");
  // Checked here, with the file and field named, rather than when the nodes build the system.
  protocolContext(
    protocol,
    doc.params,
    { groups: runGroups(overlay, rebuilt), overlay },
    source,
    "system.params",
  );
  return {
    label: doc.label,
    spec: {
      seed: doc.seed,
      topology: rebuilt,
      protocol,
      ...(doc.params === undefined ? {} : { params: doc.params }),
      overlay,
      mode: doc.mode,
      f: doc.f,
      workload: doc.workload,
      byzantine: doc.byzantine,
    },
    network: doc.network,
    tickMs: doc.tickMs,
    recordSends: doc.recordSends,
  };
}

/** An overlay as the document `parseOverlay` reads. */
function overlayDoc(overlay: Overlay): unknown {
  if (overlay.kind === "cdag") return { kind: "cdag", name: overlay.name, order: overlay.order };
  return {
    kind: "tree",
    name: overlay.name,
    groups: overlay.groups.map((id) => ({ id, role: overlay.role(id) })),
    edges: overlay.groups.flatMap((id) => {
      const parent = overlay.parent(id);
      return parent === null ? [] : [[parent, id]];
    }),
  };
}
