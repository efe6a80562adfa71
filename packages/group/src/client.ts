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
  ProcessOutputSink,
  ProcessSend,
  ProtocolContext,
  ProtocolDefinition,
} from "@amcast/core";
import { assert, describeValue, InputError, listNames, OutputCollector, parseOverlay } from "@amcast/core";
import type { Signer } from "./auth.js";
import { canonical, SIGNATURE_BYTES } from "./auth.js";
import { CLIENT_SEQ_WINDOW } from "./clients.js";
import type { SignedWith } from "./inputs.js";
import { REQUESTS_PER_SIGNATURE_MAX, requestDigest, requestsDigest, requestsTree } from "./inputs.js";
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
   * The shortest wait, in ticks, for an answer before a request is sent again (also the wait before
   * the first answer is timed); the wait follows the answers' smoothed round trip above it (see
   * `RetryTimer`), doubles with each retry of one request, and stays within
   * `RETRY_WAIT_FACTOR_MAX` times this. `retriesMax`: how many times in a row a request is sent
   * again without word that a group ordered it (see `under-way`).
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
  /**
   * Byzantine mode: sign the requests made between two `sealRequests` calls together, one
   * signature for up to `REQUESTS_PER_SIGNATURE_MAX` of them (default false: each is signed when
   * made). For drivers that call `sealRequests` before sending the client's outputs.
   */
  readonly signsTogether?: boolean;
}

/** Distinct (view, overlay) claims a client tracks while learning a new view. */
const REDIRECT_VOTE_KEYS_MAX = 64;

interface InFlight {
  readonly message: Multicast;
  readonly seq: number;
  /** Requests as last sent (a redirect replaces them), and the view they were sent under. */
  sends: readonly ProcessSend[];
  view: number;
  /** The entry groups `sends` go to (under `view`), and whether they go to every replica of them. */
  entryGroups: readonly GroupId[];
  toEveryone: boolean;
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
  /** When the request was last sent, and when its current version (`view`) was first sent. */
  sentTick: number;
  firstSentTick: number;
  retries: number;
  /** Retries since an entry group last said the request is under way; `retriesMax` of them and the client gives up. */
  silentRetries: number;
  /** Per entry group, the replicas that said so since (a quorum of one group counts); created on the first. */
  underWay: Map<GroupId, Set<ProcessId>> | undefined;
  /** Whether a group said the current version is under way: its answer is then timed from `firstSentTick`. */
  ordered: boolean;
}

const DEFAULT_RETRY_TICKS = 100;
const DEFAULT_RETRIES_MAX = 50;
/** The longest wait before a retry, in multiples of `retryTicks` (backoff included). */
const RETRY_WAIT_FACTOR_MAX = 16;
/** Retries of one request double its wait this many times at most. */
const RETRY_DOUBLINGS_MAX = 3;

/**
 * How long a client waits for an answer before sending a request again: the smoothed round trip
 * of its answered requests plus four times their mean deviation (Jacobson and Karels; RFC 6298's
 * retransmission timer), never below `floorTicks` nor above `RETRY_WAIT_FACTOR_MAX` times it, and
 * doubled per retry of the request. A group that is merely slow (a saturated one answers in
 * seconds) is then waited for instead of being sent every request again. Only requests answered
 * without a retry are timed (Karn's rule: an answer to a retried request may be the first send's),
 * and those a group said were under way, from their first send (see `MulticastClient.receive`).
 * Integer arithmetic in ticks, scaled as RFC 6298's reference code does (the smoothed round trip
 * times 8, its deviation times 4), so every process computes the same waits.
 */
export class RetryTimer {
  private smoothedTimes8 = -1;
  private deviationTimes4 = 0;

  constructor(private readonly floorTicks: number) {
    assert(
      Number.isSafeInteger(floorTicks) && floorTicks >= 1,
      "a retry wait is a whole number of ticks >= 1",
    );
  }

  /** One answered request's round trip, in ticks. */
  observe(roundTripTicks: number): void {
    if (this.smoothedTimes8 < 0) {
      this.smoothedTimes8 = roundTripTicks << 3;
      this.deviationTimes4 = roundTripTicks << 1;
      return;
    }
    let error = roundTripTicks - (this.smoothedTimes8 >> 3);
    this.smoothedTimes8 += error;
    if (error < 0) error = -error;
    this.deviationTimes4 += error - (this.deviationTimes4 >> 2);
  }

