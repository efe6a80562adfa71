import { byzcast } from "@amcast/byzcast";
import type { GroupOutput, Multicast } from "@amcast/core";
import { parseOverlay } from "@amcast/core";
import { skeen } from "@amcast/skeen";
import { describe, expect, it } from "vitest";
import type { ViewedMessage } from "../src/index.js";
import { controlPayload, ReconfigurableGroup, reconfigurable } from "../src/index.js";

const treeJson = (root: string) => ({
  kind: "tree",
  name: `root-${root}`,
  groups: ["a", "b", "c"].map((id) => ({ id, role: "target" })),
  edges: ["a", "b", "c"].filter((id) => id !== root).map((id) => [root, id]),
});
const groups = ["a", "b", "c"];
const options = { controller: "ctl" };
const protocol = reconfigurable(byzcast, options);
const group = (id: string) =>
  new ReconfigurableGroup(
    { group: id, groups, overlay: parseOverlay(treeJson("a"), "tree.json"), params: undefined },
    byzcast,
    options,
  );
/** A tree over the targets a, b, c and the auxiliary group x, given by its edges. */
const treeWithAux = (...edges: [string, string][]) => ({
  kind: "tree",
  name: edges.map(([parent, child]) => `${parent}${child}`).join("-"),
  groups: [...groups.map((id) => ({ id, role: "target" })), { id: "x", role: "auxiliary" }],
  edges,
});
/** A group of the system with x, starting in view 0: x above a, a above b and c. */
const auxGroup = (id: string) =>
  new ReconfigurableGroup(
    {
      group: id,
      groups: [...groups, "x"],
      overlay: parseOverlay(treeWithAux(["x", "a"], ["a", "b"], ["a", "c"]), "tree.json"),
      params: undefined,
    },
    byzcast,
    options,
  );
const message = (id: string, dst: string[], client = "c0", payload?: unknown): Multicast => ({
  id,
  client,
  dst,
  payloadBytes: 0,
  ...(payload === undefined ? {} : { payload }),
});
const viewMessage = (id: string, view: number, root: string) =>
  message(id, groups, "ctl", { control: "view", view, overlay: treeJson(root) });
const summary = (outputs: readonly GroupOutput<ViewedMessage<unknown>>[]): string[] =>
  outputs.map((output) => {
    switch (output.kind) {
      case "send":
        return `send v${output.body.view} -> ${output.to}`;
      case "deliver":
        return `deliver ${output.message.id}`;
      case "redirect":
        return `redirect ${output.message.id} (v${output.requestView}) to v${output.view}`;
      case "view":
        return `view ${output.view}`;
      default:
        return "other";
    }
  });

describe("overlay views", () => {
  it("recognises control payloads only from the controller", () => {
    expect(controlPayload(message("s", ["a"], "ctl", { control: "stats" }), "ctl")).toEqual({
      control: "stats",
    });
    expect(controlPayload(message("s", ["a"], "c0", { control: "stats" }), "ctl")).toBeUndefined();
    expect(controlPayload(message("s", ["a"], "ctl", { control: "view", view: 1.5 }), "ctl")).toBeUndefined();
  });

  it("refuses a protocol without an overlay", () => {
    expect(() => reconfigurable(skeen, options)).toThrow(/no overlay/);
  });

  it("installs a view where VIEW is ordered and redirects requests of the old view", () => {
    const a = group("a");
    const b = group("b");
    // Under view 0 the root is a; VIEW(1) makes b the root.
    const view1 = viewMessage("v1", 1, "b");
    expect(summary(a.step({ kind: "request", message: view1, view: 0 }))).toEqual([
      "send v0 -> b",
      "send v0 -> c",
      "deliver v1",
      "view 1",
    ]);
    expect(a.view).toBe(1);
    // A request under view 0 that reaches a after the switch is redirected, not dropped.
    expect(summary(a.step({ kind: "request", message: message("m", ["a", "b"]), view: 0 }))).toEqual([
      "redirect m (v0) to v1",
    ]);
    // b still runs view 0: a view-1 request waits until b installs view 1, then runs.
    const m = message("m", ["a", "b"]);
    expect(summary(b.step({ kind: "request", message: m, view: 1 }))).toEqual([]);
    const forwarded = { view: 0, body: { type: "forward" as const, message: view1 } };
    expect(summary(b.step({ kind: "peer", from: "a", body: forwarded }))).toEqual([
      "deliver v1",
      "view 1",
      "send v1 -> a",
      "deliver m",
    ]);
  });

  it("refuses, on the peer input that releases it, a request that waited for a view overtaken by the next one", () => {
    const x = auxGroup("x");
    const view1 = treeWithAux(["x", "a"], ["x", "b"], ["x", "c"]);
    // View 1 has reached the targets, not yet x (an ancestor of the targets' lca in view 0, told
    // by the lca's install notice). VIEW(2) enters at x in view 1, and so does m: both wait.
    const view2 = message("v2", groups, "ctl", {
      control: "view",
      view: 2,
      overlay: treeWithAux(["x", "a"], ["a", "b"], ["a", "c"]),
    });
    expect(summary(x.step({ kind: "request", message: view2, view: 1 }))).toEqual([]);
    expect(summary(x.step({ kind: "request", message: message("m", ["a", "b"]), view: 1 }))).toEqual([]);
    // The notice installs view 1; VIEW(2), first in line, runs and installs view 2, which
    // overtakes m: m is refused during this peer step, under the view it was sent with.
    const notice = { view: 0, install: view1 };
    expect(summary(x.step({ kind: "peer", from: "a", body: notice }))).toEqual([
      "view 1",
      "send v1 -> a",
      "send v1 -> b",
      "send v1 -> c",
      "view 2",
      "redirect m (v1) to v2",
    ]);
  });

  it("answers STATS with the destination sets counted per client at their first destination, then resets", () => {
    const a = group("a");
    a.step({ kind: "request", message: message("m1", ["a"]), view: 0 });
    a.step({ kind: "request", message: message("m2", ["a"]), view: 0 });
    a.step({ kind: "request", message: message("m3", ["a", "b"]), view: 0 });
    a.step({ kind: "request", message: message("m4", ["a", "b"], "c1"), view: 0 });
    const stats = () =>
      a
        .step({ kind: "request", message: message("s", ["a"], "ctl", { control: "stats" }), view: 0 })
        .flatMap((output) => (output.kind === "deliver" ? [output.result] : []));
    expect(stats()).toEqual([
      [
        { dst: ["a"], count: 2, client: "c0" },
        { dst: ["a", "b"], count: 1, client: "c0" },
        { dst: ["a", "b"], count: 1, client: "c1" },
      ],
    ]);
    expect(stats()).toEqual([[]]);
  });

  it("keeps the protocol's name and entry groups", () => {
    const overlay = parseOverlay(treeJson("a"), "tree.json");
    expect(protocol.name).toBe("byzcast");
    expect(protocol.entryGroups(["b", "c"], { groups, overlay, params: undefined })).toEqual(["a"]);
  });
});
