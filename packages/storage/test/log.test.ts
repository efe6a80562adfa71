import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { FsyncPolicy } from "../src/index.js";
import { FSYNC_POLICIES, ReplicaLog, StorageCorruptError } from "../src/index.js";

let directory: string;
beforeEach(() => {
  directory = mkdtempSync(join(tmpdir(), "amcast-storage-"));
});
afterEach(() => {
  rmSync(directory, { recursive: true, force: true });
});

const entry = (index: number): Buffer =>
  Buffer.from(`decided entry ${index} `.repeat(1 + (index % 5)), "utf8");
const segments = (): string[] =>
  readdirSync(directory)
    .filter((name) => name.endsWith(".seg"))
    .sort();
const lastSegment = (): string => join(directory, segments().at(-1) as string);

async function writeEntries(count: number, fsync: FsyncPolicy = "batch", from = 1): Promise<void> {
  const { log } = await ReplicaLog.open(directory, { fsync });
  for (let index = from; index < from + count; index += 1) {
    expect(log.append(entry(index))).toBe(index);
    if (index % 7 === 0) await log.sync();
  }
  await log.close();
}

describe("the replica log", () => {
  it.each(FSYNC_POLICIES)("reloads every entry in order (fsync %s)", async (fsync) => {
    await writeEntries(50, fsync);
    const { log, recovery } = await ReplicaLog.open(directory, { fsync });
    expect(recovery.checkpoint).toBeNull();
    expect(recovery.truncatedBytes).toBe(0);
    expect(recovery.entries.map((e) => e.position)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    for (const e of recovery.entries) expect(e.payload.equals(entry(e.position))).toBe(true);
    expect(log.nextPosition).toBe(51);
    await log.close();
  });

  it("writes at once without fsync per batch (writeNow): what it wrote is in the file before any sync or close", async () => {
    for (const fsync of ["interval", "none"] as const) {
      const dir = join(directory, fsync);
      const { log } = await ReplicaLog.open(dir, { fsync, segmentBytesMax: 600 });
      for (let index = 1; index <= 40; index += 1) {
        log.append(entry(index));
        // A full segment is left to sync(), which starts the next one.
        if (!log.writeNow()) await log.sync();
        expect(log.bufferedBytes).toBe(0);
      }
      // Read by another opener while the writer still runs (as after a SIGKILL): every entry.
      const { log: reader, recovery } = await ReplicaLog.open(dir, { fsync });
      expect(recovery.entries.map((item) => item.payload.toString())).toEqual(
        Array.from({ length: 40 }, (_, index) => entry(index + 1).toString()),
      );
      await reader.close();
      await log.close();
    }
    const { log } = await ReplicaLog.open(join(directory, "batch"), { fsync: "batch" });
    log.append(entry(1));
    expect(log.writeNow()).toBe(false);
    await log.close();
  });

  it("keeps no entries in memory when asked, and reads them back a segment at a time (forEachEntry)", async () => {
    const { log: writer } = await ReplicaLog.open(directory, { segmentBytesMax: 400 });
    for (let index = 1; index <= 60; index += 1) {
      writer.append(entry(index));
      if (index % 5 === 0) await writer.sync();
    }
    await writer.checkpoint(10, Buffer.from("state after 10"));
    for (let index = 61; index <= 70; index += 1) writer.append(entry(index));
    await writer.close();
    expect(segments().length).toBeGreaterThan(3);
    const { log, recovery } = await ReplicaLog.open(directory, { keepEntries: false });
    expect(recovery.entries).toEqual([]);
    expect(recovery.entryCount).toBe(60);
    const read: number[] = [];
    log.forEachEntry((item) => {
      expect(item.payload.toString()).toBe(entry(item.position).toString());
      read.push(item.position);
      return undefined;
    });
    expect(read).toEqual(Array.from({ length: 60 }, (_, index) => index + 11));
    // false stops; an entry appended and not yet written is not read.
    log.append(entry(71));
    const firstTwo: number[] = [];
    log.forEachEntry((item) => {
      firstTwo.push(item.position);
      return firstTwo.length < 2;
    });
    expect(firstTwo).toEqual([11, 12]);
    let count = 0;
    log.forEachEntry(() => {
      count += 1;
      return undefined;
    });
    expect(count).toBe(60);
    await log.close();
  });

  it("shares one write among concurrent syncs and keeps appending after a reopen", async () => {
    const { log } = await ReplicaLog.open(directory);
    for (let index = 1; index <= 10; index += 1) log.append(entry(index));
    await Promise.all([log.sync(), log.sync(), log.sync()]);
    await log.close();
    await writeEntries(5, "batch", 11);
    const { log: reopened, recovery } = await ReplicaLog.open(directory);
    expect(recovery.entries.map((e) => e.position)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    await reopened.close();
  });

  it("cuts off a torn last record and continues after the last whole one", async () => {
    await writeEntries(20);
    const path = lastSegment();
    const size = statSync(path).size;
    truncateSync(path, size - 5); // the crash interrupted the last record's write
    const { log, recovery } = await ReplicaLog.open(directory);
    expect(recovery.entries.map((e) => e.position)).toEqual(Array.from({ length: 19 }, (_, i) => i + 1));
    expect(recovery.truncatedBytes).toBeGreaterThan(0);
    expect(log.nextPosition).toBe(20);
    log.append(entry(20));
    await log.close();
    const again = await ReplicaLog.open(directory);
    expect(again.recovery.entries.map((e) => e.position)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    expect(again.recovery.truncatedBytes).toBe(0);
    expect(again.recovery.entries.at(-1)?.payload.equals(entry(20))).toBe(true);
    await again.log.close();
  });

  it("treats zeros after the last record (extended but never written) as a torn tail", async () => {
    await writeEntries(8);
    appendFileSync(lastSegment(), Buffer.alloc(300));
    const { log, recovery } = await ReplicaLog.open(directory);
    expect(recovery.entries).toHaveLength(8);
    expect(recovery.truncatedBytes).toBe(300);
    await log.close();
  });

  it("refuses a corrupt record with whole records after it, naming the file and offset", async () => {
    await writeEntries(20);
    const path = lastSegment();
    const contents = readFileSync(path);
    contents[8 + 16 + 3] = (contents[8 + 16 + 3] as number) ^ 0x55; // inside entry 1's payload
    writeFileSync(path, contents);
    await expect(ReplicaLog.open(directory)).rejects.toThrow(StorageCorruptError);
    await expect(ReplicaLog.open(directory)).rejects.toThrow(/checksum mismatch at byte 8 \(entry 1\)/);
    // Nothing was cut: the damage is left for a person (or state transfer) to deal with.
    expect(statSync(path).size).toBe(contents.length);
  });

  it("checkpoints atomically, drops the segments the checkpoint covers, and replays only what follows", async () => {
    const { log } = await ReplicaLog.open(directory, { segmentBytesMax: 512 });
    for (let index = 1; index <= 100; index += 1) {
      log.append(entry(index));
      if (index % 10 === 0) await log.sync();
    }
    await log.sync();
    const before = segments().length;
    expect(before).toBeGreaterThan(3);
    await log.checkpoint(80, Buffer.from("state after 80"));
    expect(segments().length).toBeLessThan(before);
    for (let index = 101; index <= 110; index += 1) log.append(entry(index));
    await log.close();
    expect(readdirSync(directory)).not.toContain("checkpoint.tmp");

    const { log: reopened, recovery } = await ReplicaLog.open(directory, { segmentBytesMax: 512 });
    expect(recovery.checkpoint?.position).toBe(80);
    expect(recovery.checkpoint?.state.toString()).toBe("state after 80");
    expect(recovery.entries.map((e) => e.position)).toEqual(Array.from({ length: 30 }, (_, i) => i + 81));
    // A checkpoint at the end of the log leaves no segment with entries behind.
    await reopened.checkpoint(110, Buffer.from("state after 110"));
    await reopened.close();
    const last = await ReplicaLog.open(directory);
    expect(last.recovery.checkpoint?.position).toBe(110);
    expect(last.recovery.entries).toEqual([]);
    expect(last.log.nextPosition).toBe(111);
    expect(segments()).toEqual(["log-0000000000000111.seg"]);
    await last.log.close();
  });

  it("stops, and closes without touching the closed file, when a checkpoint cannot start its next segment", async () => {
    const { log } = await ReplicaLog.open(directory, { fsync: "interval" });
    for (let index = 1; index <= 5; index += 1) log.append(entry(index));
    await log.sync();
    // The segment the checkpoint rolls to cannot be created (a directory holds its name).
    mkdirSync(join(directory, "log-0000000000000006.seg"));
    await expect(log.checkpoint(3, Buffer.from("state after 3"))).rejects.toThrow(/EISDIR/);
    // The failure is the log's from now on: no write to the file the roll closed.
    expect(() => log.append(entry(6))).toThrow(/EISDIR/);
    await expect(log.sync()).rejects.toThrow(/EISDIR/);
    await expect(log.close()).resolves.toBeUndefined();
  });

  it("keeps the log contiguous when appends and syncs run while checkpoints roll segments", async () => {
    const { log } = await ReplicaLog.open(directory, { segmentBytesMax: 300 });
    const running: Promise<void>[] = [];
    for (let index = 1; index <= 400; index += 1) {
      log.append(entry(index));
      if (index % 3 === 0) running.push(log.sync());
      // Checkpoints start while earlier syncs are in flight and later appends keep coming.
      if (index % 50 === 0)
        running.push(log.checkpoint(index - 20, Buffer.from(`state after ${index - 20}`)));
    }
    await Promise.all(running);
    await log.close();
    const { log: reopened, recovery } = await ReplicaLog.open(directory);
    expect(recovery.checkpoint?.position).toBe(380);
    expect(recovery.entries.map((e) => e.position)).toEqual(Array.from({ length: 20 }, (_, i) => i + 381));
    for (const e of recovery.entries) expect(e.payload.equals(entry(e.position))).toBe(true);
    await reopened.close();
  });

  it("installs a checkpoint past its log's end (state from peers) and continues after it", async () => {
    await writeEntries(10);
    const { log } = await ReplicaLog.open(directory);
    await log.checkpoint(5000, Buffer.from("fetched"));
    expect(log.nextPosition).toBe(5001);
    log.append(entry(5001));
    await log.close();
    const { log: reopened, recovery } = await ReplicaLog.open(directory);
    expect(recovery.checkpoint?.position).toBe(5000);
    expect(recovery.entries.map((e) => e.position)).toEqual([5001]);
    await reopened.close();
  });

  it("opens after a crash between installing a checkpoint past the end and deleting the old segments", async () => {
    await writeEntries(10);
    const stale = readFileSync(join(directory, "log-0000000000000001.seg"));
    const { log } = await ReplicaLog.open(directory);
    await log.checkpoint(5000, Buffer.from("fetched"));
    log.append(entry(5001));
    await log.close();
    writeFileSync(join(directory, "log-0000000000000001.seg"), stale); // the deletion never happened
    const { log: reopened, recovery } = await ReplicaLog.open(directory);
    expect(recovery.checkpoint?.position).toBe(5000);
    expect(recovery.entries.map((e) => e.position)).toEqual([5001]);
    expect(segments()).toEqual(["log-0000000000005001.seg"]);
    await reopened.close();
  });

  it("refuses a damaged checkpoint and a log that does not reach back to it", async () => {
    const { log } = await ReplicaLog.open(directory);
    log.append(entry(1));
    await log.checkpoint(1, Buffer.from("one"));
    await log.close();
    const path = join(directory, "checkpoint");
    const contents = readFileSync(path);
    contents[contents.length - 1] = 0;
    writeFileSync(path, contents);
    await expect(ReplicaLog.open(directory)).rejects.toThrow(/checkpoint: checksum mismatch/);

    rmSync(path);
    writeFileSync(join(directory, "log-0000000000000009.seg"), Buffer.from("AMCLOG01"));
    for (const name of segments()) if (name !== "log-0000000000000009.seg") rmSync(join(directory, name));
    await expect(ReplicaLog.open(directory)).rejects.toThrow(
      /starts at entry 9 but the checkpoint covers only up to 0/,
    );
  });

  it("fails whole when a segment change cannot create the next file: the closed file is never written or fsynced again, close resolves, nothing written is lost", async () => {
    const { log } = await ReplicaLog.open(directory, { fsync: "interval" });
    for (let index = 1; index <= 5; index += 1) log.append(entry(index));
    await log.sync();
    // The checkpoint at 3 continues the log in a new segment from 6: a directory there makes
    // creating it fail after the current file is closed (as a data directory deleted under a
    // running replica does).
    const blocker = join(directory, "log-0000000000000006.seg");
    mkdirSync(blocker);
    await expect(log.checkpoint(3, Buffer.from("state after 3"))).rejects.toThrow(/EISDIR/);
    // The log is failed with that cause; it never reaches for the closed file ("file closed").
    expect(() => log.append(entry(6))).toThrow(/EISDIR/);
    expect(() => log.writeNow()).toThrow(/EISDIR/);
    await expect(log.sync()).rejects.toThrow(/EISDIR/);
    await log.close();
    rmSync(blocker, { recursive: true });
    const { log: reopened, recovery } = await ReplicaLog.open(directory);
    expect(recovery.checkpoint?.position).toBe(3);
    expect(recovery.entries.map((written) => written.position)).toEqual([4, 5]);
    await reopened.close();
  });

  it("closes once, after what is in flight: concurrent closes share it, a checkpoint in progress finishes, new work is refused", async () => {
    const { log } = await ReplicaLog.open(directory, { fsync: "interval", segmentBytesMax: 64 });
    for (let index = 1; index <= 6; index += 1) log.append(entry(index));
    // A checkpoint (with its segment change), a write and two closes, all in flight at once.
    const checkpoint = log.checkpoint(4, Buffer.from("state after 4"));
    const closes = [log.close(), log.close()];
    expect(() => log.append(entry(7))).toThrow(/closed/);
    await expect(log.checkpoint(5, Buffer.from("late"))).rejects.toThrow(/closed/);
    await checkpoint;
    await Promise.all(closes);
    const { log: reopened, recovery } = await ReplicaLog.open(directory);
    expect(recovery.checkpoint?.position).toBe(4);
    expect(recovery.entries.map((written) => written.position)).toEqual([5, 6]);
    await reopened.close();
  });

  it("bounds its buffer: appending past pendingBytesMax without syncing is refused", async () => {
    const { log } = await ReplicaLog.open(directory, { pendingBytesMax: 1000 });
    const payload = Buffer.alloc(100);
    let accepted = 0;
    expect(() => {
      for (;;) {
        log.append(payload);
        accepted += 1;
      }
    }).toThrow(/log buffer full/);
    expect(accepted).toBe(8); // 8 × (16 + 100) bytes fit in 1000
    await log.sync();
    expect(log.bufferedBytes).toBe(0);
    log.append(payload);
    await log.close();
    await expect(ReplicaLog.open(directory, { fsync: "sometimes" as FsyncPolicy })).rejects.toThrow(
      /fsync: expected one of batch, interval, none/,
    );
  });
});
