import type {
  ClientId,
  ClientLogic,
  DestinationSet,
  GroupId,
  MessageId,
  Multicast,
  ObservedDelay,
  Overlay,
  ProcessId,
  ProcessOutput,
  ProcessSend,
  ProtocolContext,
  ProtocolDefinition,
} from "@amcast/core";
import { assert, describeValue, InputError, listNames, parseOverlay } from "@amcast/core";
import type { Signer } from "./auth.js";
import { canonical, SIGNATURE_BYTES } from "./auth.js";
import { CLIENT_SEQ_WINDOW } from "./clients.js";
import { requestDigest } from "./inputs.js";
import type { Membership } from "./membership.js";
import type { ReplicationMode } from "./replica.js";
import { replyQuorum, systemContext } from "./replica.js";
import { SequenceMap } from "./sequence-map.js";
import type { GroupWire } from "./wire.js";
import { ENVELOPE_BYTES, multicastBytes, readEnvelope, sequenceAt } from "./wire.js";

export interface ClientSpec {
  readonly id: ClientId;
  readonly protocol: ProtocolDefinition<unknown>;
  readonly membership: Membership;
  readonly overlay: Overlay | null;
  /** The protocol's parameters as JSON, as the replicas get them (see `ReplicaSpec.params`). */
  readonly params?: unknown;
  readonly mode: ReplicationMode;
  /** Faulty replicas tolerated per group (decides the reply quorum). */
  readonly f: number;
  /** Multicasts in flight at once; a workload asking for more is a bug. */
  readonly outstandingMax: number;
  /** The client's signer: required in Byzantine mode (replicas check requests' signatures). */
  readonly signer?: Signer;
  /**
   * Ticks without an answer before a request is sent again (doubling up to 8x), and how many
   * times in a row it is sent again without word that a group ordered it (see `under-way`).
   */
  readonly retryTicks?: number;
  readonly retriesMax?: number;
  /**
   * The sequence number of the client's first multicast (default 0). A client process that may
   * restart under the same id (a long-lived service) starts above anything its earlier
   * incarnations used, so replicas never take a new request for a retry of an old one.
   */
  readonly firstSeq?: number;
  /**
   * Whether a completion carries what each destination group answered (`results` of the
   * `complete` output; default true). A load generator whose answers nobody reads turns it off,
   * and the client then keeps no results at all.
   */
  readonly results?: boolean;
}

/** Distinct (view, overlay) claims a client tracks while learning a new view. */
const REDIRECT_VOTE_KEYS_MAX = 64;

interface InFlight {
  readonly message: Multicast;
  readonly seq: number;
  /** Requests as last sent (a redirect replaces them), and the view they were sent under. */
  sends: readonly ProcessSend[];
  view: number;
  /** Replicas that refused the version sent under `view` (redirected it to a newer view); created on the first. */
  refusals: Set<ProcessId> | undefined;
  /**
   * Destination groups of a multi-group message not answered yet, copied from its destinations
   * on the first answer; a local message needs no list (its record goes with its one answer).
   */
  groupsLeft: GroupId[] | undefined;
  /**
   * When a group's answer needs more than one reply: per group still unanswered, the replicas
   * vouching for each distinct result (created on the first reply).
   */
  votes: Map<GroupId, Map<string, Set<ProcessId>>> | undefined;
  /** What each group answered, when the client collects results; created on the first answer. */
  results: Record<GroupId, unknown> | undefined;
  /** Delays replicas reported with their answers (the last report per replica); rarely any. */
  delays?: Map<ProcessId, readonly ObservedDelay[]>;
  sentTick: number;
  retries: number;
  /** Retries since an entry group last said the request is under way; `retriesMax` of them and the client gives up. */
  silentRetries: number;
  /** Per entry group, the replicas that said so since (a quorum of one group counts); created on the first. */
  underWay: Map<GroupId, Set<ProcessId>> | undefined;
}

const DEFAULT_RETRY_TICKS = 100;
const DEFAULT_RETRIES_MAX = 50;

/**
 * The client side of a multicast. It numbers its messages ("<client>:<seq>"), sends each request
 * to every replica of the protocol's entry groups, and completes a message once every destination
 * group answered: one reply from a group in solo and crash mode, f+1 matching replies (same
 * result, distinct replicas) in Byzantine mode, so at least one comes from a correct replica.
 * Requests left unanswered are sent again after `retryTicks` (replicas answer a retry from their
 * reply cache and never execute twice). The client gives up after `retriesMax` retries in a row
 * with no word that the request is under way: a group that ordered it answers a retry so (f+1
 * replicas in Byzantine mode), and a slow group is waited for rather than given up on.
 */
