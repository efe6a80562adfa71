/**
 * Assertions that stay on in production. A failed assertion inside protocol or simulator code is
 * a bug, never an expected condition: it throws `AssertionError`, which fails the seed that
 * reached it so the seed can be replayed.
 */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

/** Throws `AssertionError` with `message` unless `condition` holds. */
export function assert(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) {
    throw new AssertionError(typeof message === "string" ? message : message());
  }
}

/** Marks a branch the type system proves unreachable (exhaustive switches). */
export function assertNever(value: never, what: string): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(value)}`);
}

/** Returns `value` after asserting it is neither undefined nor null. */
export function defined<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) {
    throw new AssertionError(`${what} is missing`);
  }
  return value;
}

/**
 * Documents a condition that may legitimately go either way (TigerBeetle's `maybe`). It checks
 * nothing; it tells the reader that both outcomes were considered.
 */
export function maybe(_condition: boolean): void {}
