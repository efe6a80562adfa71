import type { ClientId, GroupId, Multicast, ProcessId } from "@amcast/core";
import { assert } from "@amcast/core";
import type { SignedDigest } from "./auth.js";
import { canonical } from "./auth.js";

/**
 * What a group orders. Replicas feed their protocol logic only inputs that consensus decided,
 * in the decided order, so every correct replica takes the same steps.
 *
 * - `request`: a client's multicast, as the client sent it (signed by the client in Byzantine
 *   mode, so a leader cannot invent one).
 * - `copy`: one replica's copy of item `k` of the stream from group `fromGroup` to this group
 *   (signed by that replica in Byzantine mode). Copies of one item from several replicas are
 *   ordered like anything else; the item is taken once enough identical copies are ordered
 *   (see streams.ts), which keeps the sending group's order and defeats forgeries.
 */
export type OrderedInput = RequestInput | CopyInput;

export interface RequestInput {
  readonly kind: "request";
  /** One request per (client, seq): retries and replays collapse onto it. */
  readonly key: string;
  readonly client: ClientId;
  readonly seq: number;
  readonly message: Multicast;
  /** The overlay view the client addressed it under (reconfigurable protocols). */
  readonly view: number;
  /** Every request of the client below this one is answered (the client said so, signed). */
  readonly settled: number;
  /** Digest of the signed content (everything but the signature). */
  readonly digest: string;
  readonly signature: string;
  readonly bytes: number;
}

export interface CopyInput {
  readonly kind: "copy";
  /** One vote per (sending replica, item): a replica that sends two versions of k votes once. */
  readonly key: string;
  readonly sender: ProcessId;
  readonly fromGroup: GroupId;
  readonly k: number;
  readonly body: unknown;
  /** Digest of the item itself (group, k, body), the same for every honest sender. */
  readonly itemDigest: string;
  readonly digest: string;
  readonly signature: string;
  readonly bytes: number;
}

/**
 * Canonical text of the bodies and messages the group layer digests, and the item digest of a
 * stream body, kept per object. A copy of a stream item reaches every replica of the receiving
 * group as the very object its sender digested (the simulator hands objects over; Byzantine mode,
 * the only one that digests, runs only there), and nothing the group layer carries is changed once
 * sent. So the text of an item, which can be long (FlexCast's history windows), is made once per
 * item instead of once per copy, per receiver and per check, and its digest once per (item, stream
 * position, digest function). A Byzantine strategy that alters an item makes a new object.
 *
 * The texts below (`request|…`, `item|…`, `copy|…`, `batch|…`) are the one definition of what a
 * signature covers; the signature scheme's `SignedDigest` hashes them (see auth.ts).
 */
const canonicalByObject = new WeakMap<object, string>();
const itemDigestByObject = new WeakMap<
  object,
  { hash: SignedDigest; fromGroup: GroupId; k: number; item: string }
>();

function canonicalOf(value: unknown): string {
  if (typeof value !== "object" || value === null) return canonical(value);
  let text = canonicalByObject.get(value);
  if (text === undefined) {
    text = canonical(value);
    canonicalByObject.set(value, text);
  }
  return text;
}

/** Digest of item `k` of the stream from `fromGroup` with `body` (the same for every honest sender). */
function itemDigest(hash: SignedDigest, fromGroup: GroupId, k: number, body: unknown): string {
  if (typeof body !== "object" || body === null) return hash(`item|${fromGroup}|${k}|${canonical(body)}`);
  const known = itemDigestByObject.get(body);
  if (known !== undefined && known.hash === hash && known.fromGroup === fromGroup && known.k === k)
    return known.item;
  const item = hash(`item|${fromGroup}|${k}|${canonicalOf(body)}`);
  itemDigestByObject.set(body, { hash, fromGroup, k, item });
  return item;
}

/**
 * Digest of a request's content; the client signs this digest. Computed only where it matters
 * (Byzantine mode): without a digest function, `makeRequestInput` leaves it empty.
 */
export function requestDigest(
  hash: SignedDigest,
  client: ClientId,
  seq: number,
  message: Multicast,
  view: number,
  settled: number,
): string {
  return hash(`request|${client}|${seq}|${view}|${settled}|${canonicalOf(message)}`);
}

/**
 * The key of a request among inputs waiting to be ordered. The view is part of it: a request sent
 * again under a new view is not a repeat of the old-view one still waiting (which is redirected).
 */
export function requestKey(client: ClientId, seq: number, view: number): string {
  return `${client}#${seq}@${view}`;
}

