import type {
  GroupId,
  LocalitySpec,
  Overlay,
  ProtocolDefinition,
  Ratio,
  Topology,
  WeightedDestinations,
} from "@amcast/core";
import {
  checkOverlayAgainstTopology,
  describeValue,
  InputError,
  listNames,
  overlayToJson,
  parseOverlay,
  parseTopology,
  protocolContext,
  runGroups,
} from "@amcast/core";
import type { ReplicationMode } from "@amcast/group";
import { BYZANTINE_STRATEGY_NAMES, REPLICATION_MODES } from "@amcast/group";
import { protocolByName } from "@amcast/protocols";
import type { CrashFault, FaultOptions, NetworkOptions, PartitionFault, ProcessingCost } from "@amcast/sim";
import { CRASH_KINDS } from "@amcast/sim";
import type { ByzantineFault, ReconfigSpec, SystemSpec, WorkloadShift, WorkloadSpec } from "./spec.js";
import { RECONFIG_POLICIES, RECONFIG_SOLVERS } from "./spec.js";

/**
 * The one JSON form of a system spec: what the network runner writes into a deployment file and
 * every node reads back. Each type has a schema with a codec for every one of its fields, and
 * `Schema<T>` makes TypeScript refuse a schema that misses one — so a field added to `SystemSpec`
 * (or to a workload, a fault, a reconfiguration) does not compile until it is carried, and the
 * round-trip test (test/schema.test.ts) fails if it is carried wrong. Reading checks every value
 * and names the field of the first bad one; unknown fields are refused.
 *
 * Adding a field is one line in the type and one line here, e.g. protocol parameters:
 * `params: optional(json)`.
 */

/** Where a value sits, for errors: the file and the field path in it. */
interface At {
  readonly source: string;
  readonly path: string;
}

/** How one value is written to JSON and read back from it. `undefined` means "absent". */
export interface Codec<T> {
  write(value: T): unknown;
  read(value: unknown, at: At): T;
}

/** A codec for every field of `T`: missing one is a type error. */
export type Schema<T> = { readonly [K in keyof T]-?: Codec<T[K]> };

function fail(at: At, problem: string): InputError {
  return new InputError(at.source, at.path, problem);
}

function field(at: At, name: string): At {
  return { source: at.source, path: at.path === "" ? name : `${at.path}.${name}` };
}

function item(at: At, index: number): At {
  return { source: at.source, path: `${at.path}[${index}]` };
}

