import type {
  GroupId,
  ProcessId,
  ProcessLogic,
  ProtocolContext,
  ProtocolDefinition,
  Topology,
  TraceRuntime,
} from "@amcast/core";
import {
  assert,
  DestinationChooser,
  nearestGroup,
  Prng,
  protocolContext,
  runGroups,
  sharedId,
  targetGroups,
} from "@amcast/core";
import type {
  Application,
  ApplicationState,
  DecidedPosition,
  OrderingOptions,
  Replica,
  Signer,
  Verifier,
} from "@amcast/group";
import {
  amnesiaHardState,
  ByzantineReplica,
  createClient,
  createReplica,
  Membership,
  mostNamedLeader,
  replicaCount,
  restartFromDecisions,
  SimulatedSignatures,
} from "@amcast/group";
import { linearizable } from "@amcast/linearizable";
import { reconfigurable } from "@amcast/reconfig";
import type { SimClient, SimProcess } from "@amcast/sim";
import { STATE_CODEC } from "@amcast/storage";
import type { OffThreadSolver } from "./controller.js";
import { ReconfigController } from "./controller.js";
import type { ReconfigSpec, SystemSpec } from "./spec.js";
import { CONTROLLER_ID } from "./spec.js";

export interface BuildOptions {
  /**
   * Where the reconfiguration controller's optimiser runs: off the controller's thread (the
   * network runtime passes an `OptimizerThread`, so solves do not hold up the clients of its
   * host). Undefined: in the controller's thread, at once (the simulator).
   */
  readonly optimizer?: OffThreadSolver;
  /**
   * How Byzantine mode signs: the network runtime passes real signatures (Ed25519); without
   * them, `SimulatedSignatures` model them (the simulator).
   */
  readonly signatures?: SignatureScheme;
  /**
   * Workload clients sign the requests of one turn together (`ClientSpec.signsTogether`): for a
   * driver that calls `sealRequests` (the network runtime). Default false.
   */
  readonly clientsSignTogether?: boolean;
  /**
   * The application of each replica, and its state for checkpoints: called when the replica is
   * built and again when it restarts after amnesia (so it must return a fresh, empty one).
   * Absent (or undefined for a replica, e.g. one another process runs): replicas answer null and
   * checkpoint only the group layer's and protocol's state.
   */
  readonly application?: (
    id: ProcessId,
    group: GroupId,
  ) =>
    | {
        readonly application: Application;
        readonly state?: ApplicationState;
      }
    | undefined;
  /** Ordering limits and timeouts for every replica (DEFAULT_ORDERING where absent). */
  readonly ordering?: Partial<OrderingOptions>;
  /**
   * Wraps the protocol the groups run (views and barrier included) before anything is built:
   * the conformance suite restores every group from its snapshot mid-run this way.
   */
  readonly aroundProtocol?: (protocol: ProtocolDefinition<unknown>) => ProtocolDefinition<unknown>;
  /**
   * The hard state a replica starts from, if any: a replica process restarted after an amnesia
   * crash (real processes) starts with what its disk kept, as the simulator's `restart` does.
   */
  readonly hardState?: (id: ProcessId) => unknown;
}

/** A signature scheme: the signer of each process (only its own process may be given it) and a verifier of all. */
export interface SignatureScheme extends Verifier {
  signerFor(id: ProcessId): Signer;
}

/** The replicas and clients of a system, ready for a driver (the simulator or the network runtime). */
export interface BuiltSystem {
  /** The protocol the groups run: the spec's, wrapped in views and the ACK barrier as asked. */
  readonly protocol: ProtocolDefinition<unknown>;
  /** The protocol's context (groups, overlay, parsed parameters), as every group and client sees it. */
  readonly context: ProtocolContext;
  readonly membership: Membership;
  readonly processes: SimProcess[];
  readonly clients: SimClient[];
  /** Region of every client, for latency floors. */
  readonly clientRegions: ReadonlyMap<string, string>;
  /** The leader most correct replicas of a group follow right now (for leader crashes). */
  readonly leaderOf: (group: GroupId) => ProcessId | undefined;
  /** The reconfiguration controller (its client is the last of `clients`); null: none. */
  readonly controller: ReconfigController | null;
  /** The correct replica running as `id` now (after an amnesia restart, the new one). */
  readonly replica: (id: ProcessId) => Replica<unknown> | undefined;
}

/**
 * How a system's processes sign what they send: in Byzantine mode, on the simulator with
 * `SimulatedSignatures` (a model of unforgeable signatures, no cryptography: a forged signature is
 * one the model refuses), on the network runtime with Ed25519 (node:crypto); otherwise they do not
 * sign. Reports name the kind wherever it matters.
 */
export type SignatureKind = "modelled" | "ed25519" | "none";
/** Where a system runs: the simulator or the network runtime (real processes). */
export type RuntimeKind = TraceRuntime;

