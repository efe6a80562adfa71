import type { CheckReport } from "@amcast/check";
import { checkRun } from "@amcast/check";
import type {
  ClientId,
  ClientLogic,
  DestinationSet,
  GroupId,
  MessageId,
  Multicast,
  ProcessId,
  ProcessOutput,
  TraceEvent,
} from "@amcast/core";
import { describeValue, InputError, Topology } from "@amcast/core";
import type { MulticastClient, Replica } from "@amcast/group";
import { createClient, createReplica, SimulatedSignatures } from "@amcast/group";
import type { FaultOptions, ProcessingCost, SimClient, SimProcess, SimResult, StopReason } from "@amcast/sim";
import { DEFAULT_PROCESSING, NO_FAULTS, simulate } from "@amcast/sim";
import type { Client, ReplicaApplication, Replies, ResolvedService, ServiceOptions } from "./service.js";
import { destinationsOf, groupApplication, groupState, resolveService } from "./service.js";

export interface SimClusterOptions<P = unknown, R = unknown> extends ServiceOptions {
  /** The groups (shards) of the service. */
  readonly groups: readonly GroupId[];
  /**
   * Creates the state machine of one replica: called once per replica of every group, so each
   * replica has its own state, as it would on its own machine, and again for a replica that
   * restarts after an amnesia crash (so it must return a fresh one). A `StatefulApplication`'s
   * state goes into the group's checkpoints: that replica gets it back from its group.
   */
  readonly application: (group: GroupId, replica: ProcessId) => ReplicaApplication<P, R>;
  /**
   * One-way delay in ms: one number for every pair of groups (and inside a group), or a matrix
   * indexed like `groups` (row: from, column: to; the diagonal is the delay inside a group's
   * region, between its replicas and to its clients). Default 1.
   */
  readonly latencyMs?: number | readonly (readonly number[])[];
  /** Normal jitter on every delay, as a fraction of it (default 0.05). */
  readonly jitterSdFraction?: number;
  /** Seed of every random draw (jitter); the same seed and calls give the same run. Default 1. */
  readonly seed?: number;
  /** Period of the replicas' ticks in ms (crash and byzantine mode), default 10. */
  readonly tickMs?: number;
  /**
   * What a replica spends on each input it serves (default nothing): `perMessageUs` plus
   * `perByteNs` per byte, one input at a time, so a busy group queues and saturates.
   */
  readonly processing?: ProcessingCost;
  /**
   * Log positions between a group's checkpoints in crash and byzantine mode (default 1024): each
   * replica snapshots its state there and cuts its log at the previous checkpoint.
   */
  readonly checkpointEntries?: number;
  /** Keep the trace (for `trace` and `check()`); default true. */
  readonly keepTrace?: boolean;
  /** Sees every trace event (docs/trace.md), times in virtual ms since the cluster started. */
  readonly onEvent?: (event: TraceEvent) => void;
}

/** A multicast a workload client asks for: where it goes, what it carries, and anything else. */
export interface SimRequest<P = unknown> {
  readonly destinations: GroupId | Iterable<GroupId>;
  readonly payload: P;
}

/**
 * A client driven from inside the simulation (`SimCluster.run`): closed loop, synchronous, on
 * the cluster's virtual clock. It is asked for its next multicast the moment it can start one,
 * and sees the replies the moment they arrive, so what it does next can depend on them — and a
 * multicast that starts after another completed really starts later, in virtual time.
 */
export interface SimWorkloadClient<P = unknown, R = unknown, Q extends SimRequest<P> = SimRequest<P>> {
  /** The group it sits next to (default: the first group). */
  readonly home?: GroupId;
  /** Multicasts it makes in all. */
  readonly multicasts: number;
  /** Multicasts it keeps in flight (default 1). */
  readonly outstanding?: number;
  /** Virtual ms it waits after a multicast completes before starting the next (default 0). */
  readonly thinkMs?: number;
  /** Virtual ms after the run starts at which it starts (default 0). */
  readonly startMs?: number;
  /** Its next multicast, asked at `nowMs` (virtual ms since the cluster started) when it starts. */
  next(nowMs: number): Q;
  /** Every destination group's reply to `request`, at `nowMs`, when the multicast completed. */
  onReplies?(replies: Replies<R>, nowMs: number, request: Q): void;
}

