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
  ProtocolDefinition,
} from "@amcast/core";
import { assert, describeValue, InputError, listNames } from "@amcast/core";
import type { Membership } from "./membership.js";
import type { ReplicationMode } from "./replica.js";
import type { GroupWire } from "./wire.js";
import { ENVELOPE_BYTES, multicastBytes, readEnvelope } from "./wire.js";

export interface ClientSpec {
  readonly id: ClientId;
  readonly protocol: ProtocolDefinition<unknown>;
  readonly membership: Membership;
  readonly overlay: Overlay | null;
  readonly mode: ReplicationMode;
  /** Multicasts in flight at once; a workload asking for more is a bug. */
  readonly outstandingMax: number;
}

/**
 * The client side of a multicast. It numbers its messages ("<client>:<seq>"), sends each request
 * to the replicas of the protocol's entry groups, and completes a message once every destination
 * group has answered (in `solo` mode, its one replica).
 */
export class MulticastClient implements ClientLogic {
  readonly id: ClientId;
  readonly wantsTicks = false;
  private readonly spec: ClientSpec;
  private nextSeq = 0;
  /** Destination groups that have not answered yet, per message in flight (a few groups each). */
  private readonly awaiting = new Map<MessageId, GroupId[]>();

  constructor(spec: ClientSpec) {
    assert(spec.outstandingMax >= 1, "a client keeps at least one multicast in flight");
    assert(spec.membership.groupOf(spec.id) === undefined, () => `client ${spec.id} has a replica's id`);
    this.id = spec.id;
    this.spec = spec;
  }

  get inFlight(): number {
    return this.awaiting.size;
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
      this.awaiting.size < this.spec.outstandingMax,
      () => `client ${this.id} exceeds ${this.spec.outstandingMax} multicasts in flight`,
    );
    const seq = this.nextSeq;
    this.nextSeq += 1;
    const message: Multicast = { id: `${this.id}:${seq}`, client: this.id, dst, payloadBytes };
    this.awaiting.set(message.id, [...dst]);
    const envelope: GroupWire = { t: "request", message, seq };
    const bytes = ENVELOPE_BYTES + multicastBytes(message);
    const outputs: ProcessOutput[] = [];
    for (const group of protocol.entryGroups(dst, overlay)) {
      for (const to of membership.replicas(group)) {
        outputs.push({
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
    assert(outputs.length > 0, () => `protocol ${protocol.name} names no entry group for ${dst.join(",")}`);
    return { message, outputs };
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    const envelope = readEnvelope(body);
    if (envelope?.t !== "reply") return [];
    // The answering group comes from the link, not from the reply's own field.
    const group = this.spec.membership.groupOf(from);
    const waiting = this.awaiting.get(envelope.id);
    if (group === undefined || waiting === undefined) return [];
    const index = waiting.indexOf(group);
    if (index < 0) return [];
    waiting.splice(index, 1);
    if (waiting.length > 0) return [];
    this.awaiting.delete(envelope.id);
    return [{ kind: "complete", id: envelope.id }];
  }

  tick(): readonly ProcessOutput[] {
    return [];
  }
}

export function createClient(spec: ClientSpec): MulticastClient {
  return new MulticastClient(spec);
}
