/** A plain-text table with right-aligned numbers and left-aligned text. */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): string {
  const cells = [
    header,
    ...rows.map((row) => row.map((cell) => (typeof cell === "number" ? formatNumber(cell) : cell))),
  ];
  const widths = header.map((_, column) => Math.max(...cells.map((row) => String(row[column] ?? "").length)));
  const numeric = header.map(
    (_, column) =>
      rows.length > 0 &&
      rows.every(
        (row) =>
          typeof row[column] === "number" ||
          row[column] === "-" ||
          // A mean over seeds with its interval: "12.3 ± 0.4".
          (typeof row[column] === "string" && /^-?[\d.]+ ± [\d.]+$/.test(row[column] as string)),
      ),
  );
  return cells
    .map((row) =>
      row
        .map((cell, column) => {
          const text = String(cell);
          const width = widths[column] ?? 0;
          return numeric[column] ? text.padStart(width) : text.padEnd(width);
        })
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** Integers as they are; other numbers with one decimal below 1000, none above. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  if (Math.abs(value) >= 1000) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