export function makeRequestInput(
  client: ClientId,
  seq: number,
  message: Multicast,
  view: number,
  settled: number,
  signature: string,
  bytes: number,
  hash: SignedDigest | undefined,
): RequestInput {
  return {
    kind: "request",
    key: requestKey(client, seq, view),
    client,
    seq,
    message,
    view,
    settled,
    digest: hash === undefined ? "" : requestDigest(hash, client, seq, message, view, settled),
    signature,
    bytes,
  };
}

/**
 * Digests of a stream copy: of the item (the same for every honest sender) and of the copy as
 * its sender signs it. One canonical encoding of the body serves both.
 */
export function copyDigests(
  hash: SignedDigest,
  sender: ProcessId,
  fromGroup: GroupId,
  k: number,
  body: unknown,
): { item: string; signed: string } {
  const item = itemDigest(hash, fromGroup, k, body);
  return { item, signed: hash(`copy|${sender}|${item}`) };
}

export function makeCopyInput(
  sender: ProcessId,
  fromGroup: GroupId,
  k: number,
  body: unknown,
  signature: string,
  bytes: number,
  hash: SignedDigest | undefined,
): CopyInput {
  const digests =
    hash === undefined ? { item: "", signed: "" } : copyDigests(hash, sender, fromGroup, k, body);
  return {
    kind: "copy",
    key: `${sender}#${k}`,
    sender,
    fromGroup,
    k,
    body,
    itemDigest: digests.item,
    digest: digests.signed,
    signature,
    bytes,
  };
}

/**
 * Digest of a batch: of its inputs' digests in order (an empty batch is a no-op). Kept per batch
 * object: a replica checks a proposal's batch and executes the same batch later.
 */
export function batchDigest(hash: SignedDigest, batch: readonly OrderedInput[]): string {
  const known = batchDigestByObject.get(batch);
  if (known !== undefined && known.hash === hash) return known.batch;
  let text = `batch|${batch.length}`;
  for (const input of batch) text += `|${input.digest}`;
  const computed = hash(text);
  batchDigestByObject.set(batch, { hash, batch: computed });
  return computed;
}

const batchDigestByObject = new WeakMap<readonly OrderedInput[], { hash: SignedDigest; batch: string }>();

export function batchBytes(batch: readonly OrderedInput[]): number {
  let bytes = 8;
  for (const input of batch) bytes += input.bytes;
  return bytes;
}

/**
 * Keys of the inputs proposed and not yet executed (in a batch this replica proposed or accepted),
 * and per stream item how many copies with one content they hold: a leader orders no more copies
 * of an item than its group needs to take it (`OrdererHost.streamQuorum`); the other copies stay
 * pooled, and go once the item is taken (no longer useful), or are proposed if a view change
 * loses the first ones.
 */
export class ProposedInputs {
  /** Input key -> the item a copy is of ("" for a request). */
  private readonly itemByKey = new Map<string, string>();
  private readonly copiesByItem = new Map<string, number>();

  has(key: string): boolean {
    return this.itemByKey.has(key);
  }

  get size(): number {
    return this.itemByKey.size;
  }

  add(input: OrderedInput): void {
    if (this.itemByKey.has(input.key)) return;
    const item = input.kind === "copy" ? itemKeyOf(input) : "";
    this.itemByKey.set(input.key, item);
    if (item !== "") this.copiesByItem.set(item, (this.copiesByItem.get(item) ?? 0) + 1);
  }

  delete(key: string): void {
    const item = this.itemByKey.get(key);
    if (item === undefined) return;
    this.itemByKey.delete(key);
    if (item === "") return;
    const copies = (this.copiesByItem.get(item) ?? 1) - 1;
    if (copies > 0) this.copiesByItem.set(item, copies);
    else this.copiesByItem.delete(item);
  }

  clear(): void {
    this.itemByKey.clear();
    this.copiesByItem.clear();
  }

  /** Copies proposed of the item `copy` is of, with its content. */
  copiesOf(copy: CopyInput): number {
    return this.copiesByItem.get(itemKeyOf(copy)) ?? 0;
  }
}

function itemKeyOf(copy: CopyInput): string {
  return `${copy.fromGroup}#${copy.k}#${copy.itemDigest}`;
}

/**
 * Inputs a replica received directly (from a client or another group's replica) and that are not
 * yet ordered, in arrival order. The leader proposes from it; the others keep theirs so a new
 * leader can propose what the old one dropped, and time their own requests to detect a stuck
 * leader. Bounded: `inputsMax`; beyond it new inputs are refused (and counted) until ordering
 * catches up, which is backpressure on clients and senders, who retry.
 */
