import type { ProcessId, ProcessLogic } from "@amcast/core";
import { InputError } from "@amcast/core";
import {
  buildSystem,
  CONTROLLER_ID,
  displayPath,
  keyValueApplication,
  OptimizerThread,
  systemToJson,
} from "@amcast/system";
import type { Clock } from "./clock.js";
import { monotonicClock, wallClock } from "./clock.js";
import type { NodeMessage, NodeStatus, RunnerMessage } from "./control.js";
import { START_NS_ENV } from "./control.js";
import type { LatencyEmulation } from "./delay.js";
import type { DeployedNode, Deployment } from "./deployment.js";
import type { ClientWorkload, HostStats } from "./host.js";
import { NodeHost } from "./host.js";
import type { JournalCheckpoint, ReplicaStorage } from "./journal.js";
import { forgetJournal, openJournalAndTrace, openTrace, runDigest } from "./journal.js";
import type { Keyring } from "./keys.js";
import type { NodeAddress } from "./nodes.js";
import { NodeTable } from "./nodes.js";
import { Ed25519Signatures } from "./signatures.js";
import { netRefusals } from "./support.js";

export interface NodeRunOptions {
  readonly deployment: Deployment;
  readonly node: DeployedNode;
  readonly keyring: Keyring;
  /** Where to write this node's trace (JSON Lines), or null for none. */
  readonly traceFile: string | null;
  readonly log: (line: string) => void;
  /**
   * The address a replica binds to, when not its deployment address (e.g. "0.0.0.0" in a
   * container, whose deployment address is a DNS name that may resolve only once it is up).
   */
  readonly listenHost?: string;
  /** Called once the node has reached every replica (started by hand; readiness probes use it). */
  readonly onConnected?: () => void;
  /**
   * A replica's data directory and fsync policy: it journals what it decides (or, with
   * `truncate: false`, every input) there before its outputs leave, and, restarted on the same
   * directory, rebuilds itself from the journal and rejoins its group as the same replica.
   */
  readonly storage?: ReplicaStorage;
  /**
   * The replica comes back from an amnesia crash: its memory and journal are lost but for its
   * orderer's hard state (read from the journal, which is then deleted; none without a data
   * directory). It starts as a fresh replica, traces an `amnesia` fault (a new incarnation), and
   * fetches its state from its group by state transfer.
   */
  readonly amnesia?: boolean;
  /**
   * A replica that ran before and lost its data directory (`amcast replica --rejoin-empty`): it
   * starts as after an amnesia crash with no hard state on disk — a new incarnation, voting only
   * once caught up with its group (Raft R7, PBFT B6) — and fetches its state from its group.
   */
  readonly rejoinEmpty?: boolean;
}

/** How long a node waits for its links before it gives up (by hand, peers may start late). */
const CONNECT_TIMEOUT_MS_RUNNER = 60_000;
const CONNECT_TIMEOUT_MS_BY_HAND = 30 * 60_000;
/**
 * Started by hand, a client host whose workload is done gives up on a replica it still owes
 * messages after this long unreachable (killed, its machine gone): no runner will say it crashed.
 */
const UNREACHABLE_GIVE_UP_MS = 5_000;
/** How often a node looks whether its links are up while it waits for them (under the runner). */
const CONNECT_POLL_MS = 20;
/** How often a client host reports progress to the runner. */
const PROGRESS_INTERVAL_MS = 250;

/** The trace clock: the runner's start instant when it passed one, else the wall clock. */
export function nodeClock(): Clock {
  const startNs = process.env[START_NS_ENV];
  return startNs !== undefined && /^\d+$/.test(startNs) ? monotonicClock(BigInt(startNs)) : wallClock();
}

/**
 * Runs one node of a deployment until it is told to stop: a replica (its replica process) or a
 * client host (its clients and their workload). Under the runner it follows the IPC control
 * channel (control.ts); started by hand it dials the addresses of the deployment file, and a
 * client host runs its workload as soon as it reaches every replica. Resolves with an exit code.
 */
