import type { ClientId, DestinationSet, GroupId, MessageId, ProcessId } from "@amcast/core";
import { describeValue, InputError, listNames } from "@amcast/core";
import type { MulticastClient } from "@amcast/group";
import { createClient, createReplica } from "@amcast/group";
import type { FsyncPolicy, NodeAddress, NodeSpec, TraceSink, TransportLimits } from "@amcast/runtime";
import {
  Ed25519Signatures,
  Keyring,
  NodeHost,
  NodeTable,
  openJournalAndTrace,
  publicKeysFromSecret,
  runDigest,
  signingProcesses,
  TraceFile,
  wallClock,
} from "@amcast/runtime";
import type { Client, ReplicaApplication, Replies, ResolvedService, ServiceOptions } from "./service.js";
import { destinationsOf, groupApplication, groupState, resolveService } from "./service.js";

/**
 * Where a service's processes run. Every process of the cluster (each replica, each client host)
 * is given the same configuration; it decides the node table, and a process whose configuration
 * differs from its peers' is refused at the handshake.
 */
export interface ClusterConfig extends ServiceOptions {
  /**
   * Every group, with the address each of its replicas listens on: one per replica (1 in solo
   * mode, 2f+1 in crash mode), the first being replica `<group>/0`, the next `<group>/1`, ...
   */
  readonly groups: Readonly<Record<GroupId, readonly NodeAddress[]>>;
  /**
   * The client hosts that may connect, each with how many client processes it runs (multicasts
   * in flight are spread over them). Default: one host, "clients", with one client process.
   */
  readonly clientHosts?: Readonly<Record<string, number>>;
  /** Period of the replicas' ticks in ms (leader election and retries in crash mode), default 10. */
  readonly tickMs?: number;
  /**
   * Replicated modes: replicas checkpoint every this many log positions (default 1024) — the
   * group's state and a `StatefulApplication`'s partitions — and keep their logs from the
   * previous checkpoint on; a replica that comes back without its state fetches a checkpoint.
   */
  readonly checkpointEntries?: number;
  /** Transport limits (docs/runtime.md), e.g. `{ batchMessagesMax: 256 }`. */
  readonly transport?: Partial<TransportLimits>;
  /**
   * Byzantine mode: every process's Ed25519 public key (64 hex digits), replicas and client
   * processes (`<host>.<index>`). Needed when processes are given their own keyrings; with the
   * cluster secret, every process derives them.
   */
  readonly publicKeys?: Readonly<Record<ProcessId, string>>;
}

/** How a process proves it belongs to the cluster: the cluster secret, or its own keyring. */
export interface Credentials {
  /** The cluster secret (at least 16 bytes): the process derives its own keys from it. */
  readonly secret?: Uint8Array;
  /** Or this process's keyring only (the JSON `amcast keys` writes), so it never holds the secret. */
  readonly keys?: unknown;
}

export interface ReplicaOptions<P = unknown, R = unknown> extends Credentials {
  readonly cluster: ClusterConfig;
  /** Which replica this process is: `<group>/<index>`. */
  readonly id: ProcessId;
  /** The replica's state machine: an `Application`, or a `StatefulApplication` that can be snapshotted. */
  readonly application: ReplicaApplication<P, R>;
  /** Listen on this host instead of the configured one (e.g. "0.0.0.0" behind a NAT). */
  readonly listenHost?: string;
  /** Write this replica's trace (docs/trace.md) to a file. */
  readonly traceFile?: string;
  /** Log lines (connections, rejected frames); default: stderr with the replica's id. */
  readonly log?: (line: string) => void;
  /** The replica cannot go on (a send queue over its bound); it stops itself. Default: log. */
  readonly onFatal?: (error: Error) => void;
  /**
   * Journal here what the replica decides before acting on it; started again on the same
   * directory (after a crash, or a stop), the replica rebuilds itself from the journal and its
   * group catches it up (docs/durability.md). A `StatefulApplication` is restored from the
   * journal's last checkpoint and sees the messages delivered after it again; a plain function
   * (whose state no checkpoint holds) gets a journal of every input and sees every delivered
   * message again, in order. Either way it must be deterministic. A journal of decided positions
   * also keeps the orderer's hard state, with Raft's log past the last decided position (R8): a
   * whole group stopped and started again elects a leader and answers.
   */
  readonly dataDir?: string;
  /**
   * Journal every input and keep the whole journal (a restart replays it all), whatever the
   * application: for replaying exactly what a replica received (debugging); it grows without bound.
   */
  readonly keepJournal?: boolean;
  /** When the journal is fsynced: per batch of inputs (default), every 10 ms, or never. */
  readonly fsync?: FsyncPolicy;
}

