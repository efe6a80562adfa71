import type { TreeOverlay } from "@amcast/core";
import { CdagOverlay, parseOverlay } from "@amcast/core";
import type { DestinationCount, GroupLatencyMs } from "../src/index.js";

/** mulberry32: a tiny seeded PRNG, so every instance replays from its seed. */
export function seeded(seed: number): {
  next(): number;
  int(bound: number): number;
  shuffle<T>(items: readonly T[]): T[];
} {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (bound: number): number => Math.floor(next() * bound);
  const shuffle = <T>(items: readonly T[]): T[] => {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = int(i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  };
  return { next, int, shuffle };
}

type Random = ReturnType<typeof seeded>;

/**
 * A random asymmetric one-way latency matrix over `ids` (1..201 ms, 0.1 ms steps); with `hub`,
 * ids[0] is 1..11 ms from and to everyone, so cheap trees route through it.
 */
export function randomLatency(random: Random, ids: readonly string[], hub = false): GroupLatencyMs {
  const matrix = ids.map((_, i) =>
    ids.map((__, j) => (hub && (i === 0 || j === 0) ? 1 + random.int(101) / 10 : 1 + random.int(2001) / 10)),
  );
  const index = new Map(ids.map((id, i) => [id, i]));
  return (from, to) => matrix[index.get(from) as number]?.[index.get(to) as number] as number;
}

/**
 * Every target alone, plus `sets` random destination sets of 2..maxSize targets, each sent from
 * one of its members (the origin of its clients).
 */
export function randomCounts(
  random: Random,
  targets: readonly string[],
  sets: number,
  maxSize: number,
  singleMax = 50,
): DestinationCount[] {
  const counts: DestinationCount[] = targets.map((group) => ({
    dst: [group],
    count: 1 + random.int(singleMax),
    origin: group,
  }));
  for (let s = 0; s < sets; s++) {
    const size = 2 + random.int(Math.min(maxSize, targets.length) - 1);
    const dst = random
      .shuffle(targets)
      .slice(0, size)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    counts.push({ dst, count: 1 + random.int(20), origin: dst[random.int(dst.length)] as string });
  }
  return counts;
}

export interface CdagInstance {
  readonly current: CdagOverlay;
  readonly counts: DestinationCount[];
  readonly latency: GroupLatencyMs;
}

/** 4-5 groups (or `groups`) in a random order, 3-8 random sets of up to 5 groups. */
export function randomCdag(seed: number, groups?: number): CdagInstance {
  const random = seeded(seed);
  const n = groups ?? 4 + random.int(2);
  const ids = Array.from({ length: n }, (_, i) => `g${i}`);
  const latency = randomLatency(random, ids);
  const counts = randomCounts(random, ids, 3 + random.int(6), 5);
  return { current: new CdagOverlay(`random-${seed}`, random.shuffle(ids)), counts, latency };
}

export interface TreeInstance {
  readonly current: TreeOverlay;
  readonly counts: DestinationCount[];
  readonly latency: GroupLatencyMs;
}

/**
 * 4-6 groups (or `groups`), 0-2 of them auxiliary: the auxiliary groups in a chain from the root, the targets
 * hanging below random auxiliary groups (below the first target without any); 2-6 sets of 2-4
 * groups (1-20 multicasts each), each target alone 1..singleMax times. With `hub`: one
 * auxiliary group, close to every group (see `randomLatency`), and 6-10 sets of 2-3
 * groups, so that the cheapest trees load the hub with more than any destination's own load.
 * `origins: false` leaves the clients' legs out (the load-limit tests: a smaller ILP).
 */
export function randomTree(
  seed: number,
  options: { singleMax?: number; hub?: boolean; groups?: number; origins?: boolean } = {},
): TreeInstance {
  const { singleMax = 50, hub = false, origins = true } = options;
  const random = seeded(seed);
  const n = options.groups ?? 4 + random.int(3);
  const auxiliaries = hub ? 1 : random.int(3);
  const ids = Array.from({ length: n }, (_, i) => (i < auxiliaries ? `a${i}` : `t${i}`));
  const targets = ids.slice(auxiliaries);
  const latency = randomLatency(random, ids, hub);
  const edges: [string, string][] = [];
  for (let i = 1; i < auxiliaries; i++) edges.push([ids[i - 1] as string, ids[i] as string]);
  const root = ids[0] as string;
  targets.forEach((target, i) => {
    if (target === root) return;
    // The last auxiliary group gets the first target, so it has a child.
    const parent =
      auxiliaries === 0
        ? root
        : i === 0
          ? (ids[auxiliaries - 1] as string)
          : (ids[random.int(auxiliaries)] as string);
    edges.push([parent, target]);
  });
  const current = parseOverlay(
    {
      kind: "tree",
      name: `random-${seed}`,
      groups: ids.map((id) => ({ id, role: id.startsWith("a") ? "auxiliary" : "target" })),
      edges,
    },
    `random tree ${seed}`,
  ) as TreeOverlay;
  const drawn = hub
    ? randomCounts(random, targets, 6 + random.int(5), 3, singleMax)
    : randomCounts(random, targets, 2 + random.int(5), 4, singleMax);
  const counts = origins ? drawn : drawn.map(({ dst, count }) => ({ dst, count }));
  return { current, counts, latency };
}

/** A latency function from a matrix over `ids`. */
export function matrixLatency(
  ids: readonly string[],
  matrix: readonly (readonly number[])[],
): GroupLatencyMs {
  const index = new Map(ids.map((id, i) => [id, i]));
  return (from, to) => {
    const value = matrix[index.get(from) as number]?.[index.get(to) as number];
    if (value === undefined) throw new Error(`no latency from ${from} to ${to}`);
    return value;
  };
}