interface NumberRange {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

function number(range: NumberRange = {}): Codec<number> {
  return {
    write: (value) => value,
    read: (value, at) => {
      if (
        typeof value !== "number" ||
        !Number.isFinite(value) ||
        (range.integer === true && !Number.isInteger(value)) ||
        (range.min !== undefined && value < range.min) ||
        (range.max !== undefined && value > range.max)
      ) {
        const kind = range.integer === true ? "a whole number" : "a number";
        const bounds = [
          range.min === undefined ? "" : ` >= ${range.min}`,
          range.max === undefined ? "" : ` <= ${range.max}`,
        ].join("");
        throw fail(at, `expected ${kind}${bounds}, got ${describeValue(value)}`);
      }
      return value;
    },
  };
}

const count = number({ integer: true, min: 0 });
const nonNegative = number({ min: 0 });

const string: Codec<string> = {
  write: (value) => value,
  read: (value, at) => {
    if (typeof value !== "string") throw fail(at, `expected a string, got ${describeValue(value)}`);
    return value;
  },
};

const boolean: Codec<boolean> = {
  write: (value) => value,
  read: (value, at) => {
    if (typeof value !== "boolean") throw fail(at, `expected true or false, got ${describeValue(value)}`);
    return value;
  },
};

function choice<T extends string>(choices: readonly T[]): Codec<T> {
  return {
    write: (value) => value,
    read: (value, at) => {
      if (typeof value !== "string" || !(choices as readonly string[]).includes(value))
        throw fail(at, `expected one of ${listNames(choices)}, got ${describeValue(value)}`);
      return value as T;
    },
  };
}

/** A field that may be absent (undefined). */
function optional<T>(codec: Codec<T>): Codec<T | undefined> {
  return {
    write: (value) => (value === undefined ? undefined : codec.write(value)),
    read: (value, at) => (value === undefined ? undefined : codec.read(value, at)),
  };
}

/** A field that may be null. */
function nullable<T>(codec: Codec<T>): Codec<T | null> {
  return {
    write: (value) => (value === null ? null : codec.write(value)),
    read: (value, at) => (value === null ? null : codec.read(value, at)),
  };
}

function list<T>(codec: Codec<T>): Codec<readonly T[]> {
  return {
    write: (values) => values.map((value) => codec.write(value)),
    read: (value, at) => {
      if (!Array.isArray(value)) throw fail(at, `expected an array, got ${describeValue(value)}`);
      return value.map((entry, index) => codec.read(entry, item(at, index)));
    },
  };
}

/** An object with exactly the fields of `schema` (absent ones only where the codec allows). */
function object<T>(schema: Schema<T>, check?: (value: T, at: At) => void): Codec<T> {
  const keys = Object.keys(schema) as (keyof T & string)[];
  return {
    write: (value) => {
      const json: Record<string, unknown> = {};
      for (const key of keys) {
        const written = schema[key].write(value[key]);
        if (written !== undefined) json[key] = written;
      }
      return json;
    },
    read: (value, at) => {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw fail(at, `expected an object, got ${describeValue(value)}`);
      const record = value as Record<string, unknown>;
      for (const key of Object.keys(record))
        if (!(keys as string[]).includes(key))
          throw fail(field(at, key), `is not a known field here (known: ${listNames(keys)})`);
      const result: Record<string, unknown> = {};
      for (const key of keys) {
        const read = schema[key].read(record[key], field(at, key));
        if (read !== undefined) result[key] = read;
      }
      check?.(result as T, at);
      return result as T;
    },
  };
}

/** Any JSON value, carried as is (a protocol's parameters: the protocol checks them). */
const json: Codec<unknown> = {
  write: (value) => value,
  read: (value) => value,
};

/** A value read by its own document parser (topologies and overlays have one JSON form each). */
function document<T>(write: (value: T) => unknown, parse: (value: unknown, source: string) => T): Codec<T> {
  return {
    write,
    read: (value, at) => parse(value, at.path === "" ? at.source : `${at.source} (${at.path})`),
  };
}

const topology: Codec<Topology> = document(
  (value) => {
    const matrix = value.matrix();
    return {
      kind: "topology",
      name: value.name,
      regions: matrix.regions,
      latencyMs: matrix.latencyMs,
      groups: value.groups,
      clients: value.clients,
    };
  },
  (value, source) =>
    parseTopology(value, source, () => {
      throw new Error("a system's topology is inline");
    }),
);

const overlay: Codec<Overlay> = document(overlayToJson, parseOverlay);

const protocol: Codec<ProtocolDefinition<unknown>> = {
  write: (value) => value.name,
  read: (value, at) => protocolByName(value, at.source, at.path),
};

const ratio: Codec<Ratio> = object<Ratio>(
  { numerator: count, denominator: number({ integer: true, min: 1 }) },
  (value, at) => {
    if (value.numerator > value.denominator) throw fail(at, "expected a ratio no larger than 1");
  },
);

/** A workload's destination table: per home group, weighted destination sets (a JSON object). */
function destinationTable(): Codec<ReadonlyMap<GroupId, readonly WeightedDestinations[]>> {
  const rows = list(object<WeightedDestinations>({ dst: list(string), weight: nonNegative }));
  return {
    write: (value) => Object.fromEntries([...value].map(([home, sets]) => [home, rows.write(sets)])),
    read: (value, at) => {
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw fail(at, `expected an object, got ${describeValue(value)}`);
      return new Map(
        Object.entries(value as Record<string, unknown>).map(([home, sets]) => [
          home,
          rows.read(sets, field(at, home)),
        ]),
      );
    },
  };
}

const locality: Codec<LocalitySpec> = object<LocalitySpec>({
  localPercent: number({ integer: true, min: 0, max: 100 }),
  globalSizes: list(number({ integer: true, min: 2 })),
  globalChoice: choice(["nearest", "uniform", "table"] as const),
  destinationTable: optional(destinationTable()),
});

const workloadShift: Codec<WorkloadShift> = object<WorkloadShift>({ atMs: nonNegative, locality });

const workload: Codec<WorkloadSpec> = object<WorkloadSpec>({
  name: string,
  clientsPerGroup: nullable(number({ integer: true, min: 1 })),
  loop: choice(["closed", "open"] as const),
  multicastsPerClient: count,
  outstanding: number({ integer: true, min: 1 }),
  thinkMs: nonNegative,
  ratePerSec: number({ min: 0 }),
  outstandingMax: number({ integer: true, min: 1 }),
  payloadBytes: count,
  groups: nullable(list(string)),
  locality,
  startSpreadMs: nonNegative,
  shift: optional(workloadShift),
});

const byzantineFault: Codec<ByzantineFault> = object<ByzantineFault>({
  proc: string,
  strategy: choice(BYZANTINE_STRATEGY_NAMES),
});

const reconfig: Codec<ReconfigSpec> = object<ReconfigSpec>({
  policy: choice(RECONFIG_POLICIES),
  statsEveryMs: nonNegative,
  windowCollections: number({ integer: true, min: 1 }),
  minGainFraction: number({ min: 0, max: 1 }),
  solver: choice(RECONFIG_SOLVERS),
  solverTimeLimitMs: nonNegative,
  loadLimitFraction: nullable(number({ min: 0, max: 1 })),
  viewsMax: number({ integer: true, min: 1 }),
  controlMulticastsMax: number({ integer: true, min: 1 }),
  measuredDelays: boolean,
  firstGainPercentMin: nullable(number({ min: -100, max: 100 })),
});

const network: Codec<NetworkOptions> = object<NetworkOptions>({
  jitterSdFraction: number({ min: 0, max: 1 }),
  reorder: nullable(object({ chance: ratio, extraDelayMsMax: nonNegative })),
});

const processing: Codec<ProcessingCost> = object<ProcessingCost>({
  perMessageUs: nonNegative,
  perByteNs: nonNegative,
});

/** Both shapes of a crash (a named process, or a group's leader) in one schema. */
type CrashFields = Pick<CrashFault, keyof CrashFault>;
const crash = object<CrashFields>(
  {
    proc: optional(string),
    leaderOf: optional(string),
    atMs: nonNegative,
    recoverAtMs: optional(nonNegative),
    kind: optional(choice(CRASH_KINDS)),
  },
  (value, at) => {
    if ((value.proc === undefined) === (value.leaderOf === undefined))
      throw fail(at, "a crash names either proc or leaderOf");
    if (value.kind === "amnesia" && value.recoverAtMs === undefined)
      throw fail(field(at, "kind"), "an amnesia crash needs recoverAtMs (the process comes back empty then)");
  },
) as Codec<CrashFault>;

const partition: Codec<PartitionFault> = object<PartitionFault>({
  side: list(string),
  atMs: nonNegative,
  healAtMs: nonNegative,
});

const faults: Codec<FaultOptions> = object<FaultOptions>({
  crashes: list(crash),
  partitions: list(partition),
  byzantine: optional(list(string)),
});

/** Every field of a system spec, each with its codec. */
export const SYSTEM_SCHEMA: Schema<SystemSpec> = {
  label: string,
  seed: number({ integer: true, min: 0 }),
  topology,
  protocol,
  overlay: nullable(overlay),
  params: optional(json),
  mode: choice<ReplicationMode>(REPLICATION_MODES),
  f: count,
  workload,
  byzantine: list(byzantineFault),
  linearizable: optional(boolean),
  reconfig: optional(reconfig),
  faultPlan: string,
  network,
  processing,
  faults,
  timeLimitMs: number({ min: 0 }),
  endsAtTimeLimit: optional(boolean),
  tickMs: number({ min: 0.001 }),
  realTime: boolean,
};

const system = object<SystemSpec>(SYSTEM_SCHEMA, (spec, at) => {
  if (spec.overlay !== null) checkOverlayAgainstTopology(spec.overlay, spec.topology, at.source);
  if (spec.protocol.overlayKind !== (spec.overlay?.kind ?? null))
    throw fail(
      field(at, "overlay"),
      `protocol ${spec.protocol.name} needs ${spec.protocol.overlayKind === null ? "no overlay" : `a ${spec.protocol.overlayKind} overlay`}`,
    );
  // The protocol checks its parameters here, with the file and field named, rather than when a
  // node builds the system.
  protocolContext(
    spec.protocol,
    spec.params,
    { groups: runGroups(spec.overlay, spec.topology), overlay: spec.overlay },
    at.source,
    field(at, "params").path,
  );
});

/** A system spec as JSON (plain data: every value a string, number, boolean, null, array or object). */
export function systemToJson(spec: SystemSpec): Record<string, unknown> {
  return system.write(spec) as Record<string, unknown>;
}

/** Reads a system spec from JSON; an error names `source` and the field (under `path`, e.g. "system"). */
export function systemFromJson(value: unknown, source: string, path = ""): SystemSpec {
  return system.read(value, { source, path });
}
