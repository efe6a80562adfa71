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
  /**
   * When the client signed several requests at once: this one's place in their Merkle tree
   * (`signature` is then over `requestsDigest` of the root). Absent: over `digest` alone.
   */
  readonly signedWith?: SignedWith;
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
const itemDigestByObject = new WeakMap<object, ItemDigests>();

/**
 * An item's digest, and the digests of its copies as each sender signs them: every replica of the
 * receiving group gets every sender's copy, so each sender's copy digest is made once, not once
 * per receiver. Few senders per item (a group's replicas): a short list.
 */
interface ItemDigests {
  readonly hash: SignedDigest;
  readonly fromGroup: GroupId;
  readonly k: number;
  readonly item: string;
  readonly senders: ProcessId[];
  readonly signed: string[];
}

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
function itemDigests(hash: SignedDigest, fromGroup: GroupId, k: number, body: object): ItemDigests {
  const known = itemDigestByObject.get(body);
  if (known !== undefined && known.hash === hash && known.fromGroup === fromGroup && known.k === k)
    return known;
  const item = hash(`item|${fromGroup}|${k}|${canonicalOf(body)}`);
  const digests: ItemDigests = { hash, fromGroup, k, item, senders: [], signed: [] };
  itemDigestByObject.set(body, digests);
  return digests;
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
  if (typeof message !== "object" || message === null)
    return hash(`request|${client}|${seq}|${view}|${settled}|${canonical(message)}`);
  // The client digests its request, then every replica it reaches and every one a leader shows it
  // to: the same message object with the same fields, so the digest is kept with the message.
  const known = requestDigestByMessage.get(message);
  if (
    known !== undefined &&
    known.hash === hash &&
    known.client === client &&
    known.seq === seq &&
    known.view === view &&
    known.settled === settled
  )
    return known.request;
  const request = hash(`request|${client}|${seq}|${view}|${settled}|${canonicalOf(message)}`);
  requestDigestByMessage.set(message, { hash, client, seq, view, settled, request });
  return request;
}

const requestDigestByMessage = new WeakMap<
  object,
  {
    readonly hash: SignedDigest;
    readonly client: ClientId;
    readonly seq: number;
    readonly view: number;
    readonly settled: number;
    readonly request: string;
  }
>();

/** Most requests a client signs at once (each carries its path in their Merkle tree). */
export const REQUESTS_PER_SIGNATURE_MAX = 16;
/** Levels of a Merkle tree of at most `REQUESTS_PER_SIGNATURE_MAX` leaves. */
const REQUESTS_TREE_DEPTH_MAX = 4;
/** Modelled bytes of one digest (SHA-256 in base64). */
export const DIGEST_BYTES = 44;

/**
 * Where a request the client signed together with others sits among them: its leaf index in the
 * Merkle tree of their digests, and the sibling at each level from the leaf up to the root (""
 * where a level has none: the last node of an odd level moves up as it is). The client signs the
 * root once; a replica shown the request recomputes the root from its digest and this path.
 */
export interface SignedWith {
  readonly at: number;
  readonly path: readonly string[];
}

/** An inner node of a requests tree (its text differs in form from a request digest's). */
function requestsNode(hash: SignedDigest, left: string, right: string): string {
  return hash(`node|${left}|${right}`);
}

/** The Merkle tree of `digests`, in order: its root and each leaf's place in it. */
export function requestsTree(
  hash: SignedDigest,
  digests: readonly string[],
): { root: string; places: SignedWith[] } {
  const paths = digests.map(() => [] as string[]);
  let level = [...digests];
  // The leaves under each node of the level.
  let under = digests.map((_, leaf) => [leaf]);
  while (level.length > 1) {
    const next: string[] = [];
    const nextUnder: number[][] = [];
    for (let index = 0; index < level.length; index += 2) {
      const left = level[index] as string;
      const leftLeaves = under[index] as number[];
      const right = level[index + 1];
      if (right === undefined) {
        for (const leaf of leftLeaves) paths[leaf]?.push("");
        next.push(left);
        nextUnder.push(leftLeaves);
        continue;
      }
      const rightLeaves = under[index + 1] as number[];
      for (const leaf of leftLeaves) paths[leaf]?.push(right);
      for (const leaf of rightLeaves) paths[leaf]?.push(left);
      next.push(requestsNode(hash, left, right));
      nextUnder.push([...leftLeaves, ...rightLeaves]);
    }
    level = next;
    under = nextUnder;
  }
  return { root: level[0] as string, places: paths.map((path, at) => ({ at, path })) };
}

/** The root of the requests tree that `place` leads to from the leaf `digest`. */
export function requestsRoot(hash: SignedDigest, digest: string, place: SignedWith): string {
  let node = digest;
  let index = place.at;
  for (const sibling of place.path) {
    if (sibling !== "")
      node = index % 2 === 0 ? requestsNode(hash, node, sibling) : requestsNode(hash, sibling, node);
    index = Math.floor(index / 2);
  }
  return node;
}

/**
 * What a client signs for requests signed together: the root of their tree (the text differs in
 * form from a single request's digest, so neither can pass for the other).
 */
