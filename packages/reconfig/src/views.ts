import type {
  ClientId,
  DestinationSet,
  GroupConfig,
  GroupId,
  GroupInput,
  GroupLogic,
  GroupOutput,
  Multicast,
  Overlay,
  OverlayProtocolDefinition,
  ProtocolDefinition,
} from "@amcast/core";
import { assert, assertNever, destinationKey, overlayToJson, parseOverlay } from "@amcast/core";

/**
 * On-the-fly reconfiguration: overlay views, installed through the protocol itself.
 *
 * V1 (views): a group runs one instance of the protocol's logic per overlay view; view 0 is the
 *    experiment's overlay. Every protocol message carries its view and goes to that view's
 *    instance; a message for a view the group has not installed yet waits for it.
 * V2 (view change): the controller multicasts VIEW(v+1, overlay) to every target group, under
 *    view v, like any message. A group installs v+1 at the point where its view-v instance orders
 *    VIEW: when it delivers it, or, for a group that only forwards (an auxiliary ByzCast group),
 *    when it forwards it. From then on new requests run in view v+1.
 * V3 (consistent switch): VIEW and any view-v message m share a destination g; atomic multicast
 *    orders them the same way at every common destination, and at m's entry group m was ordered
 *    before VIEW (it ran in view v), so every destination delivers m before VIEW. So at every group
 *    all view-v messages come before VIEW and all view-(v+1) messages after: the union of the two
 *    views' orders stays acyclic, real-time edges included, and deliveries never pause.
 * V4 (nothing lost): a request that reaches a group under an older view than the group's is not
 *    dropped: the group redirects the client, which sends it again under the new view's overlay.
 *    A request under a newer view waits until the group installs it. The old view's instance keeps
 *    answering its protocol messages (FlexCast acknowledgements and notifications may still
 *    arrive) but never delivers again (asserted).
 * V5 (statistics): each group counts, per client, the destination sets of the messages it delivers for which it
 *    is the first destination (so each multicast is counted once); a STATS control multicast from
 *    the controller is answered with the counts since the previous one, which are then reset.
 *    Being ordered like any multicast, STATS cuts the counts at the same point on every replica.
 *    Each replica adds to its answer the delays it observed from other groups (`withDelays`):
 *    its own measurement, outside the counts the controller's client votes on.
 *
 * V6 (groups VIEW does not reach): in a tree, the ancestors of the lca of all target groups have
 *    the same reach as that lca, so they are nobody's lca and receive nothing in that view; VIEW
 *    (to every target) enters at that lca and never passes them. The lca, when it orders VIEW,
 *    tells them to install the next view. Having no part in the old view, they may switch at any
 *    point, and a message of the new view that reaches them first waits for the notice.
 *
 * Only the controller client's control payloads count; the same payload from anyone else is an
 * ordinary message.
 */
export type ControlPayload =
  | { readonly control: "stats" }
  | { readonly control: "view"; readonly view: number; readonly overlay: unknown };

/** Every protocol message on the wire, tagged with the overlay view it belongs to. */
export type ViewedMessage<M> =
  | { readonly view: number; readonly body: M }
  /** V6: "install the view after `view`, with this overlay" to a group VIEW does not reach. */
  | { readonly view: number; readonly install: unknown };

/**
 * One destination set, how often it was multicast, and by which client (so the controller can
 * tell where the clients' legs start); no client when the counts outgrew `COUNT_KEYS_MAX`.
 */
export interface DestinationCount {
  readonly dst: DestinationSet;
  readonly count: number;
  readonly client?: ClientId;
}

/** Distinct (client, destination set) counts a group keeps between two STATS; beyond, per set only. */
const COUNT_KEYS_MAX = 65_536;

export interface ReconfigOptions {
  /** The client whose control payloads install views and collect statistics. */
  readonly controller: ClientId;
  /** Old views kept to answer late protocol messages (beyond: a bug, asserted). */
  readonly oldViewsMax?: number;
  /** Inputs for future views a group holds while it has not installed them. */
  readonly waitingInputsMax?: number;
}

const OLD_VIEWS_MAX = 4;
const WAITING_INPUTS_MAX = 100_000;

interface ViewInstance<M, P> {
  readonly view: number;
  readonly overlay: Overlay;
  /** The protocol's context in this view: the system's groups and parameters, this view's overlay. */
  readonly context: GroupConfig<P>;
  readonly logic: GroupLogic<M>;
}

/** Recognises a control payload; undefined for anything else. */
export function controlPayload(message: Multicast, controller: ClientId): ControlPayload | undefined {
  if (message.client !== controller || typeof message.payload !== "object" || message.payload === null)
    return undefined;
  const payload = message.payload as { control?: unknown; view?: unknown; overlay?: unknown };
  if (payload.control === "stats") return { control: "stats" };
  if (payload.control === "view" && Number.isSafeInteger(payload.view)) {
    return { control: "view", view: payload.view as number, overlay: payload.overlay };
  }
  return undefined;
}

