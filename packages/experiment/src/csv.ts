/** A CSV cell: numbers rounded to 3 decimals, text quoted when it holds a comma, quote or newline. */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const text =
    typeof value === "number"
      ? Number.isFinite(value)
        ? String(Math.round(value * 1000) / 1000)
        : ""
      : value;
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV lines (each ending in a newline) for `rows`. */
export function csvLines(rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  return rows.map((row) => `${row.map(csvCell).join(",")}\n`).join("");
}

/** A whole CSV file: the header, then the rows. */
export function csv(
  header: readonly string[],
  rows: readonly (readonly (string | number | null | undefined)[])[],
): string {
  return csvLines([header, ...rows]);
}
