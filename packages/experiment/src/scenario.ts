import type { CheckReport, Violation } from "@amcast/check";
import { checkRun } from "@amcast/check";
import type {
  GroupId,
  Overlay,
  ProcessId,
  ProtocolContext,
  ProtocolDefinition,
  Topology,
  TraceEvent,
} from "@amcast/core";
import {
  assert,
  DestinationChooser,
  nearestGroup,
  Prng,
  protocolContext,
  runGroups,
  targetGroups,
} from "@amcast/core";
import type { Replica, ReplicationMode } from "@amcast/group";
import {
  ByzantineReplica,
  createClient,
  createReplica,
  Membership,
  replicaCount,
  SimulatedSignatures,
} from "@amcast/group";
import { linearizable } from "@amcast/linearizable";
import { reconfigurable } from "@amcast/reconfig";
import type {
  FaultOptions,
  NetworkOptions,
  ProcessingCost,
  SimClient,
  SimProcess,
  SimResult,
} from "@amcast/sim";
import { simulate } from "@amcast/sim";
import type { RunMetrics } from "./metrics.js";
import { MetricsCollector } from "./metrics.js";
import type { PlanRecord, ReconfigSpec, Reconfiguration } from "./reconfig.js";
import { CONTROLLER_ID, ReconfigController } from "./reconfig.js";
import type { ByzantineFault, WorkloadSpec } from "./spec.js";

/** Everything one simulated run needs: a protocol on a topology under a workload and faults. */
export interface ScenarioSpec extends SystemSpec {
  readonly label: string;
  /** Name of the fault plan the run follows ("" when there is one plan). */
  readonly faultPlan: string;
  readonly network: NetworkOptions;
  readonly processing: ProcessingCost;
  readonly faults: FaultOptions;
  readonly timeLimitMs: number;
  readonly tickMs: number;
  readonly realTime: boolean;
  readonly recordSends: boolean;
  /** Run the oracles (needs the trace in memory). */
  readonly check: boolean;
  /** Keep per-message latency samples (for CSVs and plots). */
  readonly keepSamples: boolean;
  /** Sees every trace event (e.g. a trace file writer). */
  readonly onTrace?: (event: TraceEvent) => void;
}

export interface ScenarioOutcome {
  readonly spec: ScenarioSpec;
  readonly sim: SimResult;
  readonly metrics: RunMetrics;
  readonly check: CheckReport | null;
  readonly wallMs: number;
  /** What the reconfiguration controller did; null: the run does not reconfigure. */
  readonly reconfig: {
    readonly reconfigurations: readonly Reconfiguration[];
    readonly plans: readonly PlanRecord[];
  } | null;
}

/**
 * The violations that fail a run: all of them, except real-time order in a plain (not
 * linearizable) run, which classic atomic multicast does not promise; those are counted apart.
 */
export function failingViolations(outcome: ScenarioOutcome): readonly Violation[] {
  const violations = outcome.check?.violations ?? [];
  return outcome.spec.linearizable === true
    ? violations
    : violations.filter((violation) => violation.property !== "real-time-order");
}

/** Violations of each property a run keeps as witnesses. */
const VIOLATIONS_KEPT_MAX = 1000;

/** Real-time violations found in a run (informative in plain runs; failures in linearizable ones). */
export function realTimeViolations(outcome: ScenarioOutcome): number {
  return (outcome.check?.violations ?? []).filter((violation) => violation.property === "real-time-order")
    .length;
}

/** The count of real-time violations as text: "12", or "1000+" when witnesses were cut. */
export function realTimeViolationsText(outcome: ScenarioOutcome): string {
  const cut = outcome.check?.truncatedProperties.includes("real-time-order") === true;
  return `${realTimeViolations(outcome)}${cut ? "+" : ""}`;
}

/** Protocol messages (between group processes) per multicast. */
export function messagesPerMulticast(outcome: ScenarioOutcome): number {
  return outcome.metrics.multicasts === 0 ? 0 : outcome.sim.protocolMessages / outcome.metrics.multicasts;
}

/** What a system is made of, independent of the driver that runs it. */
export interface SystemSpec {
  readonly seed: number;
  readonly topology: Topology;
  readonly protocol: ProtocolDefinition<unknown>;
  readonly overlay: Overlay | null;
  readonly mode: ReplicationMode;
  readonly f: number;
  readonly workload: WorkloadSpec;
  /** Replicas that run a Byzantine strategy instead of the protocol (Byzantine mode only). */
  readonly byzantine: readonly ByzantineFault[];
  /**
   * The protocol's parameters, as the experiment's protocol entry gives them (JSON, checked when
   * the experiment was loaded); absent: none. Parsed by the protocol where the system is built.
   */
  readonly params?: unknown;
  /** Wrap the protocol in the ACK barrier (real-time order); absent: no. */
  readonly linearizable?: boolean;
  /** Reconfigure the overlay on the fly (needs an overlay protocol); absent: never. */
  readonly reconfig?: ReconfigSpec;
}

/** The replicas and clients of a system, ready for a driver (the simulator or the network runtime). */
export interface BuiltSystem {
  /** The protocol the groups run: the experiment's, wrapped in the ACK barrier when linearizable. */
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
}

/**
 * Builds the replica processes of every group and the clients of the workload. Clients sit next
 * to their home group (`clientsPerGroup`) or where the topology places them; each draws its
 * destinations from the locality model with its own random stream.
 */
