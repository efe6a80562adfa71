import type {
  CdagOverlay,
  DestinationSet,
  GroupConfig,
  GroupId,
  GroupInput,
  GroupLogic,
  GroupOutput,
  GroupOutputSink,
  MessageId,
  Multicast,
  Overlay,
  OverlayProtocolDefinition,
  WireDescription,
} from "@amcast/core";
import { assert, assertNever, describeValue, GroupOutputCollector, listNames } from "@amcast/core";
import { History, Knowledge, Vertex } from "./knowledge.js";
import type {
  FlexAck,
  FlexCastMessage,
  FlexFlushDone,
  FlexForward,
  FlexNotif,
  HistoryEntry,
  HistoryWindow,
  NotificationRef,
  Position,
} from "./messages.js";
import { flexcastLatencyMs } from "./model.js";
import type { ObjectGraph } from "./state.js";
import { decodeGraph, encodeGraph } from "./state.js";

/**
 * FlexCast (Batista, Coelho, Alchieri, Dotti, Pedone, Middleware '23): genuine atomic multicast
 * over a complete DAG. The groups form a total order (the C-DAG); every group may send to every
 * later one, and all group-to-group traffic flows down the order (but rule 9's "done"). The lca
 * of a message is its first destination in the order. Every group keeps the *history graph*: the
 * delivery sequences it knows of the groups above it and its own, one edge between consecutive
 * entries.
 *
 * 1. Histories travel in windows. Every message a group sends to a descendant d carries, for its
 *    own sequence and each sequence it knows from above, the entries not yet sent to d
 *    ((group, absolute offset, entries)). Links are FIFO, so d appends exactly what it lacks.
 *    Every received window is merged on arrival, whatever message carries it.
 * 2. The lca delivers a message from a client at once (its order is arrival order), appends it to
 *    its history, notifies (rule 4) and forwards a copy to every other destination.
 * 3. A destination p below the lca queues the copy behind earlier messages of the same lca and
 *    delivers the head m of a queue when
 *      (1) it has the copy,
 *      (2) every destination strictly between the lca and p has acknowledged m (rule 6),
 *      (3) every notification registered for m above p has been answered (rules 4-5), and
 *      (4) no message for p that p has not delivered precedes m in the history graph.
 *    It then appends m to its history, notifies (rule 4) and acknowledges (rule 6).
 * 4. Notifications: a message's order can be implied through a group that is not a destination
 *    (m0 -> {a,c}, m1 -> {a,b}, m2 -> {c,b}, order a < c < b: c delivers m2 then m0, a m0 then m1;
 *    b must see m2 ~> m0 ~> m1 though c is no destination of m1). So each emitter — the lca when
 *    forwarding, a destination when delivering, a notified group when answering — sends a
 *    notification to every group t below it and above the last destination that is not a
 *    destination and that it must notify (below); the (t, sequence number) pairs travel with the
 *    emitter's copies and acknowledgements, and the destinations below t register them.
 *    Which groups. A notification to t serves one thing: a chain x ~> ... ~> m through t's order
 *    (t delivered some c' then c, c ~> m) that a destination p below t must see before m; t's
 *    answer waits for the messages for t that precede m and carries t's history. The emitter
 *    knows such a chain's part c ~> m only if it knows a message c for t that precedes m; a part
 *    it does not know runs through groups that know it, and each of them notifies with its own
 *    knowledge (the destinations as they deliver, the notified groups as they answer: a chain
 *    is followed back one group at a time). So t is a target when the emitter knows a message
 *    for t that precedes m — the prototype notifies whenever it knows *any* message for t, which
 *    after the first flushes (they carry every history to every group below) means every group
 *    between the destinations, a storm that grows with the square of the number of groups.
 *    Flushes also cover: when the emitter delivered a flush F (addressed to t and every group
 *    below its issuer) knowing c ~> F, and m follows F, then p waits for F before m (F precedes
 *    m and is addressed to p), F waits at p for t's acknowledgement (t lies between F's lca and
 *    p), t delivers F only after c (it is sent the emitter's knowledge c ~> F first) and its
 *    acknowledgement carries its history up to F: p sees c' before c before F before m — what
 *    the notification would have shown. A destination that just delivered m knows exactly the
 *    messages that precede m: those that reach one of its deliveries ("dead", knowledge.ts), and
 *    it counts a group from the first flush it delivered after one of them died for t
 *    (`Knowledge.targetsOfDelivered`). A notified group walks back from m over what is not dead
 *    yet and counts, when the walk meets something dead, every group a message died for since the
 *    last flush m is known to follow (`Knowledge.targetsOfNotified`).
 * 5. A notified group answers a notification for m once no message for it that it has not
 *    delivered precedes m in its graph — condition (4) of rule 3, as if it were to deliver m
 *    (recomputed from the current graph, never a cached wait set). The notification's window
 *    brought the emitter's knowledge, so every path into m the emitter knew is covered. The
 *    answer is an acknowledgement to every destination below, carrying this group's history, so
 *    they see its deliveries on such paths. It notifies in turn, but only when it delivered
 *    something since its last round for m: an earlier round already carried what it knew then,
 *    and every participant above notifies the same targets with its own knowledge directly.
 * 6. Acknowledgements: a destination below the lca that delivers m, and a notified group that
 *    answers, acknowledge to every destination of m below them, with their windows. Registrations
 *    and acknowledgements may arrive in any order across links, and before the copy itself.
 * 7. Garbage collection runs by itself. Each group that has descendants multicasts a *flush*
 *    barrier to itself and every group below every `flushEvery` deliveries of its own (a count,
 *    never time), and also once the part of its own history it still holds reaches its share of
 *    the retained-history budget (`historyEntriesMax` / number of groups; see below). A flush is ordered like any message but never reaches the application. Once a
 *    group delivers it, everything before it in the histories it cuts is dead there (reaches a
 *    delivered message, so no undelivered message for this group can precede it without a cycle)
 *    and was sent to every descendant (the flush's acknowledgements go to all of them), so the
 *    prefix is dropped (knowledge.ts). Between flushes the same rule drops whatever is dead and
 *    sent already. Flush entries never make a group a notification target: a path through a
 *    flush is seen by every destination below, since the flush is addressed to all of them.
 *
 * 8. Notification pattern (`FlexCastOptions.notifications`, an experiment's
 *    `params.notifications`). "direct" (the default, rules 4-6 as written): an emitter notifies
 *    every target at once, each target answers every destination below it and notifies its own
 *    targets with fresh notifications: about k + k(k-1)/2 notifications and as many answers for
 *    k targets, in at most three hops (emitter, target, target, destination). "chain": the
 *    emitter sends one notification, listing its targets in order, to the first; a target that
 *    may answer (rule 5) adds its own targets (rule 4) to those left and passes the notification
 *    on to the next, and answers only the destinations between itself and that next target (all
 *    below it when it is the last). So k notifications and one answer per destination, in k + 1
 *    hops. Why it is as safe: every target receives, relayed in the windows, the emitter's and
 *    every earlier target's knowledge (each window carries every history its sender knows), so
 *    it waits for at least what rule 5 would have made it wait for, notified directly and by the
 *    earlier targets' own rounds; and the answer a destination gets from the last target above
 *    it carries, relayed the same way, each earlier target's history up to the moment the chain
 *    left it — what that target's own answer would have carried. The destinations register the
 *    emitter's reference (its first target and sequence number) from its copy or acknowledgement
 *    as before; the target that ends the chain above each of them answers it. Where a
 *    message costs more than a hop — replicated groups, where each is an ordered stream item —
 *    the chain is cheaper and often faster; on a WAN its hops add up.
 *
 * 9. Bounded history (`boundHistory`; off by default). Under rules 1-8 a history is held at a group
 *    until a flush cuts it there, and a flush reaches the k-th group below its issuer only after
 *    the k-1 between delivered it (rule 3(2)): whatever is delivered meanwhile is held, so the
 *    retained history grows with the load times that chain's time (at 48 groups, seconds). Rule 9
 *    holds the load back instead. (a) The last group in the order, on delivering a flush, tells
 *    every other destination of it ("done", the one message that goes up the order; it carries
 *    no history): every destination delivered it by then. (b) A group keeps at most
 *    FLUSHES_IN_FLIGHT_MAX flushes of its own not known done; a flush due meanwhile waits for
 *    one. (c) As lca, a group orders a client's multicast to several groups only while the
 *    entries (one per destination) of those it ordered since it delivered the last flush it
 *    knows done — its own or one from above: any flush does — stay within its share
 *    S = (historyEntriesMax - F) / G (rounded down, at least 1), F = FLUSHES_IN_FLIGHT_MAX x
 *    G(G+1)/2, or when it ordered none since (a multicast to more than S groups then goes alone).
 *    Later ones wait, in arrival order (the client waits for its answer), until a "done" makes
 *    room. A group flushes once half its share was ordered since it last delivered a flush, or as
 *    soon as a multicast waits and it ordered something since. Only client multicasts wait:
 *    messages from above are delivered as always (holding those could deadlock, since a flush's
 *    completion can wait for deliveries of messages it follows).
 *
 * The bound (rule 9). At the end of every step every group retains at most G x max(S, G) + F
 * history entries (`historyEntriesBound`): `historyEntriesMax` itself once S >= G, i.e. once
 * historyEntriesMax >= G^2 + F (with the default 16,384: up to 90 groups).
 *  (i) When a group p delivers a flush X, it cuts every history h that X is in (its issuer's and
 *      every one from there down to p) up to X's entry: p knows that entry (h acknowledged X with
 *      its window, rule 3(2); or h is X's issuer or p), everything before it in h reaches X, which
 *      is delivered, so it is dead; and in that same step X's copies or acknowledgements carry
 *      p's windows to every descendant, so it was sent to all of them (rule 7).
 *  (ii) Take p, a group g above or at p, and C_g: the last flush g delivered among those it knows
 *      done (none: the start). p delivered C_g (a), and C_g is addressed to every group from its
 *      issuer, g or above, down. Let m be a multicast g ordered before it delivered C_g, and h a
 *      destination of m between g and p. In g's history m precedes C_g, and h is a destination of
 *      both, so h delivered m before C_g (acyclic order); so m's entry in h comes before C_g's,
 *      and p, which delivered C_g, no longer holds it (i). So every entry p retains belongs
 *      either to a multicast its lca g ordered after delivering C_g — together at most the
 *      entries (c) counts, max(S, G) per g — or to a flush that p has not delivered yet (one it
 *      delivered cuts itself, (i)), so one its issuer f does not know done: at most
 *      FLUSHES_IN_FLIGHT_MAX per f (b), with one entry per history from f down to p. Summed over
 *      the groups above or at p: at most G x max(S, G) + F.
 *  Safety: rule 9 only makes an lca order a client's multicast later (as if it had been sent
 *  later) and adds flushes, ordered like any message (rules 1-8 hold for them); "done" carries
 *  no history and changes only the admission count. Acyclic order and collection stand as
 *  argued for rules 1-8. Liveness: rules 1-8 deliver every ordered message without waiting for
 *  a later one (a flush included), so every flush is delivered by the last group and its "done"
 *  arrives (group-to-group traffic: reliable, FIFO, ordered by the group layer like any input).
 *  A multicast waits at g only while g ordered something since C_g. Every flush g delivered
 *  since C_g will be known done, moving C_g on; if g ordered something since the last of them,
 *  it issues its own at once (c), or as soon as a "done" frees a place for it (b), and that
 *  flush's "done" empties the count, so the waiting head goes. Reconfiguration: the instance of
 *  view v orders nothing after the request that changes the view (`GroupConfig.changesView`);
 *  the requests it still holds are handed back on install (`takeHeldRequests`) and their
 *  clients redirected (reconfig V4). Snapshots carry the held multicasts, the marks and the
 *  flushes awaited (state); the share is configuration.
 *  Cost: an lca orders at most S entries per flush round trip (the chain through every group
 *  below), so with many groups the budget must grow with the load times that chain's time; and
 *  a flush from the first of G groups is acknowledged (G-1)(G-2)/2 times.
 *
 * Single-destination messages are delivered by their group on arrival and never enter a history:
 * one group's order alone cannot close a cycle.
 *
 * Why a budget share. A group below holds the history of every group above it, and a history's
 * prefix can only be cut there by a flush of its owner (or of a group above the owner) — a group
 * cannot cut the histories of the groups above it by flushing itself. Counting deliveries alone,
 * each of G histories is cut every `flushEvery` of its owner's deliveries, so a group holds about
 * G x `flushEvery` entries, and fewer deliveries per group (more groups, the same load) means the
 * cuts come later. So every group also flushes once it holds `historyEntriesMax` / G entries of
 * its own history (flushes from above included; own entries are held until every descendant was
 * sent them, which a flush does) and it delivered something since its last flush (flushes alone
 * never set off flushes). A group's history is then held, at the group and at every group below,
 * for at most its share plus the entries it delivers while its flush travels down to the holder,
 * and a group holds at most `historyEntriesMax` entries plus what the groups above it deliver
 * while their flushes are in flight — no constant: rule 9 makes it one. With the defaults and up to 12 groups the share (1,365 and
 * more) is never reached before `flushEvery` deliveries, so the count decides as before.
 *
 * Bounds (under a steady workload): histories hold what was delivered since the last flush plus
 * messages in flight; vertices one per retained entry or pending message; `pending` and the
 * queues the messages in flight to this group; the waiting notifications those whose messages
 * for this group are in flight, and the wait lists (`headWaiters`, `notificationWaiters`) one
 * entry per waiting head or notification; `lastRound` at most LAST_ROUND_MAX entries (forgetting
 * one only costs an extra round of notifications); `sent` (self+1) x descendants integers.
 */
