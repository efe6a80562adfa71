import { byzcast } from "@amcast/byzcast";
import type { Multicast, ProcessOutput } from "@amcast/core";
import { parseOverlay } from "@amcast/core";
import type { GroupWire } from "@amcast/group";
import { createClient, createReplica, Membership } from "@amcast/group";
import { describe, expect, it } from "vitest";
import { reconfigurable } from "../src/index.js";

/**
 * A request that waits at a group for the view it was sent under, and is refused on the PEER input
 * that installs that view, because a later view was installed in the same step (found by the
 * swarm: `pnpm run swarm --protocol byzcast --reconfigure --seed 127`). Targets a, b, c; x is
 * auxiliary. View 0: x above a, a above b and c: x is above the targets' lca, VIEW never reaches
 * it, and the lca's install notice tells it to switch (V6). View 1: x above a, b, c. View 2: as 0.
 */
const tree = (name: string, ...edges: [string, string][]) => ({
  kind: "tree",
  name,
  groups: [
    { id: "a", role: "target" },
    { id: "b", role: "target" },
    { id: "c", role: "target" },
    { id: "x", role: "auxiliary" },
  ],
  edges,
});
const view0 = tree("v0", ["x", "a"], ["a", "b"], ["a", "c"]);
const view1 = tree("v1", ["x", "a"], ["x", "b"], ["x", "c"]);
const view2 = tree("v2", ["x", "a"], ["a", "b"], ["a", "c"]);
const protocol = reconfigurable(byzcast, { controller: "ctl" });
const membership = Membership.uniform(["a", "b", "c", "x"], 1);
const overlay = parseOverlay(view0, "view 0");
const replicaOfX = () =>
  createReplica({ protocol, group: "x", id: "x/0", membership, overlay, mode: "solo", f: 0 });
const request = (message: Multicast, view: number, settled = 0): GroupWire => ({
  t: "request",
  message,
  seq: Number(message.id.split(":")[1]),
  signature: "",
  settled,
  view,
});
/** VIEW(2), sent by the controller under view 1: in view 1 it enters at x, the targets' lca. */
const viewTwo = request(
  {
    id: "ctl:1",
    client: "ctl",
    dst: ["a", "b", "c"],
    payloadBytes: 0,
    payload: { control: "view", view: 2, overlay: view2 },
  },
  1,
);
/** a's notice to x (an item of a's stream to x): install view 1. */
const noticeFromA: GroupWire = { t: "copy", k: 0, body: [{ view: 0, install: view1 }], signature: "" };
const sendsTo = (outputs: readonly ProcessOutput[], to: string): GroupWire[] =>
  outputs.flatMap((output) => (output.kind === "send" && output.to === to ? [output.body as GroupWire] : []));

describe("a request refused on the peer input that releases it", () => {
  it("reaches its client as a redirect of the version it was sent under, which the client sends again", () => {
    const client = createClient({
      id: "c0",
      protocol,
      membership,
      overlay,
      mode: "solo",
      f: 0,
      outstandingMax: 2,
    });
    const { outputs: first } = client.multicast(["a", "b"], 8);
    expect(first.map((output) => (output.kind === "send" ? output.to : output.kind))).toEqual(["a/0"]);
    // a, in view 1 already, refused it: the client learns view 1 and sends it to x, its new lca.
    const fromA = client.receive("a/0", {
      t: "redirect",
      id: "c0:0",
      requestView: 0,
      view: 1,
      overlay: view1,
    });
    const toX = sendsTo(fromA, "x/0");
    expect(toX).toMatchObject([{ t: "request", view: 1 }]);

    const x = replicaOfX();
    // x is still in view 0: VIEW(2) and then the client's request wait for view 1.
    expect(x.receive("ctl", viewTwo)).toEqual([]);
    expect(x.receive("c0", toX[0])).toEqual([]);
    // The notice installs view 1; VIEW(2) runs first and installs view 2, which overtakes the
    // request: x refuses it in this peer step.
    const released = x.receive("a/0", noticeFromA);
    expect(released.flatMap((output) => (output.kind === "view" ? [output.view] : []))).toEqual([1, 2]);
    const redirects = sendsTo(released, "c0");
    expect(redirects).toMatchObject([
      { t: "redirect", id: "c0:0", requestView: 1, view: 2, overlay: { name: "v2" } },
    ]);
    expect(redirects).toHaveLength(1);

    // The client counts it against the version it sent (view 1) and sends it under view 2, to a.
    const again = client.receive("x/0", redirects[0]);
    expect(sendsTo(again, "a/0")).toMatchObject([{ t: "request", view: 2, message: { id: "c0:0" } }]);
    // x forgot the refused version: were it sent again under view 2, x would take it, not drop it.
    expect(x.drops.get("duplicate-request")).toBeUndefined();
  });

  it("sends no redirect for a request its client settled while it waited", () => {
    const x = replicaOfX();
    const waiting: Multicast = { id: "c1:0", client: "c1", dst: ["a", "b"], payloadBytes: 0 };
    const later: Multicast = { id: "c1:1", client: "c1", dst: ["a"], payloadBytes: 0 };
    expect(x.receive("ctl", viewTwo)).toEqual([]);
    expect(x.receive("c1", request(waiting, 1))).toEqual([]);
    // A (Byzantine) client says it holds every answer below c1:1 while c1:0 still waits.
    expect(sendsTo(x.receive("c1", request(later, 0, 1)), "c1")).toMatchObject([
      { t: "redirect", id: "c1:1" },
    ]);
    const released = x.receive("a/0", noticeFromA);
    expect(released.flatMap((output) => (output.kind === "view" ? [output.view] : []))).toEqual([1, 2]);
    expect(sendsTo(released, "c1")).toEqual([]);
  });
});