export async function runNode(options: NodeRunOptions): Promise<number> {
  const { deployment, node, log } = options;
  const { system } = deployment;
  const refused = netRefusals(system);
  if (refused.length > 0)
    throw new InputError(
      deployment.file,
      "system",
      `the network runtime cannot run ${system.label}: ${refused.join("; ")}`,
    );
  const signatures = nodeSignatures(deployment, node, options.keyring);
  // The controller's optimiser solves in a thread of its own: a solve (up to its time limit) would
  // otherwise hold up the workload clients that share this host's event loop.
  const optimizer =
    node.role !== "replica" && system.reconfig !== undefined && node.processes.includes(CONTROLLER_ID)
      ? new OptimizerThread()
      : undefined;
  const { replicaState } = deployment;
  const keyValue = replicaState?.keyValue;
  const digest = runDigest(systemToJson(system));
  const amnesia = (options.amnesia === true || options.rejoinEmpty === true) && node.role === "replica";
  // An amnesia restart keeps only the hard state its journal recorded (none: a wiped directory).
  const kept = amnesia && options.storage !== undefined ? await forgetJournal(options.storage) : undefined;
  if (amnesia)
    log(
      kept?.found === true
        ? "amnesia: kept the orderer's hard state, discarded the journal; fetching the state from the group"
        : options.rejoinEmpty === true
          ? "rejoining with an empty data directory: no hard state, so it votes only once caught up; fetching the state from the group"
          : "amnesia: no hard state on disk; fetching the state from the group",
    );
  const journalOpenedAt = performance.now();
  const { journal, trace, traced } =
    options.storage === undefined
      ? {
          journal: undefined,
          trace: openTrace(options.traceFile, false, amnesia),
          traced: undefined,
        }
      : await openJournalAndTrace(options.storage, node.id, digest, options.traceFile, log, amnesia);
  // A journal of decisions truncated at a checkpoint: the replica starts from it.
  const checkpoint = journal?.recoveredCheckpoint;
  // The hard state an amnesia restart kept; or the one a journal of decisions recorded last
  // (the orderer is not rebuilt by its replay), or one of inputs began with (an amnesia restart's).
  const hardState = kept?.found === true ? kept.hardState : journal?.startingHardState;
  const built = buildSystem(system, {
    // Real signatures: a client signs the requests of one turn at once (the host seals them).
    ...(signatures === null ? {} : { signatures, clientsSignTogether: true }),
    ...(optimizer === undefined ? {} : { optimizer }),
    ...(replicaState?.checkpointEntries === undefined
      ? {}
      : { ordering: { checkpointEntries: replicaState.checkpointEntries } }),
    ...(keyValue === undefined
      ? {}
      : {
          // Only this node's replica runs here: the others' stores are not built.
          application: (id: ProcessId) =>
            id === node.id ? keyValueApplication(keyValue.keys, keyValue.partitions)(id) : undefined,
        }),
    ...(hardState !== undefined ? { hardState: (id) => (id === node.id ? hardState : undefined) } : {}),
  });
  const processes: ProcessLogic[] = [];
  const workloads: ClientWorkload[] = [];
  if (node.role === "replica") {
    const replica = built.processes.find((process) => process.logic.id === node.id);
    if (replica === undefined) throw new Error(`the system has no replica ${node.id}`);
    // Without a hard state on disk, a fresh replica's (term 0, no vote) still marks it as one
    // that lost its memory: it grants no vote until caught up (Raft R7; PBFT B6 asks first).
    const logic =
      amnesia && kept?.found !== true && replica.restart !== undefined ? replica.restart() : replica.logic;
    const restorable = logic as Partial<{ restoreCheckpoint(checkpoint: JournalCheckpoint): void }>;
    if (checkpoint !== undefined) {
      if (typeof restorable.restoreCheckpoint !== "function")
        throw new Error(`${node.id} runs a Byzantine strategy: it cannot start from a checkpoint`);
      restorable.restoreCheckpoint(checkpoint);
      log(
        `started from the checkpoint at log position ${checkpoint.position} in its journal (${Math.round(checkpoint.state.manifest.partitions.reduce((sum, entry) => sum + entry.bytes, 0) / 1024)} KiB of state) in ${Math.round(performance.now() - journalOpenedAt)} ms`,
      );
    }
    processes.push(logic);
  } else {
    const wanted = new Set(node.processes);
    for (const client of built.clients) {
      if (!wanted.has(client.logic.id)) continue;
      processes.push(client.logic);
      workloads.push(client);
    }
  }
  const runsController = workloads.some((client) => client.logic.id === CONTROLLER_ID);
  const { topology } = system;
  const regionOf = (process: ProcessId): number => {
    const group = built.membership.groupOf(process);
    const region = group === undefined ? built.clientRegions.get(process) : topology.groupRegion(group);
    if (region === undefined) throw new Error(`process ${process} has no region`);
    return topology.regionIndex(region);
  };
  const latency: LatencyEmulation | undefined = deployment.latencyEmulation
    ? {
        seed: system.seed,
        delayMs: (from, to) => topology.delayMs(regionOf(from), regionOf(to)),
        jitterSdFraction: system.network.jitterSdFraction,
        reorder: system.network.reorder,
      }
    : undefined;

  const control =
    process.send === undefined
      ? null
      : (message: NodeMessage): Promise<void> =>
          new Promise((resolve) => {
            if (!process.connected) resolve();
            // Resolves once the message is handed to the channel (or the channel is gone).
            else process.send?.(message, undefined, {}, () => resolve());
          });
  let exiting = false;
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });
  const host = new NodeHost({
    self: node.id,
    table: new NodeTable(deployment.nodes),
    keyring: options.keyring,
    listen: node.role === "replica" ? { host: options.listenHost ?? node.host, port: node.port } : null,
    limits: deployment.limits,
    ...(latency === undefined ? {} : { latency }),
    processes,
    groupOf: (process) => built.membership.groupOf(process),
    workloads,
    // Under the runner (the parity guard reads it); a node started by hand keeps no sampling timer.
    measureSchedulingDelay: control !== null,
    seed: system.seed,
    clock: nodeClock(),
    trace,
    recordSends: deployment.traceSends,
    tickMs: system.tickMs,
    log,
    onFatal: (error) => {
      log(`fatal: ${error.message}`);
      void control?.({ type: "fatal", message: error.message });
      void shutdown(70);
    },
    onWorkloadDone: () => {
      workloadDone = true;
      if (control !== null) {
        sendProgress();
        void control({ type: "done" });
      } else void finishByHand();
    },
    ...(journal === undefined ? {} : { journal }),
    ...(traced === undefined ? {} : { traced }),
    ...(amnesia ? { amnesia } : {}),
  });

  /** Stops the node once; `report` runs before the exit code is handed back (the runner's answer). */
  const shutdown = async (code: number, report?: (stats: HostStats) => Promise<void>): Promise<HostStats> => {
    if (exiting) return host.stats;
    exiting = true;
    if (progressTimer !== undefined) clearInterval(progressTimer);
    const stats = await host.stop();
    await optimizer?.close();
    if (signatures !== null) {
      const { signed, verified, verifiedFromMemory, rejected } = signatures.stats;
      log(
        `Ed25519: ${signed} signed, ${verified} verified (${rejected} rejected), ${verifiedFromMemory} checks answered from memory`,
      );
    }
    await report?.(stats);
    resolveExit(code);
    return stats;
  };
  let progressTimer: NodeJS.Timeout | undefined;
  const sendProgress = (): void => {
    void control?.({ type: "progress", multicasts: host.stats.multicasts, completed: host.stats.completed });
  };

  /**
   * By hand, a client host waits until its last messages are acknowledged, then stops; a replica
   * that stays unreachable meanwhile is declared down (what was owed to it is dropped, as to a
   * crashed process), or the host would wait for it for ever.
   */
  const finishByHand = async (): Promise<void> => {
    const unreachableSinceMs = new Map<string, number>();
    while (!host.quiet()) {
      const nowMs = performance.now();
      for (const { peer, messages, open } of host.transport.owedPeers()) {
        if (open || messages === 0) {
          unreachableSinceMs.delete(peer);
          continue;
        }
        const sinceMs = unreachableSinceMs.get(peer) ?? nowMs;
        unreachableSinceMs.set(peer, sinceMs);
        if (nowMs - sinceMs < UNREACHABLE_GIVE_UP_MS) continue;
        log(
          `${peer} unreachable for ${UNREACHABLE_GIVE_UP_MS / 1000} s after the workload: ${messages} message(s) to it dropped`,
        );
        host.transport.peerDown(peer);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stats = await shutdown(0);
    log(
      `workload done: ${stats.multicasts} multicasts, ${stats.completed} completed, ${stats.arrivalsSkipped} arrivals skipped`,
    );
  };

  // Started by hand, the first signal stops the node, whatever it is doing (connecting too); a
  // second one, with the handler gone, kills it. A client host stopped before its workload is
  // done did not finish. Under the runner, Ctrl-C at a terminal reaches every process of the
  // group: the runner stops the nodes in order (traces written, counters reported), so a node
  // leaves signals to it; should the runner die, its closed control channel stops the node.
  let workloadDone = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    if (control !== null) process.on(signal, () => {});
    else
      process.once(signal, () => {
        if (!exiting) log(`${signal}: stopping`);
        void shutdown(node.role === "clients" && !workloadDone ? signalExitCode(signal) : 0);
      });
  // The runner went away (killed, crashed): never outlive it.
  process.once("disconnect", () => void shutdown(0));

  // The hard state an amnesia restart kept goes first into its new journal (see there).
  if (amnesia && journal !== undefined) await journal.recordStartingHardState();
  const port = await host.start();
  const replicaIds = deployment.nodes
    .filter((peer) => peer.role === "replica" && peer.id !== node.id)
    .map((peer) => peer.id);
  const connect = async (addresses: ReadonlyMap<string, NodeAddress>, timeoutMs: number): Promise<void> => {
    host.connect(addresses);
    await host.transport.whenConnected(timeoutMs, replicaIds);
  };

  if (control === null) {
    const addresses = new Map(
      deployment.nodes
        .filter((peer) => peer.role === "replica")
        .map((peer) => [peer.id, { host: peer.host, port: peer.port }]),
    );
    log(
      `${node.role === "replica" ? `replica listening on ${options.listenHost ?? node.host}:${port}` : "client host"}; connecting to ${replicaIds.length} replica(s)`,
    );
    // Stopping (a signal, a fatal error such as a peer refusing this node's keys) ends the wait.
    try {
      await Promise.race([connect(addresses, CONNECT_TIMEOUT_MS_BY_HAND), exited]);
    } catch (error) {
      if (!exiting) {
        log(`fatal: ${(error as Error).message}`);
        void shutdown(70);
      }
    }
    if (exiting) return exited;
    log("connected to every replica");
    options.onConnected?.();
    if (node.role === "clients") host.startWorkload();
    return exited;
  }

  process.on("message", (message: RunnerMessage) => {
    void onControl(message).catch((error: Error) => {
      // Stopping while connecting rejects the wait: no failure of its own.
      if (exiting) return;
      log(`control message ${message.type} failed: ${error.stack ?? error.message}`);
      void control({ type: "fatal", message: error.message });
      void shutdown(70);
    });
  });
  /** The peers a fault plan's partitions cut this node from now, and those killed and not back. */
  let cutPeers = new Set<string>();
  const downPeers = new Set<string>();
  const onControl = async (message: RunnerMessage): Promise<void> => {
    switch (message.type) {
      case "peers": {
        for (const down of message.down ?? []) {
          downPeers.add(down);
          host.transport.peerDown(down);
        }
        const addresses = new Map(Object.entries(message.addresses));
        host.connect(addresses);
        // A restarted replica waits for the live replicas only: not for one a partition cuts it
        // from, nor for one killed meanwhile.
        const reachable = (): string[] =>
          replicaIds.filter((id) => addresses.has(id) && !cutPeers.has(id) && !downPeers.has(id));
        const deadline = performance.now() + CONNECT_TIMEOUT_MS_RUNNER;
        while (!host.transport.connectedTo(reachable())) {
          if (exiting) return;
          if (performance.now() > deadline)
            throw new Error(
              `${node.id}: not connected to ${reachable().join(", ")} after ${CONNECT_TIMEOUT_MS_RUNNER} ms`,
            );
          await new Promise((resolve) => setTimeout(resolve, CONNECT_POLL_MS));
        }
        await control({ type: "connected" });
        break;
      }
      case "start":
        progressTimer = setInterval(sendProgress, PROGRESS_INTERVAL_MS);
        host.startWorkload();
        break;
      case "status": {
        const group = node.role === "replica" ? built.membership.groupOf(node.id) : undefined;
        // Only this node's replica ever runs here, so the group's vote is this replica's belief.
        const leader = group === undefined ? undefined : built.leaderOf(group);
        const checkpoint = host.checkpointPosition();
        const status: NodeStatus = {
          quiet: host.quiet(),
          messageEvents: host.stats.messageEvents,
          deliveries: host.stats.deliveries,
          multicasts: host.stats.multicasts,
          completed: host.stats.completed,
          ...(leader === undefined ? {} : { leader }),
          ...(checkpoint === undefined ? {} : { checkpoint }),
          heldByPartition: host.transport.stats.messagesHeldByPartition,
          ...(host.multicastsTo.size === 0 ? {} : { multicastsTo: Object.fromEntries(host.multicastsTo) }),
        };
        await control({ type: "status", status });
        break;
      }
      case "crashed":
        downPeers.add(message.node);
        host.transport.peerDown(message.node);
        log(`${message.node} was killed (crash fault): its link is dropped`);
        break;
      case "recovered":
        downPeers.delete(message.node);
        host.transport.peerUp(message.node, message.address);
        log(`${message.node} was restarted: its link is up again`);
        break;
      case "partition":
        cutPeers = new Set(message.peers);
        host.transport.partition(message.peers);
        log(
          message.peers.length === 0
            ? "partition healed: every link is up again"
            : `partition: cut from ${message.peers.join(", ")}`,
        );
        break;
      case "finish":
        host.finishWorkload();
        break;
      case "stop":
        await shutdown(0, (stats) => {
          // The controller's record leaves with the node that ran it (the runner's tables need it).
          const controller = runsController ? built.controller?.report() : undefined;
          const withSignatures =
            signatures === null ? stats : { ...stats, signatures: { ...signatures.stats } };
          return control({
            type: "stopped",
            stats: withSignatures,
            ...(controller === undefined ? {} : { controller }),
          });
        });
        break;
    }
  };
  await control({ type: "listening", port });
  return exited;
}

/**
 * The node's signatures in Byzantine mode: Ed25519 with the signing keys of its processes (from
 * its keyring) and every process's public key (from the deployment); null in other modes.
 */
function nodeSignatures(
  deployment: Deployment,
  node: DeployedNode,
  keyring: Keyring,
): Ed25519Signatures | null {
  if (deployment.system.mode !== "byzantine") return null;
  if (deployment.publicKeys.size === 0)
    throw new InputError(
      displayPath(deployment.file),
      "publicKeys",
      "is missing: a Byzantine run needs every process's public key (amcast keys --deployment FILE --secret-file FILE --out DIR writes them to DIR/public-keys.json)",
    );
  const seeds = new Map<string, Buffer>();
  for (const process of node.processes) {
    const seed = keyring.signingSeeds.get(process);
    if (seed === undefined)
      throw new InputError(
        `keyring of ${keyring.node}`,
        "signing",
        `holds no signing key of ${process}: a Byzantine run signs (write the keyrings again with amcast keys)`,
      );
    seeds.set(process, seed);
  }
  return new Ed25519Signatures(deployment.publicKeys, seeds, displayPath(deployment.file));
}

/** The conventional exit code of a process stopped by `signal` (128 + its number). */
function signalExitCode(signal: "SIGINT" | "SIGTERM"): number {
  return signal === "SIGINT" ? 130 : 143;
}
