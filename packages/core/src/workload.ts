import { assert } from "./assert.js";
import type { DestinationSet, GroupId } from "./ids.js";
import { destinationSet } from "./ids.js";
import type { Prng, Ratio } from "./prng.js";
import { percent } from "./prng.js";
import type { Topology } from "./topology.js";

/**
 * The locality model of the workloads (after the FlexCast prototype's gTPC-C clients): each
 * client has a home group; `localPercent` of its multicasts go to the home group alone; a global
 * one goes to the home group plus `size - 1` others, `size` drawn from `globalSizes`.
 *
 * - `nearest`: the others come from the `size` groups nearest to the home group (one-way delay
 *   from its region), `size - 1` of them drawn uniformly, so most global traffic stays regional
 *   while some spreads one step further.
 * - `uniform`: the others are drawn uniformly from all target groups.
 */
export interface LocalitySpec {
  readonly localPercent: number;
  readonly globalSizes: readonly number[];
  readonly globalChoice: "nearest" | "uniform";
}

export class DestinationChooser {
  readonly home: GroupId;
  private readonly others: readonly GroupId[];
  private readonly localChance: Ratio;

  constructor(
    private readonly spec: LocalitySpec,
    topology: Topology,
    targets: readonly GroupId[],
    home: GroupId,
  ) {
    assert(targets.includes(home), () => `home group ${home} is not a target group`);
    assert(
      Number.isInteger(spec.localPercent) && spec.localPercent >= 0 && spec.localPercent <= 100,
      "localPercent is 0..100",
    );
    assert(spec.globalSizes.length > 0 || spec.localPercent === 100, "global multicasts need a size");
    for (const size of spec.globalSizes)
      assert(Number.isInteger(size) && size >= 2, `global size ${size} is not >= 2`);
    this.home = home;
    this.localChance = percent(spec.localPercent);
    const others = targets.filter((group) => group !== home);
    this.others =
      spec.globalChoice === "nearest" ? topology.byNearness(topology.groupRegion(home), others) : others;
  }

  next(prng: Prng): DestinationSet {
    if (this.others.length === 0 || prng.chance(this.localChance)) return [this.home];
    const size = Math.min(prng.pick(this.spec.globalSizes), this.others.length + 1);
    const pool = this.spec.globalChoice === "nearest" ? this.others.slice(0, size) : this.others;
    return destinationSet([this.home, ...prng.sample(pool, size - 1)]);
  }
}

/** The home group of a client in `region`: the nearest target group (ties by id). */
export function nearestGroup(topology: Topology, region: string, targets: readonly GroupId[]): GroupId {
  const [nearest] = topology.byNearness(region, targets);
  assert(nearest !== undefined, "there is at least one target group");
  return nearest;
}