export function buildSystem(spec: SystemSpec): BuiltSystem {
  const { topology, overlay, mode, workload, f } = spec;
  // The ACK barrier goes around the views: a group switches views where the protocol orders VIEW
  // (not where the barrier releases it), and the barrier sees one sequence across views.
  const viewed =
    spec.reconfig === undefined
      ? spec.protocol
      : (reconfigurable(spec.protocol, { controller: CONTROLLER_ID }) as ProtocolDefinition<unknown>);
  const protocol =
    spec.linearizable === true ? (linearizable(viewed) as ProtocolDefinition<unknown>) : viewed;
  // Only the groups the protocol uses get replicas: auxiliary groups exist for tree overlays.
  const membership = Membership.uniform(runGroups(overlay, topology), replicaCount(mode, f));
  const context = protocolContext(
    protocol,
    spec.params,
    { groups: membership.groups, overlay },
    "protocol",
    "params",
  );
  // Byzantine mode signs requests, stream copies and consensus messages (see SimulatedSignatures).
  const signatures = mode === "byzantine" ? new SimulatedSignatures(spec.seed) : undefined;
  const strategies = new Map(spec.byzantine.map((fault) => [fault.proc, fault.strategy]));
  const replicas: Replica<unknown>[] = [];
  const processes: SimProcess[] = membership.processes().map(({ id, group }) => {
    const signer = signatures?.signerFor(id);
    const replica = createReplica({
      protocol,
      group,
      id,
      membership,
      overlay,
      params: spec.params,
      mode,
      f,
      ...(signer === undefined || signatures === undefined ? {} : { signer, verifier: signatures }),
    });
    const strategy = strategies.get(id);
    if (strategy === undefined) replicas.push(replica);
    const logic =
      strategy === undefined || signer === undefined
        ? replica
        : new ByzantineReplica(replica, strategy, signer, membership);
    return { logic, region: topology.groupRegion(group), group };
  });
  const leaderOf = (group: GroupId): ProcessId | undefined => {
    const votes = new Map<ProcessId, number>();
    for (const replica of replicas) {
      const leader = replica.group === group ? replica.orderer.leader() : undefined;
      if (leader !== undefined) votes.set(leader, (votes.get(leader) ?? 0) + 1);
    }
    let best: ProcessId | undefined;
    for (const [leader, count] of votes)
      if (best === undefined || count > (votes.get(best) ?? 0)) best = leader;
    return best;
  };

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
    const id = `c${index}`;
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
        ...(signatures === undefined ? {} : { signer: signatures.signerFor(id) }),
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
      : addController(spec, spec.reconfig, protocol, membership, signatures, clients);
  return { protocol, context, membership, processes, clients, clientRegions, leaderOf, controller };
}

/**
 * The reconfiguration controller and its client: a background client next to the first target
 * group that multicasts STATS and VIEW to every target group (see ReconfigController).
 */
function addController(
  spec: SystemSpec,
  reconfig: ReconfigSpec,
  protocol: ProtocolDefinition<unknown>,
  membership: Membership,
  signatures: SimulatedSignatures | undefined,
  clients: SimClient[],
): ReconfigController {
  const { topology, overlay, mode, f } = spec;
  assert(overlay !== null, "reconfiguration needs an overlay");
  const targets = targetGroups(overlay, topology);
  const controller = new ReconfigController(
    reconfig,
    overlay,
    targets,
    (from, to) => topology.groupToGroupMs(from, to),
    new Prng(spec.seed).derive("reconfig"),
    () => performance.now(),
  );
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
    region: topology.groupRegion(targets[0] as GroupId),
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
    onComplete: (_id, results, nowMs) => controller.onComplete(results, nowMs),
    background: true,
  });
  return controller;
}

/** Builds the system of a scenario, runs the simulator, checks the trace. */
export function runScenario(spec: ScenarioSpec): ScenarioOutcome {
  const { topology } = spec;
  const { protocol, context, processes, clients, clientRegions, leaderOf, controller } = buildSystem(spec);

  // The latency model follows one overlay; with views it no longer applies after the first change.
  const { modelLatencyMs: _model, ...withoutModel } = protocol;
  const metrics = new MetricsCollector(
    topology,
    clientRegions,
    controller === null ? protocol : withoutModel,
    context,
    spec.keepSamples,
    new Set([CONTROLLER_ID]),
  );
  const events: TraceEvent[] = [];
  const onTrace = spec.onTrace;
  const keep = spec.check;
  const started = performance.now();
  const sim = simulate({
    seed: spec.seed,
    topology,
    processes,
    clients,
    network: spec.network,
    processing: spec.processing,
    faults: spec.faults,
    tickMs: spec.tickMs,
    timeLimitMs: spec.timeLimitMs,
    recordSends: spec.recordSends,
    leaderOf,
    // Metrics fold the events as plain arguments; event objects are built only for a trace that
    // is kept (for the oracles) or written.
    sink: metrics,
    ...(keep || onTrace !== undefined
      ? {
          onEvent: (event: TraceEvent) => {
            if (keep && event.ev !== "send") events.push(event);
            onTrace?.(event);
          },
        }
      : {}),
  });
  const wallMs = performance.now() - started;
  // Validity and agreement are owed unless the run was cut short, or a solo group crashed (it
  // loses what reaches it while down); replicated groups must deliver through their faults.
  const liveness =
    sim.stoppedBy !== "time-limit" && (spec.mode !== "solo" || spec.faults.crashes.length === 0);
  // Real-time order is checked when asked, and always for linearizable runs.
  const realTime = spec.realTime || spec.linearizable === true;
  // Enough witnesses to count how often a plain run breaks real-time order (the report says
  // "N+" when even this many were cut).
  const check = spec.check
    ? checkRun(events, { liveness, realTime, maxViolationsPerProperty: VIOLATIONS_KEPT_MAX, run: spec.label })
    : null;
  const reconfig =
    controller === null ? null : { reconfigurations: controller.reconfigurations, plans: controller.plans };
  return { spec, sim, metrics: metrics.finish(), check, wallMs, reconfig };
}