export interface ReplicaHandle {
  readonly id: ProcessId;
  readonly group: GroupId;
  /** The port it listens on. */
  readonly port: number;
  /** Stops the replica: closes its connections and its trace. */
  stop(): Promise<void>;
}

export interface ClientOptions extends Credentials {
  readonly cluster: ClusterConfig;
  /** Which client host this process is (default "clients"). */
  readonly host?: string;
  /** A multicast with no answer after this long is rejected (its outcome unknown); default 60 s. */
  readonly timeoutMs?: number;
  /** How long to wait for a majority of every group's replicas to be reachable; default 30 s. */
  readonly connectTimeoutMs?: number;
  /** Multicasts in flight per client process; more wait in a queue. Default 256. */
  readonly outstandingMax?: number;
  readonly traceFile?: string;
  readonly log?: (line: string) => void;
}

/** A client host's connection to the service. */
export interface ServiceClient<P = unknown, R = unknown> extends Client<P, R> {
  /** Stops the client host: pending multicasts are rejected, connections closed. */
  close(): Promise<void>;
}

export const DEFAULT_CLIENT_HOST = "clients";

interface Layout {
  readonly service: ResolvedService;
  readonly table: NodeTable;
  readonly addresses: ReadonlyMap<string, NodeAddress>;
  readonly clientsOf: ReadonlyMap<string, readonly ClientId[]>;
}

/** The service, node table and replica addresses a cluster configuration describes. */
function layout(config: ClusterConfig, source: string): Layout {
  if (typeof config !== "object" || config === null || typeof config.groups !== "object")
    throw new InputError(source, "cluster", "expected a cluster configuration with groups");
  const groups = Object.keys(config.groups);
  const service = resolveService(groups, config, source);
  const nodes: NodeSpec[] = [];
  const addresses = new Map<string, NodeAddress>();
  for (const group of service.membership.groups) {
    const replicas = service.membership.replicas(group);
    const listed = config.groups[group] ?? [];
    if (listed.length !== replicas.length)
      throw new InputError(
        source,
        `groups.${group}`,
        `lists ${listed.length} replica address(es); ${service.mode} mode with f=${service.f} needs ${replicas.length}`,
      );
    replicas.forEach((id, index) => {
      const address = listed[index] as NodeAddress;
      if (
        typeof address?.host !== "string" ||
        !Number.isInteger(address.port) ||
        address.port < 1 ||
        address.port > 65535
      )
        throw new InputError(
          source,
          `groups.${group}[${index}]`,
          "expected { host, port } with a port 1-65535",
        );
      nodes.push({ id, role: "replica", processes: [id] });
      addresses.set(id, { host: address.host, port: address.port });
    });
  }
  const clientsOf = new Map<string, ClientId[]>();
  for (const [host, count] of Object.entries(config.clientHosts ?? { [DEFAULT_CLIENT_HOST]: 1 })) {
    if (host === "" || host.includes("/") || host.includes(":") || service.membership.hasGroup(host))
      throw new InputError(
        source,
        `clientHosts.${host}`,
        "a client host id is not a group and has no / or :",
      );
    if (!Number.isInteger(count) || count < 1 || count > 1024)
      throw new InputError(source, `clientHosts.${host}`, `expected 1-1024 client processes, got ${count}`);
    const clients = Array.from({ length: count }, (_, index) => `${host}.${index}`);
    clientsOf.set(host, clients);
    nodes.push({ id: host, role: "clients", processes: clients });
  }
  return { service, table: new NodeTable(nodes), addresses, clientsOf };
}

