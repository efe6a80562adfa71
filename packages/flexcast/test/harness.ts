import type { GroupId, GroupOutput, Multicast } from "@amcast/core";
import { CdagOverlay, Prng, percent } from "@amcast/core";
import type { FlexCastMessage, FlexCastOptions } from "../src/index.js";
import { DEFAULT_FLEXCAST_OPTIONS, FlexCastGroup } from "../src/index.js";

/**
 * A tiny adversarial network for FlexCast's group logic, without the simulator: reliable FIFO
 * links between groups (what the layer below guarantees), and a scheduler that picks the next
 * link (or client request) at random, sometimes freezing a link for a long stretch, so copies,
 * acknowledgements and notifications arrive in every order the links allow.
 */
export interface RandomRunSpec {
  readonly seed: number;
  readonly groups: number;
  readonly messages: number;
  /** Largest destination set. */
  readonly maxDestinations: number;
  readonly localPercent: number;
  /** FlexCast's options (the defaults for what is not given). */
  readonly options: Partial<FlexCastOptions>;
  /** Chance per step (percent) to freeze a busy link for a while; 3 unless given. */
  readonly freezePercent?: number;
  /** A steady (closed-loop) workload: a new request only while fewer messages are on the links. */
  readonly linkMessagesMax?: number;
}

export interface RandomRun {
  readonly order: readonly GroupId[];
  /** Delivery sequence of every group (application messages only). */
  readonly deliveries: ReadonlyMap<GroupId, readonly string[]>;
  readonly messages: readonly Multicast[];
  /** Every step's outputs as short text, to compare two configurations step by step. */
  readonly transcript: readonly string[];
  readonly groupsByName: ReadonlyMap<GroupId, FlexCastGroup>;
  /** Largest number of retained history entries any group held after any step. */
  readonly historyPeak: number;
  readonly stepsRun: number;
}

interface Link {
  readonly from: GroupId;
  readonly to: GroupId;
  readonly queue: FlexCastMessage[];
  frozenUntil: number;
}

export function randomRun(spec: RandomRunSpec): RandomRun {
  const prng = new Prng(spec.seed);
  const names = Array.from({ length: spec.groups }, (_, index) => `g${index}`);
  const order = prng.shuffle([...names]);
  const overlay = new CdagOverlay("random", order);
  const groups = new Map(
    names.map((name) => [
      name,
      new FlexCastGroup(
        { group: name, groups: names, overlay, params: undefined },
        { ...DEFAULT_FLEXCAST_OPTIONS, ...spec.options },
      ),
    ]),
  );
  const messages: Multicast[] = [];
  for (let index = 0; index < spec.messages; index += 1) {
    const size = prng.chance(percent(spec.localPercent)) ? 1 : prng.intBetween(2, spec.maxDestinations);
    const dst = prng.sample(names, Math.min(size, names.length)).sort();
    messages.push({ id: `c0:${index}`, client: "c0", dst, payloadBytes: 0 });
  }
  const links = new Map<string, Link>();
  const linkOf = (from: GroupId, to: GroupId): Link => {
    const key = `${from}>${to}`;
    let link = links.get(key);
    if (link === undefined) {
      link = { from, to, queue: [], frozenUntil: 0 };
      links.set(key, link);
    }
    return link;
  };
  const deliveries = new Map<GroupId, string[]>(names.map((name) => [name, []]));
  const transcript: string[] = [];
  let requestsLeft = [...messages];
  let historyPeak = 0;
  let step = 0;

  const apply = (at: GroupId, outputs: readonly GroupOutput<FlexCastMessage>[]): void => {
    for (const output of outputs) {
      if (output.kind === "deliver") {
        deliveries.get(at)?.push(output.message.id);
        transcript.push(`${step} ${at} deliver ${output.message.id}`);
      } else if (output.kind === "send") {
        linkOf(at, output.to).queue.push(output.body);
        const body = output.body;
        // A chained notification passed on by a target names the emitter (rule 8).
        const via =
          body.type === "notif" && body.chain !== undefined && body.chain.notifier !== overlay.position(at)
            ? ` via ${overlay.order[body.chain.notifier]}`
            : "";
        transcript.push(`${step} ${at} -> ${output.to} ${body.type} ${body.id}${via}`);
      } else throw new Error(`plain FlexCast has no views, yet it output ${output.kind}`);
    }
    const group = groups.get(at) as FlexCastGroup;
    historyPeak = Math.max(historyPeak, group.historyEntries);
  };

  for (;;) {
    step += 1;
    const ready = [...links.values()].filter((link) => link.queue.length > 0 && link.frozenUntil <= step);
    const frozen = [...links.values()].filter((link) => link.queue.length > 0 && link.frozenUntil > step);
    if (ready.length === 0 && requestsLeft.length === 0) {
      if (frozen.length === 0) break;
      for (const link of frozen) link.frozenUntil = 0;
      continue;
    }
    if (ready.length > 0 && prng.chance(percent(spec.freezePercent ?? 3)))
      prng.pick(ready).frozenUntil = step + prng.intBetween(5, 200);
    const onLinks = ready.reduce((sum, link) => sum + link.queue.length, 0);
    const takeRequest =
      requestsLeft.length > 0 &&
      (ready.length === 0 ||
        (onLinks < (spec.linkMessagesMax ?? Number.POSITIVE_INFINITY) && prng.chance(percent(30))));
    if (takeRequest) {
      // Clients are independent: any pending request may go next, not only the oldest.
      const index = prng.int(Math.min(requestsLeft.length, 4));
      const message = requestsLeft[index] as Multicast;
      requestsLeft = requestsLeft.filter((_, at) => at !== index);
      const lca = overlay.lca(message.dst);
      apply(lca, (groups.get(lca) as FlexCastGroup).step({ kind: "request", message }));
      continue;
    }
    const link = prng.pick(ready);
    const body = link.queue.shift() as FlexCastMessage;
    apply(link.to, (groups.get(link.to) as FlexCastGroup).step({ kind: "peer", from: link.from, body }));
  }
  return { order, deliveries, messages, transcript, groupsByName: groups, historyPeak, stepsRun: step };
}

