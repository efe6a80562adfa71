/**
 * Bad input from a user: a file, a command-line flag, a network frame. Its message is one line
 * naming where (file), what (field) and what was expected, so a CLI can print it without a stack.
 */
export class InputError extends Error {
  override readonly name = "InputError";
  readonly source: string;
  readonly field: string;

  constructor(source: string, field: string, problem: string) {
    super(field === "" ? `${source}: ${problem}` : `${source}: ${field}: ${problem}`);
    this.source = source;
    this.field = field;
  }
}

/** Short, quoted rendering of a bad value for an error message. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** "a, b or c": a list of known names for an error message. */
export function listNames(names: readonly string[]): string {
  if (names.length === 0) return "(none)";
  if (names.length === 1) return names[0] ?? "";
  return `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
}