export interface FlexCastOptions {
  /** Deliveries of global messages between two flushes a group issues (rule 7). */
  readonly flushEvery: number;
  /**
   * Retained-history budget of a group, in entries: each group also flushes once it holds this /
   * (number of groups) entries of its own history (rule 7), and orders multicasts as their lca
   * only within its admission share of it (rule 9): no group retains more (see "The bound").
   */
  readonly historyEntriesMax: number;
  /**
   * Rule 9: hold client multicasts back at their lca so that no group ever retains more than
   * `historyEntriesMax` history entries (see "The bound"; false: rules 1-8 alone, no bound).
   */
  readonly boundHistory: boolean;
  /** Drop dead history (rule 7). False keeps everything: the naive reference of the tests. */
  readonly collectGarbage: boolean;
  /**
   * Rule 8: "direct" sends a notification to every target at once, "chain" one notification
   * that visits the targets in order (fewer messages, more hops).
   */
  readonly notifications: NotificationPattern;
}

/** How an emitter reaches its notification targets (rule 8). */
export type NotificationPattern = "direct" | "chain";
export const NOTIFICATION_PATTERNS: readonly NotificationPattern[] = ["direct", "chain"];

export const DEFAULT_FLEXCAST_OPTIONS: FlexCastOptions = {
  flushEvery: 1024,
  historyEntriesMax: 16_384,
  boundHistory: false,
  collectGarbage: true,
  notifications: "direct",
};

