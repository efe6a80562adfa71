import { describe, expect, it } from "vitest";
import { ClientRequests } from "../src/clients.js";

const reply = (id: string) => ({ t: "reply" as const, id, group: "g", result: null });
const redirect = (id: string, requestView: number, view: number) => ({
  t: "redirect" as const,
  id,
  requestView,
  view,
  overlay: { kind: "tree", name: `v${view}` },
});

describe("per-client request table", () => {
  it("forgets what the client settled, so the table holds what is in flight, not the history", () => {
    const table = new ClientRequests(1000);
    for (let seq = 0; seq < 100; seq += 1) {
      // A client with two in flight: request seq settles everything below seq - 1.
      expect(table.markExecuted("c", seq, 0, Math.max(0, seq - 1))).toBe(true);
      table.recordReply("c", seq, reply(`c:${seq}`));
    }
    expect(table.cachedReply("c", 99)).toEqual(reply("c:99"));
    expect(table.cachedReply("c", 98)).toEqual(reply("c:98"));
    expect(table.cachedReply("c", 97)).toBeUndefined();
    // Settled requests still count as executed: a late copy is dropped, never run twice.
    expect(table.isExecuted("c", 5, 0)).toBe(true);
    expect(table.markExecuted("c", 5, 0, 0)).toBe(false);
  });

  it("slides a window over a client that never settles anything", () => {
    const table = new ClientRequests(10);
    for (let seq = 0; seq < 30; seq += 1) table.markExecuted("c", seq, 0, 0);
    expect(table.isExecuted("c", 0, 0)).toBe(true);
    expect(table.markExecuted("c", 3, 0, 0)).toBe(false);
  });

  it("forgets a redirected request so it can run when sent again under the new view", () => {
    const table = new ClientRequests(10);
    expect(table.markExecuted("c", 0, 0)).toBe(true);
    expect(table.forget("c", 0, redirect("c:0", 0, 1))).toBe(true);
    expect(table.isExecuted("c", 0, 1)).toBe(false);
    expect(table.markExecuted("c", 0, 1)).toBe(true);
    expect(() => table.markExecuted("c", 1, 0, 2)).toThrow(/settles only requests below/);
    expect(() => table.forget("c", 7, redirect("c:7", 0, 1))).toThrow(/was not executed/);
  });

  it("counts a copy of the refused version as done: it is stale, never useful again", () => {
    // The group ordered (c, 0) sent under view 0 and the logic refused it (view 2 is installed). A
    // replica that pooled a copy of it but skipped that execution (it installed a checkpoint past
    // it) must find it done, or it holds it for ever and suspects a correct primary over it.
    const table = new ClientRequests(10);
    table.markExecuted("c", 0, 0);
    const refused = redirect("c:0", 0, 2);
    expect(table.forget("c", 0, refused)).toBe(true);
    const restored = new ClientRequests(10);
    restored.restore(table.snapshot());
    for (const copy of [table, restored]) {
      expect(copy.isExecuted("c", 0, 0)).toBe(true);
      expect(copy.markExecuted("c", 0, 0)).toBe(false);
      // A retry of the refused version gets the redirect again, not an execution.
      expect(copy.cachedReply("c", 0)).toEqual(refused);
      // Delivered here through another group (the client sent it again elsewhere): not cached,
      // since its retries do not come here; every replica answers it at once.
      expect(copy.recordReplyIfExecuted("c", 0, reply("c:0"))).toBe(false);
      expect(copy.cachedReply("c", 0)).toEqual(refused);
      // The version sent again under view 2 runs, once; refused again, it is stale in turn.
      expect(copy.isExecuted("c", 0, 2)).toBe(false);
      expect(copy.markExecuted("c", 0, 2)).toBe(true);
      expect(copy.markExecuted("c", 0, 2)).toBe(false);
      expect(copy.forget("c", 0, redirect("c:0", 2, 3))).toBe(true);
      expect(copy.isExecuted("c", 0, 2)).toBe(true);
      expect(copy.isExecuted("c", 0, 3)).toBe(false);
      expect(() => copy.forget("c", 0, redirect("c:0", 2, 3))).toThrow(/was not executed/);
    }
  });

  it("keeps a request its client settled or that was answered: no redirect is owed", () => {
    const table = new ClientRequests(10);
    table.markExecuted("c", 0, 0);
    table.markExecuted("c", 1, 0);
    table.recordReply("c", 1, reply("c:1"));
    expect(table.forget("c", 1, redirect("c:1", 0, 1))).toBe(false);
    expect(table.cachedReply("c", 1)).toEqual(reply("c:1"));
    // Request 2 settles request 0, which (say) still waited in the logic.
    table.markExecuted("c", 2, 0, 2);
    expect(table.forget("c", 0, redirect("c:0", 0, 1))).toBe(false);
    expect(table.isExecuted("c", 0, 1)).toBe(true);
  });
});
