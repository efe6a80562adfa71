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
 * - `table`: the global multicast's destination set is drawn from the home group's table of
 *   destination sets with weights (`destinationTable`, e.g. the FlexCast prototype's locality
 *   files); `globalSizes` is not used.
 */
export interface LocalitySpec {
  readonly localPercent: number;
  readonly globalSizes: readonly number[];
  readonly globalChoice: "nearest" | "uniform" | "table";
  /** For `table`: per home group, destination sets (the home among them) and their weights. */
  readonly destinationTable?: ReadonlyMap<GroupId, readonly WeightedDestinations[]>;
}

/** A destination set and its weight in a home group's table (weights need not sum to anything). */
export interface WeightedDestinations {
  readonly dst: DestinationSet;
  readonly weight: number;
}

export class DestinationChooser {
  readonly home: GroupId;
  /** The destination set of a local multicast, one shared (read-only) array for all of them. */
  private readonly homeOnly: DestinationSet;
  private readonly others: readonly GroupId[];
  private readonly localChance: Ratio;
  /** For `table`: the home's sets and the running sums of their weights. */
  private readonly table: { readonly sets: readonly DestinationSet[]; readonly cumulative: number[] } | null;

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
    assert(
      spec.globalSizes.length > 0 || spec.localPercent === 100 || spec.globalChoice === "table",
      "global multicasts need a size",
    );
    for (const size of spec.globalSizes)
      assert(Number.isInteger(size) && size >= 2, `global size ${size} is not >= 2`);
    this.home = home;
    this.homeOnly = [home];
    this.localChance = percent(spec.localPercent);
    const others = targets.filter((group) => group !== home);
    this.others =
      spec.globalChoice === "nearest" ? topology.byNearness(topology.groupRegion(home), others) : others;
    this.table = null;
    if (spec.globalChoice === "table") {
      const rows = spec.destinationTable?.get(home) ?? [];
      assert(
        rows.length > 0 || spec.localPercent === 100,
        () => `the destination table has no sets for home group ${home}`,
      );
      const cumulative: number[] = [];
      let sum = 0;
      for (const row of rows) {
        assert(row.weight >= 0 && Number.isFinite(row.weight), "table weights are finite and >= 0");
        for (const group of row.dst) assert(targets.includes(group), () => `${group} is not a target group`);
        sum += row.weight;
        cumulative.push(sum);
      }
      assert(rows.length === 0 || sum > 0, () => `the table of home group ${home} has no positive weight`);
      this.table = { sets: rows.map((row) => destinationSet(row.dst)), cumulative };
    }
  }

  next(prng: Prng): DestinationSet {
    if (this.table !== null) {
      const { sets, cumulative } = this.table;
      if (sets.length === 0 || prng.chance(this.localChance)) return this.homeOnly;
      const draw = prng.float() * (cumulative[cumulative.length - 1] as number);
      let index = 0;
      while (index < sets.length - 1 && (cumulative[index] as number) <= draw) index += 1;
      return sets[index] as DestinationSet;
    }
    if (this.others.length === 0 || prng.chance(this.localChance)) return this.homeOnly;
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
