import type {
  GroupConfig,
  GroupId,
  GroupInput,
  GroupLogic,
  GroupOutput,
  Multicast,
  OverlayProtocolDefinition,
  TreeOverlay,
  WireDescription,
} from "@amcast/core";
import { assert, assertNever, multicastBytes } from "@amcast/core";
import { byzcastLatencyMs } from "./model.js";

/**
 * ByzCast (Coelho, Ceolin Jr., Bessani, Dotti, Pedone, DSN 2018): atomic multicast over a tree of
 * groups, each group an ordering (BFT) instance.
 *
 * 1. A client sends m to the lowest common ancestor of its destinations: the deepest group whose
 *    reach (target groups in its subtree) contains them all; a single-destination message goes
 *    straight to its target group.
 * 2. A group handles messages in its own order: m as a client request at the lca, or as an item
 *    of its parent's stream below it.
 * 3. Handling m, a group forwards it to each child whose reach meets m's destinations, in the
 *    order it handles messages, and delivers m if it is a destination (a target group).
 *
 * Order argument: the layer below hands a group its parent's stream in the parent's order (in
 * Byzantine mode, item k is taken only with f+1 identical copies and only after item k-1), so
 * every child handles forwarded messages in the order its parent handled them. For two messages
 * with a common destination g, both lcas lie on the root-to-g path; the deeper one handles both
 * and every group below it on the path inherits that order down to g. A cycle across groups
 * would have to come back up the tree, which order never does (byzcast.md §3).
 *
 * Partially genuine: local messages involve only their group; global ones also involve the lca
 * and the groups on the paths down, auxiliary groups included.
 */
export interface ByzcastForward {
  readonly type: "forward";
  readonly message: Multicast;
}
export type ByzcastMessage = ByzcastForward;

export class ByzcastGroup implements GroupLogic<ByzcastMessage> {
  readonly group: GroupId;
  private readonly tree: TreeOverlay;
  private deliveredCount = 0;
  private forwardedCount = 0;

  constructor(config: GroupConfig) {
    assert(config.overlay?.kind === "tree", "ByzCast runs on a tree overlay");
    assert(
      config.overlay.hasGroup(config.group),
      () => `group ${config.group} is not in tree ${config.overlay?.name}`,
    );
    this.group = config.group;
    this.tree = config.overlay;
  }

  get delivered(): number {
    return this.deliveredCount;
  }

  get forwarded(): number {
    return this.forwardedCount;
  }

  step(input: GroupInput<ByzcastMessage>): readonly GroupOutput<ByzcastMessage>[] {
    switch (input.kind) {
      case "request":
        // Rule 1: only the lca takes a client's request (the group layer checks entryGroups).
        assert(
          this.tree.lca(input.message.dst) === this.group,
          () => `${this.group} is not the lca of ${input.message.id}`,
        );
        return this.handle(input.message);
      case "peer":
        // Rule 2: below the lca, messages come down the parent's stream only.
        assert(input.body.type === "forward", "ByzCast has one message type");
        assert(
          this.tree.parent(this.group) === input.from,
          () => `${this.group} got ${input.body.message.id} from ${input.from}, not its parent`,
        );
        return this.handle(input.body.message);
      default:
        return assertNever(input, "input");
    }
  }

  /** Plain data: ByzCast keeps nothing but counts between messages. */
  snapshot(): { delivered: number; forwarded: number } {
    return { delivered: this.deliveredCount, forwarded: this.forwardedCount };
  }

  restore(state: unknown): void {
    const saved = state as { delivered: number; forwarded: number };
    this.deliveredCount = saved.delivered;
    this.forwardedCount = saved.forwarded;
  }

  /** Rule 3: forward toward the destinations, in this group's order, then deliver if addressed. */
  private handle(message: Multicast): GroupOutput<ByzcastMessage>[] {
    const outputs: GroupOutput<ByzcastMessage>[] = [];
    for (const child of this.tree.childrenToward(this.group, message.dst)) {
      outputs.push({ kind: "send", to: child, body: { type: "forward", message } });
      this.forwardedCount += 1;
    }
    if (message.dst.includes(this.group)) {
      assert(
        this.tree.isTarget(this.group),
        () => `auxiliary group ${this.group} is a destination of ${message.id}`,
      );
      outputs.push({ kind: "deliver", message });
      this.deliveredCount += 1;
    }
    return outputs;
  }
}

function describeForward(body: ByzcastMessage): WireDescription {
  // A type tag, then the multicast.
  return { kind: body.type, id: body.message.id, bytes: 4 + multicastBytes(body.message) };
}

export const byzcast: OverlayProtocolDefinition<ByzcastMessage> = {
  name: "byzcast",
  overlayKind: "tree",
  entryGroups: (dst, { overlay }) => {
    assert(overlay?.kind === "tree", "ByzCast runs on a tree overlay");
    return [overlay.lca(dst)];
  },
  createGroup: (config) => new ByzcastGroup(config),
  describe: describeForward,
  carried: (body) => body.message,
  modelLatencyMs: (dst, { overlay }, latency) => {
    assert(overlay?.kind === "tree", "ByzCast runs on a tree overlay");
    return byzcastLatencyMs(dst, overlay, latency);
  },
};