function keyringOf(
  credentials: Credentials,
  node: string,
  table: NodeTable,
  mode: ResolvedService["mode"],
  source: string,
): Keyring {
  if (credentials.keys !== undefined) {
    const keyring = Keyring.fromJson(credentials.keys, `${source} keys`);
    if (keyring.node !== node)
      throw new InputError(source, "keys", `is the keyring of ${keyring.node}, not of ${node}`);
    return keyring;
  }
  if (credentials.secret === undefined)
    throw new InputError(source, "secret", "give the cluster secret (or this process's keys)");
  return Keyring.fromSecret(
    credentials.secret,
    node,
    table.nodes.map((peer) => peer.id),
    signingProcesses({ mode }, table.node(node)?.processes ?? []),
  );
}

/**
 * Byzantine mode's signatures for the processes of `node`: Ed25519 with their signing keys (from
 * the keyring) and every process's public key (from the configuration, or derived from the
 * secret); undefined in other modes.
 */
function signaturesOf(
  credentials: Credentials,
  config: ClusterConfig,
  layout: Layout,
  keyring: Keyring,
  source: string,
): Ed25519Signatures | undefined {
  if (layout.service.mode !== "byzantine") return undefined;
  const processes = layout.table.nodes.flatMap((peer) => peer.processes);
  let listed: Readonly<Record<ProcessId, string>>;
  if (config.publicKeys !== undefined) listed = config.publicKeys;
  else if (credentials.secret !== undefined) listed = publicKeysFromSecret(credentials.secret, processes);
  else
    throw new InputError(
      source,
      "cluster.publicKeys",
      "is missing: a Byzantine cluster whose processes hold their own keyrings lists every process's public key",
    );
  const publicKeys = new Map<ProcessId, Buffer>();
  for (const process of processes) {
    const hex = listed[process];
    if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex))
      throw new InputError(
        source,
        `cluster.publicKeys.${process}`,
        "expected 64 hex digits (an Ed25519 public key)",
      );
    publicKeys.set(process, Buffer.from(hex, "hex"));
  }
  const seeds = new Map<ProcessId, Buffer>();
  for (const process of layout.table.node(keyring.node)?.processes ?? []) {
    const seed = keyring.signingSeeds.get(process);
    if (seed === undefined)
      throw new InputError(source, "keys.signing", `holds no signing key of ${process}`);
    seeds.set(process, seed);
  }
  return new Ed25519Signatures(publicKeys, seeds, source);
}

function stderrLog(prefix: string): (line: string) => void {
  return (line) => process.stderr.write(`[${prefix}] ${line}\n`);
}

/**
 * Starts one replica of a group on this machine: it listens where the configuration says,
 * connects to the other replicas (retrying until they are up), orders what its group receives
 * and runs `application` on every delivered message, in delivery order. Run one per replica,
 * each in its own process (on its own machine) for fault tolerance; several may share a process
 * for tests.
 */
