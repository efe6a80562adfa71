import { describe, expect, it } from "vitest";
import { ClientRequests } from "../src/clients.js";

const reply = (id: string) => ({ t: "reply" as const, id, group: "g", result: null });

describe("per-client request table", () => {
  it("forgets what the client settled, so the table holds what is in flight, not the history", () => {
    const table = new ClientRequests(1000);
    for (let seq = 0; seq < 100; seq += 1) {
      // A client with two in flight: request seq settles everything below seq - 1.
      expect(table.markExecuted("c", seq, Math.max(0, seq - 1))).toBe(true);
      table.recordReply("c", seq, reply(`c:${seq}`));
    }
    expect(table.cachedReply("c", 99)).toEqual(reply("c:99"));
    expect(table.cachedReply("c", 98)).toEqual(reply("c:98"));
    expect(table.cachedReply("c", 97)).toBeUndefined();
    // Settled requests still count as executed: a late copy is dropped, never run twice.
    expect(table.isExecuted("c", 5)).toBe(true);
    expect(table.markExecuted("c", 5, 0)).toBe(false);
  });

  it("slides a window over a client that never settles anything", () => {
    const table = new ClientRequests(10);
    for (let seq = 0; seq < 30; seq += 1) table.markExecuted("c", seq, 0);
    expect(table.isExecuted("c", 0)).toBe(true);
    expect(table.markExecuted("c", 3, 0)).toBe(false);
  });

  it("forgets a redirected request so it can run when sent again", () => {
    const table = new ClientRequests(10);
    expect(table.markExecuted("c", 0)).toBe(true);
    expect(table.forget("c", 0)).toBe(true);
    expect(table.isExecuted("c", 0)).toBe(false);
    expect(table.markExecuted("c", 0)).toBe(true);
    expect(() => table.markExecuted("c", 1, 2)).toThrow(/settles only requests below/);
    expect(() => table.forget("c", 7)).toThrow(/was not executed/);
  });

  it("keeps a request its client settled or that was answered: no redirect is owed", () => {
    const table = new ClientRequests(10);
    table.markExecuted("c", 0);
    table.markExecuted("c", 1);
    table.recordReply("c", 1, reply("c:1"));
    expect(table.forget("c", 1)).toBe(false);
    expect(table.cachedReply("c", 1)).toEqual(reply("c:1"));
    // Request 2 settles request 0, which (say) still waited in the logic.
    table.markExecuted("c", 2, 2);
    expect(table.forget("c", 0)).toBe(false);
    expect(table.isExecuted("c", 0)).toBe(true);
  });
});