/** Bound on the per-message memory of notification rounds (rule 5). */
const LAST_ROUND_MAX = 4096;

const NO_REFS: readonly NotificationRef[] = [];
const NO_POSITIONS: readonly Position[] = [];

/** Prefix of flush ids; client message ids are "<client>:<seq>" and never start with it. */
const FLUSH_PREFIX = "#flush/";

interface Pending {
  /** The copy from the lca: undefined until it arrives; `message` null for a flush. */
  forward: FlexForward | undefined;
  /**
   * Its vertex, with the copy (the lca's window brought it): kept here, not looked up by id at
   * every check. An undelivered message for this group is never collected, so it stays the one.
   */
  vertex: Vertex | undefined;
  /** Destinations that acknowledged (rule 6): a few, those between the lca and this group. */
  readonly acks: Position[];
  /**
   * Notifications above this group: "registered" awaits its answer; "answered" awaits
   * registration. Created on the first (most messages have none).
   */
  notifications: Map<string, "registered" | "answered"> | undefined;
  unanswered: number;
  /** Rule 3(4) cache: an undelivered message that precedes this one; recheck once it is delivered. */
  blockedBy: MessageId | undefined;
}

interface PendingNotification {
  readonly id: MessageId;
  readonly dst: readonly Position[];
  /** The emitter and its sequence number: what the destinations registered and await the answer to. */
  readonly notifier: Position;
  readonly seq: number;
  /** Rule 8, chained: the targets after this group, ascending (empty when direct). */
  readonly rest: readonly Position[];
  /** Arrival order: answers that become due together go out in this order. */
  readonly arrival: number;
  /** An undelivered message for this group that precedes the notified one; recheck once delivered. */
  blockedBy: MessageId | undefined;
  /**
   * Rule 4: a flush epoch the notified message was known here to follow when the notification
   * came (its vertex may be collected before the answer; see `answerNotifications`).
   */
  readonly epoch: number;
}

/**
 * Snapshots (`FlexCastGroup.snapshot`): the fields a group's constructor derives from its
 * configuration, and the collector `step` reuses (empty between steps) — everything else is state
 * and goes into the snapshot, whatever it is — and the classes the state holds instances of.
 */
const CONFIGURATION_FIELDS: ReadonlySet<string> = new Set([
  "group",
  "position",
  "overlay",
  "options",
  "flushRetainedMax",
  "admissionEntriesMax",
  "changesView",
  "collector",
]);

/**
 * Rule 9: client multicasts a group holds back at most (they wait for a flush's completion; each
 * is a client waiting for its answer, so a correct load never comes near).
 */
const HELD_REQUESTS_MAX = 1 << 20;
/** Rule 9: flushes of one group not known complete yet, at most (see "The bound"). */
const FLUSHES_IN_FLIGHT_MAX = 2;
const STATE_CLASSES = { Knowledge, History, Vertex };

export class FlexCastGroup implements GroupLogic<FlexCastMessage> {
  readonly group: GroupId;
  readonly position: Position;
  private readonly overlay: CdagOverlay;
  private readonly options: FlexCastOptions;
  private readonly knowledge: Knowledge;
  private readonly pending = new Map<MessageId, Pending>();
  /** `queues[a]`: copies from lca a (a above this group) in a's order, not yet delivered. */
  private readonly queues: MessageId[][];
  private readonly queueHeads: number[];
  /**
   * Rule 3, incrementally: `headDirty[a]` says the head of queue a must be checked again. A head
   * that was checked and is not ready only becomes ready when something it waits for happens: its
   * acknowledgements or notification answers arrive (onAck), or the message that blocked it is
   * delivered (`headWaiters`). Those events, and a new head, set the flag; nothing else can change
   * a head's answer, so the others are not checked again.
   */
  private readonly headDirty: boolean[];
  private dirtyHeads = 0;
  /** Queue heads blocked by an undelivered message (rule 3(4)), by that message: lcas to wake. */
  private readonly headWaiters = new Map<MessageId, Position[]>();
  /**
   * Rule 5, from an index: notifications not yet answered wait under the message that blocks them
   * and are checked again only once it is delivered; new ones are checked at the end of the step
   * that brought them.
   */
  private readonly notificationWaiters = new Map<MessageId, PendingNotification[]>();
  /** Notifications to check at the end of this step. */
  private notificationsToCheck: PendingNotification[] = [];
  private notificationArrivals = 0;
  private notificationsWaiting = 0;
  /** Rule 5: per notified message, this group's history length at its last round of notifications. */
  private readonly lastRound = new Map<MessageId, number>();
  private notificationSeq = 0;
  /** Rule 4 scratch: the groups (by position) a message's notifications may go to. */
  private readonly targets: boolean[];
  private deliveriesSinceFlush = 0;
  /** Rule 7: this group's share of the history budget: held own-history entries that make it flush. */
  private readonly flushRetainedMax: number;
  /**
   * Rule 9: history entries (one per destination) of the multicasts this group may have ordered
   * as their lca since it delivered the last flush it knows done: its share S.
   */
  private readonly admissionEntriesMax: number;
  /** Reconfiguration: whether a request changes the view (nothing is admitted after it here). */
  private readonly changesView: ((message: Multicast) => boolean) | undefined;
  /** Rule 9: entries of every multicast this group ordered as lca (one per destination). */
  private admittedEntries = 0;
  /** Rule 9: `admittedEntries` when this group delivered the last flush it knows done. */
  private completedMark = 0;
  /** Rule 9: `admittedEntries` when this group last delivered a flush (its own or one from above). */
  private coveredMark = 0;
  /** Rule 9: flushes from above this group delivered and does not know done, with `admittedEntries` then. */
  private readonly flushesAbove = new Map<MessageId, number>();
  /**
   * Rule 9: this group's flushes not known complete yet (at most FLUSHES_IN_FLIGHT_MAX), oldest
   * first, each with `admittedEntries` when it was issued.
   */
  private readonly flushesInFlight: { readonly id: MessageId; readonly mark: number }[] = [];
  /** Rule 9: client multicasts waiting for admission, in arrival order (from `heldHead` on). */
  private held: Multicast[] = [];
  private heldHead = 0;
  private heldCount = 0;
  /** A request that changes the view was ordered: this instance admits nothing more. */
  private closed = false;
  private flushes = 0;
  private deliveredCount = 0;
  /** Collects the outputs of `step` (`stepInto` hands them to the caller's sink). */
  private readonly collector = new GroupOutputCollector<FlexCastMessage>();
  private historyEntriesPeak = 0;

