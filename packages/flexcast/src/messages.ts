import type { MessageId, Multicast } from "@amcast/core";

/**
 * FlexCast's wire format. Groups are named by their position in the C-DAG order (0 = first):
 * every group holds the same overlay, positions are small integers, and destination lists in
 * history entries (the bulk of every message) stay short.
 */

/** A C-DAG position. */
export type Position = number;

/**
 * One entry of a group's delivery sequence as it travels in history windows: the message id and
 * its destinations (positions, ascending). Local messages never enter a history (a single group
 * orders them, so they cannot close a cycle). `flush` marks the protocol's own garbage-collection
 * barrier (rule 7), which is ordered like any message but never handed to the application.
 */
export interface HistoryEntry {
  readonly id: MessageId;
  readonly dst: readonly Position[];
  readonly flush?: true;
}

/**
 * A slice of group `group`'s delivery sequence: `entries` are its entries at absolute offsets
 * `from`, `from + 1`, ... Offsets count from the group's first delivery and never reset, so a
 * receiver appends exactly the entries it lacks and can check the overlap.
 */
export interface HistoryWindow {
  readonly group: Position;
  readonly from: number;
  readonly entries: readonly HistoryEntry[];
}

/**
 * A notification the sender emitted for the message: target group (chained: the chain's first)
 * and the sender's sequence number. The answer names the sender and the number.
 */
export interface NotificationRef {
  readonly target: Position;
  readonly seq: number;
}

/** Rule 2: the lca's copy of a message to another destination (`message` is null for a flush). */
export interface FlexForward {
  readonly type: "msg";
  readonly id: MessageId;
  readonly dst: readonly Position[];
  readonly message: Multicast | null;
  readonly hst: readonly HistoryWindow[];
  readonly notifs: readonly NotificationRef[];
}

/**
 * Rules 5 and 6: an acknowledgement to a destination below the sender. From a destination it
 * says "I delivered it"; from a notified group it answers notification `answers` ("I delivered
 * every message for me that I knew of when the notification came").
 */
export interface FlexAck {
  readonly type: "ack";
  readonly id: MessageId;
  readonly dst: readonly Position[];
  readonly hst: readonly HistoryWindow[];
  readonly notifs: readonly NotificationRef[];
  readonly answers?: { readonly notifier: Position; readonly seq: number };
}

/**
 * Rule 4, chained (`notifications: "chain"`): the notification travels from target to target
 * down the order. `notifier` emitted it (the destinations registered `notifier`'s `seq`);
 * `rest` are the targets it goes on to after the receiver, ascending.
 */
export interface NotificationChain {
  readonly notifier: Position;
  readonly rest: readonly Position[];
}

/**
 * Rule 4: a notification to a group that is not a destination but lies between them. Without
 * `chain` the sender emitted it and `seq` is the sender's.
 */
export interface FlexNotif {
  readonly type: "notif";
  readonly id: MessageId;
  readonly dst: readonly Position[];
  readonly seq: number;
  readonly hst: readonly HistoryWindow[];
  readonly chain?: NotificationChain;
}

/**
 * Rule 9: the last group in the order tells a flush's issuer that it delivered the flush, so every
 * group below the issuer did (the only message that goes up the order; it carries no history).
 */
export interface FlexFlushDone {
  readonly type: "done";
  readonly id: MessageId;
}

export type FlexCastMessage = FlexForward | FlexAck | FlexNotif | FlexFlushDone;