/** A reconfigurable group's state as plain data (`ReconfigurableGroup.snapshot`). */
interface ReconfigurableState {
  /** Every view kept, in the order installed: its overlay (JSON) and its instance's state. */
  readonly views: readonly { readonly view: number; readonly overlay: unknown; readonly logic: unknown }[];
  readonly current: number;
  /** Inputs waiting for views not installed yet, by view, in arrival order. */
  readonly waiting: readonly { readonly view: number; readonly inputs: readonly unknown[] }[];
  /** The statistics since the last STATS, in the order first counted (STATS answers list them so). */
  readonly counts: readonly {
    readonly key: string;
    readonly entry: { dst: DestinationSet; count: number; client?: ClientId };
  }[];
  readonly redirected: number;
}

export class ReconfigurableGroup<M, P = unknown> implements GroupLogic<ViewedMessage<M>> {
  readonly group: GroupId;
  private readonly protocol: OverlayProtocolDefinition<M, P>;
  private readonly config: GroupConfig<P>;
  private readonly options: Required<ReconfigOptions>;
  private readonly views = new Map<number, ViewInstance<M, P>>();
  private current: ViewInstance<M, P>;
  /** Inputs for views not installed yet, by view. */
  private readonly waiting = new Map<number, GroupInput<ViewedMessage<M>>[]>();
  private waitingCount = 0;
  /** Destination sets delivered here as their first destination, since the last STATS. */
  private readonly counts = new Map<string, { dst: DestinationSet; count: number; client?: ClientId }>();
  /** Redirected requests (for statistics). */
  redirected = 0;

  /** Present when the protocol's logic can snapshot: every kept view's state and the wrapper's own. */
  readonly snapshot?: () => unknown;
  readonly restore?: (state: unknown) => void;

  constructor(config: GroupConfig<P>, protocol: OverlayProtocolDefinition<M, P>, options: ReconfigOptions) {
    assert(config.overlay !== null, "a reconfigurable protocol runs on an overlay");
    this.group = config.group;
    this.protocol = protocol;
    this.config = config;
    this.options = { oldViewsMax: OLD_VIEWS_MAX, waitingInputsMax: WAITING_INPUTS_MAX, ...options };
    this.current = this.instance(0, config.overlay);
    if (this.current.logic.snapshot !== undefined && this.current.logic.restore !== undefined) {
      this.snapshot = () => this.state();
      this.restore = (state) => this.restoreState(state as ReconfigurableState);
    }
  }

  private state(): ReconfigurableState {
    return {
      views: [...this.views.values()].map((instance) => ({
        view: instance.view,
        overlay: overlayToJson(instance.overlay),
        logic: (instance.logic.snapshot as () => unknown)(),
      })),
      current: this.current.view,
      waiting: [...this.waiting].map(([view, inputs]) => ({ view, inputs })),
      counts: [...this.counts].map(([key, entry]) => ({ key, entry: { ...entry } })),
      redirected: this.redirected,
    };
  }

  private restoreState(state: ReconfigurableState): void {
    assert(
      this.views.size === 1 && this.current.view === 0 && this.waitingCount === 0 && this.counts.size === 0,
      "a reconfigurable group restores into a fresh group",
    );
    this.views.clear();
    for (const saved of state.views) {
      // View 0 runs on the experiment's overlay; later ones on what their VIEW carried.
      const overlay =
        saved.view === 0
          ? (this.config.overlay as Overlay)
          : parseOverlay(saved.overlay, `view ${saved.view}`);
      const logic = this.instance(saved.view, overlay).logic;
      assert(logic.restore !== undefined, "every view's logic restores");
      logic.restore(saved.logic);
    }
    const current = this.views.get(state.current);
    assert(current !== undefined, () => `the state's current view ${state.current} is among its views`);
    this.current = current;
    for (const { view, inputs } of state.waiting) {
      this.waiting.set(view, [...inputs] as GroupInput<ViewedMessage<M>>[]);
      this.waitingCount += inputs.length;
    }
    for (const { key, entry } of state.counts) this.counts.set(key, { ...entry });
    this.redirected = state.redirected;
  }

  get view(): number {
    return this.current.view;
  }

  get overlay(): Overlay {
    return this.current.overlay;
  }

  step(input: GroupInput<ViewedMessage<M>>): readonly GroupOutput<ViewedMessage<M>>[] {
    const outputs: GroupOutput<ViewedMessage<M>>[] = [];
    this.handle(input, outputs);
    return outputs;
  }

