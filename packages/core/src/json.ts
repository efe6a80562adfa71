import { closestName, describeValue, didYouMean, InputError, listNames } from "./errors.js";

/** One field a reader looked at: what the configuration reference is generated from. */
export interface FieldRecord {
  /** The document (file) it belongs to. */
  readonly source: string;
  /** Dotted path, array items as `[]`: `workloads[].shift.atMs`. */
  readonly path: string;
  /** `string`, `integer`, `number`, `boolean`, `object`, `list`, `list of strings`, `one of "a", "b"`, `any`. */
  readonly type: string;
  readonly required: boolean;
  /** The reader asked whether the field is there (so it does without it). */
  readonly presenceChecked: boolean;
  /** The value used when the field is absent, if the reader has one. */
  readonly defaultValue?: unknown;
  /** Limits of a number, e.g. `>= 1` or `0 to 100`. */
  readonly limits?: string;
}

let fieldRecorder: ((field: FieldRecord) => void) | undefined;

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

  /**
   * Runs `read` and reports every field a reader looks at while it runs (synchronously): the
   * configuration reference is generated from the parsers themselves this way, so it cannot drift.
   */
  static recording<T>(onField: (field: FieldRecord) => void, read: () => T): T {
    const previous = fieldRecorder;
    fieldRecorder = onField;
    try {
      return read();
    } finally {
      fieldRecorder = previous;
    }
  }

  private note(
    name: string,
    type: string,
    required: boolean,
    defaultValue?: unknown,
    limits?: string,
    presenceChecked = false,
  ): void {
    if (fieldRecorder === undefined) return;
    fieldRecorder({
      source: this.source,
      path: normalisePath(this.fieldPath(name)),
      type,
      required,
      presenceChecked,
      ...(defaultValue === undefined ? {} : { defaultValue }),
      ...(limits === undefined ? {} : { limits }),
    });
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

  /** Whether the field is there; a reader that asks treats it as optional (the reference says so). */
  has(name: string): boolean {
    this.note(name, "any", false, undefined, undefined, true);
    return this.value[name] !== undefined;
  }

  /** True when the field is absent; either way it counts as read. */
  private absent(name: string): boolean {
    this.used.add(name);
    return this.value[name] === undefined;
  }

  /** The raw value (marks the field as read). */
  raw(name: string): unknown {
    this.note(name, "any", false);
    this.used.add(name);
    return this.value[name];
  }

  error(name: string, problem: string): InputError {
    // A field reported missing may be there under a misspelt name: say so.
    const near =
      this.value[name] === undefined
        ? closestName(
            name,
            Object.keys(this.value).filter((key) => key !== name),
          )
        : undefined;
    const hint = near === undefined ? "" : ` (${JSON.stringify(near)} is there: a misspelling?)`;
    return new InputError(this.source, this.fieldPath(name), `${problem}${hint}`);
  }

  private required(name: string, expected: string): unknown {
    this.used.add(name);
    const value = this.value[name];
    if (value === undefined) throw this.error(name, `is missing (expected ${expected})`);
    return value;
  }

  string(name: string): string {
    this.note(name, "string", true);
    return this.readString(name);
  }

  private readString(name: string): string {
    const value = this.required(name, "a string");
    if (typeof value !== "string" || value === "") {
      throw this.error(name, `expected a non-empty string, got ${describeValue(value)}`);
    }
    return value;
  }

  optionalString(name: string): string | undefined {
    this.note(name, "string", false);
    return this.absent(name) ? undefined : this.readString(name);
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[], fallback?: T): T {
    this.note(
      name,
      `one of ${choices.map((choice) => JSON.stringify(choice)).join(", ")}`,
      fallback === undefined,
      fallback,
    );
    if (fallback !== undefined && this.absent(name)) return fallback;
    const value = this.required(name, `one of ${listNames(choices)}`);
    if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
      const guess = typeof value === "string" ? didYouMean(value, choices) : "";
      throw this.error(name, `expected one of ${listNames(choices)}, got ${describeValue(value)}${guess}`);
    }
    return value as T;
  }

  number(name: string, limits: NumberLimits = {}, fallback?: number): number {
    this.note(
      name,
      limits.integer === true ? "integer" : "number",
      fallback === undefined,
      fallback,
      rangeText(limits),
    );
    if (fallback !== undefined && this.absent(name)) return fallback;
    return checkNumber(this.required(name, describeLimits(limits)), limits, (problem) =>
      this.error(name, problem),
    );
  }

  boolean(name: string, fallback?: boolean): boolean {
    this.note(name, "boolean", fallback === undefined, fallback);
    if (fallback !== undefined && this.absent(name)) return fallback;
    const value = this.required(name, "true or false");
    if (typeof value !== "boolean")
      throw this.error(name, `expected true or false, got ${describeValue(value)}`);
    return value;
  }

  /** A non-empty list of numbers; `fallback` when absent (if given). */
  numbers(name: string, limits: NumberLimits = {}, fallback?: readonly number[]): number[] {
    this.note(
      name,
      limits.integer === true ? "list of integers" : "list of numbers",
      fallback === undefined,
      fallback,
      rangeText(limits),
    );
    if (fallback !== undefined && this.absent(name)) return [...fallback];
    return new JsonItems(this.readArrayValue(name, false), this.source, this.fieldPath(name)).numbers(limits);
  }

  object(name: string): JsonFields {
    this.note(name, "object", true);
    return this.readObject(name);
  }

  optionalObject(name: string): JsonFields | undefined {
    this.note(name, "object", false);
    return this.absent(name) ? undefined : this.readObject(name);
  }

  private readObject(name: string): JsonFields {
    return JsonFields.at(this.required(name, "an object"), this.source, this.fieldPath(name));
  }

  /** A non-empty array (unless `allowEmpty`); items are read with `JsonItems`. */
  array(name: string, allowEmpty = false): JsonItems {
    this.note(name, "list", true);
    return this.readArray(name, allowEmpty);
  }

  private readArray(name: string, allowEmpty: boolean): JsonItems {
    return new JsonItems(this.readArrayValue(name, allowEmpty), this.source, this.fieldPath(name));
  }

  private readArrayValue(name: string, allowEmpty: boolean): unknown[] {
    const value = this.required(name, "an array");
    if (!Array.isArray(value)) throw this.error(name, `expected an array, got ${describeValue(value)}`);
    if (!allowEmpty && value.length === 0) throw this.error(name, "expected a non-empty array, got []");
    return value;
  }

  optionalArray(name: string): JsonItems | undefined {
    this.note(name, "list", false);
    return this.absent(name) ? undefined : this.readArray(name, true);
  }

  /** Rejects fields that were never read: they are typos or options this version does not know. */
  done(): void {
    for (const key of Object.keys(this.value)) {
      if (!this.used.has(key) && this.value[key] !== undefined) {
        const known = [...this.used].sort();
        throw this.error(
          key,
          `is not a known field here${didYouMean(key, known)} (known: ${listNames(known)})`,
        );
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

  private noteItems(type: string, limits?: string): void {
    fieldRecorder?.({
      source: this.source,
      path: normalisePath(this.path),
      type,
      required: false,
      presenceChecked: false,
      ...(limits === undefined ? {} : { limits }),
    });
  }

  objects(): JsonFields[] {
    this.noteItems("list of objects");
    return this.values.map((value, index) => JsonFields.at(value, this.source, this.itemPath(index)));
  }

  strings(): string[] {
    this.noteItems("list of strings");
    return this.values.map((value, index) => {
      if (typeof value !== "string" || value === "") {
        throw this.error(index, `expected a non-empty string, got ${describeValue(value)}`);
      }
      return value;
    });
  }

  numbers(limits: NumberLimits = {}): number[] {
    this.noteItems(limits.integer === true ? "list of integers" : "list of numbers", rangeText(limits));
    return this.values.map((value, index) =>
      checkNumber(value, limits, (problem) => this.error(index, problem)),
    );
  }

  arrays(): JsonItems[] {
    this.noteItems("list of lists");
    return this.values.map((value, index) => {
      if (!Array.isArray(value)) throw this.error(index, `expected an array, got ${describeValue(value)}`);
      return new JsonItems(value, this.source, this.itemPath(index));
    });
  }
}

/** `workloads[3].shift` -> `workloads[].shift`: one entry per field, whatever the item. */
function normalisePath(path: string): string {
  return path.replace(/\[\d+\]/g, "[]");
}

/** The limits of a number as the reference prints them; undefined when unbounded. */
function rangeText(limits: NumberLimits): string | undefined {
  if (limits.min !== undefined && limits.max !== undefined) return `${limits.min} to ${limits.max}`;
  if (limits.min !== undefined) return `>= ${limits.min}`;
  if (limits.max !== undefined) return `<= ${limits.max}`;
  return undefined;
}
