import type { ClientId, DestinationSet } from "@amcast/core";
import { assert } from "@amcast/core";
import { SequenceMap } from "./sequence-map.js";
import type { ClientsState } from "./snapshot.js";
import { compareText } from "./snapshot.js";
import type { GroupWire } from "./wire.js";

/**
 * How far apart (in sequence numbers) two requests of one client may be while both are still
 * unanswered. Clients keep far fewer in flight (`outstandingMax`), so anything further behind the
 * newest executed request is a replay.
 */
export const CLIENT_SEQ_WINDOW = 16_384;

interface ClientTable {
  /** Requests below this sequence number count as executed. */
  floor: number;
  /**
   * Requests at or above `floor` that were executed, with the reply this replica sent for each
   * (null until it is sent), for retries; or that the logic refused, with the redirect sent (see
   * `forget`). Entries below the floor are removed as it rises; they all lie within `window` of
   * it, so the ring never overflows.
   */
  readonly executed: SequenceMap<GroupWire | null>;
  /**
   * The destinations of the client's last request that passed the replica's request checks: a
   * cache, not state (a snapshot leaves it out).
   */
  checkedDst: DestinationSet | undefined;
}

/** The entry of (its client's) `seq` at or above the floor: undefined when there is none. */
function entryAt(table: ClientTable | undefined, seq: number): GroupWire | null | undefined {
  return table === undefined || seq < table.floor ? undefined : table.executed.get(seq);
}

/** Whether an entry says the request ran here (its reply sent or not yet), not that it was refused. */
function ranHere(entry: GroupWire | null | undefined): boolean {
  return entry !== undefined && entry?.t !== "redirect";
}

/**
 * At-most-once execution per (client, sequence number), and the reply cache that answers a retry
 * without executing twice. Bounded per client by `CLIENT_SEQ_WINDOW`; bounded in clients by the
 * clients that exist (a replica is told of every client by its requests).
 */
export class ClientRequests {
  private readonly tables = new Map<ClientId, ClientTable>();
  /** The last table looked up: a request's reply comes right after it runs (one lookup, not two). */
  private lastClient: ClientId | undefined;
  private lastTable: ClientTable | undefined;

  constructor(private readonly window = CLIENT_SEQ_WINDOW) {
    assert(window > 0, "the sequence window holds something");
  }

  private table(client: ClientId): ClientTable | undefined {
    if (client === this.lastClient) return this.lastTable;
    const table = this.tables.get(client);
    if (table !== undefined) {
      this.lastClient = client;
      this.lastTable = table;
    }
    return table;
  }

  /**
   * The destination array of `client`'s last request that passed the request checks here
   * (`rememberCheckedDst`), if this replica keeps a table for it: proof that the client is no
   * replica and that this array is valid.
   */
  checkedDst(client: ClientId): DestinationSet | undefined {
    return this.table(client)?.checkedDst;
  }

  /** Notes that a request of `client` to `dst` passed the request checks (kept only if it has a table). */
  rememberCheckedDst(client: ClientId, dst: DestinationSet): void {
    const table = this.table(client);
    if (table !== undefined) table.checkedDst = dst;
  }

  /**
   * Whether (client, seq) sent under `view` needs no execution here: it was executed, or the
   * client settled it, or the logic refused it as sent under `view` or an older view (the client
   * was redirected to send it again under a newer one; a copy of an older version is stale).
   */
  isExecuted(client: ClientId, seq: number, view: number): boolean {
    const table = this.table(client);
    if (table === undefined) return false;
    if (seq < table.floor) return true;
    const entry = table.executed.get(seq);
    return entry !== undefined && !(entry?.t === "redirect" && entry.requestView < view);
  }

  /**
   * Marks (client, seq), sent under `view`, executed; false when it needs no execution
   * (`isExecuted`: a repeat to drop). `settled` (at most `seq`) is the client's word that it has
   * the answers to every request below it: those are forgotten, so a client's table holds about
   * what it keeps in flight rather than its history.
   */
  markExecuted(client: ClientId, seq: number, view: number, settled = 0): boolean {
    assert(settled <= seq, "a client settles only requests below the one it sends");
    let table = this.table(client);
    if (table === undefined) {
      table = { floor: 0, executed: new SequenceMap(this.window), checkedDst: undefined };
      this.tables.set(client, table);
    }
    if (this.isExecuted(client, seq, view)) return false;
    // Slide the window: everything far behind the newest request is settled anyway. (The floor
    // stays at or below `seq`; sliding first leaves the ring only what is still above it.)
    const floor = Math.max(settled, seq - this.window >= table.floor ? seq - Math.floor(this.window / 2) : 0);
    if (floor > table.floor) {
      table.executed.deleteBelow(floor, table.floor);
      table.floor = floor;
    }
    table.executed.set(seq, null);
    return true;
  }