  constructor(config: GroupConfig, options: FlexCastOptions = DEFAULT_FLEXCAST_OPTIONS) {
    assert(config.overlay?.kind === "cdag", "FlexCast runs on a C-DAG overlay");
    assert(Number.isInteger(options.flushEvery) && options.flushEvery >= 1, "flushEvery is a count >= 1");
    assert(
      Number.isInteger(options.historyEntriesMax) && options.historyEntriesMax >= 1,
      "historyEntriesMax is a count >= 1",
    );
    const groupCount = config.overlay.order.length;
    this.flushRetainedMax = Math.max(1, Math.floor(options.historyEntriesMax / groupCount));
    this.admissionEntriesMax = admissionShare(options.historyEntriesMax, groupCount);
    this.changesView = config.changesView;
    this.overlay = config.overlay;
    this.group = config.group;
    this.position = this.overlay.position(config.group);
    this.options = options;
    this.knowledge = new Knowledge(this.position, this.overlay.order.length, options.collectGarbage);
    this.queues = Array.from({ length: this.position }, () => []);
    this.queueHeads = Array.from({ length: this.position }, () => 0);
    this.headDirty = Array.from({ length: this.position }, () => false);
    this.targets = Array.from({ length: config.overlay.order.length }, () => false);
  }

  /** Retained history entries over all histories (what rule 7 keeps bounded). */
  get historyEntries(): number {
    return this.knowledge.entryCount;
  }

  /** The most history entries this group held at the end of any step. */
  get historyPeak(): number {
    return this.historyEntriesPeak;
  }

  /** Messages known to the history graph. */
  get graphVertices(): number {
    return this.knowledge.vertexCount;
  }

  /** Messages received from their lca (or acknowledged) and not yet delivered. */
  get pendingCount(): number {
    return this.pending.size;
  }

  get pendingNotificationCount(): number {
    return this.notificationsWaiting;
  }

  /** Messages handed to the application. */
  get delivered(): number {
    return this.deliveredCount;
  }

  get flushesIssued(): number {
    return this.flushes;
  }

  /** Rule 9: client multicasts held back now, waiting for a flush's completion. */
  get heldRequests(): number {
    return this.held.length - this.heldHead;
  }

  /** Rule 9: client multicasts ever held back. */
  get requestsHeldBack(): number {
    return this.heldCount;
  }

  /** Rule 9: the retained-history bound of every group of this order, in entries (see "The bound"). */
  get historyEntriesBound(): number {
    return historyBound(this.admissionEntriesMax, this.overlay.order.length);
  }

  /**
   * Reconfiguration: the requests held back (rule 9), handed over; this instance admits nothing
   * more (its view ended at a VIEW it ordered).
   */
  takeHeldRequests(): readonly Multicast[] {
    this.closed = true;
    const taken = this.held.slice(this.heldHead);
    this.held = [];
    this.heldHead = 0;
    return taken;
  }