export interface SimWorkloadResult {
  /** Virtual time at the end of the run, since the cluster started. */
  readonly endMs: number;
  readonly multicasts: number;
  readonly completed: number;
  /** Messages taken from links and handed to processes: the simulator's unit of work. */
  readonly messageEvents: number;
}

export interface SimCluster<P = unknown, R = unknown> {
  /** A new client, next to `home` (default: the first group). */
  client(options?: { readonly home?: GroupId }): Client<P, R>;
  /**
   * Runs `clients` to the end on one continuous virtual timeline, synchronously, and returns
   * when every multicast completed. For workloads whose real-time order matters (a client
   * starting a multicast after another client's completed): async `client()` calls run in
   * rounds instead. Call it when no async multicast is pending.
   *
   * `faults` strike during the run, times in ms from its start: replicas named by id crash (and
   * recover), links are cut and heal (see @amcast/sim). A crashed replica keeps its state, unless
   * its crash is `kind: "amnesia"`: then it restarts with a fresh application and catches up from
   * its group by state transfer. A group of 2f+1 (3f+1) replicas must ride out f crashed ones.
   */
  run<Q extends SimRequest<P>>(
    clients: readonly SimWorkloadClient<P, R, Q>[],
    options?: { readonly faults?: FaultOptions },
  ): SimWorkloadResult;
  /** Virtual time elapsed, in ms. */
  readonly nowMs: number;
  /** The trace so far (empty with `keepTrace: false`). */
  readonly trace: readonly TraceEvent[];
  /** Runs the oracles (@amcast/check) over the trace so far. */
  check(): CheckReport;
}

/** Multicasts a round runs at most per client (the client's in-flight bound). */
const ROUND_MULTICASTS_MAX = 1024;
/** Virtual time a round may take before it counts as stuck. */
const ROUND_LIMIT_MS = 30 * 60_000;
/**
 * Virtual time a workload run may take: long workloads run for hours of virtual time; a run
 * that is stuck is found sooner, as stalled (nothing but ticks for two virtual minutes).
 */
const WORKLOAD_LIMIT_MS = 7 * 24 * 3_600_000;

interface Call<P, R> {
  readonly dst: DestinationSet;
  readonly payload: P;
  readonly resolve: (replies: Replies<R>) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A client process as the simulator drives it: the group layer's `MulticastClient`, plus what
 * the API needs — each multicast it starts is the next queued call, and its completion resolves
 * that call's promise with the groups' replies.
 */
class SimClientProcess<P, R> implements ClientLogic {
  readonly id: ClientId;
  readonly wantsTicks: boolean;
  readonly queue: Call<P, R>[] = [];
  /** Calls of the current round, in the order the simulator starts them. */
  round: Call<P, R>[] = [];
  cursor = 0;
  readonly inFlight = new Map<MessageId, Call<P, R>>();

  constructor(
    readonly inner: MulticastClient,
    readonly region: string,
  ) {
    this.id = inner.id;
    this.wantsTicks = inner.wantsTicks;
  }

  multicast(
    dst: DestinationSet,
    payloadBytes: number,
    payload?: unknown,
  ): { message: Multicast; outputs: readonly ProcessOutput[] } {
    const call = this.round[this.cursor] as Call<P, R>;
    this.cursor += 1;
    const started = this.inner.multicast(dst, payloadBytes, payload);
    this.inFlight.set(started.message.id, call);
    return started;
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    return this.settle(this.inner.receive(from, body));
  }

  tick(): readonly ProcessOutput[] {
    return this.settle(this.inner.tick());
  }