  private handle(input: GroupInput<ViewedMessage<M>>, outputs: GroupOutput<ViewedMessage<M>>[]): void {
    switch (input.kind) {
      case "request": {
        const view = input.view ?? 0;
        if (view < this.current.view) {
          // V4: asked under an old view; the client sends it again under ours.
          this.redirect(input.message, view, outputs);
          return;
        }
        if (view > this.current.view) {
          this.wait(view, input);
          return;
        }
        if (!this.protocol.entryGroups(input.message.dst, this.current.context).includes(this.group)) {
          // Under our view this group is not where the request goes: the client addressed it
          // wrongly (it cannot have come from a correct client of this view). Redirect it anyway.
          this.redirect(input.message, view, outputs);
          return;
        }
        this.run(this.current, { kind: "request", message: input.message }, outputs);
        return;
      }
      case "peer": {
        const message = input.body;
        const view = message.view;
        assert(Number.isSafeInteger(view) && view >= 0, () => `${this.group} got a message for view ${view}`);
        if (view > this.current.view) {
          this.wait(view, input);
          return;
        }
        if ("install" in message) {
          this.onInstallNotice(view, message.install, outputs);
          return;
        }
        const body = message.body;
        const instance = this.views.get(view);
        assert(
          instance !== undefined,
          () => `${this.group} got a message for view ${view}, long gone (now ${this.current.view})`,
        );
        this.run(instance, { kind: "peer", from: input.from, body }, outputs);
        return;
      }
      default:
        assertNever(input, "input");
    }
  }

  /**
   * Sends the client the current view and overlay, to send `message` (taken under `requestView`)
   * again under them. This may happen on a peer input: a request that waited for its view is
   * refused when the install that releases it was followed by a later one (V4, V6).
   */
  private redirect(message: Multicast, requestView: number, outputs: GroupOutput<ViewedMessage<M>>[]): void {
    this.redirected += 1;
    outputs.push({
      kind: "redirect",
      message,
      requestView,
      view: this.current.view,
      overlay: overlayToJson(this.current.overlay),
    });
  }

  /** V6: a group VIEW does not reach installs the next view when the lca that ordered VIEW says so. */
  private onInstallNotice(
    view: number,
    overlayJson: unknown,
    outputs: GroupOutput<ViewedMessage<M>>[],
  ): void {
    if (view < this.current.view) return; // already installed past it
    assert(
      unreachedByView(this.current.overlay).includes(this.group),
      () => `${this.group} got an install notice for view ${view + 1} but orders messages in view ${view}`,
    );
    const next = this.nextView({ control: "view", view: view + 1, overlay: overlayJson });
    assert(next !== undefined, "an install notice names the next view");
    this.install(next.view, next.overlay, outputs);
  }

  /** Steps one view's instance, tags its sends with the view, and acts on control messages. */
  private run(
    instance: ViewInstance<M, P>,
    input: GroupInput<M>,
    outputs: GroupOutput<ViewedMessage<M>>[],
  ): void {
    let install: { view: number; overlay: Overlay } | undefined;
    for (const output of instance.logic.step(input)) {
      switch (output.kind) {
        case "send": {
          outputs.push({ kind: "send", to: output.to, body: { view: instance.view, body: output.body } });
          // V2: a group that only forwards VIEW installs the new view when it forwards it.
          const carried = this.protocol.carried(output.body);
          const control =
            carried === undefined ? undefined : controlPayload(carried, this.options.controller);
          if (control?.control === "view" && instance === this.current) install ??= this.nextView(control);
          break;
        }
        case "deliver": {
          assert(
            instance === this.current,
            () =>
              `${this.group} delivers ${output.message.id} in old view ${instance.view} (now ${this.current.view})`,
          );
          const control = controlPayload(output.message, this.options.controller);
          if (control?.control === "stats") {
            outputs.push({
              kind: "deliver",
              message: output.message,
              result: this.takeCounts(),
              withDelays: true,
            });
          } else if (control?.control === "view") {
            install ??= this.nextView(control);
            outputs.push({ kind: "deliver", message: output.message, result: { installed: control.view } });
          } else {
            this.count(output.message);
            outputs.push(output);
          }
          break;
        }
        case "redirect":
        case "view":
          outputs.push(output);
          break;
        default:
          assertNever(output, "output");
      }
    }
    if (install !== undefined && install.view === this.current.view + 1) {
      // V6: VIEW entered here (as a request): tell the groups it will not reach.
      if (input.kind === "request") {
        const overlay = overlayToJson(install.overlay);
        for (const group of unreachedByView(this.current.overlay))
          outputs.push({ kind: "send", to: group, body: { view: this.current.view, install: overlay } });
      }
      this.install(install.view, install.overlay, outputs);
    }
  }