  /**
   * The whole state as plain data (state.ts): every field but the configuration, the history
   * graph with its sharing, orders and caches as they are, so a group restored from it takes
   * every later step exactly as this one would. Replicas snapshot at the same positions, so the
   * space let go first is let go at all of them alike.
   */
  snapshot(): ObjectGraph {
    // What was delivered or collected is let go first (as deliverReady and garbage collection do
    // every 1024 entries; no decision changes): the snapshot holds what is still needed.
    for (let lca = 0; lca < this.position; lca += 1) {
      (this.queues[lca] as MessageId[]).splice(0, this.queueHeads[lca]);
      this.queueHeads[lca] = 0;
    }
    this.held.splice(0, this.heldHead);
    this.heldHead = 0;
    this.knowledge.compactStorage();
    const state: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(this))
      if (!CONFIGURATION_FIELDS.has(field)) state[field] = value;
    return encodeGraph(state, STATE_CLASSES);
  }

  /** Puts back what `snapshot` returned, on a fresh group of the same configuration. */
  restore(state: unknown): void {
    assert(this.deliveredCount === 0 && this.pending.size === 0, "FlexCast restores into a fresh group");
    const fields = decodeGraph(state as ObjectGraph, STATE_CLASSES) as Record<string, unknown>;
    for (const field of Object.keys(this)) {
      if (CONFIGURATION_FIELDS.has(field)) continue;
      assert(field in fields, () => `FlexCast state lacks ${field}`);
      (this as unknown as Record<string, unknown>)[field] = fields[field];
    }
  }

  step(input: GroupInput<FlexCastMessage>): readonly GroupOutput<FlexCastMessage>[] {
    this.stepInto(input, this.collector);
    return this.collector.take();
  }

  /**
   * The step itself: its outputs go to `outputs` as they arise. Nothing keeps `input` (only the
   * message and body it carries), so the caller may reuse it.
   */
  stepInto(input: GroupInput<FlexCastMessage>, outputs: GroupOutputSink<FlexCastMessage>): void {
    switch (input.kind) {
      case "request":
        this.onRequest(input.message, outputs);
        break;
      case "peer":
        if (input.body.type === "done") this.onFlushDone(input.from, input.body, outputs);
        else this.onPeer(input.from, input.body);
        break;
      default:
        assertNever(input, "input");
    }
    this.deliverReady(outputs);
    this.answerNotifications(outputs);
    this.maybeFlush(outputs);
    this.knowledge.collectGarbage();
    if (this.knowledge.entryCount > this.historyEntriesPeak)
      this.historyEntriesPeak = this.knowledge.entryCount;
  }

  /** Rule 2: the lca delivers on arrival. */
  private onRequest(message: Multicast, outputs: GroupOutputSink<FlexCastMessage>): void {
    // A local message's lca is its one destination (most requests: no lookup of a position).
    const dst = message.dst;
    const lca = dst.length === 1 ? dst[0] : dst.includes(this.group) ? this.overlay.lca(dst) : undefined;
    if (lca !== this.group)
      assert(false, `${this.group} got ${message.id} for ${dst.join(",")}, not as its lca`);
    if (message.id.startsWith(FLUSH_PREFIX)) assert(false, `client message ${message.id} looks like a flush`);
    if (dst.length === 1) {
      this.deliveredCount += 1;
      outputs.deliver(message);
      return;
    }
    // Rule 9: in arrival order, within the admission share; the rest waits for a completion.
    if (this.heldHead < this.held.length || !this.admits(dst.length)) {
      if (!(this.held.length - this.heldHead < HELD_REQUESTS_MAX))
        assert(false, `${this.group} holds ${HELD_REQUESTS_MAX} multicasts back`);
      this.held.push(message);
      this.heldCount += 1;
      return;
    }
    this.admit(message, outputs);
  }

  /** Rule 9: whether a multicast to `size` groups may be ordered now. */
  private admits(size: number): boolean {
    if (!this.options.boundHistory) return true;
    if (this.closed) return false;
    const since = this.admittedEntries - this.completedMark;
    return since === 0 || since + size <= this.admissionEntriesMax;
  }

  /** Rule 2 for a client's multicast to several groups, admitted (rule 9). */
  private admit(message: Multicast, outputs: GroupOutputSink<FlexCastMessage>): void {
    this.deliveredCount += 1;
    this.admittedEntries += message.dst.length;
    const positions = positionsInOrder(message.dst, this.overlay);
    outputs.deliver(message);
    this.deliverAsLca({ id: message.id, dst: positions }, message, outputs);
    // Reconfiguration: nothing is ordered in this view after the request that ends it.
    if (this.changesView?.(message) === true) this.closed = true;
  }

  /** Rule 9: the last group delivered a flush this group delivered; held multicasts may go now. */
  private onFlushDone(from: GroupId, body: FlexFlushDone, outputs: GroupOutputSink<FlexCastMessage>): void {
    if (this.overlay.position(from) !== this.overlay.order.length - 1)
      assert(false, `${this.group} told by ${from}, not the last group, that ${body.id} is done`);
    // The last group delivers this group's flushes in the order issued, and links are FIFO.
    const own = this.flushesInFlight[0];
    let mark: number | undefined;
    if (own !== undefined && own.id === body.id) {
      mark = own.mark;
      this.flushesInFlight.shift();
    } else {
      mark = this.flushesAbove.get(body.id);
      this.flushesAbove.delete(body.id);
    }
    if (mark === undefined)
      assert(false, `${this.group} told that ${body.id} is done, no flush it awaits (or not its oldest)`);
    if (mark > this.completedMark) this.completedMark = mark;
    while (this.heldHead < this.held.length) {
      const message = this.held[this.heldHead] as Multicast;
      if (!this.admits(message.dst.length)) break;
      this.held[this.heldHead] = undefined as unknown as Multicast;
      this.heldHead += 1;
      this.admit(message, outputs);
    }
    if (this.heldHead === this.held.length) {
      this.held = [];
      this.heldHead = 0;
    } else if (this.heldHead > 1024 && this.heldHead * 2 > this.held.length) {
      this.held.splice(0, this.heldHead);
      this.heldHead = 0;
    }
  }

  private deliverAsLca(
    entry: HistoryEntry,
    message: Multicast | null,
    outputs: GroupOutputSink<FlexCastMessage>,
  ): void {
    assert(entry.dst[0] === this.position, "the lca is the first destination");
    // A message this group orders first was unknown here, so nothing waits for it.
    this.knowledge.deliver(this.knowledge.fresh(entry));
    this.knowledge.targetsOfDelivered(this.targets);
    const notifs = this.notify(entry.id, entry.dst, outputs);
    for (const to of entry.dst) {
      if (to === this.position) continue;
      const body: FlexForward = {
        type: "msg",
        id: entry.id,
        dst: entry.dst,
        message,
        hst: this.knowledge.windowsFor(to),
        notifs,
      };
      outputs.send(this.groupAt(to), body);
    }
    if (entry.flush !== true) this.deliveriesSinceFlush += 1;
  }

  private onPeer(from: GroupId, body: Exclude<FlexCastMessage, FlexFlushDone>): void {
    const sender = this.overlay.position(from);
    if (sender >= this.position)
      assert(false, `${from} is below ${this.group}: traffic flows down the order`);
    if (!sortedPositions(body.dst)) assert(false, `${body.id}: destinations are sorted positions`);
    this.knowledge.merge(sender, body.hst); // rule 1: whatever the message, its windows first
    switch (body.type) {
      case "msg":
        this.onForward(sender, body);
        break;
      case "ack":
        this.onAck(sender, body);
        break;
      case "notif":
        this.onNotification(sender, body);
        break;
      default:
        assertNever(body, "FlexCast message");
    }
  }

  /** Rule 3: a copy from the lca joins the lca's queue. */
  private onForward(sender: Position, body: FlexForward): void {
    if (body.dst[0] !== sender) assert(false, `${body.id} forwarded by ${sender}, not its lca`);
    if (!body.dst.includes(this.position))
      assert(false, `${body.id} forwarded to ${this.group}, no destination`);
    assert((body.message === null) === body.id.startsWith(FLUSH_PREFIX), "only flushes carry no message");
    const vertex = this.knowledge.vertex(body.id);
    if (vertex === undefined || vertex.delivered) assert(false, `the lca's window holds ${body.id}`);
    const pending = this.pendingOf(body.id);
    if (pending.forward !== undefined) assert(false, `${body.id} forwarded twice`);
    pending.forward = body;
    pending.vertex = vertex;
    this.register(pending, sender, body.notifs);
    const queue = this.queues[sender] as MessageId[];
    queue.push(body.id);
    if (queue.length - (this.queueHeads[sender] as number) === 1) this.markHeadDirty(sender);
  }

  /** Rule 6: an acknowledgement from a destination or an answer from a notified group. */
  private onAck(sender: Position, body: FlexAck): void {
    if (!body.dst.includes(this.position))
      assert(false, `ack for ${body.id} at ${this.group}, no destination`);
    const pending = this.pendingOf(body.id);
    this.register(pending, sender, body.notifs);
    // An acknowledgement or an answer for the head of its lca's queue: it may be ready now.
    const lca = body.dst[0] as Position;
    if (this.queues[lca]?.[this.queueHeads[lca] as number] === body.id) this.markHeadDirty(lca);
    if (body.answers === undefined) {
      if (!(body.dst.includes(sender) && sender > (body.dst[0] as number)))
        assert(false, `${sender} acknowledged ${body.id} as a destination below its lca`);
      if (pending.acks.includes(sender)) assert(false, `${sender} acknowledged ${body.id} twice`);
      pending.acks.push(sender);
      return;
    }
    if (body.dst.includes(sender)) assert(false, `${sender} answered a notification for its own ${body.id}`);
    const key = `${body.answers.notifier}:${body.answers.seq}`;
    pending.notifications ??= new Map();
    const state = pending.notifications.get(key);
    if (state === "answered") assert(false, `notification ${key} for ${body.id} answered twice`);
    if (state === "registered") {
      pending.notifications.delete(key);
      pending.unanswered -= 1;
    } else {
      pending.notifications.set(key, "answered");
    }
  }

  /** Rule 5: a notification waits until nothing undelivered here precedes its message. */
  private onNotification(sender: Position, body: FlexNotif): void {
    const last = body.dst[body.dst.length - 1] as number;
    if (!(!body.dst.includes(this.position) && sender < this.position && this.position < last))
      assert(false, `${this.group} notified for ${body.id} though not between its destinations`);
    const chain = body.chain;
    if (chain !== undefined) {
      if (this.options.notifications !== "chain") assert(false, `${this.group} got a chained notification`);
      if (chain.notifier > sender) assert(false, `notification for ${body.id} chained up the order`);
      let previous = this.position;
      for (const target of chain.rest) {
        if (!(target > previous && target < last && !body.dst.includes(target)))
          assert(false, `notification for ${body.id} chained to ${target}, no target below ${this.group}`);
        previous = target;
      }
    }
    this.notificationsToCheck.push({
      id: body.id,
      dst: body.dst,
      notifier: chain?.notifier ?? sender,
      seq: body.seq,
      rest: chain?.rest ?? NO_POSITIONS,
      arrival: this.notificationArrivals,
      blockedBy: undefined,
      epoch: this.knowledge.epochBefore(this.knowledge.vertex(body.id)),
    });
    this.notificationArrivals += 1;
    this.notificationsWaiting += 1;
  }

  /** Rules 4 and 6: registers the notifications `emitter` sent for a message, those above this group. */
  private register(pending: Pending, emitter: Position, notifs: readonly NotificationRef[]): void {
    for (const { target, seq } of notifs) {
      assert(target > emitter, "notifications go down");
      if (target > this.position) continue; // it answers the destinations below it
      if (target === this.position) assert(false, `${this.group} is a destination and was notified`);
      const key = `${emitter}:${seq}`;
      pending.notifications ??= new Map();
      const state = pending.notifications.get(key);
      if (state === "registered") assert(false, `notification ${key} registered twice`);
      if (state === "answered") {
        pending.notifications.delete(key);
      } else {
        pending.notifications.set(key, "registered");
        pending.unanswered += 1;
      }
    }
  }

  /**
   * Rule 3: delivers queue heads while any qualifies, in passes over the queues in order (one head
   * per queue per pass), checking only the heads something happened to (`headDirty`).
   */
  private deliverReady(outputs: GroupOutputSink<FlexCastMessage>): void {
    while (this.dirtyHeads > 0) {
      for (let lca = 0; lca < this.position; lca += 1) {
        if (!this.headDirty[lca]) continue;
        this.headDirty[lca] = false;
        this.dirtyHeads -= 1;
        const queue = this.queues[lca] as MessageId[];
        const head = queue[this.queueHeads[lca] as number];
        if (head === undefined) continue;
        const pending = this.pending.get(head);
        if (pending?.forward === undefined) assert(false, `queued ${head} has its copy`);
        if (!this.ready(pending, pending.forward, lca)) continue;
        this.queueHeads[lca] = (this.queueHeads[lca] as number) + 1;
        if ((this.queueHeads[lca] as number) > 1024 && (this.queueHeads[lca] as number) * 2 > queue.length) {
          queue.splice(0, this.queueHeads[lca]);
          this.queueHeads[lca] = 0;
        }
        // The next head is new: it is checked in the next pass.
        if ((this.queueHeads[lca] as number) < queue.length) this.markHeadDirty(lca);
        this.deliverForwarded(head, pending, pending.forward, outputs);
      }
    }
  }

  private markHeadDirty(lca: Position): void {
    if (this.headDirty[lca]) return;
    this.headDirty[lca] = true;
    this.dirtyHeads += 1;
  }

  /** Whether the head of queue `lca` is ready; when a message blocks it, it waits for that one. */
  private ready(pending: Pending, forward: FlexForward, lca: Position): boolean {
    // (2) every destination strictly between the lca and this group.
    let acksNeeded = 0;
    for (const group of forward.dst)
      if (group > (forward.dst[0] as number) && group < this.position) acksNeeded += 1;
    if (pending.acks.length < acksNeeded) return false;
    assert(pending.acks.length === acksNeeded, "acks only from destinations in between");
    // (3) every registered notification answered.
    if (pending.unanswered > 0) return false;
    // (4) nothing undelivered for this group precedes it.
    if (pending.blockedBy !== undefined && this.knowledge.vertex(pending.blockedBy)?.delivered === false)
      return false;
    pending.blockedBy = this.knowledge.firstBlocker(pending.vertex as Vertex);
    if (pending.blockedBy === undefined) return true;
    const waiters = this.headWaiters.get(pending.blockedBy);
    if (waiters === undefined) this.headWaiters.set(pending.blockedBy, [lca]);
    else waiters.push(lca);
    return false;
  }

  private deliverForwarded(
    id: MessageId,
    pending: Pending,
    forward: FlexForward,
    outputs: GroupOutputSink<FlexCastMessage>,
  ): void {
    // Every emitter above this group was heard from, so every registration arrived.
    if (!(pending.notifications === undefined || pending.notifications.size === 0))
      assert(false, `${id} delivered with stray notification answers`);
    this.pending.delete(id);
    this.knowledge.deliver(pending.vertex as Vertex);
    this.wakeWaitersOf(id);
    if (forward.message !== null) {
      this.deliveredCount += 1;
      outputs.deliver(forward.message);
      this.deliveriesSinceFlush += 1;
    }
    this.knowledge.targetsOfDelivered(this.targets);
    const notifs = this.notify(id, forward.dst, outputs);
    for (const to of forward.dst) {
      if (to <= this.position) continue;
      const body: FlexAck = { type: "ack", id, dst: forward.dst, hst: this.knowledge.windowsFor(to), notifs };
      outputs.send(this.groupAt(to), body);
    }
    if (this.options.boundHistory && forward.message === null) {
      if (this.position === this.overlay.order.length - 1) {
        // Rule 9: the last group delivered a flush, so every destination did (rule 3(2)).
        const done: FlexFlushDone = { type: "done", id };
        for (const to of forward.dst) if (to !== this.position) outputs.send(this.groupAt(to), done);
      } else {
        this.flushesAbove.set(id, this.admittedEntries);
        this.coveredMark = this.admittedEntries;
      }
    }
  }

  /** `id` was delivered: the queue heads and notifications it blocked are checked again. */
  private wakeWaitersOf(id: MessageId): void {
    const heads = this.headWaiters.get(id);
    if (heads !== undefined) {
      this.headWaiters.delete(id);
      for (const lca of heads) this.markHeadDirty(lca);
    }
    const notifications = this.notificationWaiters.get(id);
    if (notifications !== undefined) {
      this.notificationWaiters.delete(id);
      for (const waiting of notifications) this.notificationsToCheck.push(waiting);
    }
  }

  /**
   * Rule 5: answers every notification whose message no undelivered message for this group
   * precedes (recomputed from the current graph; a cached blocker is only trusted until it is
   * delivered). Only new notifications and those whose blocker was delivered are checked: for the
   * others nothing changed. Those that are due are answered in the order they arrived.
   */
  private answerNotifications(outputs: GroupOutputSink<FlexCastMessage>): void {
    if (this.notificationsToCheck.length === 0) return;
    const candidates = this.notificationsToCheck;
    this.notificationsToCheck = [];
    if (candidates.length > 1) candidates.sort((a, b) => a.arrival - b.arrival);
    for (const waiting of candidates) {
      const vertex = this.answerableVertex(waiting);
      if (vertex === null) {
        const blocker = waiting.blockedBy as MessageId;
        const waiters = this.notificationWaiters.get(blocker);
        if (waiters === undefined) this.notificationWaiters.set(blocker, [waiting]);
        else waiters.push(waiting);
        continue;
      }
      this.notificationsWaiting -= 1;
      const ownLength = this.knowledge.mine.end;
      const lastRound = this.lastRound.get(waiting.id);
      const ownRound = lastRound !== ownLength;
      if (ownRound) {
        const epoch = Math.max(waiting.epoch, this.knowledge.epochBefore(vertex));
        this.knowledge.targetsOfNotified(vertex, epoch, waiting.dst, this.targets);
        // Moved to the end of the eviction order (a message not in the map has nothing to move).
        if (lastRound !== undefined) this.lastRound.delete(waiting.id);
        this.lastRound.set(waiting.id, ownLength);
        if (this.lastRound.size > LAST_ROUND_MAX)
          this.lastRound.delete(this.lastRound.keys().next().value as string);
      }
      if (this.options.notifications === "chain") {
        if (!ownRound) this.targets.fill(false);
        this.passOn(waiting, outputs);
        continue;
      }
      const notifs = ownRound ? this.notify(waiting.id, waiting.dst, outputs) : NO_REFS;
      for (const to of waiting.dst) {
        if (to <= this.position) continue;
        const body: FlexAck = {
          type: "ack",
          id: waiting.id,
          dst: waiting.dst,
          hst: this.knowledge.windowsFor(to),
          notifs,
          answers: { notifier: waiting.notifier, seq: waiting.seq },
        };
        outputs.send(this.groupAt(to), body);
      }
    }
  }

  /**
   * Rule 5: null while an undelivered message for this group precedes the notified one (then
   * `blockedBy`), else the notified message's vertex, which its answer goes on with (one lookup
   * by id): undefined once collected, so dead here, so nothing undelivered for this group
   * precedes it.
   */
  private answerableVertex(waiting: PendingNotification): Vertex | undefined | null {
    if (waiting.blockedBy !== undefined && this.knowledge.vertex(waiting.blockedBy)?.delivered === false)
      return null;
    const vertex = this.knowledge.vertex(waiting.id);
    waiting.blockedBy = vertex === undefined ? undefined : this.knowledge.firstBlocker(vertex);
    return waiting.blockedBy === undefined ? vertex : null;
  }

  /**
   * Rule 4: notifications for a message, from this group, to the groups between it and the last
   * destination that are no destination and that `targets` marks; returns what its copies/acks carry.
   */
  private notify(
    id: MessageId,
    dst: readonly Position[],
    outputs: GroupOutputSink<FlexCastMessage>,
  ): readonly NotificationRef[] {
    if (this.options.notifications === "chain") {
      const targets = this.markedTargets(dst);
      const first = targets[0];
      if (first === undefined) return NO_REFS;
      const seq = this.notificationSeq;
      this.notificationSeq += 1;
      const chain = { notifier: this.position, rest: targets.slice(1) };
      const body: FlexNotif = { type: "notif", id, dst, seq, hst: this.knowledge.windowsFor(first), chain };
      outputs.send(this.groupAt(first), body);
      return [{ target: first, seq }];
    }
    // Most deliveries notify nobody: the shared empty list then.
    let refs: NotificationRef[] | undefined;
    const last = dst[dst.length - 1] as number;
    for (let target = this.position + 1; target < last; target += 1) {
      if (dst.includes(target) || this.targets[target] !== true) continue;
      const seq = this.notificationSeq;
      this.notificationSeq += 1;
      const body: FlexNotif = { type: "notif", id, dst, seq, hst: this.knowledge.windowsFor(target) };
      outputs.send(this.groupAt(target), body);
      refs ??= [];
      refs.push({ target, seq });
    }
    return refs ?? NO_REFS;
  }

  /**
   * Rule 8: a chained notification, once this group may answer it (rule 5), goes on to the next
   * of its remaining targets and of this group's own (`targets`, rule 4); the answer goes to the
   * destinations between this group and that next target (all below it when none is left). Each
   * destination thus hears one answer per chain, from the last target above it, and that answer
   * carries, relayed in its windows, every earlier target's history as it was when the chain left
   * it — what each target's own answer would have carried. Each target was sent, relayed the same
   * way, the emitter's and every earlier target's knowledge, so it waits for at least what it
   * would have waited for when notified directly and by the earlier targets' own rounds.
   */
  private passOn(waiting: PendingNotification, outputs: GroupOutputSink<FlexCastMessage>): void {
    for (const target of waiting.rest) this.targets[target] = true;
    const targets = this.markedTargets(waiting.dst);
    const next = targets[0];
    if (next !== undefined) {
      const body: FlexNotif = {
        type: "notif",
        id: waiting.id,
        dst: waiting.dst,
        seq: waiting.seq,
        hst: this.knowledge.windowsFor(next),
        chain: { notifier: waiting.notifier, rest: targets.slice(1) },
      };
      outputs.send(this.groupAt(next), body);
    }
    for (const to of waiting.dst) {
      if (to <= this.position || (next !== undefined && to > next)) continue;
      const body: FlexAck = {
        type: "ack",
        id: waiting.id,
        dst: waiting.dst,
        hst: this.knowledge.windowsFor(to),
        notifs: NO_REFS,
        answers: { notifier: waiting.notifier, seq: waiting.seq },
      };
      outputs.send(this.groupAt(to), body);
    }
  }

  /** The groups `targets` marks below this one and above `dst`'s last that are no destination, ascending. */
  private markedTargets(dst: readonly Position[]): Position[] {
    const marked: Position[] = [];
    const last = dst[dst.length - 1] as number;
    for (let target = this.position + 1; target < last; target += 1)
      if (this.targets[target] === true && !dst.includes(target)) marked.push(target);
    return marked;
  }

  /** Rule 7: a flush to this group and every group below, every `flushEvery` deliveries or its share of the history budget. */
  private maybeFlush(outputs: GroupOutputSink<FlexCastMessage>): void {
    const groupCount = this.overlay.order.length;
    if (this.position === groupCount - 1) return;
    // The budget counts the own history still held (flushes from above included), and needs a
    // delivery of this group's own since its last flush: flushes alone never set off flushes.
    const overBudget =
      this.deliveriesSinceFlush > 0 && this.knowledge.ownEntriesUnsent >= this.flushRetainedMax;
    // Rule 9: admitted entries no flush covers yet, half the share of them or any held back.
    const uncovered = this.admittedEntries - this.coveredMark;
    const forAdmission =
      this.options.boundHistory &&
      uncovered > 0 &&
      (2 * uncovered >= this.admissionEntriesMax || this.heldHead < this.held.length);
    if (this.deliveriesSinceFlush < this.options.flushEvery && !overBudget && !forAdmission) return;
    // A few flushes in flight at a time (rule 9); one due meanwhile waits for a completion.
    if (this.options.boundHistory && this.flushesInFlight.length >= FLUSHES_IN_FLIGHT_MAX) return;
    this.deliveriesSinceFlush = 0;
    this.flushes += 1;
    const id = `${FLUSH_PREFIX}${this.group}/${this.flushes}`;
    if (this.options.boundHistory) {
      this.flushesInFlight.push({ id, mark: this.admittedEntries });
      this.coveredMark = this.admittedEntries;
    }
    const dst = Array.from({ length: groupCount - this.position }, (_, index) => this.position + index);
    this.deliverAsLca({ id, dst, flush: true }, null, outputs);
  }

  private pendingOf(id: MessageId): Pending {
    let pending = this.pending.get(id);
    if (pending === undefined) {
      pending = {
        forward: undefined,
        vertex: undefined,
        acks: [],
        notifications: undefined,
        unanswered: 0,
        blockedBy: undefined,
      };
      this.pending.set(id, pending);
    }
    return pending;
  }

  private groupAt(position: Position): GroupId {
    return this.overlay.order[position] as GroupId;
  }
}

