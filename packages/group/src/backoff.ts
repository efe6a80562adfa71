/**
 * How much slower than its base a replicated orderer believes the network to be: timeouts are
 * multiplied by 2^level. The orderer raises the level when the network proved slower than its
 * timeouts assumed; the level falls one step after a long calm in which every observation stayed
 * well under what the lower level allows, so fast failover returns once the network calms down.
 * What counts as evidence and as an observation is the orderer's business (Raft watches the
 * leader's silences, PBFT how long inputs wait to execute); the rise-and-calm bookkeeping is here.
 * Counted in ticks, so it is deterministic.
 */
export class BackoffLevel {
  private current = 0;
  /** Since when the calm is watched (the last change of level, or the last completed watch). */
  private calmSince = 0;
  /** The longest observation since `calmSince`. */
  private longest = 0;

  constructor(private readonly levelMax: number) {}

  get level(): number {
    return this.current;
  }

  /** `base` scaled by the level. */
  scale(base: number): number {
    return base * 2 ** this.current;
  }

  /** The network proved slower than assumed: one level up (at most `levelMax`); the calm starts over. */
  raise(now: number): void {
    this.current = Math.min(this.current + 1, this.levelMax);
    this.restartCalm(now);
  }

  /** Starts the calm over without changing the level (e.g. the thing watched changed). */
  restartCalm(now: number): void {
    this.calmSince = now;
    this.longest = 0;
  }

  /**
   * Notes an observation (0 to only check the calm). Once `calmTicks` have passed since the calm
   * started, drops one level if the longest observation stayed below `dropBelow`, and starts the
   * calm over either way.
   */
  observe(now: number, value: number, calmTicks: number, dropBelow: number): void {
    this.longest = Math.max(this.longest, value);
    if (this.current === 0 || now - this.calmSince < calmTicks) return;
    if (this.longest < dropBelow) this.current -= 1;
    this.restartCalm(now);
  }
}
