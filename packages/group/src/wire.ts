import type { GroupId, MessageId, Multicast } from "@amcast/core";
import type { SignedWith } from "./inputs.js";
import type { TransferMessage } from "./transfer.js";

/**
 * Envelopes the group layer puts on the wire between processes. The receiver learns who sent an
 * envelope from the link (and the sender's group from membership), never from a field in it.
 *
 * - `request`: client -> replicas of an entry group; signed by the client in Byzantine mode.
 * - `copy`: a replica's copy of item `k` of its group's stream to the receiver's group (the
 *   protocol body inside); signed by the sending replica in Byzantine mode.
 * - `consensus`: between replicas of one group (the orderer's messages).
 * - `reply`: replica -> client once its group delivered the message, with the application's result.
 * - `redirect`: replica -> client: the overlay changed; send the request again under `view`,
 *   whose overlay (JSON) comes along.
 * - `under-way`: replica -> client, answering a retry: the group ordered the request and its
 *   delivery is under way (the reply comes when it is delivered), so the client keeps waiting.
 * - `state`: between replicas of one group, state transfer (transfer.ts): manifests and
 *   partitions of checkpoints.
 * - `resend`: a replica back from a crash, or a crash-mode replica that just became its group's
 *   leader (with its `term`) -> the replicas of another group: it took that group's stream to its
 *   group up to item `k` (exclusive); the items from `k` on that they still keep come again
 *   (copies sent while the whole group was down were lost with it; in crash mode, copies go to
 *   the receiving group's leader alone, and those its previous leader had not ordered yet were).
 *
 * Only what a process shows to a third party is signed: requests (a primary relays them in its
 * proposals) and stream copies (relayed likewise, and counted f+1 per item). The answers to a
 * client (`reply`, `redirect`, `under-way`) are not: the client acts on f+1 matching ones from
 * distinct replicas of a group in Byzantine mode, each named by its link (authenticated on the
 * network), so one of them is from a correct replica, and it never passes them on.
 */
export type GroupWire =
  | {
      readonly t: "request";
      readonly message: Multicast;
      readonly seq: number;
      readonly signature: string;
      /** The overlay view the client addressed it under; absent: 0. */
      readonly view?: number;
      /**
       * The client's lowest sequence number still in flight when it sent this (absent: 0): it has
       * every answer below, so replicas may forget those requests and replies.
       */
      readonly settled?: number;
      /**
       * Its place among the requests the client signed together (see `RequestInput.signedWith`);
       * absent: `signature` is over this request's digest alone.
       */
      readonly signedWith?: SignedWith;
    }
  | { readonly t: "copy"; readonly k: number; readonly body: unknown; readonly signature: string }
  | { readonly t: "consensus"; readonly body: unknown }
  | {
      readonly t: "reply";
      readonly id: MessageId;
      readonly group: GroupId;
      readonly result: unknown;
      /**
       * Delays the replica observed per sending group since its last such reply, when the logic
       * asked for them (`withDelays`): [group, mean one-way ms, samples]. Not part of the result.
       */
      readonly delays?: readonly DelayEntry[];
    }
  | {
      readonly t: "redirect";
      readonly id: MessageId;
      /** The view the refused request was sent under: only that version of it was refused. */
      readonly requestView: number;
      readonly view: number;
      readonly overlay: unknown;
    }
  | { readonly t: "under-way"; readonly id: MessageId }
  | { readonly t: "state"; readonly body: TransferMessage }
  /**
   * "Send me your group's stream to mine again from item `k`." `term`: the asker leads its group
   * (crash mode) in that Raft term, so stream items to its group go to it alone from now on.
   */
  | { readonly t: "resend"; readonly k: number; readonly term?: number };

/** One sending group's delays in a reply: [group, mean one-way ms, samples]. */
export type DelayEntry = readonly [GroupId, number, number];

/** Modelled bytes of one `DelayEntry` (a group id, two numbers). */
export const DELAY_ENTRY_BYTES = 20;

/** Modelled bytes of an envelope's own header (type tag, lengths, sequence number). */
export const ENVELOPE_BYTES = 16;

/** Modelled bytes of a multicast carried in a request (one model for requests and protocols). */
export { multicastBytes } from "@amcast/core";

export function replyBytes(id: MessageId, group: GroupId): number {
  return ENVELOPE_BYTES + id.length + group.length + 8;
}

/** Narrows an untrusted body to an envelope kind, or undefined when it is not one. */
export function readEnvelope(body: unknown): GroupWire | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  // Every message passes here: comparisons, not a set lookup.
  switch ((body as { t?: unknown }).t) {
    case "request":
    case "copy":
    case "consensus":
    case "reply":
    case "redirect":
    case "under-way":
    case "state":
    case "resend":
      return body as GroupWire;
    default:
      return undefined;
  }
}

/**
 * The number written after the ":" at `colon` in `id`, to its end, if it is a safe integer written
 * exactly as `String(seq)` writes it (decimal digits, no leading zero); undefined otherwise.
 * (A client may number from the wall clock in microseconds: 16 digits.)
 */
export function sequenceAt(id: string, colon: number): number | undefined {
  const length = id.length;
  if (id.charCodeAt(colon) !== 58 || colon + 1 >= length || length - colon - 1 > 16) return undefined;
  if (id.charCodeAt(colon + 1) === 48 && length > colon + 2) return undefined;
  let seq = 0;
  for (let index = colon + 1; index < length; index += 1) {
    const digit = id.charCodeAt(index) - 48;
    if (digit < 0 || digit > 9) return undefined;
    seq = seq * 10 + digit;
  }
  // Past 2^53 the sum rounds (never below 2^53), so an unsafe number is never taken for a safe one.
  return seq <= Number.MAX_SAFE_INTEGER ? seq : undefined;
}
