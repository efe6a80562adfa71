import type { GroupId, GroupOutput, Multicast } from "@amcast/core";
import { CdagOverlay } from "@amcast/core";
import type { FlexCastMessage, FlexCastOptions } from "../src/index.js";
import { DEFAULT_FLEXCAST_OPTIONS, FlexCastGroup } from "../src/index.js";

/**
 * A hand-driven network for transcript tests: the groups of one C-DAG order and a FIFO queue
 * per link. A test decides which link delivers next, so it can stage any cross-link order.
 */
export class Net {
  readonly overlay: CdagOverlay;
  readonly groups: Map<GroupId, FlexCastGroup>;
  private readonly links = new Map<string, FlexCastMessage[]>();
  /** Every message ever sent, as transcript lines, in order. */
  readonly sent: string[] = [];

  /** `byGroup`: options of single groups, over `options`. */
  constructor(
    order: readonly GroupId[],
    options: Partial<FlexCastOptions> = {},
    byGroup: Readonly<Record<GroupId, Partial<FlexCastOptions>>> = {},
  ) {
    this.overlay = new CdagOverlay("test", order);
    this.groups = new Map(
      order.map((group) => [
        group,
        new FlexCastGroup(
          { group, groups: order, overlay: this.overlay, params: undefined },
          { ...DEFAULT_FLEXCAST_OPTIONS, ...options, ...byGroup[group] },
        ),
      ]),
    );
  }

  group(name: GroupId): FlexCastGroup {
    const group = this.groups.get(name);
    if (group === undefined) throw new Error(`no group ${name}`);
    return group;
  }

  /** A client's multicast, handed to its lca; returns the lca's transcript. */
  request(id: string, dst: GroupId[]): string[] {
    const message: Multicast = { id, client: "c0", dst: [...dst].sort(), payloadBytes: 0 };
    const lca = this.overlay.lca(message.dst);
    return this.record(lca, this.group(lca).step({ kind: "request", message }));
  }

  /** Delivers the oldest message on the link from -> to; returns the receiver's transcript. */
  pass(from: GroupId, to: GroupId): string[] {
    const queue = this.links.get(`${from}>${to}`);
    const body = queue?.shift();
    if (body === undefined) throw new Error(`nothing on ${from} -> ${to}`);
    return this.record(to, this.group(to).step({ kind: "peer", from, body }));
  }

  /** What waits on the link from -> to, as transcript lines. */
  waiting(from: GroupId, to: GroupId): string[] {
    return (this.links.get(`${from}>${to}`) ?? []).map((body) => describe(to, body, this.overlay));
  }

  /** The head of the link from -> to (to inspect windows). */
  peek(from: GroupId, to: GroupId): FlexCastMessage | undefined {
    return this.links.get(`${from}>${to}`)?.[0];
  }

  /** Passes messages, links in order, until none is left; returns every transcript line. */
  drain(): string[] {
    const lines: string[] = [];
    for (;;) {
      const next = [...this.links.entries()].find(([, queue]) => queue.length > 0);
      if (next === undefined) return lines;
      const [from, to] = next[0].split(">") as [GroupId, GroupId];
      lines.push(...this.pass(from, to).map((line) => `${to}: ${line}`));
    }
  }

  private record(at: GroupId, outputs: readonly GroupOutput<FlexCastMessage>[]): string[] {
    return outputs.map((output) => {
      if (output.kind === "deliver") return `deliver ${output.message.id}`;
      // Plain FlexCast has no views, so it never redirects.
      if (output.kind !== "send") throw new Error(`unexpected ${output.kind} output`);
      const key = `${at}>${output.to}`;
      let queue = this.links.get(key);
      if (queue === undefined) {
        queue = [];
        this.links.set(key, queue);
      }
      queue.push(output.body);
      const line = describe(output.to, output.body, this.overlay);
      this.sent.push(`${at} ${line}`);
      return line;
    });
  }
}

/** "b msg m1", "c notif m1 #0", "b ack m1 answers a#0 notifying c#1", "t notif m1 #0 of a then u" (chained). */
export function describe(to: GroupId, body: FlexCastMessage, overlay?: CdagOverlay): string {
  const name = (position: number): string => overlay?.order[position] ?? String(position);
  let line = `${to} ${body.type} ${body.id}`;
  if (body.type === "notif") line += ` #${body.seq}`;
  if (body.type === "notif" && body.chain !== undefined) {
    line += ` of ${name(body.chain.notifier)}`;
    if (body.chain.rest.length > 0) line += ` then ${body.chain.rest.map(name).join(",")}`;
  }
  if (body.type === "ack" && body.answers !== undefined)
    line += ` answers ${name(body.answers.notifier)}#${body.answers.seq}`;
  if ((body.type === "msg" || body.type === "ack") && body.notifs.length > 0)
    line += ` notifying ${body.notifs.map((ref) => `${name(ref.target)}#${ref.seq}`).join(",")}`;
  return line;
}

/** The windows of a message as "owner@from:[ids]" (owners by name). */
export function windows(body: FlexCastMessage | undefined, overlay: CdagOverlay): string[] {
  if (body === undefined || body.type === "done") return [];
  return body.hst.map(
    (window) =>
      `${overlay.order[window.group]}@${window.from}:[${window.entries.map((entry) => entry.id).join(",")}]`,
  );
}
