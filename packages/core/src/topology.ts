import { assert } from "./assert.js";
import { describeValue, InputError, listNames } from "./errors.js";
import type { GroupId } from "./ids.js";
import { compareIds, sharedId } from "./ids.js";
import { JsonFields } from "./json.js";

/** A one-way latency matrix in ms: `latencyMs[from][to]`, diagonal = delay inside a region. */
export interface LatencyMatrix {
  readonly regions: readonly string[];
  readonly latencyMs: readonly (readonly number[])[];
}

export interface GroupPlacement {
  readonly id: GroupId;
  readonly region: string;
  /**
   * Target groups hold data: workloads address them. Auxiliary groups only order and forward
   * (ByzCast's inner groups); only overlays that name them use them.
   */
  readonly role?: "target" | "auxiliary";
}

/** `count` clients placed in `region`; their home group defaults to the nearest group. */
export interface ClientPlacement {
  readonly region: string;
  readonly count: number;
  readonly home?: GroupId;
}

/**
 * Where things are and how far apart: regions, the one-way latency matrix between them, and the
 * placement of groups and clients. Immutable once validated.
 */
export class Topology {
  readonly name: string;
  readonly regions: readonly string[];
  readonly groups: readonly GroupPlacement[];
  readonly groupIds: readonly GroupId[];
  /** Groups workloads may address (every group that is not auxiliary), sorted. */
  readonly targetGroupIds: readonly GroupId[];
  readonly clients: readonly ClientPlacement[];
  private readonly latency: readonly (readonly number[])[];
  private readonly regionIndexByName: ReadonlyMap<string, number>;
  private readonly regionIndexByGroup: ReadonlyMap<GroupId, number>;

  constructor(
    name: string,
    matrix: LatencyMatrix,
    groups: readonly GroupPlacement[],
    clients: readonly ClientPlacement[],
  ) {
    this.name = name;
    this.regions = matrix.regions;
    this.latency = matrix.latencyMs;
    this.regionIndexByName = new Map(matrix.regions.map((region, index) => [region, index]));
    assert(this.regionIndexByName.size === matrix.regions.length, "region names are unique");
    assert(matrix.latencyMs.length === matrix.regions.length, "latency matrix is square");
    this.groups = groups.map((group) => ({ ...group, id: sharedId(group.id) }));
    this.groupIds = this.groups.map((group) => group.id).sort(compareIds);
    this.targetGroupIds = groups
      .filter((group) => group.role !== "auxiliary")
      .map((group) => group.id)
      .sort(compareIds);
    assert(this.targetGroupIds.length > 0, "a topology has a target group");
    this.regionIndexByGroup = new Map(this.groups.map((group) => [group.id, this.regionIndex(group.region)]));
    assert(this.regionIndexByGroup.size === groups.length, "group ids are unique");
    this.clients = clients.map((client) =>
      client.home === undefined ? client : { ...client, home: sharedId(client.home) },
    );
  }

  hasRegion(region: string): boolean {
    return this.regionIndexByName.has(region);
  }

  hasGroup(group: GroupId): boolean {
    return this.regionIndexByGroup.has(group);
  }

  regionIndex(region: string): number {
    const index = this.regionIndexByName.get(region);
    assert(index !== undefined, () => `unknown region ${region}`);
    return index;
  }

  groupRegionIndex(group: GroupId): number {
    const index = this.regionIndexByGroup.get(group);
    assert(index !== undefined, () => `unknown group ${group}`);
    return index;
  }

  isAuxiliary(group: GroupId): boolean {
    return this.groups.some((placement) => placement.id === group && placement.role === "auxiliary");
  }

  groupRegion(group: GroupId): string {
    return this.regions[this.groupRegionIndex(group)] as string;
  }

  /** One-way delay in ms from region index `from` to region index `to`. */
  delayMs(from: number, to: number): number {
    const value = this.latency[from]?.[to];
    assert(value !== undefined, () => `no latency from region ${from} to ${to}`);
    return value;
  }

  groupToGroupMs(from: GroupId, to: GroupId): number {
    return this.delayMs(this.groupRegionIndex(from), this.groupRegionIndex(to));
  }

