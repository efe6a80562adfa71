import type { SystemSpec } from "@amcast/system";

/** Where a run is started from: by the cluster runner (which injects crashes and partitions), or by hand. */
export interface SupportContext {
  readonly byHand: boolean;
}

/** An option of a system spec the network runtime cannot honour, and when it is set. */
export interface Refusal<T> {
  /** The option as a user writes it, e.g. "faults.partitions". */
  readonly option: string;
  readonly when: (value: T, context: SupportContext) => boolean;
  /** Why, and what to do instead. */
  readonly why: string;
}

/** How the runtime treats one field: what it does with it, and what it refuses. */
export interface FieldSupport<T> {
  readonly honoured: string;
  readonly refuse?: readonly Refusal<T>[];
}

/**
 * Every field of a system spec, with how the network runtime honours it. TypeScript refuses this
 * table when a field is missing, so a new field needs a decision here: carried to the nodes and
 * honoured, or refused before anything starts (test/support.test.ts runs every refusal).
 */
export const NET_SUPPORT: { readonly [K in keyof SystemSpec]-?: FieldSupport<SystemSpec[K]> } = {
  label: { honoured: "names the run and its deployment" },
  seed: { honoured: "seeds the clients' destinations and open-loop arrivals and the emulated delays" },
  topology: {
    honoured:
      "places replicas and clients; its one-way delays are injected in the transport (unless --no-latency)",
  },
  protocol: { honoured: "the same group logic runs in every replica process" },
  overlay: { honoured: "every process builds the same overlay" },
  params: { honoured: "every process parses the same protocol parameters" },
  mode: {
    honoured:
      "solo, crash and byzantine; byzantine signs with Ed25519 (node:crypto): each process's key in its node's keyring, every public key in the deployment",
  },
  f: { honoured: "replicas per group and quorums" },
  workload: { honoured: "closed and open loops, start spread and locality shifts, on the wall clock" },
  byzantine: { honoured: "each Byzantine replica runs its strategy in its own process" },
  linearizable: { honoured: "the ACK barrier wraps the protocol in every process" },
  reconfig: {
    honoured:
      "the controller runs in the client host of its client; replicas measure delays from send stamps on the nodes' shared clock",
  },
  faultPlan: { honoured: "labels the run" },
  network: {
    honoured:
      "jitter and reordering are drawn as the simulator draws them, per pair of processes (with latency emulation)",
  },
  processing: {
    honoured: "not modelled: real processes pay their real processing cost instead",
  },
  faults: {
    honoured:
      "Byzantine replicas; crashes as SIGKILL of the replica's process, and recoverAtMs as a restart of it from its data directory (a durable crash replays its journal; an amnesia crash keeps only its orderer's hard state and fetches the rest from its group by state transfer; then its group catches it up); partitions as links cut in the transport (what crosses a cut waits at the sender until the heal); all by the cluster runner",
    refuse: [
      {
        option: "faults.crashes",
        when: (faults, context) => context.byHand && faults.crashes.length > 0,
        why: "a cluster started by hand has no runner to kill replicas; pick a run without crashes, or use --runtime net",
      },
      {
        option: "faults.partitions",
        when: (faults, context) => context.byHand && faults.partitions.length > 0,
        why: "a cluster started by hand has no runner to cut and heal links; pick a run without partitions, or use --runtime net",
      },
    ],
  },
  timeLimitMs: { honoured: "bounds the workload on the wall clock" },
  endsAtTimeLimit: { honoured: "a run stopped at its limit owes no delivery, as on the simulator" },
  tickMs: { honoured: "a real timer ticks the processes that want ticks" },
  realTime: { honoured: "the oracles count real-time order on the merged trace" },
};

/** Every option the network runtime refuses, as named in its errors. */
export const NET_REFUSED_OPTIONS: readonly string[] = Object.values<FieldSupport<never>>(
  NET_SUPPORT as Record<string, FieldSupport<never>>,
).flatMap((support) => (support.refuse ?? []).map((refusal) => refusal.option));

/** What in `spec` the network runtime cannot honour, one line per option ("option: why"). */
export function netRefusals(spec: SystemSpec, context: SupportContext = { byHand: false }): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(NET_SUPPORT) as (keyof SystemSpec)[]) {
    const support = NET_SUPPORT[key] as FieldSupport<unknown>;
    for (const refusal of support.refuse ?? [])
      if (refusal.when(spec[key], context)) problems.push(`${refusal.option}: ${refusal.why}`);
  }
  return problems;
}
