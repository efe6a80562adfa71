/** A line series for an SVG chart. */
export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly xMax?: number;
  readonly yMax?: number;
  /** Vertical marker lines (e.g. reconfiguration moments). */
  readonly markers?: readonly { readonly x: number; readonly label: string }[];
}

const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];
const WIDTH = 760;
const HEIGHT = 440;
const MARGIN = { left: 64, right: 20, top: 36, bottom: 52 };

/** A self-contained SVG line chart: axes with round ticks, one polyline per series, a legend. */
export function lineChartSvg(series: readonly Series[], options: ChartOptions): string {
  const allX = series.flatMap((s) => s.points.map(([x]) => x));
  const allY = series.flatMap((s) => s.points.map(([, y]) => y));
  const xMax = niceCeil(options.xMax ?? Math.max(1, ...allX));
  const yMax = niceCeil(options.yMax ?? Math.max(1, ...allY));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + (Math.min(x, xMax) / xMax) * plotWidth;
  const sy = (y: number): number => MARGIN.top + plotHeight - (Math.min(y, yMax) / yMax) * plotHeight;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  ];
  for (const tick of ticks(xMax)) {
    parts.push(
      `<line x1="${sx(tick)}" y1="${MARGIN.top}" x2="${sx(tick)}" y2="${MARGIN.top + plotHeight}" stroke="#eee"/>`,
    );
    parts.push(
      `<text x="${sx(tick)}" y="${MARGIN.top + plotHeight + 16}" text-anchor="middle">${tick}</text>`,
    );
  }
  for (const tick of ticks(yMax)) {
    parts.push(
      `<line x1="${MARGIN.left}" y1="${sy(tick)}" x2="${MARGIN.left + plotWidth}" y2="${sy(tick)}" stroke="#eee"/>`,
    );
    parts.push(`<text x="${MARGIN.left - 6}" y="${sy(tick) + 4}" text-anchor="end">${tick}</text>`);
  }
  parts.push(
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`,
    `<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 12}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text x="16" y="${MARGIN.top + plotHeight / 2}" text-anchor="middle" transform="rotate(-90 16 ${MARGIN.top + plotHeight / 2})">${escapeXml(options.yLabel)}</text>`,
  );
  for (const marker of options.markers ?? []) {
    parts.push(
      `<line x1="${sx(marker.x)}" y1="${MARGIN.top}" x2="${sx(marker.x)}" y2="${MARGIN.top + plotHeight}" stroke="#999" stroke-dasharray="4 3"/>`,
      `<text x="${sx(marker.x) + 3}" y="${MARGIN.top + 12}" font-size="10" fill="#555">${escapeXml(marker.label)}</text>`,
    );
  }
  series.forEach((s, index) => {
    const color = PALETTE[index % PALETTE.length];
    const points = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ");
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.6" points="${points}"/>`);
    const legendY = MARGIN.top + 16 + index * 16;
    parts.push(
      `<line x1="${MARGIN.left + plotWidth - 230}" y1="${legendY - 4}" x2="${MARGIN.left + plotWidth - 210}" y2="${legendY - 4}" stroke="${color}" stroke-width="2"/>`,
      `<text x="${MARGIN.left + plotWidth - 204}" y="${legendY}">${escapeXml(s.name)}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

/** Cumulative distribution of `values` as at most `pointsMax` points (x = value, y = fraction). */
export function cdfPoints(values: readonly number[], pointsMax = 400): [number, number][] {
  if (values.length === 0) return [];
  const sorted = Float64Array.from(values).sort();
  const step = Math.max(1, Math.floor(sorted.length / pointsMax));
  const points: [number, number][] = [[0, 0]];
  for (let index = 0; index < sorted.length; index += step)
    points.push([sorted[index] as number, (index + 1) / sorted.length]);
  points.push([sorted[sorted.length - 1] as number, 1]);
  return points;
}

function niceCeil(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * magnitude >= value) return factor * magnitude;
  return 10 * magnitude;
}

function ticks(max: number): number[] {
  const step = niceCeil(max / 6);
  const result: number[] = [];
  for (let tick = 0; tick <= max + 1e-9; tick += step) result.push(Number(tick.toPrecision(6)));
  return result;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
