import { describeValue, InputError, lowerBound } from "@amcast/core";
import type { HistoryModel, ModelCall, Part } from "./linearizability.js";

/**
 * The key-value model: the sequential specification of a store of string keys holding string
 * values, the vocabulary of key-value histories (docs/history.md). Keys compare as JavaScript
 * strings (UTF-16 code units); a range is [from, to), `to` null meaning no upper bound.
 */
export type KvInput =
  | { readonly f: "get"; readonly key: string }
  | { readonly f: "put"; readonly key: string; readonly value: string }
  | { readonly f: "delete"; readonly key: string }
  | { readonly f: "cas"; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly f: "multi-put"; readonly entries: Readonly<Record<string, string>> }
  | { readonly f: "multi-get"; readonly keys: readonly string[] }
  | { readonly f: "range"; readonly from: string; readonly to: string | null };

/**
 * What each operation returns: get, the value or null; put and multi-put, null; delete, whether
 * the key existed; cas, whether it swapped; multi-get, every key's value or null; range, the
 * keys present in the range with their values.
 */
export type KvOutput = string | null | boolean | Readonly<Record<string, string | null>>;

export const KV_OPERATIONS: readonly KvInput["f"][] = [
  "get",
  "put",
  "delete",
  "cas",
  "multi-put",
  "multi-get",
  "range",
];

/**
 * The keys one search has met, numbered, so a state is a small array indexed by key number
 * instead of a map (the search makes many states; copying arrays is cheap). Each search starts
 * its own table (`kvModel.init`); states of different searches are never compared.
 */
class KeyTable {
  readonly ids = new Map<string, number>();
  readonly names: string[] = [];
  /** For each range read met: the numbers of the keys inside it, as of `size` keys known. */
  readonly ranges = new WeakMap<object, { size: number; ids: number[] }>();

  id(key: string): number {
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(key, id);
      this.names.push(key);
    }
    return id;
  }

  /** Numbers of the known keys in [from, to); kept per input, recomputed when keys were added. */
  inRange(input: { readonly from: string; readonly to: string | null }): readonly number[] {
    const cached = this.ranges.get(input);
    if (cached !== undefined && cached.size === this.names.length) return cached.ids;
    const ids: number[] = [];
    this.names.forEach((name, id) => {
      if (inRange(name, input.from, input.to)) ids.push(id);
    });
    this.ranges.set(input, { size: this.names.length, ids });
    return ids;
  }
}

/** A state of the store: its values and a hash kept up to date with them. Never changed in place. */
export class KvState {
  private constructor(
    private readonly table: KeyTable,
    /** Value by key number; undefined: absent. */
    private readonly values: readonly (string | undefined)[],
    readonly hash: number,
    /** Keys present. */
    readonly size: number,
  ) {}

  /** An empty store with a fresh key table. */
  static empty(): KvState {
    return new KvState(new KeyTable(), [], 0, 0);
  }

  get(key: string): string | null {
    const id = this.table.ids.get(key);
    return id === undefined ? null : (this.values[id] ?? null);
  }

  has(key: string): boolean {
    return this.get(key) !== null;
  }