export function signatureKind(spec: Pick<SystemSpec, "mode">, runtime: RuntimeKind): SignatureKind {
  if (spec.mode !== "byzantine") return "none";
  return runtime === "net" ? "ed25519" : "modelled";
}

/**
 * Builds the replica processes of every group and the clients of the workload. Clients sit next
 * to their home group (`clientsPerGroup`) or where the topology places them; each draws its
 * destinations from the locality model with its own random stream. Deterministic: every node of
 * a cluster builds the same system from the same spec and runs its own part of it.
 */
export function buildSystem(spec: SystemSpec, options: BuildOptions = {}): BuiltSystem {
  const { topology, overlay, mode, workload, f } = spec;
  // The ACK barrier goes around the views: a group switches views where the protocol orders VIEW
  // (not where the barrier releases it), and the barrier sees one sequence across views.
  const viewed =
    spec.reconfig === undefined
      ? spec.protocol
      : (reconfigurable(spec.protocol, { controller: CONTROLLER_ID }) as ProtocolDefinition<unknown>);
  const barriered =
    spec.linearizable === true ? (linearizable(viewed) as ProtocolDefinition<unknown>) : viewed;
  const protocol = options.aroundProtocol?.(barriered) ?? barriered;
  // Only the groups the protocol uses get replicas: auxiliary groups exist for tree overlays.
  const membership = Membership.uniform(runGroups(overlay, topology), replicaCount(mode, f));
  const context = protocolContext(
    protocol,
    spec.params,
    { groups: membership.groups, overlay },
    "protocol",
    "params",
  );
  // Byzantine mode signs requests, stream copies and consensus messages.
  const signatures: SignatureScheme | undefined =
    mode !== "byzantine" ? undefined : (options.signatures ?? new SimulatedSignatures(spec.seed));
  const strategies = new Map(spec.byzantine.map((fault) => [fault.proc, fault.strategy]));
  // The correct replicas, by id (for leaderOf); a replica restarted after amnesia replaces its entry.
  const replicas = new Map<ProcessId, Replica<unknown>>();
  const processes: SimProcess[] = membership.processes().map(({ id, group }) => {
    const signer = signatures?.signerFor(id);
    const strategy = strategies.get(id);
    const make = (hardState: unknown): ProcessLogic => {
      const app = options.application?.(id, group);
      const replica = createReplica({
        protocol,
        group,
        id,
        membership,
        overlay,
        params: spec.params,
        mode,
        f,
        seed: spec.seed,
        codec: STATE_CODEC,
        ...(app === undefined ? {} : { application: app.application }),
        ...(app?.state === undefined ? {} : { state: app.state }),
        ...(options.ordering === undefined ? {} : { ordering: options.ordering }),
        ...(hardState === undefined ? {} : { hardState }),
        ...(signer === undefined || signatures === undefined ? {} : { signer, verifier: signatures }),
      });
      current = replica;
      if (strategy === undefined) replicas.set(id, replica);
      return strategy === undefined || signer === undefined
        ? replica
        : new ByzantineReplica(replica, strategy, signer, membership);
    };
    let current: Replica<unknown> | undefined;
    const logic = make(options.hardState?.(id));
    // Amnesia: a fresh replica with only what the disk kept (the orderer's hard state).
    const restart = (): ProcessLogic => make(amnesiaHardState((current as Replica<unknown>).hardState()));
    // A `journal` crash: rebuilt from what a journal of decided positions keeps. A replica that
    // takes no checkpoints, or runs a Byzantine strategy, journals its inputs: it comes back whole.
    const journalled =
      strategy === undefined &&
      spec.faults.crashes.some(
        (crash) => crash.kind === "journal" && (crash.proc === id || crash.leaderOf === group),
      ) &&
      (current as Replica<unknown>).journalDecisions();
    const kept: DecidedPosition[] = [];
    const restartFromJournal = (): ProcessLogic =>
      restartFromDecisions(current as Replica<unknown>, kept, (hardState) => {
        make(hardState);
        return current as Replica<unknown>;
      });
    return {
      logic,
      region: topology.groupRegion(group),
      group,
      restart,
      ...(journalled ? { restartFromJournal } : {}),
    };
  });
  const leaderOf = (group: GroupId): ProcessId | undefined =>
    mostNamedLeader(
      [...replicas.values()].map((replica) =>
        replica.group === group ? replica.orderer.leader() : undefined,
      ),
    );

  const targets = workload.groups ?? targetGroups(overlay, topology);
  const placements: { region: string; home: string }[] = [];
  if (workload.clientsPerGroup !== null) {
    for (const group of targets) {
      for (let i = 0; i < workload.clientsPerGroup; i += 1)
        placements.push({ region: topology.groupRegion(group), home: group });
    }
  } else {
    for (const placement of topology.clients) {
      const home = placement.home ?? nearestGroup(topology, placement.region, targets);
      for (let i = 0; i < placement.count; i += 1) placements.push({ region: placement.region, home });
    }
  }
  const startPrng = new Prng(spec.seed).derive("client-start");
  const clientRegions = new Map<string, string>();
  const clients: SimClient[] = placements.map(({ region, home }, index) => {
    const id = sharedId(`c${index}`);
    clientRegions.set(id, region);
    const chooser = new DestinationChooser(workload.locality, topology, targets, home);
    const shift = workload.shift ?? null;
    const shifted = shift === null ? null : new DestinationChooser(shift.locality, topology, targets, home);
    const outstandingMax = workload.loop === "closed" ? workload.outstanding : workload.outstandingMax;
    return {
      logic: createClient({
        id,
        protocol,
        membership,
        overlay,
        params: spec.params,
        mode,
        f,
        outstandingMax,
        // A workload client's answers are not read: the metrics come from the trace.
        results: false,
        ...(signatures === undefined ? {} : { signer: signatures.signerFor(id) }),
        ...(signatures !== undefined && options.clientsSignTogether === true ? { signsTogether: true } : {}),
      }),
      region,
      loop:
        workload.loop === "closed"
          ? {
              kind: "closed",
              multicasts: workload.multicastsPerClient,
              outstanding: workload.outstanding,
              thinkMs: workload.thinkMs,
            }
          : {
              kind: "open",
              multicasts: workload.multicastsPerClient,
              ratePerSec: workload.ratePerSec,
              outstandingMax,
            },
      payloadBytes: workload.payloadBytes,
      startMs: startPrng.float() * workload.startSpreadMs,
      destinations: (prng, nowMs) =>
        shifted !== null && shift !== null && nowMs >= shift.atMs ? shifted.next(prng) : chooser.next(prng),
    };
  });
  const controller =
    spec.reconfig === undefined
      ? null
      : addController(
          spec,
          spec.reconfig,
          protocol,
          membership,
          signatures,
          clients,
          clientRegions,
          options.optimizer,
        );
  return {
    protocol,
    context,
    membership,
    processes,
    clients,
    clientRegions,
    leaderOf,
    controller,
    replica: (id) => replicas.get(id),
  };
}

