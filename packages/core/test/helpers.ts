import { expect } from "vitest";
import { InputError } from "../src/index.js";

/** Asserts that `action` throws an `InputError` whose one-line message matches `pattern`. */
export function expectInputError(action: () => unknown, pattern: RegExp): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InputError);
  expect((caught as Error).message).toMatch(pattern);
}