export class MulticastClient implements ClientLogic {
  readonly id: ClientId;
  readonly wantsTicks: boolean;
  private readonly spec: ClientSpec;
  private nextSeq = 0;
  private ticks = 0;
  /** Multicasts in flight by sequence number. */
  private readonly inFlight: SequenceMap<InFlight>;
  /** The lowest sequence number in flight (`nextSeq` when none is), kept as records complete. */
  private oldestSeq = 0;
  private readonly collectResults: boolean;
  /** The sender of the last reply and its group. */
  private lastFrom: ProcessId | undefined;
  private lastFromGroup: GroupId | undefined;
  /** The last destination set found valid: a workload repeats one (read-only) array for its local multicasts. */
  private lastCheckedDst: DestinationSet | undefined;
  private readonly quorum: number;
  /**
   * The context the client addresses requests under: the system's groups, the protocol's
   * parameters, and the overlay with its view number (both learned from redirects).
   */
  private context: ProtocolContext;
  private view = 0;
  /** Redirects to a newer view, per (view, overlay) vote key, from distinct replicas (f+1 in Byzantine mode). */
  private readonly redirectVotes = new Map<string, Set<ProcessId>>();
  private readonly retryTicks: number;
  private readonly retriesMax: number;
  /** Multicasts given up on after `retriesMax` retries. */
  abandoned = 0;
  private firstAbandonedSeq = Number.POSITIVE_INFINITY;