  regionToGroupMs(region: string, group: GroupId): number {
    return this.delayMs(this.regionIndex(region), this.groupRegionIndex(group));
  }

  /** `candidates` sorted by one-way delay from `region`, nearest first; ties broken by id. */
  byNearness(region: string, candidates: readonly GroupId[]): GroupId[] {
    const from = this.regionIndex(region);
    return [...candidates].sort(
      (a, b) =>
        this.delayMs(from, this.groupRegionIndex(a)) - this.delayMs(from, this.groupRegionIndex(b)) ||
        compareIds(a, b),
    );
  }

  /** The latency matrix as loaded (for writing results next to them). */
  matrix(): LatencyMatrix {
    return { regions: this.regions, latencyMs: this.latency };
  }
}

/**
 * Parses a latency CSV: a header "label,R1,R2,..." and one row per region "Ri,d,d,...", rows in
 * the same order as the columns. Values are one-way delays in ms.
 */
export function parseLatencyCsv(text: string, source: string): LatencyMatrix {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "");
  const header = lines[0]?.split(",").map((cell) => cell.trim());
  if (header === undefined || header.length < 2) {
    throw new InputError(source, "line 1", "expected a header row 'region,<region>,<region>,...'");
  }
  const regions = header.slice(1);
  const duplicate = regions.find((region, index) => regions.indexOf(region) !== index);
  if (duplicate !== undefined)
    throw new InputError(source, "line 1", `region ${describeValue(duplicate)} appears twice`);
  if (lines.length - 1 !== regions.length) {
    throw new InputError(
      source,
      "",
      `expected ${regions.length} rows (one per region in the header), got ${lines.length - 1}`,
    );
  }
  const latencyMs = lines.slice(1).map((line, row) => {
    const cells = line.split(",").map((cell) => cell.trim());
    const where = `line ${row + 2}`;
    if (cells[0] !== regions[row]) {
      throw new InputError(
        source,
        where,
        `expected the row of region ${describeValue(regions[row])}, got ${describeValue(cells[0])}`,
      );
    }
    if (cells.length !== regions.length + 1) {
      throw new InputError(source, where, `expected ${regions.length} delays, got ${cells.length - 1}`);
    }
    return cells.slice(1).map((cell, column) => {
      const value = Number(cell);
      if (cell === "" || !Number.isFinite(value) || value < 0) {
        throw new InputError(
          source,
          `${where}, column ${regions[column]}`,
          `expected a delay in ms >= 0, got ${describeValue(cell)}`,
        );
      }
      return value;
    });
  });
  return { regions, latencyMs };
}

/**
 * Reads a topology document. `readRelative(name)` returns the text of a file named relative to
 * the topology file (for `latencyCsv`); the caller does the IO so this stays pure.
 *
 * ```json
 * { "kind": "topology", "name": "aws-12", "latencyCsv": "aws-12-regions-ms.csv",
 *   "groups": "one-per-region",
 *   "clients": [{ "region": "Tokyo", "count": 2 }] }
 * ```
 * `groups` is either "one-per-region" (a group named after each region, placed there) or a list
 * of `{ "id", "region" }`. Instead of `latencyCsv`, `regions` and `latencyMs` may be inline.
 */