export async function startReplica<P = unknown, R = unknown>(
  options: ReplicaOptions<P, R>,
): Promise<ReplicaHandle> {
  const source = `startReplica ${options.id}`;
  const cluster = layout(options.cluster, source);
  const { service, table, addresses } = cluster;
  const { membership } = service;
  const group = membership.groupOf(options.id);
  if (group === undefined)
    throw new InputError(
      source,
      "id",
      `${describeValue(options.id)} is not a replica of the cluster (replicas: ${listNames(membership.processes().map((p) => p.id))})`,
    );
  const { checkpointEntries } = options.cluster;
  if (checkpointEntries !== undefined && !(Number.isSafeInteger(checkpointEntries) && checkpointEntries >= 1))
    throw new InputError(
      source,
      "cluster.checkpointEntries",
      `expected a whole number of log positions, at least 1, got ${describeValue(checkpointEntries)}`,
    );
  const keyring = keyringOf(options, options.id, table, service.mode, source);
  const signatures = signaturesOf(options, options.cluster, cluster, keyring, source);
  const log = options.log ?? stderrLog(options.id);
  if (options.fsync !== undefined && options.dataDir === undefined)
    throw new InputError(source, "fsync", "needs dataDir (where the replica keeps its journal)");
  if (options.keepJournal === true && options.dataDir === undefined)
    throw new InputError(source, "keepJournal", "needs dataDir (where the replica keeps its journal)");
  // A journal replays only into the same cluster (its configuration, the application aside).
  const { journal, trace, traced } =
    options.dataDir === undefined
      ? {
          journal: undefined,
          trace: options.traceFile === undefined ? null : (new TraceFile(options.traceFile) as TraceSink),
          traced: undefined,
        }
      : await openJournalAndTrace(
          {
            dataDir: options.dataDir,
            fsync: options.fsync ?? "batch",
            // A plain function's state is not in the group's checkpoints: it sees every input again.
            ...(typeof options.application === "function" || options.keepJournal === true
              ? { truncate: false }
              : {}),
          },
          options.id,
          runDigest(options.cluster),
          options.traceFile ?? null,
          log,
        );
  const replica = createReplica({
    protocol: service.protocol,
    group,
    id: options.id,
    membership,
    overlay: service.overlay,
    params: service.params,
    mode: service.mode,
    f: service.f,
    application: groupApplication(options.application),
    ...groupState(options.application),
    ...(checkpointEntries === undefined ? {} : { ordering: { checkpointEntries } }),
    ...(signatures === undefined ? {} : { signer: signatures.signerFor(options.id), verifier: signatures }),
    // A journal of decided positions rebuilds the orderer from its hard state only.
    ...(journal?.startingHardState === undefined ? {} : { hardState: journal.startingHardState }),
  });
  // Its checkpoint first; the host executes the positions decided after it again.
  if (journal?.recoveredCheckpoint !== undefined) replica.restoreCheckpoint(journal.recoveredCheckpoint);
  const own = addresses.get(options.id) as NodeAddress;
  let stopped: Promise<void> | undefined;
  const host: NodeHost = new NodeHost({
    self: options.id,
    table,
    keyring,
    listen: { host: options.listenHost ?? own.host, port: own.port },
    ...(options.cluster.transport === undefined ? {} : { limits: options.cluster.transport }),
    processes: [replica],
    groupOf: (process) => membership.groupOf(process),
    seed: 0,
    clock: wallClock(),
    trace,
    recordSends: false,
    tickMs: options.cluster.tickMs ?? 10,
    log,
    onFatal: (error) => {
      (options.onFatal ?? ((fatal: Error) => log(`fatal: ${fatal.message}; stopping`)))(error);
      void stop();
    },
    ...(journal === undefined ? {} : { journal }),
    ...(traced === undefined ? {} : { traced }),
  });
  const stop = (): Promise<void> => {
    stopped ??= host.stop().then(() => undefined);
    return stopped;
  };
  // Unable to listen (its port taken): it releases its journal, trace and timers before failing.
  const port = await host.start().catch(async (error: unknown) => {
    await stop();
    throw error;
  });
  host.connect(addresses);
  return { id: options.id, group, port, stop };
}

interface Pending<R> {
  readonly dst: DestinationSet;
  readonly payload: unknown;
  readonly resolve: (replies: Replies<R>) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Connects a client host to the service: resolves once a majority of every group's replicas is
 * reachable. `multicast` sends through the host's client processes (the one with the fewest
 * multicasts in flight); each resolves with the destination groups' replies.
 *
 * Client processes number their multicasts from the wall clock's microseconds, so a client host
 * that restarts under the same id never reuses a message id (replicas would take it for a retry
 * and answer from their reply cache).
 */