/**
 * The reconfiguration controller and its client: a background client next to the first target
 * group that multicasts STATS and VIEW to every target group, one at a time (see ReconfigController).
 */
function addController(
  spec: SystemSpec,
  reconfig: ReconfigSpec,
  protocol: ProtocolDefinition<unknown>,
  membership: Membership,
  signatures: SignatureScheme | undefined,
  clients: SimClient[],
  clientRegions: Map<string, string>,
  optimizer: OffThreadSolver | undefined,
): ReconfigController {
  const { topology, overlay, mode, f } = spec;
  assert(overlay !== null, "reconfiguration needs an overlay");
  const targets = targetGroups(overlay, topology);
  // The optimiser starts from the topology's matrix; measured delays replace it pair by pair.
  // Solve times are measured on the wall clock, on either runtime.
  const controller = new ReconfigController(
    reconfig,
    overlay,
    targets,
    (from, to) => topology.groupToGroupMs(from, to),
    originOf(topology, runGroups(overlay, topology), clientRegions),
    new Prng(spec.seed).derive("reconfig"),
    () => performance.now(),
    optimizer,
  );
  const region = topology.groupRegion(targets[0] as GroupId);
  // Its region too (the network runtime emulates the delays of its links from it).
  clientRegions.set(CONTROLLER_ID, region);
  clients.push({
    logic: createClient({
      id: CONTROLLER_ID,
      protocol,
      membership,
      overlay,
      params: spec.params,
      mode,
      f,
      outstandingMax: 1,
      ...(signatures === undefined ? {} : { signer: signatures.signerFor(CONTROLLER_ID) }),
    }),
    region,
    loop: {
      kind: "closed",
      multicasts: reconfig.controlMulticastsMax,
      outstanding: 1,
      thinkMs: reconfig.statsEveryMs,
    },
    payloadBytes: 0,
    startMs: reconfig.statsEveryMs,
    destinations: () => controller.destinations(),
    payload: () => controller.payload(),
    onComplete: (_id, results, nowMs, delays) => controller.onComplete(results, nowMs, delays),
    background: true,
  });
  return controller;
}

/**
 * Where a client's leg starts, as a group: the group of the overlay nearest the client's region
 * (the group in it, when there is one). The protocols' latency models and the optimiser measure
 * the leg from there.
 */
export function originOf(
  topology: Topology,
  groups: readonly GroupId[],
  clientRegions: ReadonlyMap<string, string>,
): (client: string) => GroupId | undefined {
  const byRegion = new Map<string, GroupId>();
  return (client) => {
    const region = clientRegions.get(client);
    if (region === undefined) return undefined;
    let origin = byRegion.get(region);
    if (origin === undefined) {
      origin = topology.byNearness(region, groups)[0];
      if (origin !== undefined) byRegion.set(region, origin);
    }
    return origin;
  };
}