export function parseTopology(
  value: unknown,
  source: string,
  readRelative: (name: string) => string,
): Topology {
  const doc = JsonFields.root(value, source);
  const kind = doc.string("kind");
  if (kind !== "topology") throw doc.error("kind", `expected "topology", got ${describeValue(kind)}`);
  const name = doc.string("name");
  doc.optionalString("description");
  const matrix = readMatrix(doc, readRelative);
  const regionList = listNames(matrix.regions);
  const knownRegion = (region: string): boolean => matrix.regions.includes(region);

  let groups: GroupPlacement[];
  const rawGroups = doc.raw("groups");
  if (rawGroups === "one-per-region") {
    groups = matrix.regions.map((region) => ({ id: region, region }));
  } else {
    if (!Array.isArray(rawGroups)) {
      throw doc.error(
        "groups",
        `expected "one-per-region" or a list of {id, region}, got ${describeValue(rawGroups)}`,
      );
    }
    const items = doc.array("groups");
    const seen = new Set<string>();
    groups = items.objects().map((item) => readPlacement(item, seen, knownRegion, regionList, "target"));
  }
  // Auxiliary groups (e.g. ByzCast's inner groups) come on top of the target groups.
  const seen = new Set(groups.map((group) => group.id));
  for (const item of doc.optionalArray("auxiliaryGroups")?.objects() ?? []) {
    groups.push(readPlacement(item, seen, knownRegion, regionList, "auxiliary"));
  }
  if (!groups.some((group) => group.role !== "auxiliary"))
    throw doc.error("groups", "a topology needs at least one target group");

  const groupIds = groups.map((group) => group.id);
  const clients: ClientPlacement[] = [];
  for (const item of doc.optionalArray("clients")?.objects() ?? []) {
    const region = item.string("region");
    if (!knownRegion(region))
      throw item.error(
        "region",
        `expected one of the matrix's regions (${regionList}), got ${describeValue(region)}`,
      );
    const count = item.number("count", { integer: true, min: 1, max: 100_000 });
    const home = item.optionalString("home");
    if (
      home !== undefined &&
      (!groupIds.includes(home) || groups.some((group) => group.id === home && group.role === "auxiliary"))
    ) {
      throw item.error(
        "home",
        `expected a group of this topology (${listNames(groupIds)}), got ${describeValue(home)}`,
      );
    }
    item.done();
    clients.push(home === undefined ? { region, count } : { region, count, home });
  }
  doc.done();
  return new Topology(name, matrix, groups, clients);
}

function readPlacement(
  item: JsonFields,
  seen: Set<string>,
  knownRegion: (region: string) => boolean,
  regionList: string,
  defaultRole: "target" | "auxiliary",
): GroupPlacement {
  const id = item.string("id");
  const region = item.string("region");
  const role = item.choice<"target" | "auxiliary">("role", ["target", "auxiliary"], defaultRole);
  if (seen.has(id)) throw item.error("id", `group ${describeValue(id)} is listed twice`);
  if (!knownRegion(region)) {
    throw item.error(
      "region",
      `expected one of the matrix's regions (${regionList}), got ${describeValue(region)}`,
    );
  }
  seen.add(id);
  item.done();
  return role === "auxiliary" ? { id, region, role } : { id, region };
}

function readMatrix(doc: JsonFields, readRelative: (name: string) => string): LatencyMatrix {
  const csv = doc.optionalString("latencyCsv");
  if (csv !== undefined) {
    if (doc.has("regions") || doc.has("latencyMs")) {
      throw doc.error("latencyCsv", "give either latencyCsv or regions + latencyMs, not both");
    }
    let text: string;
    try {
      text = readRelative(csv);
    } catch (error) {
      throw doc.error("latencyCsv", `cannot read ${describeValue(csv)} (${(error as Error).message})`);
    }
    return parseLatencyCsv(text, csv);
  }
  const regions = doc.array("regions").strings();
  const duplicate = regions.find((region, index) => regions.indexOf(region) !== index);
  if (duplicate !== undefined) throw doc.error("regions", `region ${describeValue(duplicate)} appears twice`);
  const rows = doc.array("latencyMs").arrays();
  if (rows.length !== regions.length) {
    throw doc.error("latencyMs", `expected ${regions.length} rows (one per region), got ${rows.length}`);
  }
  const latencyMs = rows.map((row) => {
    if (row.length !== regions.length) {
      throw new InputError(
        doc.source,
        row.path,
        `expected ${regions.length} delays (one per region), got ${row.length}`,
      );
    }
    return row.numbers({ min: 0 });
  });
  return { regions, latencyMs };
}

/** A topology built in code (tests, swarm runs): one group per region, named after it. */
export function topologyFromMatrix(
  name: string,
  matrix: LatencyMatrix,
  clients: readonly ClientPlacement[] = [],
): Topology {
  return new Topology(
    name,
    matrix,
    matrix.regions.map((region) => ({ id: region, region })),
    clients,
  );
}