export async function connectClient<P = unknown, R = unknown>(
  options: ClientOptions,
): Promise<ServiceClient<P, R>> {
  const hostId = options.host ?? DEFAULT_CLIENT_HOST;
  const source = `connectClient ${hostId}`;
  const cluster = layout(options.cluster, source);
  const { service, table, addresses, clientsOf } = cluster;
  const clientIds = clientsOf.get(hostId);
  if (clientIds === undefined)
    throw new InputError(
      source,
      "host",
      `${describeValue(hostId)} is not a client host of the cluster (hosts: ${listNames([...clientsOf.keys()])})`,
    );
  const outstandingMax = options.outstandingMax ?? 256;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const firstSeq = Date.now() * 1000;
  const keyring = keyringOf(options, hostId, table, service.mode, source);
  const signatures = signaturesOf(options, options.cluster, cluster, keyring, source);
  const clients: MulticastClient[] = clientIds.map((id) =>
    createClient({
      id,
      protocol: service.protocol,
      membership: service.membership,
      overlay: service.overlay,
      params: service.params,
      mode: service.mode,
      f: service.f,
      outstandingMax,
      firstSeq,
      ...(signatures === undefined ? {} : { signer: signatures.signerFor(id) }),
    }),
  );
  const log = options.log ?? stderrLog(hostId);
  // The host's trace and the service's history share this clock.
  const clock = wallClock();
  const waiting: Pending<R>[] = [];
  const live = new Map<
    MessageId,
    { readonly reject: (error: Error) => void; readonly timer: NodeJS.Timeout }
  >();
  let closed = false;
  /** What made the host give up (e.g. a replica refusing its keys), for `connectClient` to throw. */
  let fatal: Error | undefined;
  const host: NodeHost = new NodeHost({
    self: hostId,
    table,
    keyring,
    listen: null,
    ...(options.cluster.transport === undefined ? {} : { limits: options.cluster.transport }),
    processes: clients,
    groupOf: () => undefined,
    seed: 0,
    clock,
    trace: options.traceFile === undefined ? null : new TraceFile(options.traceFile),
    recordSends: false,
    tickMs: options.cluster.tickMs ?? 10,
    log,
    onFatal: (error) => {
      fatal ??= error;
      log(`fatal: ${error.message}; closing`);
      void close();
    },
  });

  const start = (call: Pending<R>): void => {
    let best: MulticastClient | undefined;
    for (const client of clients)
      if (
        client.inFlightCount < outstandingMax &&
        (best === undefined || client.inFlightCount < best.inFlightCount)
      )
        best = client;
    if (best === undefined) {
      waiting.push(call);
      return;
    }
    let id: MessageId;
    try {
      id = host.multicast(best.id, call.dst, call.payload, 0, (results) => {
        const entry = live.get(id);
        if (entry !== undefined) clearTimeout(entry.timer);
        live.delete(id);
        call.resolve(results as Replies<R>);
        next();
      });
    } catch (error) {
      call.reject(error as Error);
      return;
    }
    const timer = setTimeout(() => {
      live.delete(id);
      host.forget(id);
      call.reject(
        new Error(`multicast ${id} got no answer within ${timeoutMs} ms; it may still be delivered`),
      );
      next();
    }, timeoutMs);
    timer.unref();
    live.set(id, { reject: call.reject, timer });
  };
  const next = (): void => {
    const call = waiting.shift();
    if (call !== undefined) start(call);
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const error = new Error(`client host ${hostId} closed`);
    for (const entry of live.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    live.clear();
    for (const call of waiting.splice(0)) call.reject(error);
    await host.stop();
  };

  await host.start();
  host.connect(addresses);
  // A majority of every group suffices to make progress (every replica in solo mode).
  const deadline = Date.now() + (options.connectTimeoutMs ?? 30_000);
  for (;;) {
    const unreachable = service.membership.groups.filter((group) => {
      const replicas = service.membership.replicas(group);
      const reachable = replicas.filter((id) => host.transport.connectedTo([id])).length;
      return reachable < Math.floor(replicas.length / 2) + 1;
    });
    if (unreachable.length === 0) break;
    if (fatal !== undefined) throw new Error(`${source}: ${fatal.message}`);
    if (Date.now() > deadline) {
      await host.stop();
      throw new Error(`${source}: cannot reach a majority of the replicas of ${unreachable.join(", ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  return {
    id: hostId,
    multicast(destinations, payload) {
      if (closed) return Promise.reject(new Error(`client host ${hostId} is closed`));
      let dst: DestinationSet;
      try {
        dst = destinationsOf(destinations, service);
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<Replies<R>>((resolve, reject) => start({ dst, payload, resolve, reject }));
    },
    nowMs: () => clock.now(),
    close,
  };
}
