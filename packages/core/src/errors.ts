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

/**
 * The known name a misspelled one most likely meant ("did you mean ..."): the nearest by edit
 * distance (a swap of two neighbours counts as one edit), case ignored, if it is close enough to
 * be a typo; undefined otherwise.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  if (known.includes(name)) return undefined;
  const wanted = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // One edit in four characters, at least one: "clientPerGroup" finds "clientsPerGroup",
  // "foo" finds nothing among long names.
  const allowed = Math.max(1, Math.floor(wanted.length / 4));
  return bestDistance <= allowed ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const columns = b.length + 1;
  const d: number[] = new Array(rows * columns).fill(0);
  for (let i = 0; i < rows; i += 1) d[i * columns] = i;
  for (let j = 0; j < columns; j += 1) d[j] = j;
  for (let i = 1; i < rows; i += 1) {
    for (let j = 1; j < columns; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        (d[(i - 1) * columns + j] as number) + 1,
        (d[i * columns + j - 1] as number) + 1,
        (d[(i - 1) * columns + j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, (d[(i - 2) * columns + j - 2] as number) + 1);
      d[i * columns + j] = value;
    }
  }
  return d[rows * columns - 1] as number;
}

/** " (did you mean "x"?)" for a misspelled name, or "" when no known name is close. */
export function didYouMean(name: string, known: readonly string[]): string {
  const guess = closestName(name, known);
  return guess === undefined ? "" : ` (did you mean ${JSON.stringify(guess)}?)`;
}
