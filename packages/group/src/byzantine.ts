import type { GroupId, ProcessId, ProcessLogic, ProcessOutput, ProcessSend } from "@amcast/core";
import { assert, assertNever } from "@amcast/core";
import type { Signer } from "./auth.js";
import { batchDigest, copyDigests } from "./inputs.js";
import type { Membership } from "./membership.js";
import type { NewView, PrePrepare, ViewChange } from "./pbft.js";
import { pbftSignedText } from "./pbft.js";
import type { Replica } from "./replica.js";
import type { GroupWire } from "./wire.js";

/**
 * What a Byzantine replica does. Each runs the correct replica's code and then misbehaves on its
 * outputs, signing what it changes with its own key (it holds no one else's):
 *
 * - `silent`: sends nothing at all.
 * - `equivocate`: as primary, sends half of the group a different batch for the same sequence
 *   number than the other half.
 * - `forge`: alters every stream item it copies to another group (and signs the altered copy).
 * - `withhold`: on each outgoing stream, never sends the even items and sends the odd ones at once,
 *   so item k+1 arrives early and k never (from it).
 * - `swap`: sends different items to different groups: on the streams to every other destination
 *   group it swaps items k and k+1 (each pair, re-signed), so two children would see two messages
 *   in opposite orders if its copies were believed.
 * - `replay`: now and then re-sends one of its old messages to its old destination.
 * - `lie-view-change`: as primary, stalls (so views change); in its view changes, hides every
 *   prepared certificate; as a new primary, proposes empty batches in place of prepared ones.
 * - `corrupt-state`: serves every checkpoint partition a replica fetches from it with one byte
 *   changed (its manifests are honest, so it is trusted until a partition fails its hash). Not
 *   drawn by the swarm (its runs rarely transfer state); tests and experiments name it.
 */
export type ByzantineStrategy =
  | "silent"
  | "equivocate"
  | "forge"
  | "withhold"
  | "swap"
  | "replay"
  | "lie-view-change"
  | "corrupt-state";
export const BYZANTINE_STRATEGIES: readonly ByzantineStrategy[] = [
  "silent",
  "equivocate",
  "forge",
  "withhold",
  "swap",
  "replay",
  "lie-view-change",
];
/** Every strategy a fault plan may name: the swarm's draws above and `corrupt-state`. */
export const BYZANTINE_STRATEGY_NAMES: readonly ByzantineStrategy[] = [
  ...BYZANTINE_STRATEGIES,
  "corrupt-state",
];

/** Old messages a replaying replica remembers. */
const REPLAY_MEMORY = 64;
/** A replaying replica re-sends an old message every this many ticks. */
const REPLAY_EVERY_TICKS = 3;

export class ByzantineReplica implements ProcessLogic {
  readonly id: ProcessId;
  readonly wantsTicks: boolean;
  private readonly sent: ProcessSend[] = [];
  /** Even items held by `swap` until their odd partner comes, by "<to>#<k>" (one pair at a time per link). */
  private readonly heldForSwap = new Map<string, ProcessSend>();
  private ticks = 0;

  constructor(
    private readonly inner: Replica<unknown>,
    readonly strategy: ByzantineStrategy,
    private readonly signer: Signer,
    private readonly membership: Membership,
  ) {
    assert(signer.id === inner.id, "a Byzantine replica signs only as itself");
    this.id = inner.id;
    this.wantsTicks = inner.wantsTicks;
  }

  get group(): GroupId {
    return this.inner.group;
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    return this.misbehave(this.inner.receive(from, body));
  }

  tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    const outputs = [...this.misbehave(this.inner.tick())];
    if (this.strategy === "replay" && this.ticks % REPLAY_EVERY_TICKS === 0 && this.sent.length > 0) {
      const old = this.sent[(this.ticks * 7919) % this.sent.length] as ProcessSend;
      outputs.push(old);
    }
    return outputs;
  }

  /** A Byzantine replica owes nothing: the end of a run never waits for it. */
  idle(): boolean {
    return true;
  }

  private misbehave(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    const result: ProcessOutput[] = [];
    for (const output of outputs) {
      if (output.kind !== "send") {
        result.push(output);
        continue;
      }
      for (const send of this.transform(output)) {
        result.push(send);
        if (this.strategy === "replay") {
          this.sent.push(send);
          if (this.sent.length > REPLAY_MEMORY) this.sent.shift();
        }
      }
    }
    return result;
  }

  private transform(send: ProcessSend): ProcessSend[] {
    const envelope = send.body as GroupWire;
    switch (this.strategy) {
      case "silent":
        return [];
      case "replay":
        return [send];
      case "forge": {
        if (envelope.t !== "copy") return [send];
        const forged = forge(envelope.body);
        return [
          this.withBody(send, {
            t: "copy",
            k: envelope.k,
            body: forged,
            signature: this.signCopy(send.to, envelope.k, forged),
          }),
        ];
      }
      case "withhold":
        return envelope.t === "copy" && envelope.k % 2 === 0 ? [] : [send];
      case "swap":
        return this.swap(send, envelope);
      case "equivocate":
        return [this.equivocate(send, envelope)];
      case "lie-view-change":
        return this.lie(send, envelope);
      case "corrupt-state": {
        if (envelope.t !== "state" || envelope.body.type !== "partition" || envelope.body.bytes === null)
          return [send];
        // A copy: the bytes are this replica's own checkpoint, which it keeps intact.
        const bytes = Uint8Array.from(envelope.body.bytes);
        bytes[0] = ((bytes[0] ?? 0) + 1) & 0xff;
        return [this.withBody(send, { t: "state", body: { ...envelope.body, bytes } })];
      }
      default:
        return assertNever(this.strategy, "strategy");
    }
  }

  private swap(send: ProcessSend, envelope: GroupWire): ProcessSend[] {
    if (envelope.t !== "copy") return [send];
    const group = this.membership.groupOf(send.to) ?? "";
    // Only the streams to every other group (in membership order) are tampered with.
    if (this.membership.groups.indexOf(group) % 2 === 1) return [send];
    const key = `${send.to}#${envelope.k - (envelope.k % 2)}`;
    if (envelope.k % 2 === 0) {
      this.heldForSwap.set(key, send);
      return [];
    }
    const held = this.heldForSwap.get(key);
    if (held === undefined) return [send];
    this.heldForSwap.delete(key);
    const first = held.body as Extract<GroupWire, { t: "copy" }>;
    // Item k carries k+1's body and item k+1 carries k's, both signed as this replica's copies.
    return [
      this.withBody(held, {
        t: "copy",
        k: first.k,
        body: envelope.body,
        signature: this.signCopy(send.to, first.k, envelope.body),
      }),
      this.withBody(send, {
        t: "copy",
        k: envelope.k,
        body: first.body,
        signature: this.signCopy(send.to, envelope.k, first.body),
      }),
    ];
  }

  private equivocate(send: ProcessSend, envelope: GroupWire): ProcessSend {
    if (envelope.t !== "consensus" || (envelope.body as { type?: unknown }).type !== "pre-prepare")
      return send;
    const prePrepare = envelope.body as PrePrepare;
    const replicas = this.membership.replicas(this.inner.group);
    // The second half of the group hears of another batch for the same (view, seq).
    if (replicas.indexOf(send.to) < replicas.length / 2) return send;
    const batch = prePrepare.batch.length > 1 ? [...prePrepare.batch].reverse() : [];
    const digest = batchDigest(this.signer.digest, batch);
    const forged: PrePrepare = {
      ...prePrepare,
      batch,
      digest,
      signature: this.signer.sign(pbftSignedText.prePrepare(prePrepare.view, prePrepare.seq, digest)),
    };
    return this.withBody(send, { t: "consensus", body: forged });
  }

  private lie(send: ProcessSend, envelope: GroupWire): ProcessSend[] {
    if (envelope.t !== "consensus") return [send];
    const body = envelope.body as { type?: unknown };
    if (body.type === "pre-prepare") return [];
    if (body.type === "view-change") {
      const change = body as ViewChange;
      const hidden: ViewChange = {
        ...change,
        prepared: [],
        signature: this.signer.sign(pbftSignedText.viewChange(change.view, change.stable, [], change.signer)),
      };
      return [this.withBody(send, { t: "consensus", body: hidden })];
    }
    if (body.type === "new-view") {
      const newView = body as NewView;
      const prePrepares = newView.prePrepares.map((prePrepare) => {
        const digest = batchDigest(this.signer.digest, []);
        return {
          ...prePrepare,
          batch: [],
          digest,
          signature: this.signer.sign(pbftSignedText.prePrepare(prePrepare.view, prePrepare.seq, digest)),
        };
      });
      const lying: NewView = {
        ...newView,
        prePrepares,
        signature: this.signer.sign(pbftSignedText.newView(newView.view, newView.viewChanges, prePrepares)),
      };
      return [this.withBody(send, { t: "consensus", body: lying })];
    }
    return [send];
  }

  private signCopy(to: ProcessId, k: number, body: unknown): string {
    assert(this.membership.groupOf(to) !== this.inner.group, "copies go to other groups");
    return this.signer.sign(copyDigests(this.signer.digest, this.id, this.inner.group, k, body).signed);
  }

  private withBody(send: ProcessSend, body: GroupWire): ProcessSend {
    return { ...send, body };
  }
}

/** A plausible but false version of a protocol message: numbers shifted, strings changed. */
export function forge(value: unknown): unknown {
  if (typeof value === "number") return value + 7919;
  if (typeof value === "string") return `${value}~`;
  if (Array.isArray(value)) return value.map(forge);
  if (typeof value === "object" && value !== null) {
    const result: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(value)) result[key] = key === "type" ? field : forge(field);
    return result;
  }
  return value;
}
