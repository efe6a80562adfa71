import type {
  ClientId,
  ClientLogic,
  DestinationSet,
  GroupId,
  MessageId,
  Multicast,
  Overlay,
  ProcessId,
  ProcessOutput,
  ProcessSend,
  ProtocolDefinition,
} from "@amcast/core";
import { assert, describeValue, InputError, listNames } from "@amcast/core";
import type { Signer } from "./auth.js";
import { canonical, SIGNATURE_BYTES } from "./auth.js";
import { CLIENT_SEQ_WINDOW } from "./clients.js";
import { requestDigest } from "./inputs.js";
import type { Membership } from "./membership.js";
import type { ReplicationMode } from "./replica.js";
import { replyQuorum } from "./replica.js";
import type { GroupWire } from "./wire.js";
import { ENVELOPE_BYTES, multicastBytes, readEnvelope } from "./wire.js";

export interface ClientSpec {
  readonly id: ClientId;
  readonly protocol: ProtocolDefinition<unknown>;
  readonly membership: Membership;
  readonly overlay: Overlay | null;
  readonly mode: ReplicationMode;
  /** Faulty replicas tolerated per group (decides the reply quorum). */
  readonly f: number;
  /** Multicasts in flight at once; a workload asking for more is a bug. */
  readonly outstandingMax: number;
  /** The client's signer: required in Byzantine mode (replicas check requests' signatures). */
  readonly signer?: Signer;
  /** Ticks without an answer before a request is sent again (doubling up to 8x), and how often. */
  readonly retryTicks?: number;
  readonly retriesMax?: number;
}

interface InFlight {
  readonly message: Multicast;
  readonly sends: readonly ProcessSend[];
  /** Per destination group still unanswered: the replicas vouching for each distinct result. */
  readonly pending: Map<GroupId, Map<string, Set<ProcessId>>>;
  readonly results: Record<GroupId, unknown>;
  sentTick: number;
  retries: number;
}

const DEFAULT_RETRY_TICKS = 100;
const DEFAULT_RETRIES_MAX = 50;

/**
 * The client side of a multicast. It numbers its messages ("<client>:<seq>"), sends each request
 * to every replica of the protocol's entry groups, and completes a message once every destination
 * group answered: one reply from a group in solo and crash mode, f+1 matching replies (same
 * result, distinct replicas) in Byzantine mode, so at least one comes from a correct replica.
 * Requests left unanswered are sent again after `retryTicks` (replicas answer a retry from their
 * reply cache and never execute twice), at most `retriesMax` times.
 */
export class MulticastClient implements ClientLogic {
  readonly id: ClientId;
  readonly wantsTicks: boolean;
  private readonly spec: ClientSpec;
  private nextSeq = 0;
  private ticks = 0;
  private readonly inFlight = new Map<MessageId, InFlight>();
  private readonly quorum: number;
  private readonly retryTicks: number;
  private readonly retriesMax: number;
  /** Multicasts given up on after `retriesMax` retries. */
  abandoned = 0;

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
    this.retryTicks = spec.retryTicks ?? DEFAULT_RETRY_TICKS;
    this.retriesMax = spec.retriesMax ?? DEFAULT_RETRIES_MAX;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  multicast(
    dst: DestinationSet,
    payloadBytes: number,
  ): { message: Multicast; outputs: readonly ProcessOutput[] } {
    const { membership, protocol, overlay } = this.spec;
    for (const group of dst) {
      if (!membership.hasGroup(group)) {
        throw new InputError(
          "multicast",
          "dst",
          `group ${describeValue(group)} does not exist (groups: ${listNames(membership.groups)})`,
        );
      }
    }
    assert(
      this.inFlight.size < this.spec.outstandingMax,
      () => `client ${this.id} exceeds ${this.spec.outstandingMax} multicasts in flight`,
    );
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const message: Multicast = { id: `${this.id}:${seq}`, client: this.id, dst, payloadBytes };
    const signature = this.spec.signer?.sign(requestDigest(this.id, seq, message)) ?? "";
    const envelope: GroupWire = { t: "request", message, seq, signature };
    const bytes =
      ENVELOPE_BYTES + multicastBytes(message) + (this.spec.mode === "byzantine" ? SIGNATURE_BYTES : 0);
    const sends: ProcessSend[] = [];
    for (const group of protocol.entryGroups(dst, overlay)) {
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
    assert(sends.length > 0, () => `protocol ${protocol.name} names no entry group for ${dst.join(",")}`);
    this.inFlight.set(message.id, {
      message,
      sends,
      pending: new Map(dst.map((group) => [group, new Map()])),
      results: {},
      sentTick: this.ticks,
      retries: 0,
    });
    return { message, outputs: sends };
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    const envelope = readEnvelope(body);
    if (envelope?.t !== "reply" || typeof envelope.id !== "string") return NOTHING;
    // The answering group comes from the link, not from the reply's own field.
    const group = this.spec.membership.groupOf(from);
    const record = this.inFlight.get(envelope.id);
    if (group === undefined || record === undefined) return NOTHING;
    const votes = record.pending.get(group);
    if (votes === undefined) return NOTHING;
    const resultKey = canonical(envelope.result);
    let voters = votes.get(resultKey);
    if (voters === undefined) {
      voters = new Set();
      votes.set(resultKey, voters);
    }
    voters.add(from);
    if (voters.size < this.quorum) return NOTHING;
    record.pending.delete(group);
    record.results[group] = envelope.result;
    if (record.pending.size > 0) return NOTHING;
    this.inFlight.delete(envelope.id);
    return [{ kind: "complete", id: envelope.id, results: record.results }];
  }

  tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    let outputs: ProcessOutput[] | undefined;
    for (const [id, record] of this.inFlight) {
      const waitTicks = this.retryTicks * 2 ** Math.min(record.retries, 3);
      if (this.ticks - record.sentTick < waitTicks) continue;
      if (record.retries >= this.retriesMax) {
        this.inFlight.delete(id);
        this.abandoned += 1;
        continue;
      }
      record.retries += 1;
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
