import { describeValue, InputError, listNames } from "./errors.js";

/**
 * Reads a parsed JSON document field by field and throws `InputError` naming the file, the field
 * path and what was expected at the first thing that is wrong. Unknown fields are rejected too, so
 * a typo ("multicastPerClient") is reported instead of silently ignored.
 */
export class JsonFields {
  private readonly value: Record<string, unknown>;
  private readonly used = new Set<string>();

  private constructor(
    value: Record<string, unknown>,
    readonly source: string,
    readonly path: string,
  ) {
    this.value = value;
  }

  /** The top level of a document, which must be an object. */
  static root(value: unknown, source: string): JsonFields {
    return JsonFields.at(value, source, "");
  }

  /** Parses JSON text; a syntax error names the file. */
  static parse(text: string, source: string): JsonFields {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new InputError(source, "", `is not valid JSON (${(error as Error).message})`);
    }
    return JsonFields.root(value, source);
  }

  static at(value: unknown, source: string, path: string): JsonFields {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new InputError(source, path, `expected an object, got ${describeValue(value)}`);
    }
    return new JsonFields(value as Record<string, unknown>, source, path);
  }

  fieldPath(name: string): string {
    return this.path === "" ? name : `${this.path}.${name}`;
  }

  has(name: string): boolean {
    return this.value[name] !== undefined;
  }

  /** True when the field is absent; either way it counts as read. */
  private absent(name: string): boolean {
    this.used.add(name);
    return this.value[name] === undefined;
  }

  /** The raw value (marks the field as read). */
  raw(name: string): unknown {
    this.used.add(name);
    return this.value[name];
  }

  error(name: string, problem: string): InputError {
    return new InputError(this.source, this.fieldPath(name), problem);
  }

  private required(name: string, expected: string): unknown {
    const value = this.raw(name);
    if (value === undefined) throw this.error(name, `is missing (expected ${expected})`);
    return value;
  }

  string(name: string): string {
    const value = this.required(name, "a string");
    if (typeof value !== "string" || value === "") {
      throw this.error(name, `expected a non-empty string, got ${describeValue(value)}`);
    }
    return value;
  }

  optionalString(name: string): string | undefined {
    return this.absent(name) ? undefined : this.string(name);
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[], fallback?: T): T {
    if (fallback !== undefined && this.absent(name)) return fallback;
    const value = this.required(name, `one of ${listNames(choices)}`);
    if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
      throw this.error(name, `expected one of ${listNames(choices)}, got ${describeValue(value)}`);
    }
    return value as T;
  }

  number(name: string, limits: NumberLimits = {}, fallback?: number): number {
    if (fallback !== undefined && this.absent(name)) return fallback;
    return checkNumber(this.required(name, describeLimits(limits)), limits, (problem) =>
      this.error(name, problem),
    );
  }

  boolean(name: string, fallback?: boolean): boolean {
    if (fallback !== undefined && this.absent(name)) return fallback;
    const value = this.required(name, "true or false");
    if (typeof value !== "boolean")
      throw this.error(name, `expected true or false, got ${describeValue(value)}`);
    return value;
  }

  object(name: string): JsonFields {
    return JsonFields.at(this.required(name, "an object"), this.source, this.fieldPath(name));
  }

  optionalObject(name: string): JsonFields | undefined {
    return this.absent(name) ? undefined : this.object(name);
  }

  /** A non-empty array (unless `allowEmpty`); items are read with `JsonItems`. */
  array(name: string, allowEmpty = false): JsonItems {
    const value = this.required(name, "an array");
    if (!Array.isArray(value)) throw this.error(name, `expected an array, got ${describeValue(value)}`);
    if (!allowEmpty && value.length === 0) throw this.error(name, "expected a non-empty array, got []");
    return new JsonItems(value, this.source, this.fieldPath(name));
  }

  optionalArray(name: string): JsonItems | undefined {
    return this.absent(name) ? undefined : this.array(name, true);
  }

  /** Rejects fields that were never read: they are typos or options this version does not know. */
  done(): void {
    for (const key of Object.keys(this.value)) {
      if (!this.used.has(key) && this.value[key] !== undefined) {
        const known = [...this.used].sort();
        throw this.error(key, `is not a known field here (known: ${listNames(known)})`);
      }
    }
  }
}

export interface NumberLimits {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

function describeLimits(limits: NumberLimits): string {
  const kind = limits.integer === true ? "a whole number" : "a number";
  if (limits.min !== undefined && limits.max !== undefined)
    return `${kind} from ${limits.min} to ${limits.max}`;
  if (limits.min !== undefined) return `${kind} >= ${limits.min}`;
  if (limits.max !== undefined) return `${kind} <= ${limits.max}`;
  return kind;
}

function checkNumber(value: unknown, limits: NumberLimits, fail: (problem: string) => InputError): number {
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (limits.integer !== true || Number.isInteger(value)) &&
    (limits.min === undefined || value >= limits.min) &&
    (limits.max === undefined || value <= limits.max);
  if (!ok) throw fail(`expected ${describeLimits(limits)}, got ${describeValue(value)}`);
  return value as number;
}

/** The items of a JSON array, with positional field paths ("groups[3]"). */
export class JsonItems {
  constructor(
    readonly values: readonly unknown[],
    readonly source: string,
    readonly path: string,
  ) {}

  get length(): number {
    return this.values.length;
  }

  itemPath(index: number): string {
    return `${this.path}[${index}]`;
  }

  error(index: number, problem: string): InputError {
    return new InputError(this.source, this.itemPath(index), problem);
  }

  objects(): JsonFields[] {
    return this.values.map((value, index) => JsonFields.at(value, this.source, this.itemPath(index)));
  }

  strings(): string[] {
    return this.values.map((value, index) => {
      if (typeof value !== "string" || value === "") {
        throw this.error(index, `expected a non-empty string, got ${describeValue(value)}`);
      }
      return value;
    });
  }

  numbers(limits: NumberLimits = {}): number[] {
    return this.values.map((value, index) =>
      checkNumber(value, limits, (problem) => this.error(index, problem)),
    );
  }

  arrays(): JsonItems[] {
    return this.values.map((value, index) => {
      if (!Array.isArray(value)) throw this.error(index, `expected an array, got ${describeValue(value)}`);
      return new JsonItems(value, this.source, this.itemPath(index));
    });
  }
}