/**
 * What must hold at the end of a run: every destination delivered every message once, and the
 * union of all delivery orders has no cycle. Returns the problems found, empty when none.
 */
export function judgeRun(run: RandomRun): string[] {
  const problems: string[] = [];
  const counts = new Map<string, number>();
  for (const [group, sequence] of run.deliveries)
    for (const id of sequence) counts.set(`${group} ${id}`, (counts.get(`${group} ${id}`) ?? 0) + 1);
  for (const message of run.messages) {
    for (const group of message.dst) {
      const count = counts.get(`${group} ${message.id}`) ?? 0;
      if (count !== 1) problems.push(`${group} delivered ${message.id} ${count} times`);
    }
  }
  const byId = new Map(run.messages.map((message) => [message.id, message]));
  for (const [group, sequence] of run.deliveries) {
    for (const id of sequence) {
      const message = byId.get(id);
      if (message === undefined || !message.dst.includes(group))
        problems.push(`${group} delivered stray ${id}`);
    }
  }
  const cycle = findCycle(run.deliveries);
  if (cycle !== undefined) problems.push(`cycle: ${cycle.join(" -> ")}`);
  return problems;
}

/** A cycle in the union of the delivery orders (edges between consecutive deliveries), if any. */
export function findCycle(deliveries: ReadonlyMap<GroupId, readonly string[]>): string[] | undefined {
  const next = new Map<string, Set<string>>();
  for (const sequence of deliveries.values()) {
    for (let index = 0; index + 1 < sequence.length; index += 1) {
      const from = sequence[index] as string;
      let set = next.get(from);
      if (set === undefined) {
        set = new Set();
        next.set(from, set);
      }
      set.add(sequence[index + 1] as string);
    }
  }
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (vertex: string): string[] | undefined => {
    state.set(vertex, "open");
    path.push(vertex);
    for (const after of next.get(vertex) ?? []) {
      const seen = state.get(after);
      if (seen === "open") return [...path.slice(path.indexOf(after)), after];
      if (seen === undefined) {
        const cycle = visit(after);
        if (cycle !== undefined) return cycle;
      }
    }
    path.pop();
    state.set(vertex, "done");
    return undefined;
  };
  for (const vertex of next.keys()) {
    if (state.has(vertex)) continue;
    const cycle = visit(vertex);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}