  /** Ticks to wait for an answer to a request already sent `retries` times again. */
  waitTicks(retries: number): number {
    const base =
      this.smoothedTimes8 < 0
        ? this.floorTicks
        : Math.max(this.floorTicks, (this.smoothedTimes8 >> 3) + this.deviationTimes4);
    return Math.min(
      base * 2 ** Math.min(retries, RETRY_DOUBLINGS_MAX),
      this.floorTicks * RETRY_WAIT_FACTOR_MAX,
    );
  }
}

/**
 * The client side of a multicast. It numbers its messages ("<client>:<seq>"), sends each request
 * to the protocol's entry groups, and completes a message once every destination group answered:
 * one reply from a group in solo and crash mode, f+1 matching replies (same result, distinct
 * replicas) in Byzantine mode, so at least one comes from a correct replica.
 *
 * In Byzantine mode a request goes to every replica of an entry group. In crash mode only a
 * group's leader answers clients (see `Replica`), so the replica that last answered is the
 * group's leader as far as the client knows, and a request goes to it alone (to every replica
 * while the client knows none); the leader carries it to the others in its log. A retry goes to
 * every replica of the request's entry groups and forgets their leaders until one answers again,
 * so a crashed or deposed leader costs a retry, not the request.
 *
 * Requests left unanswered are sent again after a wait that follows the observed round trip
 * (`RetryTimer`); replicas answer a retry from their reply cache and never execute twice. The
 * client gives up after `retriesMax` retries in a row with no word that the request is under
 * way: a group that ordered it answers a retry so (f+1 replicas in Byzantine mode), and a slow
 * group is waited for rather than given up on.
 */