  /** The keys present, with their values, in key order. */
  entries(): [string, string][] {
    const found: [string, string][] = [];
    this.values.forEach((value, id) => {
      if (value !== undefined) found.push([this.table.names[id] as string, value]);
    });
    return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** Keys present in [from, to), with their values. */
  range(input: { readonly from: string; readonly to: string | null }): Map<string, string> {
    const found = new Map<string, string>();
    for (const id of this.table.inRange(input)) {
      const value = this.values[id];
      if (value !== undefined) found.set(this.table.names[id] as string, value);
    }
    return found;
  }

  /** How many keys of [from, to) are present. */
  countInRange(input: { readonly from: string; readonly to: string | null }): number {
    let count = 0;
    for (const id of this.table.inRange(input)) if (this.values[id] !== undefined) count += 1;
    return count;
  }

  /** The state with `key` set to `value` (null: absent). */
  with(key: string, value: string | null): KvState {
    const id = this.table.id(key);
    const old = this.values[id];
    if ((old ?? null) === value) return this;
    const values = this.values.slice();
    while (values.length <= id) values.push(undefined);
    let hash = this.hash;
    let size = this.size;
    if (old !== undefined) {
      hash ^= pairHash(key, old);
      size -= 1;
    }
    if (value !== null) {
      hash ^= pairHash(key, value);
      size += 1;
    }
    values[id] = value ?? undefined;
    return new KvState(this.table, values, hash, size);
  }

  equals(other: KvState): boolean {
    if (this === other) return true;
    if (this.hash !== other.hash || this.size !== other.size) return false;
    const length = Math.max(this.values.length, other.values.length);
    for (let id = 0; id < length; id += 1) if (this.values[id] !== other.values[id]) return false;
    return true;
  }
}

/** FNV-1a over a string's UTF-16 code units, continued from `hash`. */
function fnv(hash: number, text: string): number {
  let h = hash;
  for (let index = 0; index < text.length; index += 1) {
    h ^= text.charCodeAt(index);
    h = Math.imul(h, 0x0100_0193);
  }
  return h;
}

/** One (key, value) pair's share of a state's hash (states hash to the XOR of their pairs). */
function pairHash(key: string, value: string): number {
  let h = fnv(fnv(0x811c_9dc5, key) ^ 0x5bd1_e995, value);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85eb_ca6b);
  h ^= h >>> 13;
  return h | 0;
}

function inRange(key: string, from: string, to: string | null): boolean {
  return key >= from && (to === null || key < to);
}

function show(value: string | null | undefined): string {
  return value === null || value === undefined ? "null" : JSON.stringify(value);
}

function showRecord(record: Readonly<Record<string, string | null>>): string {
  const entries = Object.keys(record)
    .sort()
    .map((key) => `${key}: ${show(record[key])}`);
  return `{${entries.join(", ")}}`;
}

/** The keys an operation reads or writes; a range's are the known keys inside it. */
function keysOf(input: KvInput, output: KvOutput | undefined): string[] {
  switch (input.f) {
    case "multi-put":
      return Object.keys(input.entries);
    case "multi-get":
      return [...input.keys];
    case "range":
      return output !== undefined && output !== null && typeof output === "object" ? Object.keys(output) : [];
    default:
      return [input.key];
  }
}

function readString(args: Record<string, unknown>, field: string, where: string): string {
  const value = args[field];
  if (typeof value !== "string")
    throw new InputError(where, `args.${field}`, `expected a string, got ${describeValue(value)}`);
  return value;
}

function readStringOrNull(args: Record<string, unknown>, field: string, where: string): string | null {
  const value = args[field];
  if (value !== null && typeof value !== "string")
    throw new InputError(where, `args.${field}`, `expected a string or null, got ${describeValue(value)}`);
  return value;
}

function readValueRecord(
  value: unknown,
  where: string,
  field: string,
  nullable: boolean,
): Record<string, string | null> {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InputError(where, field, `expected an object of key: value, got ${describeValue(value)}`);
  for (const [key, item] of Object.entries(value))
    if (typeof item !== "string" && !(nullable && item === null))
      throw new InputError(
        where,
        `${field}.${key}`,
        `expected a string${nullable ? " or null" : ""}, got ${describeValue(item)}`,
      );
  return value as Record<string, string | null>;
}

