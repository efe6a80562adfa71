/** Where trace times come from: milliseconds on a clock every process of a run shares. */
export interface Clock {
  now(): number;
}

/**
 * Milliseconds since `startNs` on the machine's monotonic clock (`process.hrtime.bigint()`, i.e.
 * CLOCK_MONOTONIC, the same in every process of one machine). The launcher reads it once and
 * passes it to every process, so their traces share one time axis. Reading it goes through
 * `performance.now()` (the same clock, cheaper) with an offset fixed at construction.
 */
export function monotonicClock(startNs: bigint): Clock {
  // Bracket one hrtime reading between two performance.now() readings and keep the tightest of a
  // few tries: a first call can be slow (lazy initialisation, a descheduled process), and an
  // offset read across such a pause would shift every timestamp of this process.
  let offsetMs = 0;
  let bestGapMs = Number.POSITIVE_INFINITY;
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const before = performance.now();
    const sinceStartMs = Number(process.hrtime.bigint() - startNs) / 1e6;
    const after = performance.now();
    if (after - before < bestGapMs) {
      bestGapMs = after - before;
      offsetMs = sinceStartMs - (before + after) / 2;
    }
  }
  return { now: () => performance.now() + offsetMs };
}

/**
 * Milliseconds since the Unix epoch, advancing monotonically from the process's start. For
 * processes on several machines, whose monotonic clocks do not compare: their traces then agree
 * up to the machines' clock synchronisation (NTP).
 */
export function wallClock(): Clock {
  const originMs = performance.timeOrigin;
  return { now: () => originMs + performance.now() };
}