/** The C-DAG positions of `dst`, ascending (an insertion sort: destination sets are short). */
function positionsInOrder(dst: DestinationSet, overlay: CdagOverlay): Position[] {
  const positions: Position[] = [];
  for (const group of dst) {
    const position = overlay.position(group);
    let at = positions.length;
    while (at > 0 && (positions[at - 1] as number) > position) {
      positions[at] = positions[at - 1] as number;
      at -= 1;
    }
    positions[at] = position;
  }
  return positions;
}

/** At least two positions, strictly ascending. */
function sortedPositions(dst: readonly Position[]): boolean {
  if (dst.length < 2) return false;
  for (let index = 1; index < dst.length; index += 1)
    if (!((dst[index - 1] as number) < (dst[index] as number))) return false;
  return true;
}

/**
 * Modelled wire bytes of the windows' entries, remembered per entries array: windows share their
 * arrays (`History.slice`), so a stretch sent to many descendants is counted once. Short arrays
 * are cheaper to count than to look up.
 */
const ENTRIES_BYTES_CACHED_FROM = 16;
const entriesBytesCache = new WeakMap<readonly HistoryEntry[], number>();

function entriesBytes(windows: readonly HistoryWindow[]): number {
  let bytes = 0;
  for (const window of windows) {
    const entries = window.entries;
    let windowBytes = entries.length < ENTRIES_BYTES_CACHED_FROM ? undefined : entriesBytesCache.get(entries);
    if (windowBytes === undefined) {
      windowBytes = 0;
      for (const entry of entries) windowBytes += 2 + entry.id.length + entry.dst.length;
      if (entries.length >= ENTRIES_BYTES_CACHED_FROM) entriesBytesCache.set(entries, windowBytes);
    }
    bytes += 6 + windowBytes;
  }
  return bytes;
}

