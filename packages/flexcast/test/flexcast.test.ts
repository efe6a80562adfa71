import type { GroupInput, Multicast } from "@amcast/core";
import { CdagOverlay, GroupOutputCollector, Prng } from "@amcast/core";
import { describe, expect, it } from "vitest";
import type { FlexCastMessage, FlexForward } from "../src/index.js";
import { DEFAULT_FLEXCAST_OPTIONS, FlexCastGroup, flexcast, flexcastLatencyMs } from "../src/index.js";
import { History, Knowledge, Vertex } from "../src/knowledge.js";
import type { HistoryEntry } from "../src/messages.js";
import { Net, windows } from "./net.js";

const message = (id: string, dst: string[]): Multicast => ({ id, client: "c0", dst, payloadBytes: 0 });

describe("FlexCast group logic", () => {
  it("the lca delivers on arrival; a local message never enters a history (rules 2, 3)", () => {
    const net = new Net(["a", "b"]);
    expect(net.request("l1", ["a"])).toEqual(["deliver l1"]);
    expect(net.group("a").historyEntries).toBe(0);
    expect(net.request("m1", ["a", "b"])).toEqual(["deliver m1", "b msg m1"]);
    expect(windows(net.peek("a", "b"), net.overlay)).toEqual(["a@0:[m1]"]);
    expect(net.pass("a", "b")).toEqual(["deliver m1"]);
    expect(
      flexcast.entryGroups(["a", "b"], { groups: ["a", "b"], overlay: net.overlay, params: undefined }),
    ).toEqual(["a"]);
    expect(
      flexcast.entryGroups(["b", "c", "d"], {
        groups: ["b", "c", "d"],
        overlay: new CdagOverlay("o", ["d", "c", "b"]),
        params: undefined,
      }),
    ).toEqual(["d"]);
  });

  it("windows carry only what the receiver was not sent before, by absolute offset (rule 1)", () => {
    const net = new Net(["a", "b"]);
    net.request("m1", ["a", "b"]);
    net.request("m2", ["a", "b"]);
    expect(windows(net.peek("a", "b"), net.overlay)).toEqual(["a@0:[m1]"]);
    net.pass("a", "b");
    expect(windows(net.peek("a", "b"), net.overlay)).toEqual(["a@1:[m2]"]);
    expect(net.pass("a", "b")).toEqual(["deliver m2"]);
  });

  it("a stretch sent to several descendants is one array, counted alike; what follows it is sent afresh (rule 1)", () => {
    const net = new Net(["a", "b", "c", "d"]);
    const earlier = Array.from({ length: 20 }, (_, index) => `x${index}`);
    for (const id of earlier) net.request(id, ["a", "b"]);
    net.request("m1", ["a", "c", "d"]);
    const toC = net.peek("a", "c");
    const toD = net.peek("a", "d");
    if (toC?.type !== "msg" || toD?.type !== "msg") throw new Error("m1 was forwarded to c and d");
    // Both were sent a's history from its start: one stretch, one array.
    expect(toC.hst[0]?.entries).toBe(toD.hst[0]?.entries);
    expect(windows(toC, net.overlay)).toEqual([`a@0:[${[...earlier, "m1"].join(",")}]`]);
    // Its modelled size is the same counted afresh (a copy of the array) and from the shared one.
    const copied: FlexForward = {
      ...toC,
      hst: toC.hst.map((window) => ({ ...window, entries: [...window.entries] })),
    };
    const bytes = flexcast.describe(copied).bytes;
    expect(flexcast.describe(toC).bytes).toBe(bytes);
    expect(flexcast.describe(toD).bytes).toBe(bytes);
    // What comes later starts where each was left.
    net.request("m2", ["a", "c"]);
    net.request("m3", ["a", "d"]);
    net.pass("a", "c");
    net.pass("a", "d");
    expect(windows(net.peek("a", "c"), net.overlay)).toEqual(["a@21:[m2]"]);
    expect(windows(net.peek("a", "d"), net.overlay)).toEqual(["a@21:[m2,m3]"]);
    const delivered = net.drain().filter((line) => line.includes("deliver"));
    expect(delivered).toContain("c: deliver m2");
    expect(delivered).toContain("d: deliver m3");
  });

  it("a history hands out the same array for the same stretch only while the history has not grown", () => {
    const entry = (id: string): HistoryEntry => ({ id, dst: [0, 1] });
    const history = new History(0);
    history.push(entry("m1"), new Vertex(entry("m1"), false, 1));
    const first = history.slice(0);
    expect(history.slice(0)).toBe(first);
    history.push(entry("m2"), new Vertex(entry("m2"), false, 1));
    expect(history.slice(0).map((each) => each.id)).toEqual(["m1", "m2"]);
    expect(first.map((each) => each.id)).toEqual(["m1"]);
    expect(history.slice(1).map((each) => each.id)).toEqual(["m2"]);
    history.dropBefore(1);
    expect(history.slice(1).map((each) => each.id)).toEqual(["m2"]);
  });

  it("a history's rings keep every retained entry at its offset across cuts, wrap-arounds, growth and a shrink", () => {
    const entry = (id: string): HistoryEntry => ({ id, dst: [0, 1] });
    const history = new History(0);
    const vertices: Vertex[] = [];
    const add = (count: number): void => {
      for (let made = 0; made < count; made += 1) {
        const next = entry(`m${vertices.length}`);
        const vertex = new Vertex(next, false, 1);
        expect(history.push(next, vertex)).toBe(vertices.length);
        vertices.push(vertex);
      }
    };
    const expectRetained = (from: number): void => {
      expect(history.base).toBe(from);
      expect(history.end).toBe(vertices.length);
      expect(history.slice(from).map((each) => each.id)).toEqual(
        vertices.slice(from).map((vertex) => vertex.entry.id),
      );
      for (let index = from; index < vertices.length; index += 1) {
        expect(history.vertexAt(index)).toBe(vertices[index]);
        expect(history.agreesAt(index, entry(`m${index}`))).toBe(true); // another object, the same id
        expect(history.agreesAt(index, vertices[index]?.entry)).toBe(true);
        expect(history.agreesAt(index, entry(`m${index + 1}`))).toBe(false);
        expect(history.before(index)).toBe(index > from ? vertices[index - 1] : undefined);
        expect(history.after(index)).toBe(vertices[index + 1]);
      }
      if (from > 0) expect(() => history.vertexAt(from - 1)).toThrow(/no retained entry/);
      expect(history.agreesAt(vertices.length, entry(`m${vertices.length}`))).toBe(false);
      if (from > 0) expect(history.agreesAt(from - 1, vertices[from - 1]?.entry)).toBe(false);
    };
    add(40); // grows past the first capacity twice
    expectRetained(0);
    history.dropBefore(30);
    add(20); // wraps around the freed front, then grows again
    expectRetained(30);
    history.dropBefore(55);
    history.compactStorage(); // five retained: rings of eight
    expectRetained(55);
    add(9); // and grows from there
    expectRetained(55);
  });

  it("a vertex's slots keep their order when one is dropped, and it takes more than it made room for", () => {
    const slotsOf = (vertex: Vertex): number[] =>
      Array.from({ length: vertex.slotCount }, (_, slot) => [
        vertex.slotOwner(slot),
        vertex.slotIndex(slot),
      ]).flat();
    const vertex = new Vertex({ id: "m", dst: [0, 1, 2, 3] }, false, 3);
    vertex.addSlot(2, 7);
    vertex.addSlot(0, 3);
    vertex.addSlot(1, 5);
    vertex.addSlot(3, 9); // beyond the room made: grown, not lost
    expect(slotsOf(vertex)).toEqual([2, 7, 0, 3, 1, 5, 3, 9]);
    vertex.dropSlot(2); // the first: the others move up, out of the spare room too
    expect(slotsOf(vertex)).toEqual([0, 3, 1, 5, 3, 9]);
    vertex.dropSlot(1);
    expect(slotsOf(vertex)).toEqual([0, 3, 3, 9]);
    vertex.addSlot(2, 11);
    expect(slotsOf(vertex)).toEqual([0, 3, 3, 9, 2, 11]);
    vertex.dropSlot(0);
    vertex.dropSlot(2);
    expect(slotsOf(vertex)).toEqual([3, 9]);
    expect(() => vertex.dropSlot(1)).toThrow(/no entry in 1's history/);
  });

  it("an lca's entry makes its message's vertex; a later entry of the message finds it by id", () => {
    // Group 3 of 5: x's destinations are above it, y's span it.
    const knowledge = new Knowledge(3, 5, true);
    const x: HistoryEntry = { id: "x", dst: [0, 1] };
    const y: HistoryEntry = { id: "y", dst: [1, 4] };
    knowledge.merge(2, [{ group: 0, from: 0, entries: [x] }]);
    const vertexOfX = knowledge.vertex("x");
    expect(vertexOfX?.slotCount).toBe(1);
    knowledge.merge(2, [{ group: 1, from: 0, entries: [x, y] }]);
    // x's entry in 1's history joined the vertex its lca's entry made: one vertex, two slots.
    expect(knowledge.vertex("x")).toBe(vertexOfX);
    expect(vertexOfX?.slotCount).toBe(2);
    expect(knowledge.histories[1]?.vertexAt(0)).toBe(vertexOfX);
    expect(knowledge.vertex("y")?.entry).toBe(y);
    expect(knowledge.vertexCount).toBe(2);
    // Another destination's entry before the lca's cannot happen: the lca's entry says so.
    const w: HistoryEntry = { id: "w", dst: [1, 2] };
    knowledge.merge(2, [{ group: 2, from: 0, entries: [w] }]);
    expect(() => knowledge.merge(2, [{ group: 1, from: 2, entries: [w] }])).toThrow(
      /w known here before its lca's entry/,
    );
  });

  it("two lcas racing into one destination: b waits for a message only a's history names (Example A)", () => {
    // Order a < c < b. a delivers m1 -> {a,b} then m2 -> {a,c}; c delivers m2 then m3 -> {c,b}.
    const net = new Net(["a", "c", "b"]);
    expect(net.request("m1", ["a", "b"])).toEqual(["deliver m1", "b msg m1"]);
    expect(net.request("m2", ["a", "c"])).toEqual(["deliver m2", "c msg m2"]);
    expect(net.pass("a", "c")).toEqual(["deliver m2"]);
    expect(net.request("m3", ["b", "c"])).toEqual(["deliver m3", "b msg m3"]);
    // c's copy of m3 carries a's window [m1, m2] and its own [m2, m3]: m1 ~> m2 ~> m3.
    expect(windows(net.peek("c", "b"), net.overlay)).toEqual(["a@0:[m1,m2]", "c@0:[m2,m3]"]);
    // m3 reaches b first, but m1 (for b, not yet here) precedes it in the graph: rule 3(4).
    expect(net.pass("c", "b")).toEqual([]);
    expect(net.group("b").pendingCount).toBe(1);
    expect(net.pass("a", "b")).toEqual(["deliver m1", "deliver m3"]);
  });

  it("the race the other way round: what arrives in order is delivered on arrival", () => {
    const net = new Net(["a", "c", "b"]);
    net.request("m1", ["a", "b"]);
    net.request("m2", ["a", "c"]);
    net.pass("a", "c");
    net.request("m3", ["b", "c"]);
    expect(net.pass("a", "b")).toEqual(["deliver m1"]);
    expect(net.pass("c", "b")).toEqual(["deliver m3"]);
  });

  it("an order implied only through a non-destination group needs its notification (Example B)", () => {
    // Order a < c < b. c delivers m2 -> {c,b} then m0 -> {a,c}; a delivers m0 then m1 -> {a,b}.
    // So m2 <_c m0 <_a m1, and b must deliver m2 before m1 though c is no destination of m1.
    const net = new Net(["a", "c", "b"]);
    expect(net.request("m0", ["a", "c"])).toEqual(["deliver m0", "c msg m0"]);
    expect(net.request("m2", ["b", "c"])).toEqual(["deliver m2", "b msg m2"]);
    expect(net.pass("a", "c")).toEqual(["deliver m0"]);
    // a knows a message for c (m0), and c lies between m1's destinations: a notifies c (rule 4).
    expect(net.request("m1", ["a", "b"])).toEqual(["deliver m1", "c notif m1 #0", "b msg m1 notifying c#0"]);
    // b has m1 from a but waits for c's answer (rule 3(3)), though nothing it knows precedes m1.
    expect(net.pass("a", "b")).toEqual([]);
    // c has delivered m0, the only message for it that precedes m1: it answers at once (rule 5),
    // to every destination below it, with its history [m2, m0].
    expect(net.pass("a", "c")).toEqual(["b ack m1 answers a#0"]);
    expect(windows(net.peek("c", "b"), net.overlay)).toEqual(["c@0:[m2]"]); // m2's copy, sent earlier
    expect(net.pass("c", "b")).toEqual(["deliver m2"]);
    expect(windows(net.peek("c", "b"), net.overlay)).toEqual(["a@0:[m0,m1]", "c@1:[m0]"]);
    expect(net.pass("c", "b")).toEqual(["deliver m1"]);
  });

  it("b holds m1, which arrived first, until c's answer shows m2 ~> m0 ~> m1", () => {
    // Same run, but b hears of m2 only after c's answer: the answer's window names m2 before m1,
    // so b holds m1 until m2's copy arrives (here the copy and the answer share the c -> b link,
    // so FIFO brings m2 first; the window check is what b relies on).
    const net = new Net(["a", "c", "b"]);
    net.request("m0", ["a", "c"]);
    net.request("m2", ["b", "c"]);
    net.pass("a", "c");
    net.request("m1", ["a", "b"]);
    net.pass("a", "c");
    expect(net.waiting("c", "b")).toEqual(["b msg m2", "b ack m1 answers a#0"]);
    expect(net.pass("a", "b")).toEqual([]);
    expect(net.drain()).toEqual(["b: deliver m2", "b: deliver m1"]);
  });

  it("a notified group answers only after delivering the messages for it that precede (rule 5)", () => {
    // Order a < d < c < b. m0 -> {a,d,c}: c needs d's ack. m1 -> {a,b}: a notifies d and c.
    const net = new Net(["a", "d", "c", "b"]);
    expect(net.request("m0", ["a", "c", "d"])).toEqual(["deliver m0", "d msg m0", "c msg m0"]);
    expect(net.request("m1", ["a", "b"])).toEqual([
      "deliver m1",
      "d notif m1 #0",
      "c notif m1 #1",
      "b msg m1 notifying d#0,c#1",
    ]);
    // c gets m0 (waits for d's ack) and the notification: m0 precedes m1, so no answer yet.
    expect(net.pass("a", "c")).toEqual([]);
    expect(net.pass("a", "c")).toEqual([]);
    expect(net.group("c").pendingNotificationCount).toBe(1);
    // d delivers m0, acks c, and answers its own notification: to b, and it notifies c in turn.
    expect(net.pass("a", "d")).toEqual(["deliver m0", "c ack m0"]);
    expect(net.pass("a", "d")).toEqual(["c notif m1 #0", "b ack m1 answers a#0 notifying c#0"]);
    expect(net.pass("d", "c")).toEqual(["deliver m0", "b ack m1 answers a#1"]);
    expect(net.pass("d", "c")).toEqual(["b ack m1 answers d#0"]);
    // b needs: a's copy, d's and c's answers to a, and c's answer to d's notification.
    expect(net.pass("a", "b")).toEqual([]);
    expect(net.pass("d", "b")).toEqual([]);
    expect(net.pass("c", "b")).toEqual([]);
    expect(net.pass("c", "b")).toEqual(["deliver m1"]);
  });

  it("a notified group that delivered nothing since its last round does not notify again (rule 5)", () => {
    // Order a < t1 < t2 < t3 < b; m0 makes every t a known destination; m1 -> {a,b} spans them.
    const net = new Net(["a", "t1", "t2", "t3", "b"]);
    net.request("m0", ["a", "t1", "t2", "t3"]);
    net.drain();
    net.sent.length = 0;
    net.request("m1", ["a", "b"]);
    expect(net.drain()).toContain("b: deliver m1");
    const notifsTo = (group: string): number =>
      net.sent.filter((line) => line.split(" ")[1] === group && line.includes(" notif ")).length;
    // t1 hears from a; t2 from a and t1; t3 from a, t1 and t2 once: t2's second answer adds
    // nothing (it delivered nothing in between), so it sends no second round.
    expect([notifsTo("t1"), notifsTo("t2"), notifsTo("t3")]).toEqual([1, 2, 3]);
  });

  it("a chained notification visits the targets in order; the last answers the destination (rule 8)", () => {
    // Order a < t1 < t2 < b; m0 makes t1 and t2 targets of m1 -> {a,b}.
    const net = new Net(["a", "t1", "t2", "b"], { notifications: "chain" });
    net.request("m0", ["a", "t1", "t2"]);
    net.drain();
    expect(net.request("m1", ["a", "b"])).toEqual([
      "deliver m1",
      "t1 notif m1 #0 of a then t2",
      "b msg m1 notifying t1#0",
    ]);
    // t1 may answer (it delivered m0): it passes the notification on, and answers nobody (b is below t2).
    expect(net.pass("a", "t1")).toEqual(["t2 notif m1 #0 of a"]);
    expect(net.pass("t1", "t2")).toEqual(["b ack m1 answers a#0"]);
    // b has a's copy, but waits for the chain's answer, which carries t1's history relayed by t2.
    expect(net.pass("a", "b")).toEqual([]);
    expect(windows(net.peek("t2", "b"), net.overlay).some((window) => window.startsWith("t1@"))).toBe(true);
    expect(net.pass("t2", "b")).toEqual(["deliver m1"]);
    expect(net.drain()).toEqual([]);
  });

  it("a chain answers each destination from its last target above it, and waits as rule 5 says (rule 8)", () => {
    // Order a < t1 < c < t2 < b; m0 makes t1 and t2 targets of m -> {a,c,b}, and t2 must deliver
    // m0 before it answers. c hears the chain from t1, b from t2; c's own chain (t2) answers b too.
    const net = new Net(["a", "t1", "c", "t2", "b"], { notifications: "chain" });
    net.request("m0", ["a", "t1", "t2"]);
    net.pass("a", "t1");
    expect(net.request("m", ["a", "b", "c"])).toEqual([
      "deliver m",
      "t1 notif m #0 of a then t2",
      "c msg m notifying t1#0",
      "b msg m notifying t1#0",
    ]);
    expect(net.pass("a", "t1")).toEqual(["t2 notif m #0 of a", "c ack m answers a#0"]);
    expect(net.pass("a", "c")).toEqual([]);
    expect(net.pass("t1", "c")).toEqual(["deliver m", "t2 notif m #0 of c", "b ack m notifying t2#0"]);
    // t2 has not delivered m0 (its copy is still on a -> t2): both chains wait there.
    expect(net.waiting("t1", "t2")).toEqual(["t2 ack m0", "t2 notif m #0 of a"]);
    expect(net.pass("t1", "t2")).toEqual([]);
    expect(net.pass("t1", "t2")).toEqual([]);
    expect(net.pass("c", "t2")).toEqual([]);
    expect(net.group("t2").pendingNotificationCount).toBe(2);
    expect(net.pass("a", "t2")).toEqual(["deliver m0", "b ack m answers a#0", "b ack m answers c#0"]);
    expect(net.pass("a", "b")).toEqual([]);
    expect(net.pass("c", "b")).toEqual([]);
    expect(net.pass("t2", "b")).toEqual([]);
    expect(net.pass("t2", "b")).toEqual(["deliver m"]);
    expect(net.drain()).toEqual([]);
  });

  it("acknowledgements may arrive before the copy they acknowledge (rule 6)", () => {
    // Order a < c < b; m -> {a,c,b}. c's ack overtakes a's copy on another link.
    const net = new Net(["a", "c", "b"]);
    expect(net.request("m", ["a", "b", "c"])).toEqual(["deliver m", "c msg m", "b msg m"]);
    expect(net.pass("a", "c")).toEqual(["deliver m", "b ack m"]);
    expect(net.pass("c", "b")).toEqual([]);
    expect(net.group("b").pendingCount).toBe(1);
    expect(net.pass("a", "b")).toEqual(["deliver m"]);
    expect(net.group("b").pendingCount).toBe(0);
  });

  it("a notification's answer may arrive before the copy that registers it", () => {
    // Order a < t < b; t knows a message for it (m0), so m1 -> {a,b} notifies it.
    const net = new Net(["a", "t", "b"]);
    net.request("m0", ["a", "t"]);
    net.pass("a", "t");
    expect(net.request("m1", ["a", "b"])).toEqual(["deliver m1", "t notif m1 #0", "b msg m1 notifying t#0"]);
    expect(net.pass("a", "t")).toEqual(["b ack m1 answers a#0"]);
    expect(net.pass("t", "b")).toEqual([]);
    expect(net.pass("a", "b")).toEqual(["deliver m1"]);
  });

  it("a destination waits for every destination between the lca and itself", () => {
    const net = new Net(["a", "c", "d", "b"]);
    net.request("m", ["a", "b", "c", "d"]);
    expect(net.pass("a", "b")).toEqual([]);
    expect(net.pass("a", "d")).toEqual([]);
    expect(net.pass("a", "c")).toEqual(["deliver m", "d ack m", "b ack m"]);
    expect(net.pass("c", "b")).toEqual([]);
    expect(net.pass("c", "d")).toEqual(["deliver m", "b ack m"]);
    expect(net.pass("d", "b")).toEqual(["deliver m"]);
  });

  it("flushes by itself, keeps the flush from the application, and cuts the histories (rule 7)", () => {
    const net = new Net(["a", "b", "c"], { flushEvery: 2 });
    net.request("m1", ["a", "b", "c"]);
    const lines = net.request("m2", ["a", "c"]);
    expect(lines).toEqual([
      "deliver m2",
      "b notif m2 #0",
      "c msg m2 notifying b#0",
      "b msg #flush/a/1",
      "c msg #flush/a/1",
    ]);
    const delivered = net.drain().filter((line) => line.includes("deliver"));
    expect(delivered.some((line) => line.includes("#flush"))).toBe(false);
    expect(delivered.sort()).toEqual(["b: deliver m1", "c: deliver m1", "c: deliver m2"]);
    expect(net.group("a").flushesIssued).toBe(1);
    // Everything before the flush is dead everywhere and was sent to every descendant.
    for (const name of ["a", "b", "c"]) expect(net.group(name).historyEntries).toBeLessThanOrEqual(3);
    expect(net.group("c").historyEntries).toBe(0);
  });

  it("after a flush, a message known to precede it covers its group: no notification, still ordered (rule 4)", () => {
    // Example B with a flush of a's between m0 and m1: m0 <_a flush <_a m1. c is not notified
    // for m1, yet b sees m2 ~> m0 ~> flush ~> m1: the flush waits for c's acknowledgement, which
    // c sends only after m0 (m0 precedes the flush), with its history [m2, m0, flush].
    const net = new Net(["a", "c", "b"], {}, { a: { flushEvery: 1 } });
    net.request("m2", ["b", "c"]);
    expect(net.request("m0", ["a", "c"])).toEqual([
      "deliver m0",
      "c msg m0",
      "c msg #flush/a/1",
      "b msg #flush/a/1",
    ]);
    expect(net.request("m1", ["a", "b"])).toEqual([
      "deliver m1",
      "b msg m1",
      "c msg #flush/a/2",
      "b msg #flush/a/2",
    ]);
    // b hears from a first: it holds m1 behind the flush, which waits for c.
    expect(net.pass("a", "b")).toEqual([]);
    expect(net.pass("a", "b")).toEqual([]);
    const atB = net.drain().filter((line) => line.startsWith("b: deliver"));
    expect(atB).toEqual(["b: deliver m2", "b: deliver m1"]);
  });

  it("after a flush, a message for a group that dies later still makes it a target (rule 4)", () => {
    // Order z < w < x < a < c < b. a knows m0 -> {z,c} from z's history before it delivers x's
    // flush, but m0 comes to precede a's deliveries only afterwards (m0 <_z y, and a delivers y
    // after the flush). Then m2 <_c m0 <_z y <_a m1, and b must deliver m2 before m1: a must
    // notify c for m1 although the flush came after it learnt of m0. A rule that forgot, at a
    // flush, every group known before it would not notify c, and b would deliver m1 first.
    const net = new Net(["z", "w", "x", "a", "c", "b"], {}, { x: { flushEvery: 1 } });
    expect(net.request("m0", ["z", "c"])).toEqual(["deliver m0", "c msg m0"]);
    expect(net.request("y", ["z", "w", "a"])).toEqual(["deliver y", "w msg y", "a msg y"]);
    expect(net.pass("z", "a")).toEqual([]); // y waits for w's acknowledgement
    expect(net.request("q", ["x", "a"])).toEqual([
      "deliver q",
      "a msg q",
      "a msg #flush/x/1",
      "c msg #flush/x/1",
      "b msg #flush/x/1",
    ]);
    expect(net.pass("x", "a")).toEqual(["deliver q"]);
    expect(net.pass("x", "a")).toEqual(["c ack #flush/x/1", "b ack #flush/x/1"]); // a's flush epoch 1
    expect(net.pass("z", "w")).toEqual(["deliver y", "a ack y"]);
    expect(net.pass("w", "a")).toEqual(["deliver y"]); // now m0 precedes a's deliveries
    // c delivers the flush, then m2, and holds m0 back (its copy is still on z -> c).
    expect(net.pass("x", "c")).toEqual([]);
    expect(net.pass("a", "c")).toEqual(["b ack #flush/x/1"]); // c delivers the flush (never to the application)
    expect(net.request("m2", ["b", "c"])).toEqual(["deliver m2", "b msg m2"]);
    const m1 = net.request("m1", ["a", "b"]);
    // b hears from x and a, and c's acknowledgement of the flush: without a notification it
    // could deliver the flush and m1 now, before m2 (still behind on c -> b).
    const atB = [net.pass("x", "b"), net.pass("a", "b"), net.pass("a", "b"), net.pass("c", "b")]
      .flat()
      .map((line) => `b: ${line}`);
    atB.push(...net.drain());
    expect(atB.filter((line) => line.startsWith("b: deliver"))).toEqual(["b: deliver m2", "b: deliver m1"]);
    expect(m1).toEqual(["deliver m1", "c notif m1 #0", "b msg m1 notifying c#0"]);
    // c answered only once it delivered m0 (the notification's window shows m0 ~> y ~> m1).
    expect(net.sent.indexOf("c b ack m1 answers a#0")).toBeGreaterThan(net.sent.indexOf("c b msg m2"));
  });

  it("holds client multicasts back until the last group says a flush is done, and orders none after a view change (rule 9)", () => {
    const overlay = new CdagOverlay("o", ["a", "b"]);
    // Two groups: flushes in flight take 2 x 3 entries of the budget of 8, the share is 1 entry.
    const options = { ...DEFAULT_FLEXCAST_OPTIONS, boundHistory: true, historyEntriesMax: 8 };
    const changesView = (multicast: Multicast): boolean => multicast.id === "view";
    const config = (group: string) => ({
      group,
      groups: ["a", "b"],
      overlay,
      params: undefined,
      changesView,
    });
    const a = new FlexCastGroup(config("a"), options);
    const b = new FlexCastGroup(config("b"), options);
    const links = { a: [] as FlexCastMessage[], b: [] as FlexCastMessage[] };
    const step = (group: FlexCastGroup, input: GroupInput<FlexCastMessage>): string[] =>
      group.step(input).map((output) => {
        if (output.kind === "deliver") return `deliver ${output.message.id}`;
        if (output.kind !== "send") throw new Error(`unexpected ${output.kind}`);
        links[output.to as "a" | "b"].push(output.body);
        return `${output.to} ${output.body.type} ${output.body.id}`;
      });
    const request = (id: string, dst = ["a", "b"]) => step(a, { kind: "request", message: message(id, dst) });
    const toB = (): string[] =>
      links.b.splice(0).flatMap((body) => step(b, { kind: "peer", from: "a", body }));
    const toA = (): string[] =>
      links.a.splice(0).flatMap((body) => step(a, { kind: "peer", from: "b", body }));
    expect(a.historyEntriesBound).toBe(2 * Math.max(1, 2) + 6);
    expect(request("m1")).toEqual(["deliver m1", "b msg m1", "b msg #flush/a/1"]);
    expect(request("m2")).toEqual([]);
    expect(request("view")).toEqual([]);
    expect(request("m3")).toEqual([]);
    // A local multicast never enters a history: it does not wait.
    expect(request("l1", ["a"])).toEqual(["deliver l1"]);
    expect(a.heldRequests).toBe(3);
    // b, the last group, delivers the flush and tells a; m2 goes, and a flush to make room for the next.
    expect(toB()).toEqual(["deliver m1", "a done #flush/a/1"]);
    expect(toA()).toEqual(["deliver m2", "b msg m2", "b msg #flush/a/2"]);
    expect(toB()).toEqual(["deliver m2", "a done #flush/a/2"]);
    // The view change goes; nothing after it in this view (a flush may: it reaches no application).
    expect(toA()).toEqual(["deliver view", "b msg view", "b msg #flush/a/3"]);
    expect(toB()).toEqual(["deliver view", "a done #flush/a/3"]);
    expect(toA()).toEqual([]);
    expect(a.heldRequests).toBe(1);
    expect(a.takeHeldRequests().map((held) => held.id)).toEqual(["m3"]);
    expect(a.heldRequests).toBe(0);
    expect(a.requestsHeldBack).toBe(3);
    expect(() => step(a, { kind: "peer", from: "b", body: { type: "done", id: "#flush/a/3" } })).toThrow(
      /no flush it awaits/,
    );
  });

  it("rejects what the layer below must never hand it", () => {
    const overlay = new CdagOverlay("o", ["a", "b"]);
    const b = new FlexCastGroup({ group: "b", groups: ["a", "b"], overlay, params: undefined });
    expect(() => b.step({ kind: "request", message: message("m", ["a", "b"]) })).toThrow(/not as its lca/);
    const a = new FlexCastGroup({ group: "a", groups: ["a", "b"], overlay, params: undefined });
    expect(() =>
      a.step({
        kind: "peer",
        from: "b",
        body: { type: "notif", id: "m", dst: [0, 1], seq: 0, hst: [] },
      }),
    ).toThrow(/flows down/);
    expect(() =>
      b.step({
        kind: "peer",
        from: "a",
        body: { type: "msg", id: "m", dst: [0, 1], message: message("m", ["a", "b"]), hst: [], notifs: [] },
      }),
    ).toThrow(/window holds m/);
    expect(() =>
      b.step({
        kind: "peer",
        from: "a",
        body: {
          type: "msg",
          id: "m",
          dst: [0, 1],
          message: message("m", ["a", "b"]),
          hst: [{ group: 0, from: 3, entries: [{ id: "m", dst: [0, 1] }] }],
          notifs: [],
        },
      }),
    ).toThrow(/gap/);
    expect(() => new FlexCastGroup({ group: "a", groups: ["a"], overlay: null, params: undefined })).toThrow(
      /C-DAG/,
    );
  });

  it("models the latency as the longest path through the participants", () => {
    const overlay = new CdagOverlay("o", ["a", "t", "b"]);
    const latency = {
      clientToGroupMs: (group: string) => ({ a: 10, t: 50, b: 40 })[group] ?? 0,
      groupToGroupMs: (from: string, to: string) => (from === "a" && to === "t" ? 5 : from === to ? 0 : 20),
    };
    expect(flexcastLatencyMs(["a"], overlay, latency)).toBe(10);
    // a at 10; t notified at 10 + 5 = 15; b hears from a at 30 and from t at 35.
    expect(flexcastLatencyMs(["a", "b"], overlay, latency)).toBe(35);
    expect(
      flexcast.modelLatencyMs?.(["a", "t"], { groups: overlay.groups, overlay, params: undefined }, latency),
    ).toBe(15);
  });

  it.each(["direct", "chain"] as const)(
    "hands a sink (stepInto) the outputs step returns, in order, with one input object reused (%s)",
    (notifications) => {
      // Five groups take random multicasts over FIFO links (flushes every 8 deliveries); each input
      // goes to a copy that answers `step` and to one that fills a sink from an input object
      // refilled every time.
      const order = ["a", "b", "c", "d", "e"];
      const overlay = new CdagOverlay("o", order);
      const make = (group: string) =>
        new FlexCastGroup(
          { group, groups: order, overlay, params: undefined },
          { ...DEFAULT_FLEXCAST_OPTIONS, flushEvery: 8, notifications },
        );
      const stepped = order.map(make);
      const sunk = order.map(make);
      const reused = { kind: "request", message: message("", ["a"]), from: "", body: undefined } as {
        kind: "request" | "peer";
        message: Multicast;
        from: string;
        body: FlexCastMessage | undefined;
      };
      const prng = new Prng(7);
      // links[from * groups + to]: the peer inputs in flight on a link, in order (links are FIFO).
      const links: GroupInput<FlexCastMessage>[][] = Array.from({ length: order.length ** 2 }, () => []);
      let delivered = 0;
      let sent = 0;
      for (let id = 0; id < 300 || links.some((link) => link.length > 0); ) {
        const busy = links.flatMap((link, index) => (link.length > 0 ? [index] : []));
        let at: number;
        let input: GroupInput<FlexCastMessage>;
        if (id < 300 && (busy.length === 0 || prng.chance({ numerator: 1, denominator: 3 }))) {
          const dst = prng.sample(order, 1 + prng.int(4));
          const lca = overlay.lca(dst);
          at = order.indexOf(lca);
          input = { kind: "request", message: message(`m${id}`, dst) };
          id += 1;
        } else {
          const link = prng.pick(busy);
          at = link % order.length;
          input = (links[link] as GroupInput<FlexCastMessage>[]).shift() as GroupInput<FlexCastMessage>;
        }
        const outputs = (stepped[at] as FlexCastGroup).step(input);
        const sink = new GroupOutputCollector<FlexCastMessage>();
        reused.kind = input.kind;
        if (input.kind === "request") reused.message = input.message;
        else {
          reused.from = input.from;
          reused.body = input.body;
        }
        (sunk[at] as FlexCastGroup).stepInto(reused as GroupInput<FlexCastMessage>, sink);
        expect(sink.take()).toEqual(outputs);
        for (const output of outputs) {
          if (output.kind === "deliver") delivered += 1;
          if (output.kind === "send") {
            sent += 1;
            (links[at * order.length + order.indexOf(output.to)] as GroupInput<FlexCastMessage>[]).push({
              kind: "peer",
              from: order[at] as string,
              body: output.body,
            });
          }
        }
      }
      expect(delivered).toBeGreaterThan(300);
      expect(sent).toBeGreaterThan(300);
      expect(sunk.map((g) => g.flushesIssued)).toEqual(stepped.map((g) => g.flushesIssued));
      expect(sunk.some((g) => g.flushesIssued > 0)).toBe(true);
      expect(sunk.map((g) => g.snapshot())).toEqual(stepped.map((g) => g.snapshot()));
    },
  );
});
