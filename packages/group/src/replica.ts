import type {
  ClientId,
  GroupId,
  GroupLogic,
  GroupOutput,
  Overlay,
  ProcessId,
  ProcessLogic,
  ProcessOutput,
  ProtocolDefinition,
} from "@amcast/core";
import { assert, assertNever } from "@amcast/core";
import type { Membership } from "./membership.js";
import type { GroupWire } from "./wire.js";
import { ENVELOPE_BYTES, readEnvelope, replyBytes } from "./wire.js";

/**
 * How a group's logic is replicated. `solo` runs one process per group: the process feeds its
 * inputs straight into the logic, in arrival order. (crash and byzantine replication come next;
 * they will order the same inputs through consensus before feeding them in.)
 */
export type ReplicationMode = "solo";
export const REPLICATION_MODES: readonly ReplicationMode[] = ["solo"];

/** Replicas a group needs in each mode for `f` tolerated faults. */
export function replicaCount(mode: ReplicationMode, _f: number): number {
  switch (mode) {
    case "solo":
      return 1;
    default:
      return assertNever(mode, "replication mode");
  }
}

export interface ReplicaSpec<M> {
  readonly protocol: ProtocolDefinition<M>;
  readonly group: GroupId;
  readonly id: ProcessId;
  readonly membership: Membership;
  readonly overlay: Overlay | null;
  readonly mode: ReplicationMode;
}

/** Why a replica refused an input; counted, never thrown, so a bad peer cannot crash it. */
export type DropReason = "malformed" | "unknown-sender" | "not-an-entry-group" | "duplicate-request";

/**
 * One replica of a group in `solo` mode. It turns envelopes from links into group inputs, runs
 * the protocol's logic, and turns the logic's outputs into envelopes for processes: `send` goes to
 * the destination group's replica, `deliver` is reported to the driver and answered to the client.
 */
export class SoloReplica<M> implements ProcessLogic {
  readonly id: ProcessId;
  readonly group: GroupId;
  readonly wantsTicks = false;
  readonly drops = new Map<DropReason, number>();
  private readonly protocol: ProtocolDefinition<M>;
  private readonly membership: Membership;
  private readonly overlay: Overlay | null;
  private readonly logic: GroupLogic<M>;
  /**
   * Highest request sequence number taken per client. Clients number their requests, and a link
   * is FIFO, so anything at or below it is a duplicate. Bounded by the number of clients.
   */
  private readonly lastSeqByClient = new Map<ClientId, number>();

  constructor(spec: ReplicaSpec<M>) {
    assert(spec.mode === "solo", `SoloReplica runs solo mode, not ${spec.mode}`);
    assert(
      spec.membership.groupOf(spec.id) === spec.group,
      () => `${spec.id} is not a replica of ${spec.group}`,
    );
    this.id = spec.id;
    this.group = spec.group;
    this.protocol = spec.protocol;
    this.membership = spec.membership;
    this.overlay = spec.overlay;
    this.logic = spec.protocol.createGroup({
      group: spec.group,
      groups: spec.membership.groups,
      overlay: spec.overlay,
    });
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    const envelope = readEnvelope(body);
    if (envelope === undefined) return this.drop("malformed");
    switch (envelope.t) {
      case "request": {
        const message = envelope.message;
        if (this.membership.groupOf(from) !== undefined || message.client !== from)
          return this.drop("unknown-sender");
        if (!message.dst.every((group) => this.membership.hasGroup(group))) return this.drop("malformed");
        if (!this.protocol.entryGroups(message.dst, this.overlay).includes(this.group))
          return this.drop("not-an-entry-group");
        const lastSeq = this.lastSeqByClient.get(message.client) ?? -1;
        if (envelope.seq <= lastSeq) return this.drop("duplicate-request");
        this.lastSeqByClient.set(message.client, envelope.seq);
        return this.apply(this.logic.step({ kind: "request", message }));
      }
      case "peer": {
        const fromGroup = this.membership.groupOf(from);
        if (fromGroup === undefined || fromGroup === this.group) return this.drop("unknown-sender");
        return this.apply(this.logic.step({ kind: "peer", from: fromGroup, body: envelope.body as M }));
      }
      case "reply":
        return this.drop("malformed");
      default:
        return assertNever(envelope, "envelope");
    }
  }

  tick(): readonly ProcessOutput[] {
    return [];
  }

  private apply(outputs: readonly GroupOutput<M>[]): ProcessOutput[] {
    const result: ProcessOutput[] = [];
    for (const output of outputs) {
      if (output.kind === "send") {
        assert(output.to !== this.group, () => `group ${this.group} sends to itself`);
        const description = this.protocol.describe(output.body);
        const envelope: GroupWire = { t: "peer", body: output.body };
        const bytes = ENVELOPE_BYTES + description.bytes;
        for (const to of this.membership.replicas(output.to)) {
          result.push(
            description.id === undefined
              ? { kind: "send", to, body: envelope, bytes, label: description.kind, protocol: true }
              : {
                  kind: "send",
                  to,
                  body: envelope,
                  bytes,
                  label: description.kind,
                  id: description.id,
                  protocol: true,
                },
          );
        }
      } else {
        const message = output.message;
        assert(
          message.dst.includes(this.group),
          () => `group ${this.group} delivers ${message.id}, not addressed to it`,
        );
        result.push({ kind: "deliver", group: this.group, message });
        const reply: GroupWire = { t: "reply", id: message.id, group: this.group };
        result.push({
          kind: "send",
          to: message.client,
          body: reply,
          bytes: replyBytes(message.id, this.group),
          label: "reply",
          id: message.id,
          protocol: false,
        });
      }
    }
    return result;
  }

  private drop(reason: DropReason): readonly ProcessOutput[] {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    return [];
  }
}

export function createReplica<M>(spec: ReplicaSpec<M>): ProcessLogic {
  switch (spec.mode) {
    case "solo":
      return new SoloReplica(spec);
    default:
      return assertNever(spec.mode, "replication mode");
  }
}