  constructor(spec: ClientSpec) {
    assert(spec.outstandingMax >= 1, "a client keeps at least one multicast in flight");
    assert(
      spec.outstandingMax <= CLIENT_SEQ_WINDOW / 2,
      () => `a client keeps at most ${CLIENT_SEQ_WINDOW / 2} multicasts in flight`,
    );
    assert(spec.membership.groupOf(spec.id) === undefined, () => `client ${spec.id} has a replica's id`);
    assert(
      spec.mode !== "byzantine" || spec.signer?.id === spec.id,
      "a Byzantine-mode client signs its requests as itself",
    );
    this.id = spec.id;
    this.spec = spec;
    this.wantsTicks = spec.mode !== "solo";
    this.quorum = replyQuorum(spec.mode, spec.f);
    this.context = systemContext(spec);
    this.retryTicks = spec.retryTicks ?? DEFAULT_RETRY_TICKS;
    this.retriesMax = spec.retriesMax ?? DEFAULT_RETRIES_MAX;
    const firstSeq = spec.firstSeq ?? 0;
    assert(
      Number.isSafeInteger(firstSeq) && firstSeq >= 0,
      "a client's first sequence number is a whole number >= 0",
    );
    this.nextSeq = firstSeq;
    this.oldestSeq = firstSeq;
    this.collectResults = spec.results ?? true;
    // Records in flight lie within a window of sequence numbers about `outstandingMax` wide
    // unless one is stuck; twice that many slots keep even most stragglers in the ring.
    this.inFlight = new SequenceMap(2 * spec.outstandingMax);
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  multicast(
    dst: DestinationSet,
    payloadBytes: number,
    payload?: unknown,
  ): { message: Multicast; outputs: readonly ProcessOutput[] } {
    if (dst !== this.lastCheckedDst) {
      const { membership } = this.spec;
      for (const group of dst) {
        if (!membership.hasGroup(group)) {
          throw new InputError(
            "multicast",
            "dst",
            `group ${describeValue(group)} does not exist (groups: ${listNames(membership.groups)})`,
          );
        }
      }
      this.lastCheckedDst = dst;
    }
    assert(
      this.inFlight.size < this.spec.outstandingMax,
      () => `client ${this.id} exceeds ${this.spec.outstandingMax} multicasts in flight`,
    );
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const message: Multicast =
      payload === undefined
        ? { id: `${this.id}:${seq}`, client: this.id, dst, payloadBytes }
        : { id: `${this.id}:${seq}`, client: this.id, dst, payloadBytes, payload };
    const sends = this.requestSends(message, seq);
    this.inFlight.set(seq, {
      message,
      seq,
      view: this.view,
      sends,
      refusals: undefined,
      groupsLeft: undefined,
      votes: undefined,
      results: undefined,
      sentTick: this.ticks,
      retries: 0,
      silentRetries: 0,
      underWay: undefined,
    });
    return { message, outputs: sends };
  }

  /** The requests for `message` to every replica of its entry groups under the current view. */
  private requestSends(message: Multicast, seq: number): ProcessSend[] {
    const { membership, protocol } = this.spec;
    // Every request below the lowest one in flight (or given up on) is answered: replicas may
    // forget them. An abandoned request is never settled: a late copy of it may still run.
    const settled = Math.min(seq, this.firstAbandonedSeq, this.oldestSeq);
    const signer = this.spec.signer;
    const signature =
      signer === undefined
        ? ""
        : signer.sign(requestDigest(signer.digest, this.id, seq, message, this.view, settled));
    const envelope: GroupWire =
      this.view === 0
        ? { t: "request", message, seq, signature, settled }
        : { t: "request", message, seq, signature, settled, view: this.view };
    const bytes =
      ENVELOPE_BYTES + multicastBytes(message) + (this.spec.mode === "byzantine" ? SIGNATURE_BYTES : 0);
    const entryGroups = protocol.entryGroups(message.dst, this.context);
    const only = entryGroups.length === 1 ? membership.replicas(entryGroups[0] as GroupId) : undefined;
    if (only?.length === 1) {
      // One entry group with one replica (a solo local multicast): the list is that one send.
      const to = only[0] as ProcessId;
      return [{ kind: "send", to, body: envelope, bytes, label: "request", id: message.id, protocol: false }];
    }
    const sends: ProcessSend[] = [];
    for (const group of entryGroups) {
      for (const to of membership.replicas(group)) {
        sends.push({
          kind: "send",
          to,
          body: envelope,
          bytes,
          label: "request",
          id: message.id,
          protocol: false,
        });
      }
    }
    assert(
      sends.length > 0,
      () => `protocol ${protocol.name} names no entry group for ${message.dst.join(",")}`,
    );
    return sends;
  }

  /**
   * A group answered that the overlay changed: once enough replicas of it agree (f+1 in Byzantine
   * mode) on a newer view, adopt its overlay and send the message again to its new entry groups.
   */
  private onRedirect(
    from: ProcessId,
    envelope: Extract<GroupWire, { t: "redirect" }>,
  ): readonly ProcessOutput[] {
    const record = this.recordOf(envelope.id);
    if (record === undefined || !Number.isSafeInteger(envelope.view)) return NOTHING;
    if (envelope.view > this.view) this.learnView(from, envelope.view, envelope.overlay);
    // Only a refusal of the version last sent counts: an older version's refusal says nothing of
    // whether the latest one ran. And it takes `quorum` replicas (f+1 in Byzantine mode), or one
    // Byzantine replica could make the client send again a request that may still run.
    if (envelope.requestView !== record.view) return NOTHING;
    record.refusals ??= new Set();
    record.refusals.add(from);
    if (record.refusals.size < this.quorum || this.view <= record.view) return NOTHING;
    // Send it again under the view the client knows now (a retry covers lost ones).
    record.view = this.view;
    record.refusals.clear();
    record.sends = this.requestSends(record.message, record.seq);
    record.sentTick = this.ticks;
    return record.sends;
  }

  /** A group ordered the request and works on it: once `quorum` of its replicas say so, the retries start over. */
  private onUnderWay(from: ProcessId, id: MessageId): readonly ProcessOutput[] {
    const record = this.recordOf(id);
    const group = this.spec.membership.groupOf(from);
    if (record === undefined || group === undefined) return NOTHING;
    record.underWay ??= new Map();
    let voters = record.underWay.get(group);
    if (voters === undefined) {
      voters = new Set();
      record.underWay.set(group, voters);
    }
    voters.add(from);
    if (voters.size >= this.quorum) {
      record.silentRetries = 0;
      record.underWay.clear();
    }
    return NOTHING;
  }

  /** Adopts a newer view and its overlay once `quorum` replicas named the same ones. */
  private learnView(from: ProcessId, view: number, overlayJson: unknown): void {
    const key = `${view}|${canonical(overlayJson)}`;
    let voters = this.redirectVotes.get(key);
    if (voters === undefined) {
      // Bounded: cleared whenever a view is adopted, and when Byzantine replicas flood it with
      // made-up views (the correct replicas' votes come again with the next redirects).
      if (this.redirectVotes.size >= REDIRECT_VOTE_KEYS_MAX) this.redirectVotes.clear();
      voters = new Set();
      this.redirectVotes.set(key, voters);
    }
    voters.add(from);
    if (voters.size < this.quorum) return;
    let overlay: Overlay;
    try {
      overlay = parseOverlay(overlayJson, `redirect from ${from}`);
    } catch {
      return; // a malformed overlay is ignored; f+1 matching ones come from a correct replica
    }
    this.context = { ...this.context, overlay };
    this.view = view;
    this.redirectVotes.clear();
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    const envelope = readEnvelope(body);
    if (envelope?.t === "redirect" && typeof envelope.id === "string") return this.onRedirect(from, envelope);
    if (envelope?.t === "under-way" && typeof envelope.id === "string")
      return this.onUnderWay(from, envelope.id);
    if (envelope?.t !== "reply" || typeof envelope.id !== "string") return NOTHING;
    // The answering group comes from the link, not from the reply's own field (most replies come
    // from the replica that answered last).
    if (from !== this.lastFrom) {
      this.lastFrom = from;
      this.lastFromGroup = this.spec.membership.groupOf(from);
    }
    const group = this.lastFromGroup;
    const record = this.recordOf(envelope.id);
    if (group === undefined || record === undefined) return NOTHING;
    const dst = record.message.dst;
    let left = 0;
    if (dst.length > 1) {
      record.groupsLeft ??= dst.slice();
      left = record.groupsLeft.indexOf(group);
      if (left < 0) return NOTHING;
    } else if (group !== dst[0]) return NOTHING;
    if (envelope.delays !== undefined) {
      const delays = this.readDelays(group, envelope.delays);
      if (delays.length > 0) {
        record.delays ??= new Map();
        record.delays.set(from, delays);
      }
    }
    if (this.quorum > 1) {
      record.votes ??= new Map();
      let votes = record.votes.get(group);
      if (votes === undefined) {
        votes = new Map();
        record.votes.set(group, votes);
      }
      const resultKey = canonical(envelope.result);
      let voters = votes.get(resultKey);
      if (voters === undefined) {
        voters = new Set();
        votes.set(resultKey, voters);
      }
      voters.add(from);
      if (voters.size < this.quorum) return NOTHING;
      record.votes.delete(group);
    }
    if (this.collectResults) {
      record.results ??= {};
      record.results[group] = envelope.result;
    }
    const groupsLeft = record.groupsLeft;
    if (groupsLeft !== undefined) {
      // The order of the groups left does not matter: the last takes the answered one's place.
      const last = groupsLeft.pop() as GroupId;
      if (left < groupsLeft.length) groupsLeft[left] = last;
      if (groupsLeft.length > 0) return NOTHING;
    }
    this.remove(record);
    const id = record.message.id;
    const results = record.results;
    if (record.delays === undefined)
      return [results === undefined ? { kind: "complete", id } : { kind: "complete", id, results }];
    const delays = [...record.delays.values()].flat();
    return [
      results === undefined ? { kind: "complete", id, delays } : { kind: "complete", id, results, delays },
    ];
  }

  /** The record in flight of the message with id `id` ("<client>:<seq>"), if there is one. */
  private recordOf(id: MessageId): InFlight | undefined {
    const seq = sequenceAt(id, this.id.length);
    if (seq === undefined) return undefined;
    const record = this.inFlight.get(seq);
    return record !== undefined && record.message.id === id ? record : undefined;
  }

  /** Forgets a record (answered or given up on), keeping the lowest sequence number in flight. */
  private remove(record: InFlight): void {
    this.inFlight.delete(record.seq);
    if (record.seq !== this.oldestSeq) return;
    let oldest = record.seq + 1;
    if (this.inFlight.size === 0) oldest = this.nextSeq;
    else while (!this.inFlight.has(oldest)) oldest += 1;
    this.oldestSeq = oldest;
  }

  /**
   * The well-formed entries of a replica's delay report (known groups, finite delays >= 0, whole
   * sample counts >= 1, each group once, at most one per group): what a faulty replica sends
   * cannot grow the client's memory beyond one report per replica.
   */
  private readDelays(to: GroupId, entries: unknown): ObservedDelay[] {
    if (!Array.isArray(entries)) return [];
    const delays: ObservedDelay[] = [];
    const seen = new Set<GroupId>();
    for (const entry of entries.slice(0, this.spec.membership.groups.length)) {
      if (!Array.isArray(entry) || entry.length !== 3) continue;
      const [from, meanMs, samples] = entry as unknown[];
      if (typeof from !== "string" || !this.spec.membership.hasGroup(from) || seen.has(from)) continue;
      if (typeof meanMs !== "number" || !Number.isFinite(meanMs) || meanMs < 0) continue;
      if (typeof samples !== "number" || !Number.isSafeInteger(samples) || samples < 1) continue;
      seen.add(from);
      delays.push({ from, to, meanMs, samples });
    }
    return delays;
  }

  tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    let outputs: ProcessOutput[] | undefined;
    if (this.inFlight.size === 0) return NOTHING;
    // In the order the multicasts started (by sequence number).
    for (const [, record] of this.inFlight.entries()) {
      const waitTicks = this.retryTicks * 2 ** Math.min(record.retries, 3);
      if (this.ticks - record.sentTick < waitTicks) continue;
      if (record.silentRetries >= this.retriesMax) {
        this.remove(record);
        this.abandoned += 1;
        this.firstAbandonedSeq = Math.min(this.firstAbandonedSeq, record.seq);
        continue;
      }
      record.retries += 1;
      record.silentRetries += 1;
      record.sentTick = this.ticks;
      outputs ??= [];
      for (const send of record.sends) outputs.push(send);
    }
    return outputs ?? NOTHING;
  }
}

const NOTHING: readonly ProcessOutput[] = [];

export function createClient(spec: ClientSpec): MulticastClient {
  return new MulticastClient(spec);
}
