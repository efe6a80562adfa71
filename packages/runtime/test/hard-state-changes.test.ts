import { Packr, Unpackr } from "msgpackr";
import { describe, expect, it } from "vitest";
import type { HardStateChange, HardStateEntry } from "../src/hard-state-changes.js";
import { HardStateRebuild, HardStateWriter } from "../src/hard-state-changes.js";

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/** Writes an entry as the journal does and reads it back (so the rebuild sees decoded values only). */
function throughDisk(entry: HardStateEntry): { bytes: number; read: (rebuild: HardStateRebuild) => void } {
  const packed = packr.pack(
    entry.whole ? [0, entry.version, entry.hardState] : [1, entry.version, ...entry.change],
  );
  const bytes = packed.length;
  const decoded = unpackr.unpack(Buffer.from(packed)) as unknown[];
  return {
    bytes,
    read: (rebuild) => {
      if (decoded[0] === 0) rebuild.whole(decoded[1] as number, decoded[2]);
      else rebuild.change(decoded[1] as number, decoded.slice(2) as unknown as HardStateChange);
    },
  };
}

/** A tiny seeded generator (the test's own; not the protocol's stream). */
function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

describe("a hard state written as what changed", () => {
  it("rebuilds every state of a Raft-like log suffix and PBFT-like certificates, writing only new records", () => {
    const random = lcg(7);
    const writer = new HardStateWriter(0);
    const rebuild = new HardStateRebuild();
    // Raft-like: entries past the last executed position; PBFT-like: certificates by sequence number.
    let term = 1;
    let after = 0;
    let suffix: { term: number; batch: string[] }[] = [];
    const certificates = new Map<number, { seq: number; view: number; votes: string[] }>();
    let withLog = true;
    let changeBytes = 0;
    let changes = 0;
    for (let turn = 0; turn < 400; turn += 1) {
      const roll = random();
      if (roll < 0.35) suffix = [...suffix, { term, batch: [`b${turn}`, "x".repeat(100)] }];
      else if (roll < 0.55 && suffix.length > 0) {
        const executed = 1 + Math.floor(random() * suffix.length);
        after += executed;
        suffix = suffix.slice(executed);
      } else if (roll < 0.6 && suffix.length > 1) {
        // A new leader's entries replace a conflicting tail.
        suffix = [...suffix.slice(0, 1), { term: term + 1, batch: [`c${turn}`] }];
        term += 1;
      } else if (roll < 0.75) {
        const seq = 1 + Math.floor(random() * 40);
        certificates.set(seq, { seq, view: term, votes: ["s1", "s2", "x".repeat(200)] });
      } else if (roll < 0.85) {
        const below = Math.floor(random() * 40);
        for (const seq of certificates.keys()) if (seq <= below) certificates.delete(seq);
      } else if (roll < 0.9) withLog = !withLog;
      // else: nothing changed this turn.
      const hardState = {
        term,
        votedFor: term % 2 === 0 ? "g/1" : null,
        prepared: [...certificates.values()],
        ...(withLog ? { log: { after, afterTerm: term - 1, entries: suffix } } : {}),
      };
      const entry = writer.next(hardState);
      if (entry === undefined) {
        expect(rebuild.hardState()).toEqual(hardState);
        continue;
      }
      const written = throughDisk(entry);
      if (!entry.whole) {
        changeBytes += written.bytes;
        changes += 1;
      }
      written.read(rebuild);
      expect(rebuild.version).toBe(writer.lastVersion);
      expect(rebuild.hardState()).toEqual(hardState);
    }
    expect(changes).toBeGreaterThan(200);
    // A whole state carries ~40 certificates of ~230 bytes; a change, at most a few records.
    expect(changeBytes / changes).toBeLessThan(400);
  });

  it("writes nothing when nothing changed, and the whole state first and when asked", () => {
    const writer = new HardStateWriter(4);
    const record = { seq: 1 };
    expect(writer.next({ view: 0, prepared: [record] })).toMatchObject({ whole: true, version: 5 });
    expect(writer.next({ view: 0, prepared: [record] })).toBeUndefined();
    const change = writer.next({ view: 1, prepared: [record] });
    // The skeleton changed, no collection did.
    expect(change).toEqual({ whole: false, version: 6, change: [[], { view: 1, prepared: [] }] });
    expect(writer.next({ view: 1, prepared: [record] }, true)).toMatchObject({ whole: true, version: 7 });
    expect(writer.lastWritten()).toEqual({ version: 7, hardState: { view: 1, prepared: [{ seq: 1 }] } });
  });

  it("skips what its newest whole state already holds, and names a change it cannot apply", () => {
    const writer = new HardStateWriter(0);
    const states = [
      { term: 1, entries: [{ i: 1 }] },
      { term: 1, entries: [{ i: 1 }, { i: 2 }] },
      { term: 2, entries: [{ i: 2 }] },
    ];
    const entries = states.map((state) => writer.next(state) as HardStateEntry);
    // A checkpoint carries the newest whole state; the entries before it that the log kept are skipped.
    const rebuild = new HardStateRebuild();
    rebuild.whole(3, states[2]);
    for (const entry of entries) throughDisk(entry).read(rebuild);
    expect(rebuild.hardState()).toEqual(states[2]);
    // Without the state it changes, a change is refused rather than applied to the wrong one.
    const lost = new HardStateRebuild();
    expect(() => throughDisk(entries[2] as HardStateEntry).read(lost)).toThrow(
      /change to hard state 2 follows hard state 0/,
    );
  });
});