export const kvModel: HistoryModel<KvState, KvInput, KvOutput> = {
  name: "kv",

  init: () => KvState.empty(),

  step(state, input, output) {
    switch (input.f) {
      case "get":
        return output === undefined || state.get(input.key) === output ? state : undefined;
      case "put":
        return state.with(input.key, input.value);
      case "delete": {
        const existed = state.has(input.key);
        if (output !== undefined && output !== existed) return undefined;
        return state.with(input.key, null);
      }
      case "cas": {
        const swapped = state.get(input.key) === input.expected;
        if (output !== undefined && output !== swapped) return undefined;
        return swapped ? state.with(input.key, input.value) : state;
      }
      case "multi-put": {
        let next = state;
        for (const [key, value] of Object.entries(input.entries)) next = next.with(key, value);
        return next;
      }
      case "multi-get": {
        if (output === undefined) return state;
        const values = output as Readonly<Record<string, string | null>>;
        for (const key of input.keys) if (state.get(key) !== values[key]) return undefined;
        return state;
      }
      case "range": {
        if (output === undefined) return state;
        // Every key returned holds that value, and no other key of the range has one.
        const values = output as Readonly<Record<string, string | null>>;
        let returned = 0;
        for (const key in values) {
          if (state.get(key) !== values[key]) return undefined;
          returned += 1;
        }
        return state.countInRange(input) === returned ? state : undefined;
      }
    }
  },

  hash: (state) => state.hash,

  equal: (a, b) => a.equals(b),

  readOnly: (input) => input.f === "get" || input.f === "multi-get" || input.f === "range",

  describe(input, output) {
    const result =
      output === undefined
        ? "?"
        : typeof output === "object" && output !== null
          ? showRecord(output)
          : show(output as string | null);
    switch (input.f) {
      case "get":
        return `get(${input.key}) -> ${result}`;
      case "put":
        return `put(${input.key}, ${show(input.value)})`;
      case "delete":
        return `delete(${input.key}) -> ${output === undefined ? "?" : String(output)}`;
      case "cas":
        return `cas(${input.key}, ${show(input.expected)} -> ${show(input.value)}) -> ${output === undefined ? "?" : String(output)}`;
      case "multi-put":
        return `multi-put${showRecord(input.entries)}`;
      case "multi-get":
        return `multi-get(${input.keys.join(", ")}) -> ${result}`;
      case "range":
        return `range[${show(input.from)}, ${input.to === null ? "end" : show(input.to)}) -> ${result}`;
    }
  },

  explain(state, input, output) {
    switch (input.f) {
      case "get":
        return `${input.key} holds ${show(state.get(input.key))} there`;
      case "delete":
        return `${input.key} is ${state.has(input.key) ? "present" : "absent"} there`;
      case "cas":
        return `${input.key} holds ${show(state.get(input.key))} there`;
      case "multi-get": {
        const values = output as Readonly<Record<string, string | null>>;
        const key = input.keys.find((candidate) => state.get(candidate) !== values[candidate]) ?? "";
        return `${key} holds ${show(state.get(key))} there`;
      }
      case "range": {
        const values = (output ?? {}) as Readonly<Record<string, string | null>>;
        const found = state.range(input);
        const keys = [...new Set([...found.keys(), ...Object.keys(values)])].sort();
        const key =
          keys.find((candidate) => (found.get(candidate) ?? null) !== (values[candidate] ?? null)) ?? "";
        return `${key} holds ${show(found.get(key))} there`;
      }
      default:
        return "it always can";
    }
  },

  readInput(f, args, where) {
    if (!(KV_OPERATIONS as readonly string[]).includes(f))
      throw new InputError(
        where,
        "f",
        `expected one of ${KV_OPERATIONS.join(", ")}, got ${describeValue(f)}`,
      );
    if (typeof args !== "object" || args === null || Array.isArray(args))
      throw new InputError(where, "args", `expected an object, got ${describeValue(args)}`);
    const record = args as Record<string, unknown>;
    switch (f as KvInput["f"]) {
      case "get":
        return { f: "get", key: readString(record, "key", where) };
      case "put":
        return { f: "put", key: readString(record, "key", where), value: readString(record, "value", where) };
      case "delete":
        return { f: "delete", key: readString(record, "key", where) };
      case "cas":
        return {
          f: "cas",
          key: readString(record, "key", where),
          expected: readStringOrNull(record, "expected", where),
          value: readString(record, "value", where),
        };
      case "multi-put":
        return {
          f: "multi-put",
          entries: readValueRecord(record.entries, where, "args.entries", false) as Record<string, string>,
        };
      case "multi-get": {
        const keys = record.keys;
        if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string"))
          throw new InputError(
            where,
            "args.keys",
            `expected an array of strings, got ${describeValue(keys)}`,
          );
        return { f: "multi-get", keys: keys as string[] };
      }
      case "range":
        return {
          f: "range",
          from: readString(record, "from", where),
          to: readStringOrNull(record, "to", where),
        };
    }
  },

  readOutput(input, result, where) {
    switch (input.f) {
      case "get":
        if (result !== null && typeof result !== "string")
          throw new InputError(where, "result", `expected a string or null, got ${describeValue(result)}`);
        return result;
      case "put":
      case "multi-put":
        return null;
      case "delete":
      case "cas":
        if (typeof result !== "boolean")
          throw new InputError(where, "result", `expected true or false, got ${describeValue(result)}`);
        return result;
      case "multi-get": {
        const values = readValueRecord(result, where, "result", true);
        for (const key of input.keys)
          if (!(key in values))
            throw new InputError(
              where,
              `result.${key}`,
              "is missing (a multi-get returns every key it read)",
            );
        return values;
      }
      case "range": {
        const values = readValueRecord(result, where, "result", false);
        for (const key of Object.keys(values))
          if (!inRange(key, input.from, input.to))
            throw new InputError(where, `result.${key}`, `is outside the range read`);
        return values;
      }
    }
  },

  partition(calls) {
    // Keys joined by a multi-key operation are one object; a range joins the keys inside it.
    const keys = new Set<string>();
    for (const call of calls) {
      for (const key of keysOf(call.input, call.output)) keys.add(key);
    }
    const sorted = [...keys].sort();
    const index = new Map(sorted.map((key, position) => [key, position]));
    const parent = sorted.map((_, position) => position);
    const find = (position: number): number => {
      let root = position;
      while (parent[root] !== root) root = parent[root] as number;
      let walk = position;
      while (parent[walk] !== root) {
        const up = parent[walk] as number;
        parent[walk] = root;
        walk = up;
      }
      return root;
    };
    const join = (a: number, b: number): void => {
      const ra = find(a);
      const rb = find(b);
      if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
    };
    const spans: { first: number; end: number }[] = calls.map((call) => {
      if (call.input.f === "range") {
        const first = lowerBound(sorted, call.input.from);
        const end = call.input.to === null ? sorted.length : lowerBound(sorted, call.input.to);
        return { first, end };
      }
      const own = keysOf(call.input, call.output).map((key) => index.get(key) as number);
      for (let position = 1; position < own.length; position += 1)
        join(own[0] as number, own[position] as number);
      return own.length === 0
        ? { first: -1, end: -1 }
        : { first: own[0] as number, end: (own[0] as number) + 1 };
    });
    // Ranges join their span: link consecutive keys, at most once per key boundary.
    const linked = new Uint8Array(sorted.length);
    for (const [position, call] of calls.entries()) {
      if (call.input.f !== "range") continue;
      const span = spans[position] as { first: number; end: number };
      for (let key = span.first + 1; key < span.end; key += 1) {
        if (linked[key] === 1) continue;
        linked[key] = 1;
        join(key - 1, key);
      }
    }
    const parts = new Map<number, Part>();
    const alone: Part[] = [];
    calls.forEach((_, position) => {
      const span = spans[position] as { first: number; end: number };
      if (span.first < 0 || span.first >= span.end) {
        // Touches no known key (an empty range): it is checked on its own.
        alone.push({ label: "(no key)", operations: [position] });
        return;
      }
      const root = find(span.first);
      let part = parts.get(root);
      if (part === undefined) {
        part = { label: "", operations: [] };
        parts.set(root, part);
      }
      part.operations.push(position);
    });
    const keysByRoot = new Map<number, string[]>();
    sorted.forEach((key, position) => {
      const root = find(position);
      const list = keysByRoot.get(root);
      if (list === undefined) keysByRoot.set(root, [key]);
      else list.push(key);
    });
    const labelled = [...parts].map(([root, part]) => ({
      ...part,
      label: keysLabel(keysByRoot.get(root) ?? []),
    }));
    return [...labelled, ...alone];
  },

  weaken({ input, output }, context) {
    if (output === undefined || output === null || typeof output !== "object") return [];
    const values = output as Readonly<Record<string, string | null>>;
    if (input.f === "range") {
      // The range's reads of the keys the witness knows of: present ones with their values,
      // absent ones as null (a range read says they had none).
      const keys = [...knownKeys(context)].filter((key) => inRange(key, input.from, input.to)).sort();
      if (keys.length === 0) return [];
      return [
        {
          input: { f: "multi-get", keys },
          output: Object.fromEntries(keys.map((key) => [key, values[key] ?? null])),
        },
      ];
    }
    if (input.f !== "multi-get" || input.keys.length < 2) return [];
    return input.keys.map((dropped) => {
      const keys = input.keys.filter((key) => key !== dropped);
      return {
        input: { f: "multi-get" as const, keys },
        output: Object.fromEntries(keys.map((key) => [key, values[key] ?? null])),
      };
    });
  },

  pruner(calls) {
    // For each (key, value) a read needs, the writes that could give it that value: a read
    // whose value is overwritten with none of them left unplaced will never see it.
    const pairIds = new Map<string, number>();
    const pairOf = (key: string, value: string): number => {
      const name = `${key}\u0000${value}`;
      let id = pairIds.get(name);
      if (id === undefined) {
        id = pairIds.size;
        pairIds.set(name, id);
      }
      return id;
    };
    const writes = calls.map(({ input }) => {
      if (input.f === "put" || input.f === "cas") return [pairOf(input.key, input.value)];
      if (input.f === "multi-put")
        return Object.entries(input.entries).map(([key, value]) => pairOf(key, value));
      return [];
    });
    const needs = calls.map(({ input, output }) =>
      readValues(input, output).map(([key, value]) => ({ key, value, pair: pairOf(key, value) })),
    );
    const unplacedWriters = new Int32Array(pairIds.size);
    for (const pairs of writes) for (const pair of pairs) (unplacedWriters[pair] as number) += 1;
    return {
      placed: (op) => {
        for (const pair of writes[op] as number[]) (unplacedWriters[pair] as number) -= 1;
      },
      unplaced: (op) => {
        for (const pair of writes[op] as number[]) (unplacedWriters[pair] as number) += 1;
      },
      hopeless: (state, op) =>
        (needs[op] ?? []).some(
          ({ key, value, pair }) => state.get(key) !== value && unplacedWriters[pair] === 0,
        ),
    };
  },

  readsFrom(calls: readonly ModelCall<KvInput, KvOutput>[]) {
    const writers = new Map<string, number[]>();
    const wrote = (key: string, value: string, position: number): void => {
      const pair = `${key}\u0000${value}`;
      const list = writers.get(pair);
      if (list === undefined) writers.set(pair, [position]);
      else list.push(position);
    };
    calls.forEach(({ input }, position) => {
      if (input.f === "put" || input.f === "cas") wrote(input.key, input.value, position);
      else if (input.f === "multi-put")
        for (const [key, value] of Object.entries(input.entries)) wrote(key, value, position);
    });
    return calls.map(({ input, output }) => {
      const seen: [string, string][] = [];
      if (input.f === "get" && typeof output === "string") seen.push([input.key, output]);
      else if (input.f === "cas" && output === true && input.expected !== null)
        seen.push([input.key, input.expected]);
      else if (
        (input.f === "multi-get" || input.f === "range") &&
        typeof output === "object" &&
        output !== null
      )
        for (const [key, value] of Object.entries(output))
          if (typeof value === "string") seen.push([key, value]);
      return seen.flatMap(([key, value]) => writers.get(`${key}\u0000${value}`) ?? []);
    });
  },
};

/** The (key, value) pairs a read returned, values present only. */
function readValues(input: KvInput, output: KvOutput | undefined): [string, string][] {
  if (input.f === "get") return typeof output === "string" ? [[input.key, output]] : [];
  if ((input.f === "multi-get" || input.f === "range") && typeof output === "object" && output !== null)
    return Object.entries(output).filter((entry): entry is [string, string] => typeof entry[1] === "string");
  return [];
}

/** Every key the calls name (written, read, or returned). */
function knownKeys(calls: readonly ModelCall<KvInput, KvOutput>[]): Set<string> {
  const keys = new Set<string>();
  for (const call of calls) for (const key of keysOf(call.input, call.output)) keys.add(key);
  return keys;
}

/** "keys a, b, c" (long lists cut in the middle). */
function keysLabel(keys: readonly string[]): string {
  const shown =
    keys.length <= 6 ? keys : [...keys.slice(0, 3), `... (${keys.length} keys)`, ...keys.slice(-2)];
  return `key${keys.length === 1 ? "" : "s"} ${shown.join(", ")}`;
}
