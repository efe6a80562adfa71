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
import { InputError, Topology } from "@amcast/core";
import type { MulticastClient } from "@amcast/group";
import { createClient, createReplica, SimulatedSignatures } from "@amcast/group";
import type { SimClient, SimProcess } from "@amcast/sim";
import { DEFAULT_PROCESSING, NO_FAULTS, simulate } from "@amcast/sim";
import type { Application, Client, Replies, ResolvedService, ServiceOptions } from "./service.js";
import { destinationsOf, groupApplication, resolveService } from "./service.js";

export interface SimClusterOptions<P = unknown, R = unknown> extends ServiceOptions {
  /** The groups (shards) of the service. */
  readonly groups: readonly GroupId[];
  /**
   * Creates the state machine of one replica: called once per replica of every group, so each
   * replica has its own state, as it would on its own machine.
   */
  readonly application: (group: GroupId, replica: ProcessId) => Application<P, R>;
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
  /** Keep the trace (for `trace` and `check()`); default true. */
  readonly keepTrace?: boolean;
  /** Sees every trace event (docs/trace.md), times in virtual ms since the cluster started. */
  readonly onEvent?: (event: TraceEvent) => void;
}

export interface SimCluster<P = unknown, R = unknown> {
  /** A new client, next to `home` (default: the first group). */
  client(options?: { readonly home?: GroupId }): Client<P, R>;
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
  const tickMs = options.tickMs ?? 10;
  const jitterSdFraction = options.jitterSdFraction ?? 0.05;
  const keepTrace = options.keepTrace ?? true;
  const signatures = mode === "byzantine" ? new SimulatedSignatures(seed) : undefined;
  const processes: SimProcess[] = membership.processes().map(({ id, group }) => {
    const signer = signatures?.signerFor(id);
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
      application: groupApplication(options.application(group, id)),
      ...(signer === undefined || signatures === undefined ? {} : { signer, verifier: signatures }),
    });
    return { logic: replica, region: group, group };
  });

  const clients: SimClientProcess<P, R>[] = [];
  const trace: TraceEvent[] = [];
  let elapsedMs = 0;
  let rounds = 0;
  let scheduled = false;
  let broken: Error | undefined;

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
    const offsetMs = elapsedMs;
    const first = rounds === 0;
    rounds += 1;
    let result: ReturnType<typeof simulate> | undefined;
    let failure: Error | undefined;
    try {
      result = simulate({
        // Each round draws from its own stream of the seed.
        seed: seed + (rounds - 1) * 1_000_003,
        topology,
        processes,
        clients: simClients,
        network: { jitterSdFraction, reorder: null },
        processing: DEFAULT_PROCESSING,
        faults: NO_FAULTS,
        tickMs,
        timeLimitMs: ROUND_LIMIT_MS,
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
      failure = new Error(`the simulated round ${result.stoppedBy} with multicasts unanswered`);
    if (failure !== undefined) {
      // What is left in flight would be taken for new calls' answers: the cluster cannot go on.
      broken = failure;
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
      return;
    }
    if (clients.some((client) => client.queue.length > 0)) schedule();
  };
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    // After the caller's current turn: multicasts made together run in one round.
    setImmediate(runRound);
  };

  return {
    client(clientOptions = {}): Client<P, R> {
      const home = clientOptions.home ?? groups[0];
      if (home === undefined || !groups.includes(home))
        throw new InputError(source, "client.home", `${String(home)} is not a group of the service`);
      const id = `c${clients.length}`;
      const inner = createClient({
        id,
        protocol,
        membership,
        overlay,
        params,
        mode,
        f,
        outstandingMax: ROUND_MULTICASTS_MAX,
        ...(signatures === undefined ? {} : { signer: signatures.signerFor(id) }),
      });
      const process = new SimClientProcess<P, R>(inner, home);
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