  private settle(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    for (const output of outputs) {
      if (output.kind !== "complete") continue;
      const call = this.inFlight.get(output.id);
      if (call === undefined) continue;
      this.inFlight.delete(output.id);
      call.resolve((output.results ?? {}) as Replies<R>);
    }
    return outputs;
  }
}

function stopText(reason: StopReason): string {
  return reason === "time-limit" ? "hit its time limit" : reason;
}

/**
 * A service on the deterministic simulator (@amcast/sim): every replica of every group and every
 * client run in this process, on virtual time, with the delays and jitter given. Multicasts made
 * together (before the caller next awaits) run together in one simulated round, concurrently, as
 * they would on a real cluster; each round runs until everything it started completed and the
 * replicas are idle. Replies are the applications' return values, as over the network.
 */
export function createSimCluster<P = unknown, R = unknown>(
  options: SimClusterOptions<P, R>,
): SimCluster<P, R> {
  const source = "createSimCluster";
  const service: ResolvedService = resolveService(options.groups, options, source);
  const { membership, protocol, overlay, params, mode, f } = service;
  const groups = options.groups;
  const latency = options.latencyMs ?? 1;
  const matrix = groups.map((_, from) =>
    groups.map((__, to) => {
      const value = typeof latency === "number" ? latency : latency[from]?.[to];
      if (typeof value !== "number" || !(value >= 0))
        throw new InputError(
          source,
          "latencyMs",
          `expected a delay >= 0 from ${groups[from]} to ${groups[to]}`,
        );
      return value;
    }),
  );
  // One region per group, named after it.
  const topology = new Topology(
    "service",
    { regions: [...groups], latencyMs: matrix },
    groups.map((id) => ({ id, region: id })),
    [],
  );
  const seed = options.seed ?? 1;
  const checkpointEntries = options.checkpointEntries;
  if (checkpointEntries !== undefined && !(Number.isInteger(checkpointEntries) && checkpointEntries >= 1))
    throw new InputError(
      source,
      "checkpointEntries",
      `expected an integer >= 1, got ${describeValue(checkpointEntries)}`,
    );
  const tickMs = options.tickMs ?? 10;
  const jitterSdFraction = options.jitterSdFraction ?? 0.05;
  const keepTrace = options.keepTrace ?? true;
  const signatures = mode === "byzantine" ? new SimulatedSignatures(seed) : undefined;
  const processes: SimProcess[] = membership.processes().map(({ id, group }) => {
    const signer = signatures?.signerFor(id);
    // The application's state travels in the group's checkpoints (a StatefulApplication's), so a
    // replica that restarts with its memory lost gets it back from its group.
    let current: Replica<unknown> | undefined;
    const make = (hardState: unknown): Replica<unknown> => {
      const application = options.application(group, id);
      const replica = createReplica({
        protocol,
        group,
        id,
        membership,
        overlay,
        params,
        mode,
        f,
        seed,
        application: groupApplication(application),
        ...groupState(application),
        ...(hardState === undefined ? {} : { hardState }),
        ...(checkpointEntries === undefined ? {} : { ordering: { checkpointEntries } }),
        ...(signer === undefined || signatures === undefined ? {} : { signer, verifier: signatures }),
      });
      current = replica;
      return replica;
    };
    const logic = make(undefined);
    // Amnesia: a fresh replica, with a fresh application, and only what the disk kept.
    const restart = (): Replica<unknown> => make((current as Replica<unknown>).hardState());
    return { logic, region: group, group, restart };
  });

  const clients: SimClientProcess<P, R>[] = [];
  const trace: TraceEvent[] = [];
  let elapsedMs = 0;
  let rounds = 0;
  let clientCount = 0;
  let scheduled = false;
  let broken: Error | undefined;

  const clientLogic = (id: ClientId, outstandingMax: number): MulticastClient =>
    createClient({
      id,
      protocol,
      membership,
      overlay,
      params,
      mode,
      f,
      outstandingMax,
      ...(signatures === undefined ? {} : { signer: signatures.signerFor(id) }),
    });

  /**
   * Runs the simulator with `simClients` from the current virtual time on. Each run draws from
   * its own stream of the seed; a run that does not drain breaks the cluster (what is left in
   * flight would be taken for later calls' answers), and `abandon` rejects what waited on it.
   */
  const simulateFromNow = (
    simClients: SimClient[],
    timeLimitMs: number,
    faults: FaultOptions,
    abandon: (failure: Error) => void,
  ): SimResult => {
    const offsetMs = elapsedMs;
    const first = rounds === 0;
    rounds += 1;
    let result: SimResult | undefined;
    let failure: Error | undefined;
    try {
      result = simulate({
        seed: seed + (rounds - 1) * 1_000_003,
        topology,
        processes,
        clients: simClients,
        network: { jitterSdFraction, reorder: null },
        processing: options.processing ?? DEFAULT_PROCESSING,
        faults,
        tickMs,
        timeLimitMs,
        recordSends: false,
        onEvent: (event) => {
          // `member` events once, at the start; everything else on one time axis.
          if (event.ev === "member" && !first) return;
          const shifted = { ...event, t: event.t + offsetMs };
          if (keepTrace) trace.push(shifted);
          options.onEvent?.(shifted);
        },
      });
      elapsedMs += result.endMs;
    } catch (error) {
      failure = error as Error;
    }
    if (result !== undefined && result.stoppedBy !== "drained")
      failure = new Error(`the simulated run ${stopText(result.stoppedBy)} with multicasts unanswered`);
    if (failure !== undefined) {
      broken = failure;
      abandon(failure);
      throw failure;
    }
    return result as SimResult;
  };

  const runRound = (): void => {
    scheduled = false;
    const active = clients.filter((client) => client.queue.length > 0);
    if (active.length === 0) return;
    const simClients: SimClient[] = active.map((client) => {
      client.round = client.queue.splice(0, ROUND_MULTICASTS_MAX);
      client.cursor = 0;
      const calls = client.round;
      return {
        logic: client,
        region: client.region,
        loop: { kind: "closed", multicasts: calls.length, outstanding: calls.length, thinkMs: 0 },
        payloadBytes: 0,
        startMs: 0,
        destinations: () => (calls[client.cursor] as Call<P, R>).dst,
        payload: () => (calls[client.cursor] as Call<P, R>).payload,
      };
    });
    try {
      simulateFromNow(simClients, ROUND_LIMIT_MS, NO_FAULTS, (failure) => {
        for (const client of clients) {
          for (const call of [
            ...client.inFlight.values(),
            ...client.round.slice(client.cursor),
            ...client.queue,
          ])
            call.reject(failure);
          client.inFlight.clear();
          client.queue.length = 0;
          client.round = [];
        }
      });
    } catch {
      return; // every caller waiting on the round was rejected
    }
    if (clients.some((client) => client.queue.length > 0)) schedule();
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    // After the caller's current turn: multicasts made together run in one round.
    setImmediate(runRound);
  };

  const homeOf = (home: GroupId | undefined, field: string): GroupId => {
    const group = home ?? groups[0];
    if (group === undefined || !groups.includes(group))
      throw new InputError(source, field, `${String(group)} is not a group of the service`);
    return group;
  };

  return {
    client(clientOptions = {}): Client<P, R> {
      const home = homeOf(clientOptions.home, "client.home");
      const id = `c${clientCount}`;
      clientCount += 1;
      const process = new SimClientProcess<P, R>(clientLogic(id, ROUND_MULTICASTS_MAX), home);
      clients.push(process);
      return {
        id,
        multicast(destinations, payload) {
          if (broken !== undefined) return Promise.reject(broken);
          let dst: DestinationSet;
          try {
            dst = destinationsOf(destinations, service);
          } catch (error) {
            return Promise.reject(error);
          }
          return new Promise<Replies<R>>((resolve, reject) => {
            process.queue.push({ dst, payload, resolve, reject });
            schedule();
          });
        },
        // A call starts at the next round's start, and its promise resolves after that round.
        nowMs: () => elapsedMs,
      };
    },
    run<Q extends SimRequest<P>>(
      workload: readonly SimWorkloadClient<P, R, Q>[],
      runOptions: { readonly faults?: FaultOptions } = {},
    ): SimWorkloadResult {
      if (broken !== undefined) throw broken;
      const faults = runOptions.faults ?? NO_FAULTS;
      const replicaIds = new Set(membership.processes().map((process) => process.id));
      if ((faults.byzantine ?? []).length > 0)
        throw new InputError(
          source,
          "run faults.byzantine",
          "Byzantine replicas are not simulated by the service API",
        );
      faults.crashes.forEach((crash, index) => {
        if (crash.proc === undefined)
          throw new InputError(
            source,
            `run faults.crashes[${index}]`,
            "name the replica (proc): the service API does not track leaders",
          );
      });
      const named = [
        ...faults.crashes.map((crash, index) => ({
          field: `crashes[${index}].proc`,
          ids: [crash.proc ?? ""],
        })),
        ...faults.partitions.map((partition, index) => ({
          field: `partitions[${index}].side`,
          ids: partition.side,
        })),
      ];
      for (const { field, ids } of named)
        for (const id of ids)
          if (!replicaIds.has(id))
            throw new InputError(
              source,
              `run faults.${field}`,
              `${describeValue(id)} is not a replica of the service`,
            );
      if (scheduled || clients.some((client) => client.queue.length > 0 || client.inFlight.size > 0))
        throw new Error(`${source}: run() while async multicasts are pending; await them first`);
      const simClients: SimClient[] = workload.map((spec, index) => {
        const outstanding = spec.outstanding ?? 1;
        if (!Number.isInteger(spec.multicasts) || spec.multicasts < 0)
          throw new InputError(source, `run clients[${index}].multicasts`, `expected a whole number >= 0`);
        if (!Number.isInteger(outstanding) || outstanding < 1 || outstanding > ROUND_MULTICASTS_MAX)
          throw new InputError(
            source,
            `run clients[${index}].outstanding`,
            `expected 1-${ROUND_MULTICASTS_MAX}`,
          );
        const id = `c${clientCount}`;
        clientCount += 1;
        const inner = clientLogic(id, outstanding);
        const offsetMs = elapsedMs;
        let asked: Q | undefined;
        const started = new Map<MessageId, Q>();
        const logic: ClientLogic = {
          id,
          wantsTicks: inner.wantsTicks,
          multicast: (dst, payloadBytes, payload) => {
            const begun = inner.multicast(dst, payloadBytes, payload);
            started.set(begun.message.id, asked as Q);
            return begun;
          },
          receive: (from, body) => inner.receive(from, body),
          tick: () => inner.tick(),
        };
        return {
          logic,
          region: homeOf(spec.home, `run clients[${index}].home`),
          loop: { kind: "closed", multicasts: spec.multicasts, outstanding, thinkMs: spec.thinkMs ?? 0 },
          payloadBytes: 0,
          startMs: spec.startMs ?? 0,
          destinations: (_prng, nowMs) => {
            asked = spec.next(offsetMs + nowMs);
            return destinationsOf(asked.destinations, service);
          },
          payload: () => (asked as Q).payload,
          onComplete: (id, results, nowMs) => {
            const request = started.get(id) as Q;
            started.delete(id);
            spec.onReplies?.(results as Replies<R>, offsetMs + nowMs, request);
          },
        };
      });
      const result = simulateFromNow(simClients, WORKLOAD_LIMIT_MS, faults, () => {});
      return {
        endMs: elapsedMs,
        multicasts: result.multicasts,
        completed: result.completed,
        messageEvents: result.messageEvents,
      };
    },
    get nowMs() {
      return elapsedMs;
    },
    trace,
    check() {
      return checkRun(trace, { liveness: broken === undefined, realTime: options.linearizable === true });
    },
  };
}