export class MulticastClient implements ClientLogic {
  readonly id: ClientId;
  readonly wantsTicks: boolean;
  private readonly spec: ClientSpec;
  /** "<client>:", which every message id starts with (one string joined per multicast, not two). */
  private readonly idPrefix: string;
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
  /** The last entry group a request went to alone, and its replicas. */
  private lastEntryGroup: GroupId | undefined;
  private lastEntryReplicas: readonly ProcessId[] | undefined;
  private readonly quorum: number;
  /**
   * The context the client addresses requests under: the system's groups, the protocol's
   * parameters, and the overlay with its view number (both learned from redirects).
   */
  private context: ProtocolContext;
  private view = 0;
  /** Redirects to a newer view, per (view, overlay) vote key, from distinct replicas (f+1 in Byzantine mode). */
  private readonly redirectVotes = new Map<string, Set<ProcessId>>();
  private readonly retry: RetryTimer;
  private readonly retriesMax: number;
  /** Crash mode: per group, the replica that last answered (its leader, as far as the client knows). */
  private readonly leaders = new Map<GroupId, ProcessId>();
  /** Multicasts given up on after `retriesMax` retries. */
  abandoned = 0;
  private firstAbandonedSeq = Number.POSITIVE_INFINITY;
  /** Requests made and not signed yet (`signsTogether`), with their digests; see `sealRequests`. */
  /** Collects the outputs of `receive` (`receiveInto` hands them to the driver's sink). */
  private readonly collector = new OutputCollector();
  private readonly unsealed: {
    envelope: { signature: string; signedWith?: SignedWith };
    digest: string;
  }[] = [];

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
    this.idPrefix = `${spec.id}:`;
    this.spec = spec;
    this.wantsTicks = spec.mode !== "solo";
    this.quorum = replyQuorum(spec.mode, spec.f);
    this.context = systemContext(spec);
    this.retry = new RetryTimer(spec.retryTicks ?? DEFAULT_RETRY_TICKS);
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
    if (!(this.inFlight.size < this.spec.outstandingMax))
      assert(false, `client ${this.id} exceeds ${this.spec.outstandingMax} multicasts in flight`);
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const message: Multicast =
      payload === undefined
        ? { id: `${this.idPrefix}${seq}`, client: this.id, dst, payloadBytes }
        : { id: `${this.idPrefix}${seq}`, client: this.id, dst, payloadBytes, payload };
    const entryGroups = this.entryGroupsOf(message);
    const sends = this.requestSends(message, seq, entryGroups, false);
    this.inFlight.set(seq, {
      message,
      seq,
      view: this.view,
      sends,
      entryGroups,
      toEveryone: this.reachesEveryone(entryGroups),
      refusals: undefined,
      groupsLeft: undefined,
      votes: undefined,
      results: undefined,
      sentTick: this.ticks,
      firstSentTick: this.ticks,
      retries: 0,
      silentRetries: 0,
      underWay: undefined,
      ordered: false,
    });
    return { message, outputs: sends };
  }

  /** The protocol's entry groups for `message` under the current view. */
  private entryGroupsOf(message: Multicast): readonly GroupId[] {
    const entryGroups = this.spec.protocol.entryGroups(message.dst, this.context);
    if (!(entryGroups.length > 0))
      assert(false, `protocol ${this.spec.protocol.name} names no entry group for ${message.dst.join(",")}`);
    return entryGroups;
  }

  /** Whether requests to `entryGroups` go to every replica of them (not to known leaders only). */
  private reachesEveryone(entryGroups: readonly GroupId[]): boolean {
    if (this.spec.mode !== "crash") return true;
    for (const group of entryGroups) if (this.leaders.has(group)) return false;
    return true;
  }

  /**
   * The requests for `message` (signed in Byzantine mode) to `entryGroups` under the current
   * view: in crash mode to each group's known leader unless `everyone`, else to every replica.
   */
  private requestSends(
    message: Multicast,
    seq: number,
    entryGroups: readonly GroupId[],
    everyone: boolean,
  ): ProcessSend[] {
    const { membership } = this.spec;
    // Every request below the lowest one in flight (or given up on) is answered: replicas may
    // forget them. An abandoned request is never settled: a late copy of it may still run.
    const settled = Math.min(seq, this.firstAbandonedSeq, this.oldestSeq);
    const signer = this.spec.signer;
    const digest =
      signer === undefined ? "" : requestDigest(signer.digest, this.id, seq, message, this.view, settled);
    const together = signer !== undefined && this.spec.signsTogether === true;
    const signature = signer === undefined || together ? "" : signer.sign(digest);
    const envelope: GroupWire =
      this.view === 0
        ? { t: "request", message, seq, signature, settled }
        : { t: "request", message, seq, signature, settled, view: this.view };
    if (together) this.unsealed.push({ envelope: envelope as { signature: string }, digest });
    const bytes =
      ENVELOPE_BYTES + multicastBytes(message) + (this.spec.mode === "byzantine" ? SIGNATURE_BYTES : 0);
    const soloReplicas = entryGroups.length === 1 ? this.replicasOf(entryGroups[0] as GroupId) : undefined;
    // The usual request, to one group of one replica (solo mode): a list of one.
    if (soloReplicas?.length === 1)
      return [requestSend(soloReplicas[0] as ProcessId, envelope, bytes, message.id)];
    const sends: ProcessSend[] = [];
    for (const group of entryGroups) {
      const leader = everyone || this.spec.mode !== "crash" ? undefined : this.leaders.get(group);
      if (leader !== undefined) sends.push(requestSend(leader, envelope, bytes, message.id));
      else
        for (const to of membership.replicas(group)) sends.push(requestSend(to, envelope, bytes, message.id));
    }
    return sends;
  }

  /** The replicas of `group` (most of a client's requests go to its home group: one lookup for them). */
  private replicasOf(group: GroupId): readonly ProcessId[] {
    if (group !== this.lastEntryGroup || this.lastEntryReplicas === undefined) {
      this.lastEntryReplicas = this.spec.membership.replicas(group);
      this.lastEntryGroup = group;
    }
    return this.lastEntryReplicas;
  }

  /**
   * A retry of `record`'s request: the same request again, to every replica of its entry groups
   * (crash mode: their leaders as the client knew them may have crashed or been deposed; they are
   * forgotten until a replica answers again).
   */
  private retrySends(record: InFlight): readonly ProcessSend[] {
    if (record.toEveryone) return record.sends;
    for (const group of record.entryGroups) this.leaders.delete(group);
    const first = record.sends[0] as ProcessSend;
    const sends: ProcessSend[] = [];
    for (const group of record.entryGroups)
      for (const to of this.spec.membership.replicas(group)) sends.push({ ...first, to });
    record.sends = sends;
    record.toEveryone = true;
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
    record.entryGroups = this.entryGroupsOf(record.message);
    record.sends = this.requestSends(record.message, record.seq, record.entryGroups, false);
    record.toEveryone = this.reachesEveryone(record.entryGroups);
    record.sentTick = this.ticks;
    record.firstSentTick = this.ticks;
    record.ordered = false;
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
      record.ordered = true;
      record.underWay.clear();
    }
    return NOTHING;
  }

  /** Crash mode: only a group's leader answers clients, so one that answers leads its group. */
  private learnLeader(from: ProcessId): void {
    const group = this.spec.membership.groupOf(from);
    if (group !== undefined && this.leaders.get(group) !== from) this.leaders.set(group, from);
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
    this.take(from, body, this.collector);
    return this.collector.take();
  }

  receiveInto(from: ProcessId, body: unknown, sink: ProcessOutputSink): void {
    this.take(from, body, sink);
  }

  /** An answer from replica `from`: what it makes goes to `sink`. */
  private take(from: ProcessId, body: unknown, sink: ProcessOutputSink): void {
    const envelope = readEnvelope(body);
    if (this.spec.mode === "crash" && envelope !== undefined) this.learnLeader(from);
    if (envelope?.t === "redirect" && typeof envelope.id === "string") {
      for (const output of this.onRedirect(from, envelope)) sink.output(output);
      return;
    }
    if (envelope?.t === "under-way" && typeof envelope.id === "string") {
      for (const output of this.onUnderWay(from, envelope.id)) sink.output(output);
      return;
    }
    if (envelope?.t !== "reply" || typeof envelope.id !== "string") return;
    // The answering group comes from the link, not from the reply's own field (most replies come
    // from the replica that answered last).
    if (from !== this.lastFrom) {
      this.lastFrom = from;
      this.lastFromGroup = this.spec.membership.groupOf(from);
    }
    const group = this.lastFromGroup;
    const record = this.recordOf(envelope.id);
    if (group === undefined || record === undefined) return;
    const dst = record.message.dst;
    let left = 0;
    if (dst.length > 1) {
      record.groupsLeft ??= dst.slice();
      left = record.groupsLeft.indexOf(group);
      if (left < 0) return;
    } else if (group !== dst[0]) return;
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
      if (voters.size < this.quorum) return;
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
      if (groupsLeft.length > 0) return;
    }
    this.remove(record);
    // Karn's rule: an answer to a retried request may be the first send's or a retry's, so only
    // one sent once is timed, unless a group said it was under way: it was ordered then, and
    // the time from its first send is the group's (a slow one's, not a lost send's). Without
    // those, a client whose requests are nearly all retried (a saturated group) gets no samples,
    // keeps its short wait, and sends every request again and again.
    if (record.retries === 0) this.retry.observe(this.ticks - record.sentTick);
    else if (record.ordered) this.retry.observe(this.ticks - record.firstSentTick);
    sink.complete(
      record.message.id,
      record.results,
      record.delays === undefined ? undefined : [...record.delays.values()].flat(),
    );
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

  /**
   * Signs the requests made since the last call (`signsTogether`), split into even chunks of at
   * most `REQUESTS_PER_SIGNATURE_MAX`: one signature per chunk, over the root of the Merkle tree
   * of their digests; each request carries it and its place in the tree. A request made alone is
   * signed alone. Every send and retry of a request shares its envelope, so all carry the signature.
   */
  sealRequests(): void {
    const signer = this.spec.signer;
    const unsealed = this.unsealed;
    if (signer === undefined || unsealed.length === 0) return;
    const chunks = Math.ceil(unsealed.length / REQUESTS_PER_SIGNATURE_MAX);
    const size = Math.ceil(unsealed.length / chunks);
    for (let start = 0; start < unsealed.length; start += size) {
      const chunk = unsealed.slice(start, start + size);
      const only = chunk.length === 1 ? chunk[0] : undefined;
      if (only !== undefined) {
        only.envelope.signature = signer.sign(only.digest);
        continue;
      }
      const tree = requestsTree(
        signer.digest,
        chunk.map((request) => request.digest),
      );
      const signature = signer.sign(requestsDigest(signer.digest, this.id, tree.root));
      chunk.forEach((request, index) => {
        request.envelope.signature = signature;
        request.envelope.signedWith = tree.places[index] as SignedWith;
      });
    }
    unsealed.length = 0;
  }

  /** Whether a multicast in flight waited its retry timeout (one function, not one per tick). */
  private readonly retryDue = (record: InFlight): boolean =>
    !(this.ticks - record.sentTick < this.retry.waitTicks(record.retries));

  tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    let outputs: ProcessOutput[] | undefined;
    // Most ticks find nothing due: asked first without listing the multicasts in order.
    if (!this.inFlight.some(this.retryDue)) return NOTHING;
    // In the order the multicasts started (by sequence number).
    for (const [, record] of this.inFlight.entries()) {
      if (!this.retryDue(record)) continue;
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
      for (const send of this.retrySends(record)) outputs.push(send);
    }
    return outputs ?? NOTHING;
  }
}

const NOTHING: readonly ProcessOutput[] = [];

/** A request's send to one replica (a function, not a closure per request). */
function requestSend(to: ProcessId, envelope: GroupWire, bytes: number, id: MessageId): ProcessSend {
  return { kind: "send", to, body: envelope, bytes, label: "request", id, protocol: false };
}

export function createClient(spec: ClientSpec): MulticastClient {
  return new MulticastClient(spec);
}