  /**
   * Undoes `markExecuted` for a request the logic did not run after all: it refused the version
   * sent under `redirect.requestView` and the client is told to send it again under a newer view
   * (`redirect`): true. The request sent again (a newer view) may then run, while a copy of the
   * refused version or an older one counts as done (`isExecuted`): the group ordered it, and it
   * must not stay useful for ever at a replica that holds such a copy but skipped that execution
   * (it installed a checkpoint past it), nor run again whenever one is forwarded. A retry of the
   * refused version is answered with `redirect` (`cachedReply`). False, and nothing changes, when
   * the client no longer waits for it from this replica: it is below the client's floor (the
   * client said it holds every answer below a later request, or moved a whole window past it) or
   * this replica answered it (a Byzantine client can do both while the request waits in the logic).
   */
  forget(client: ClientId, seq: number, redirect: Extract<GroupWire, { t: "redirect" }>): boolean {
    const table = this.table(client);
    const entry = entryAt(table, seq);
    if (!(table !== undefined && (seq < table.floor || ranHere(entry))))
      assert(false, `${client}#${seq} was not executed`);
    // Answered (its reply is cached) or below the floor: the client no longer waits for it here.
    if (seq < table.floor || entry !== null) return false;
    table.executed.set(seq, redirect);
    return true;
  }

  recordReply(client: ClientId, seq: number, reply: GroupWire): void {
    assert(reply.t === "reply", "replies are cached");
    const table = this.table(client);
    if (!(table !== undefined && ranHere(entryAt(table, seq))))
      assert(false, `reply for ${client}#${seq}, which was not executed`);
    table.executed.set(seq, reply);
  }

  /**
   * Caches the reply to (client, seq) if this replica executed it (a protocol may deliver others'
   * requests): true then, and a retry of the request is answered from the cache. False for one
   * the logic refused here (a redirect is cached): the client sent it again elsewhere, so its
   * retries do not come here, and every replica must answer the delivery at once.
   */
  recordReplyIfExecuted(client: ClientId, seq: number, reply: GroupWire): boolean {
    assert(reply.t === "reply", "replies are cached");
    const table = this.table(client);
    if (table === undefined || !ranHere(entryAt(table, seq))) return false;
    table.executed.set(seq, reply);
    return true;
  }

  /**
   * The table as plain data, clients sorted, sequence numbers ascending. A cached reply is kept
   * without the delays this replica observed (they differ between replicas, and the snapshots of
   * a group's replicas must be equal): a retry answered from a restored cache carries none.
   */
  snapshot(): ClientsState {
    return [...this.tables.keys()].sort(compareText).map((client) => {
      const table = this.tables.get(client) as ClientTable;
      const executed = table.executed
        .entries()
        .filter(([seq]) => seq >= table.floor)
        .map(([seq, reply]) => {
          if (reply === null || reply.t !== "reply" || reply.delays === undefined)
            return [seq, reply] as const;
          const { delays: _delays, ...plain } = reply;
          return [seq, plain] as const;
        });
      return { client, floor: table.floor, executed };
    });
  }

  /** Puts back what `snapshot` returned, into an empty table. */
  restore(state: ClientsState): void {
    assert(this.tables.size === 0, "a client table restores into an empty one");
    this.lastClient = undefined;
    this.lastTable = undefined;
    for (const { client, floor, executed } of state) {
      const table: ClientTable = { floor, executed: new SequenceMap(this.window), checkedDst: undefined };
      for (const [seq, reply] of executed)
        if (seq >= floor) table.executed.set(seq, reply as GroupWire | null);
      this.tables.set(client, table);
    }
  }

  /**
   * The reply sent for (client, seq), if it was executed and delivered here and is still cached,
   * or the redirect sent when the logic refused it.
   */
  cachedReply(client: ClientId, seq: number): GroupWire | undefined {
    const table = this.table(client);
    if (table === undefined || seq < table.floor) return undefined;
    return table.executed.get(seq) ?? undefined;
  }
}
