import { AssertionError, assert } from "@amcast/core";

/**
 * A FlexCast group's state is a graph: vertices point at the histories that hold them and the
 * histories at their vertices, entries are shared between histories, windows and pending copies,
 * and message order lives in Map insertion order and in the order of each vertex's slots (both
 * steer graph searches, so which blocker a search finds). Writing that graph out field by field
 * would have to follow every change to the protocol's internals; this codec walks it instead:
 * every object reached from the root is written once, in the order first met (breadth first),
 * with its fields in their own order, so restoring rebuilds the same graph — shared objects
 * shared, Maps in the same order, class instances with their prototypes — and the same state
 * always gives the same data. A field holding something that is not data (a function, an
 * unknown class) throws, naming it: a new field that the snapshot cannot carry fails at once
 * instead of being lost.
 *
 * Encoding (msgpack- and JSON-safe apart from byte arrays and non-finite numbers, which msgpack
 * carries): a value is a number, string, boolean or null as itself, a byte array (any
 * ArrayBuffer view) as itself, `[]` for undefined, and `[n]` for the n-th object of the table.
 * Table rows: `["A", ...items]` an array, `["M", key, value, ...]` a Map, `["S", ...items]` a Set,
 * and `[shape, ...values]` an object: `shapes[shape]` is its class (`""` for a plain object, else
 * a name of `classes`) and then its keys — written once for all the objects that share them
 * (thousands of vertices, one shape).
 */
export interface ObjectGraph {
  readonly root: unknown;
  readonly shapes: readonly (readonly string[])[];
  readonly objects: readonly unknown[][];
}

/** Classes whose instances a graph may hold, by the name the encoding uses. */
export type ClassTable = Readonly<Record<string, { readonly prototype: object }>>;

export function encodeGraph(root: unknown, classes: ClassTable): ObjectGraph {
  const classNames = new Map<object, string>();
  for (const [name, stateClass] of Object.entries(classes)) classNames.set(stateClass.prototype, name);
  const indexOf = new Map<object, number>();
  const queue: object[] = [];
  const objects: unknown[][] = [];
  /** `item` as a value; `at` and `key` say where it sits (for the error only: no text is built otherwise). */
  const value = (item: unknown, at: number, key: unknown): unknown => {
    switch (typeof item) {
      case "number":
      case "string":
      case "boolean":
        return item;
      case "undefined":
        return [];
      case "object": {
        if (item === null || ArrayBuffer.isView(item)) return item;
        let index = indexOf.get(item);
        if (index === undefined) {
          index = queue.length;
          indexOf.set(item, index);
          queue.push(item);
        }
        return [index];
      }
      default:
        throw new AssertionError(`state holds a ${typeof item} at ${place(at, key)}: not data`);
    }
  };
  // Shapes by prototype (null: a plain object), compared key by key: no text is built per object.
  const shapes: string[][] = [];
  const shapesOf = new Map<object | null, { readonly keys: string[]; readonly index: number }[]>();
  const shapeOf = (prototype: object | null, className: string, keys: string[]): number => {
    let known = shapesOf.get(prototype);
    if (known === undefined) {
      known = [];
      shapesOf.set(prototype, known);
    }
    for (const shape of known) if (sameKeys(shape.keys, keys)) return shape.index;
    const index = shapes.length;
    known.push({ keys, index });
    shapes.push([className, ...keys]);
    return index;
  };
  const encodedRoot = value(root, -1, "");
  for (let at = 0; at < queue.length; at += 1) {
    const object = queue[at] as object;
    let row: unknown[];
    if (Array.isArray(object)) {
      row = ["A"];
      for (let index = 0; index < object.length; index += 1) row.push(value(object[index], at, index));
    } else if (object instanceof Map) {
      row = ["M"];
      for (const [key, item] of object) row.push(value(key, at, "a key"), value(item, at, key));
    } else if (object instanceof Set) {
      row = ["S"];
      for (const item of object) row.push(value(item, at, "an item"));
    } else {
      const prototype = Object.getPrototypeOf(object) as object | null;
      const plain = prototype === Object.prototype || prototype === null;
      const className = plain ? "" : classNames.get(prototype);
      assert(
        className !== undefined,
        () =>
          `state holds an instance of ${(prototype as object).constructor.name} at ${place(at, "")}: not a known class`,
      );
      const keys = Object.keys(object);
      row = [shapeOf(plain ? null : prototype, className, keys)];
      for (const key of keys) row.push(value((object as Record<string, unknown>)[key], at, key));
    }
    objects.push(row);
  }
  return { root: encodedRoot, shapes, objects };
}

function place(at: number, key: unknown): string {
  return at < 0 ? "the root" : `object ${at}${key === "" ? "" : ` (${String(key)})`}`;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false;
  return true;
}

/** Rebuilds what `encodeGraph` wrote: new objects throughout (nothing shared with `graph`). */
export function decodeGraph(graph: ObjectGraph, classes: ClassTable): unknown {
  const built: object[] = graph.objects.map((row) => {
    switch (row[0]) {
      case "A":
        return [];
      case "M":
        return new Map();
      case "S":
        return new Set();
      default: {
        const shape = graph.shapes[row[0] as number];
        assert(shape !== undefined, () => `state has a row of unknown kind ${String(row[0])}`);
        if (shape[0] === "") return {};
        const stateClass = classes[shape[0] as string];
        assert(stateClass !== undefined, () => `state names an unknown class ${String(shape[0])}`);
        return Object.create(stateClass.prototype) as object;
      }
    }
  });
  const value = (item: unknown): unknown => {
    if (!Array.isArray(item)) return item;
    if (item.length === 0) return undefined;
    const object = built[item[0] as number];
    assert(object !== undefined, () => `state refers to object ${String(item[0])}, which it lacks`);
    return object;
  };
  graph.objects.forEach((row, index) => {
    const object = built[index] as Record<string, unknown>;
    switch (row[0]) {
      case "A":
        for (let at = 1; at < row.length; at += 1) (object as unknown as unknown[]).push(value(row[at]));
        break;
      case "M":
        for (let at = 1; at < row.length; at += 2)
          (object as unknown as Map<unknown, unknown>).set(value(row[at]), value(row[at + 1]));
        break;
      case "S":
        for (let at = 1; at < row.length; at += 1) (object as unknown as Set<unknown>).add(value(row[at]));
        break;
      default: {
        const shape = graph.shapes[row[0] as number] as readonly string[];
        for (let at = 1; at < row.length; at += 1) object[shape[at] as string] = value(row[at]);
      }
    }
  });
  return value(graph.root);
}