function describeFlexCast(body: FlexCastMessage): WireDescription {
  if (body.type === "done") return { kind: "flush-done", id: body.id, bytes: 8 + body.id.length };
  const common = 8 + body.id.length + body.dst.length + entriesBytes(body.hst);
  switch (body.type) {
    case "msg": {
      const message = body.message;
      let carried = 0;
      if (message !== null) {
        carried = 4 + message.client.length + message.payloadBytes;
        for (const group of message.dst) carried += group.length;
      }
      return {
        kind: body.message === null ? "flush" : "msg",
        id: body.id,
        bytes: common + carried + 4 * body.notifs.length,
      };
    }
    case "ack":
      return {
        kind: body.answers === undefined ? "ack" : "notif-ack",
        id: body.id,
        bytes: common + 4 * body.notifs.length + (body.answers === undefined ? 0 : 4),
      };
    case "notif":
      return {
        kind: "notif",
        id: body.id,
        bytes: common + 4 + (body.chain === undefined ? 0 : 2 + body.chain.rest.length),
      };
    default:
      return assertNever(body, "FlexCast message");
  }
}

/**
 * Rule 9: a group's admission share of the budget `historyEntriesMax` among `groupCount` groups:
 * what is left after the flushes in flight (`flushEntriesMax`), divided by the groups; at least 1.
 */