  /** The view a VIEW control message installs (its overlay checked), or undefined if stale. */
  private nextView(
    control: Extract<ControlPayload, { control: "view" }>,
  ): { view: number; overlay: Overlay } | undefined {
    if (control.view !== this.current.view + 1) return undefined;
    const overlay = parseOverlay(control.overlay, `view ${control.view}`);
    assert(overlay.kind === this.current.overlay.kind, () => `view ${control.view} changes the overlay kind`);
    // Every group with replicas stays in every view: a group left out would never see the next
    // VIEW, and would wait forever if a later view used it again.
    for (const group of this.config.groups)
      assert(overlay.hasGroup(group), () => `view ${control.view} leaves out group ${group}`);
    return { view: control.view, overlay };
  }

  private install(view: number, overlay: Overlay, outputs: GroupOutput<ViewedMessage<M>>[]): void {
    const old = this.current;
    this.current = this.instance(view, overlay);
    outputs.push({ kind: "view", view });
    // V4 for requests the old view's instance held back unordered (admission control): it orders
    // nothing after VIEW, so their clients send them again under the new view.
    for (const message of old.logic.takeHeldRequests?.() ?? []) this.redirect(message, old.view, outputs);
    for (const old of [...this.views.keys()])
      if (old < view - this.options.oldViewsMax) this.views.delete(old);
    // Inputs that waited for this view run now, in arrival order.
    const pending = this.waiting.get(view) ?? [];
    this.waiting.delete(view);
    this.waitingCount -= pending.length;
    for (const input of pending) this.handle(input, outputs);
  }

  private instance(view: number, overlay: Overlay): ViewInstance<M, P> {
    const controller = this.options.controller;
    const context: GroupConfig<P> = {
      ...this.config,
      overlay,
      changesView: (message) => controlPayload(message, controller)?.control === "view",
    };
    const instance = { view, overlay, context, logic: this.protocol.createGroup(context) };
    this.views.set(view, instance);
    return instance;
  }

  private wait(view: number, input: GroupInput<ViewedMessage<M>>): void {
    assert(
      this.waitingCount < this.options.waitingInputsMax,
      () => `${this.group} holds ${this.waitingCount} inputs for future views`,
    );
    let list = this.waiting.get(view);
    if (list === undefined) {
      list = [];
      this.waiting.set(view, list);
    }
    list.push(input);
    this.waitingCount += 1;
  }

  /** V5: count a delivered message once, at its first destination, per client. */
  private count(message: Multicast): void {
    if (message.dst[0] !== this.group) return;
    const set = destinationKey(message.dst);
    const key = `${message.client}\n${set}`;
    const entry = this.counts.get(key) ?? this.counts.get(set);
    if (entry !== undefined) entry.count += 1;
    else if (this.counts.size < COUNT_KEYS_MAX)
      this.counts.set(key, { dst: message.dst, count: 1, client: message.client });
    else this.counts.set(set, { dst: message.dst, count: 1 });
  }

  private takeCounts(): DestinationCount[] {
    const counts = [...this.counts.values()].map((entry) => ({ ...entry }));
    this.counts.clear();
    return counts;
  }
}

/** V6: the groups a VIEW to every target never reaches: in a tree, the ancestors of their lca. */
function unreachedByView(overlay: Overlay): GroupId[] {
  if (overlay.kind === "cdag") return [];
  const unreached: GroupId[] = [];
  let group = overlay.parent(overlay.lca(overlay.targets));
  while (group !== null) {
    unreached.push(group);
    group = overlay.parent(group);
  }
  return unreached;
}

/**
 * The reconfigurable variant of an overlay protocol: the same logic, run per overlay view, with
 * views installed by the controller's ordered VIEW multicasts (see ReconfigurableGroup).
 */
export function reconfigurable<M, P>(
  protocol: ProtocolDefinition<M, P>,
  options: ReconfigOptions,
): OverlayProtocolDefinition<ViewedMessage<M>, P> {
  assert(protocol.overlayKind !== null, () => `${protocol.name} has no overlay to reconfigure`);
  const inner: OverlayProtocolDefinition<M, P> = protocol;
  const parse = inner.parseParams;
  return {
    name: inner.name,
    overlayKind: inner.overlayKind,
    ...(parse === undefined ? {} : { parseParams: (params, system) => parse.call(inner, params, system) }),
    entryGroups: (dst, context) => inner.entryGroups(dst, context),
    createGroup: (config) => new ReconfigurableGroup(config, inner, options),
    describe: (message) =>
      "install" in message ? { kind: "view-install", bytes: 64 } : inner.describe(message.body),
    carried: (message) => ("install" in message ? undefined : inner.carried(message.body)),
    checksEntry: true,
    ...(inner.modelLatencyMs === undefined ? {} : { modelLatencyMs: inner.modelLatencyMs }),
  };
}