export class InputPool {
  private readonly inputs = new Map<
    string,
    { readonly input: OrderedInput; readonly receivedTick: number; forwarded: boolean }
  >();
  /** Pooled copies per stream item and content (see `copiesOf`). */
  private readonly copiesByItem = new Map<string, number>();
  refused = 0;

  constructor(private readonly inputsMax: number) {
    assert(inputsMax > 0, "an input pool holds something");
  }

  get size(): number {
    return this.inputs.size;
  }

  has(key: string): boolean {
    return this.inputs.has(key);
  }

  get(key: string): OrderedInput | undefined {
    return this.inputs.get(key)?.input;
  }

  /** When an input arrived (or its clock was last restarted), if it is here. */
  receivedTick(key: string): number | undefined {
    return this.inputs.get(key)?.receivedTick;
  }

  /** Adds an input unless one with its key is already here; false when refused for space. */
  add(input: OrderedInput, tick: number): boolean {
    if (this.inputs.has(input.key)) return true;
    if (this.inputs.size >= this.inputsMax) {
      this.refused += 1;
      return false;
    }
    this.inputs.set(input.key, { input, receivedTick: tick, forwarded: false });
    if (input.kind === "copy") {
      const item = itemKeyOf(input);
      this.copiesByItem.set(item, (this.copiesByItem.get(item) ?? 0) + 1);
    }
    return true;
  }

  delete(key: string): void {
    const entry = this.inputs.get(key);
    if (entry === undefined) return;
    this.inputs.delete(key);
    if (entry.input.kind !== "copy") return;
    const item = itemKeyOf(entry.input);
    const copies = (this.copiesByItem.get(item) ?? 1) - 1;
    if (copies > 0) this.copiesByItem.set(item, copies);
    else this.copiesByItem.delete(item);
  }

  /** Pooled copies of the item `copy` is of, with its content. */
  copiesOf(copy: CopyInput): number {
    return this.copiesByItem.get(itemKeyOf(copy)) ?? 0;
  }

  /**
   * Up to `countMax` inputs / `bytesMax` bytes, oldest first, skipping keys in `exclude`; inputs
   * no longer `useful` are dropped on the way. `wanted`, when given, is asked last, about each
   * input that would be taken: one it does not want now is skipped but kept (it may count what
   * it accepts: everything it accepts is taken).
   */
  take(
    countMax: number,
    bytesMax: number,
    exclude: { has(key: string): boolean },
    useful: (input: OrderedInput) => boolean,
    wanted?: (input: OrderedInput) => boolean,
  ): OrderedInput[] {
    const batch: OrderedInput[] = [];
    let bytes = 0;
    for (const [key, { input }] of this.inputs) {
      if (exclude.has(key)) continue;
      if (!useful(input)) {
        this.delete(key);
        continue;
      }
      if (batch.length > 0 && (batch.length >= countMax || bytes + input.bytes > bytesMax)) break;
      if (wanted !== undefined && !wanted(input)) continue;
      batch.push(input);
      bytes += input.bytes;
    }
    return batch;
  }

  /** Drops every input that is no longer `useful`. */
  prune(useful: (input: OrderedInput) => boolean): void {
    for (const [key, { input }] of this.inputs) if (!useful(input)) this.delete(key);
  }

  /** Age in ticks of the oldest input, or -1 when there is none. */
  oldestAgeTicks(now: number): number {
    for (const entry of this.inputs.values()) return now - entry.receivedTick;
    return -1;
  }

  /** The inputs in arrival order (for a view change to re-propose them). */
  values(): OrderedInput[] {
    return [...this.inputs.values()].map((entry) => entry.input);
  }

  /** Inputs older than `ageTicks` not yet forwarded; marks them forwarded. */
  takeForForwarding(now: number, ageTicks: number, countMax: number): OrderedInput[] {
    const result: OrderedInput[] = [];
    for (const entry of this.inputs.values()) {
      if (now - entry.receivedTick < ageTicks) break;
      if (entry.forwarded) continue;
      entry.forwarded = true;
      result.push(entry.input);
      if (result.length >= countMax) break;
    }
    return result;
  }

  /** A new view: every pooled input starts its timeout afresh. */
  restartClocks(now: number): void {
    for (const [key, entry] of this.inputs)
      this.inputs.set(key, { input: entry.input, receivedTick: now, forwarded: false });
  }

  /** A new leader: everything may be forwarded again. */
  resetForwarding(): void {
    for (const entry of this.inputs.values()) entry.forwarded = false;
  }
}