export function requestsDigest(hash: SignedDigest, client: ClientId, root: string): string {
  return hash(`requests|${client}|${root}`);
}

/** Whether `value` is a well-formed `SignedWith` (untrusted input). */
export function isSignedWith(value: unknown): value is SignedWith {
  if (typeof value !== "object" || value === null) return false;
  const { at, path } = value as { at?: unknown; path?: unknown };
  return (
    Array.isArray(path) &&
    path.length >= 1 &&
    path.length <= REQUESTS_TREE_DEPTH_MAX &&
    path.every((sibling) => typeof sibling === "string" && sibling.length <= 128) &&
    Number.isSafeInteger(at) &&
    (at as number) >= 0 &&
    (at as number) < 2 ** path.length
  );
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
  signedWith?: SignedWith,
): RequestInput {
  const digest = hash === undefined ? "" : requestDigest(hash, client, seq, message, view, settled);
  return new RequestRecord(client, seq, message, view, settled, digest, signature, bytes, signedWith);
}

/**
 * A request input as the group layer makes it: a class, so that a runtime can recognise inputs
 * when it encodes messages and write them in a compact form (their fields in a fixed order, the
 * key left out: it follows from client, seq and view). Its own enumerable properties are exactly
 * `RequestInput`'s, `signedWith` only when there is one, so everything else sees a plain input.
 */
export class RequestRecord implements RequestInput {
  // Declared in `RequestInput`'s order, which is the order of the own properties.
  readonly kind = "request";
  readonly key: string;
  readonly client: ClientId;
  readonly seq: number;
  readonly message: Multicast;
  readonly view: number;
  readonly settled: number;
  readonly digest: string;
  readonly signature: string;
  readonly bytes: number;
  declare readonly signedWith?: SignedWith;

  constructor(
    client: ClientId,
    seq: number,
    message: Multicast,
    view: number,
    settled: number,
    digest: string,
    signature: string,
    bytes: number,
    signedWith?: SignedWith,
  ) {
    this.key = requestKey(client, seq, view);
    this.client = client;
    this.seq = seq;
    this.message = message;
    this.view = view;
    this.settled = settled;
    this.digest = digest;
    this.signature = signature;
    this.bytes = bytes;
    if (signedWith !== undefined) (this as { signedWith?: SignedWith }).signedWith = signedWith;
  }
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
  if (typeof body !== "object" || body === null) {
    const item = hash(`item|${fromGroup}|${k}|${canonical(body)}`);
    return { item, signed: hash(`copy|${sender}|${item}`) };
  }
  const digests = itemDigests(hash, fromGroup, k, body);
  const { item, senders, signed } = digests;
  for (let index = 0; index < senders.length; index += 1)
    if (senders[index] === sender) return { item, signed: signed[index] as string };
  const copy = hash(`copy|${sender}|${item}`);
  // Bounded by the senders that copy one item: a group's replicas, or a few more a Byzantine
  // strategy claims to be (the cache is only for speed: beyond this, digests are recomputed).
  if (senders.length < COPY_SENDERS_KEPT_MAX) {
    senders.push(sender);
    signed.push(copy);
  }
  return { item, signed: copy };
}

/** Senders' copy digests kept per item (see `ItemDigests`). */
const COPY_SENDERS_KEPT_MAX = 16;

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
  batchDigestByObject.set(batch, { hash, batch: computed, afterChain: undefined, chain: undefined });
  return computed;
}

const batchDigestByObject = new WeakMap<
  readonly OrderedInput[],
  { hash: SignedDigest; batch: string; afterChain: string | undefined; chain: string | undefined }
>();

/**
 * Notes that `copy` holds inputs with the same digests, in the same order, as `batch` (a replica
 * put its own copies of inputs it received in place of a proposal's): it has the same batch digest,
 * and so the same chain digests, kept once for both.
 */
export function sameBatchDigest(copy: readonly OrderedInput[], batch: readonly OrderedInput[]): void {
  const known = batchDigestByObject.get(batch);
  if (known !== undefined) batchDigestByObject.set(copy, known);
}

/**
 * The chain digest after executing `batch` on top of `chain` (PBFT's execution chain). Every
 * correct replica of a group executes the same batch object after the same chain, so the result
 * is kept with the batch's digest.
 */
export function chainDigest(hash: SignedDigest, chain: string, batch: readonly OrderedInput[]): string {
  const batchHash = batchDigest(hash, batch);
  const known = batchDigestByObject.get(batch);
  if (known === undefined || known.hash !== hash) return hash(`${chain}|${batchHash}`);
  if (known.afterChain === chain && known.chain !== undefined) return known.chain;
  const next = hash(`${chain}|${batchHash}`);
  known.afterChain = chain;
  known.chain = next;
  return next;
}

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
    // Over the entries, not [key, entry] pairs (a pair per input per call). Deleting the entry
    // being visited is safe in a Map's iteration.
    for (const entry of this.inputs.values()) {
      const input = entry.input;
      if (exclude.has(input.key)) continue;
      if (!useful(input)) {
        this.delete(input.key);
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
    for (const entry of this.inputs.values()) if (!useful(entry.input)) this.delete(entry.input.key);
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