function admissionShare(historyEntriesMax: number, groupCount: number): number {
  return Math.max(1, Math.floor((historyEntriesMax - flushEntriesMax(groupCount)) / groupCount));
}

/** Rule 9: entries of flushes in flight a group can hold: FLUSHES_IN_FLIGHT_MAX per group above or at it, one per history from its issuer down. */
function flushEntriesMax(groupCount: number): number {
  return (FLUSHES_IN_FLIGHT_MAX * groupCount * (groupCount + 1)) / 2;
}

/**
 * Rule 9: the bound on the entries any group retains ("The bound"): every group's admitted
 * entries since its last completed flush, at most the share or one multicast's destinations
 * (at most all groups), plus the flushes in flight. At most `historyEntriesMax` when the share
 * is at least the number of groups.
 */
function historyBound(share: number, groupCount: number): number {
  return groupCount * Math.max(share, groupCount) + flushEntriesMax(groupCount);
}

function cdagOf(overlay: Overlay | null): CdagOverlay {
  assert(overlay?.kind === "cdag", "FlexCast needs a C-DAG overlay");
  return overlay;
}

/**
 * An experiment's FlexCast parameters (`params` of its protocol entry): `notifications`, the
 * notification pattern (rule 8), "direct" unless given; `boundHistory` (rule 9, false unless
 * given) and `historyEntriesMax` (the budget, 16384 unless given).
 */
export interface FlexCastParams {
  readonly notifications: NotificationPattern;
  /** Rule 9 on or off (`FlexCastOptions.boundHistory`); the protocol's option when absent. */
  readonly boundHistory?: boolean;
  /** The retained-history budget (`FlexCastOptions.historyEntriesMax`); the option when absent. */
  readonly historyEntriesMax?: number;
}

/** FlexCast with other options (the registered `flexcast` uses the defaults; `params` override them). */
export function flexcastProtocol(
  options: Partial<FlexCastOptions> = {},
): OverlayProtocolDefinition<FlexCastMessage, FlexCastParams | undefined> {
  const resolved: FlexCastOptions = { ...DEFAULT_FLEXCAST_OPTIONS, ...options };
  const patternOf = (params: FlexCastParams | undefined): NotificationPattern =>
    params?.notifications ?? resolved.notifications;
  return {
    name: "flexcast",
    overlayKind: "cdag",
    parseParams: (params): FlexCastParams => {
      const notifications = params.optionalString("notifications") ?? resolved.notifications;
      if (!(NOTIFICATION_PATTERNS as readonly string[]).includes(notifications))
        throw params.error(
          "notifications",
          `expected ${listNames(NOTIFICATION_PATTERNS)}, got ${describeValue(notifications)}`,
        );
      return {
        notifications: notifications as NotificationPattern,
        boundHistory: params.boolean("boundHistory", resolved.boundHistory),
        historyEntriesMax: params.number(
          "historyEntriesMax",
          { integer: true, min: 1 },
          resolved.historyEntriesMax,
        ),
      };
    },
    entryGroups: (dst, { overlay }) => [cdagOf(overlay).lca(dst)],
    createGroup: (config) =>
      new FlexCastGroup(
        config,
        config.params === undefined
          ? resolved
          : {
              ...resolved,
              notifications: config.params.notifications,
              boundHistory: config.params.boundHistory ?? resolved.boundHistory,
              historyEntriesMax: config.params.historyEntriesMax ?? resolved.historyEntriesMax,
            },
      ),
    describe: describeFlexCast,
    // Reconfiguration needs to see a multicast inside a forward (a flush carries none).
    carried: (body) => (body.type === "msg" ? (body.message ?? undefined) : undefined),
    modelLatencyMs: (dst, { overlay, params }, latency) =>
      flexcastLatencyMs(dst, cdagOf(overlay), latency, patternOf(params)),
  };
}

export const flexcast: OverlayProtocolDefinition<FlexCastMessage, FlexCastParams | undefined> =
  flexcastProtocol();
