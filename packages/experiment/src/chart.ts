/**
 * SVG figures for papers: panels of line charts (small multiples) with shared axes, linear or log
 * scales, error bars, marks that never overprint each other, and one legend outside the data; and
 * panels of horizontal stacked bars. Pure functions from data to SVG text; no DOM, no fonts needed
 * beyond a sans-serif.
 */

/** How a series is drawn, the same in every figure of a report. */
export interface SeriesStyle {
  readonly color: string;
  /** SVG stroke-dasharray ("" = solid). */
  readonly dash: string;
  readonly marker: MarkerShape;
}

export type MarkerShape = "circle" | "square" | "triangle" | "diamond" | "cross";

export interface ChartPoint {
  readonly x: number;
  readonly y: number;
  /** Confidence interval ends (error bars). */
  readonly xLow?: number;
  readonly xHigh?: number;
  readonly yLow?: number;
  readonly yHigh?: number;
  /** Text next to the point (e.g. the swept value). */
  readonly label?: string;
}

export interface ChartLine {
  /** Style key (the series). */
  readonly key: string;
  readonly points: readonly ChartPoint[];
}

/** A vertical mark at `x` (a view change, a crash), labelled. */
export interface ChartMark {
  readonly x: number;
  readonly label: string;
  /** Style key of the series it belongs to (its colour); undefined: grey. */
  readonly key?: string;
}

export interface LinePanel {
  readonly title: string;
  readonly lines: readonly ChartLine[];
  readonly marks?: readonly ChartMark[];
}

export interface Axis {
  readonly label: string;
  readonly scale: "linear" | "log";
  readonly min?: number;
  readonly max?: number;
  /** Start a linear axis at zero (default true). */
  readonly fromZero?: boolean;
}

export interface FigureOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly x: Axis;
  readonly y: Axis;
  /** Style and legend name of every series key. */
  readonly styles: ReadonlyMap<string, SeriesStyle>;
  readonly names?: ReadonlyMap<string, string>;
  /** Draw point markers (sweeps: yes; dense curves such as CDFs: no). */
  readonly markers?: boolean;
  /**
   * Draw each line as steps (flat to the next point's x, then up or down to it): an empirical
   * distribution jumps at each value, and with few samples a straight segment would invent
   * values between them.
   */
  readonly steps?: boolean;
  readonly columns?: number;
  /** A title over each row of panels (small multiples by setting, one column per kind, say). */
  readonly rowTitles?: readonly string[];
}

const FONT = 12;
const TITLE_HEIGHT = 40;
const SUBTITLE_HEIGHT = 16;
const PANEL_TITLE = 18;
const ROW_TITLE = 20;
const MARK_ROW = 13;
const AXIS_LEFT = 58;
const AXIS_BOTTOM = 36;
const GAP = 18;
const LEGEND_GAP = 24;
const LEGEND_ROW = 18;
const OUTER = 14;

/** Okabe-Ito colours (distinguishable with colour blindness), one family per protocol. */
const FAMILY_COLORS: Record<string, string> = {
  skeen: "#0072B2",
  flexcast: "#D55E00",
  byzcast: "#009E73",
};
const OTHER_COLORS = ["#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999999"];
const DASHES = ["", "8 3", "2 3", "10 3 2 3", "5 5", "1 2"];
const MARKERS: MarkerShape[] = ["circle", "square", "triangle", "diamond", "cross"];

/**
 * One style per series key, fixed by the keys' order: a colour family per protocol (the key's
 * first part: skeen blue, flexcast vermillion, byzcast green), and within a family a dash, a
 * marker and a shade per variant (overlay, `+lin`, label), so every series stays distinct in
 * black and white too.
 */
export function seriesStyles(keys: readonly string[]): Map<string, SeriesStyle> {
  const styles = new Map<string, SeriesStyle>();
  const variantsByFamily = new Map<string, number>();
  let otherFamilies = 0;
  const familyColor = new Map<string, string>();
  for (const key of keys) {
    if (styles.has(key)) continue;
    const family = (key.split("/")[0] ?? key).replace(/\+lin$/, "");
    let base = familyColor.get(family);
    if (base === undefined) {
      base = FAMILY_COLORS[family] ?? (OTHER_COLORS[otherFamilies++ % OTHER_COLORS.length] as string);
      familyColor.set(family, base);
    }
    const variant = variantsByFamily.get(family) ?? 0;
    variantsByFamily.set(family, variant + 1);
    styles.set(key, {
      color: shade(base, variant),
      dash: DASHES[variant % DASHES.length] as string,
      // Markers by series, not by family, so that even same-dash series differ in print.
      marker: MARKERS[styles.size % MARKERS.length] as MarkerShape,
    });
  }
  return styles;
}

/** Variant 0: the family colour; then alternately darker and lighter. */
function shade(hex: string, variant: number): string {
  if (variant === 0) return hex;
  const amount = Math.min(0.6, 0.22 * Math.ceil(variant / 2));
  const toward = variant % 2 === 1 ? 0 : 255;
  const channel = (index: number): string => {
    const value = Number.parseInt(hex.slice(1 + index * 2, 3 + index * 2), 16);
    return Math.round(value + (toward - value) * amount)
      .toString(16)
      .padStart(2, "0");
  };
  return `#${channel(0)}${channel(1)}${channel(2)}`;
}

/** A scale from data to pixels. */
interface Scale {
  readonly toPx: (value: number) => number;
  readonly ticks: readonly number[];
  readonly min: number;
  readonly max: number;
}

function makeScale(axis: Axis, values: readonly number[], fromPx: number, toPx: number): Scale {
  const finite = values.filter((value) => Number.isFinite(value) && (axis.scale === "linear" || value > 0));
  if (axis.scale === "log") {
    let min = axis.min ?? Math.min(...finite);
    let max = axis.max ?? Math.max(...finite);
    if (!Number.isFinite(min) || min <= 0) min = 1;
    if (!Number.isFinite(max) || max <= min) max = min * 10;
    const low = 10 ** Math.floor(Math.log10(min) + 1e-9);
    let high = 10 ** Math.ceil(Math.log10(max) - 1e-9);
    if (high <= low) high = low * 10;
    // Tight ends (1-2-5 steps) so the data fills the panel.
    const lowNice = niceLogFloor(min, low);
    const highNice = niceLogCeil(max, high);
    const span = Math.log10(highNice) - Math.log10(lowNice);
    const ticks: number[] = [];
    for (let decade = low; decade <= highNice * 1.0001; decade *= 10) {
      for (const step of span > 3 ? [1] : [1, 2, 5]) {
        const tick = Number((decade * step).toPrecision(6));
        if (tick >= lowNice * 0.9999 && tick <= highNice * 1.0001) ticks.push(tick);
      }
    }
    return {
      toPx: (value) =>
        fromPx + ((Math.log10(Math.max(value, lowNice)) - Math.log10(lowNice)) / span) * (toPx - fromPx),
      ticks,
      min: lowNice,
      max: highNice,
    };
  }
  const fromZero = axis.fromZero ?? true;
  let min = axis.min ?? (fromZero ? Math.min(0, ...finite) : Math.min(...finite));
  let max = axis.max ?? Math.max(...finite);
  if (!Number.isFinite(min)) min = 0;
  if (!Number.isFinite(max) || max <= min) max = min + 1;
  const step = niceStep((max - min) / 5);
  const low = Math.floor(min / step + 1e-9) * step;
  const high = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let tick = low; tick <= high + step * 1e-6; tick += step) ticks.push(Number(tick.toPrecision(8)));
  return {
    toPx: (value) => fromPx + ((value - low) / (high - low)) * (toPx - fromPx),
    ticks,
    min: low,
    max: high,
  };
}

function niceLogFloor(value: number, decade: number): number {
  for (const step of [5, 2, 1]) if (decade * step <= value) return decade * step;
  return decade;
}

function niceLogCeil(value: number, decade: number): number {
  const below = decade / 10;
  for (const step of [1, 2, 5, 10]) if (below * step >= value * 0.9999) return below * step;
  return decade;
}

function niceStep(raw: number): number {
  if (!(raw > 0)) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * magnitude >= raw) return factor * magnitude;
  return 10 * magnitude;
}

/** Tick text: 0.5, 2, 150, 2k, 1.5M. */
export function tickText(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${trim(value / 1e6)}M`;
  if (abs >= 1e4) return `${trim(value / 1e3)}k`;
  return trim(value);
}

function trim(value: number): string {
  return String(Number(value.toPrecision(4)));
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function textWidth(text: string, size = FONT): number {
  return text.length * size * 0.6;
}

/** Marks' labels packed into rows so no two overlap; returns the row of each mark. */
function packLabels(marks: readonly { px: number; label: string }[], size: number): number[] {
  const rowEnds: number[] = [];
  const order = marks.map((mark, index) => ({ ...mark, index })).sort((a, b) => a.px - b.px);
  const rows: number[] = new Array(marks.length).fill(0);
  for (const mark of order) {
    const width = textWidth(mark.label, size) + 6;
    let row = rowEnds.findIndex((end) => end <= mark.px);
    if (row < 0) {
      row = rowEnds.length;
      rowEnds.push(0);
    }
    rowEnds[row] = mark.px + width;
    rows[mark.index] = row;
  }
  return rows;
}

function markerSvg(shape: MarkerShape, x: number, y: number, color: string): string {
  const r = 3.2;
  const at = (value: number): string => value.toFixed(1);
  switch (shape) {
    case "circle":
      return `<circle cx="${at(x)}" cy="${at(y)}" r="${r}" fill="${color}"/>`;
    case "square":
      return `<rect x="${at(x - r)}" y="${at(y - r)}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`;
    case "triangle":
      return `<path d="M${at(x)},${at(y - r - 0.8)}L${at(x + r + 0.6)},${at(y + r)}L${at(x - r - 0.6)},${at(y + r)}Z" fill="${color}"/>`;
    case "diamond":
      return `<path d="M${at(x)},${at(y - r - 0.8)}L${at(x + r + 0.8)},${at(y)}L${at(x)},${at(y + r + 0.8)}L${at(x - r - 0.8)},${at(y)}Z" fill="${color}"/>`;
    case "cross":
      return `<path d="M${at(x - r)},${at(y - r)}L${at(x + r)},${at(y + r)}M${at(x - r)},${at(y + r)}L${at(x + r)},${at(y - r)}" stroke="${color}" stroke-width="1.8"/>`;
  }
}

/** The legend, as a column of entries; returns its SVG and size. */
function legendSvg(
  keys: readonly string[],
  options: Pick<FigureOptions, "styles" | "names" | "markers">,
  x: number,
  y: number,
): { svg: string; width: number; height: number } {
  const parts: string[] = [];
  let width = 0;
  keys.forEach((key, index) => {
    const style = options.styles.get(key) ?? { color: "#333", dash: "", marker: "circle" as const };
    const name = options.names?.get(key) ?? key;
    const rowY = y + index * LEGEND_ROW + 10;
    parts.push(
      `<line x1="${x}" y1="${rowY}" x2="${x + 28}" y2="${rowY}" stroke="${style.color}" stroke-width="2.2"${style.dash === "" ? "" : ` stroke-dasharray="${style.dash}"`}/>`,
    );
    if (options.markers === true) parts.push(markerSvg(style.marker, x + 14, rowY, style.color));
    parts.push(`<text x="${x + 34}" y="${rowY + 4}">${escapeXml(name)}</text>`);
    width = Math.max(width, 34 + textWidth(name));
  });
  return { svg: parts.join(""), width, height: keys.length * LEGEND_ROW };
}

/** Keys in the order of their first appearance. */
function keysOf(
  panels: readonly { lines: readonly ChartLine[] }[],
  styles: ReadonlyMap<string, SeriesStyle>,
): string[] {
  const present = new Set(panels.flatMap((panel) => panel.lines.map((line) => line.key)));
  const ordered = [...styles.keys()].filter((key) => present.has(key));
  for (const key of present) if (!ordered.includes(key)) ordered.push(key);
  return ordered;
}

/**
 * Line-chart panels sharing both axes, laid out in a grid, with one legend on the right, outside
 * every panel. Error bars where points carry intervals; marks as dashed verticals whose labels
 * stack in rows above the panel so they never overlap.
 */
export function lineFigureSvg(panels: readonly LinePanel[], options: FigureOptions): string {
  const many = panels.length > 1;
  const columns = Math.max(
    1,
    Math.min(options.columns ?? (panels.length >= 4 ? 3 : panels.length), panels.length),
  );
  const rowsOfPanels = Math.ceil(panels.length / columns);
  const plotWidth = many ? 320 : 560;
  const plotHeight = many ? 190 : 330;
  const allPoints = panels.flatMap((panel) => panel.lines.flatMap((line) => line.points));
  const xValues = allPoints.flatMap((p) => [p.x, p.xLow ?? p.x, p.xHigh ?? p.x]);
  const yValues = allPoints.flatMap((p) => [p.y, p.yLow ?? p.y, p.yHigh ?? p.y]);
  const markXs = panels.flatMap((panel) => (panel.marks ?? []).map((mark) => mark.x));
  const xScaleUnit = makeScale(options.x, [...xValues, ...markXs], 0, plotWidth);
  const yScaleUnit = makeScale(options.y, yValues, plotHeight, 0);
  const keys = keysOf(panels, options.styles);

  // Rows of mark labels each panel needs above its plot.
  const markRows = panels.map((panel) => {
    const marks = panel.marks ?? [];
    return packLabels(
      marks.map((mark) => ({ px: xScaleUnit.toPx(mark.x), label: mark.label })),
      10,
    );
  });
  const markSpace =
    Math.max(0, ...markRows.map((rows) => (rows.length === 0 ? 0 : Math.max(...rows) + 1))) * MARK_ROW;
  const cellWidth = AXIS_LEFT + plotWidth + GAP;
  const rowTitle = options.rowTitles === undefined ? 0 : ROW_TITLE;
  const cellHeight = rowTitle + PANEL_TITLE + markSpace + plotHeight + AXIS_BOTTOM;
  const headerHeight = TITLE_HEIGHT + (options.subtitle === undefined ? 0 : SUBTITLE_HEIGHT);
  const gridWidth = columns * cellWidth;
  const legend = legendSvg(
    keys,
    options,
    OUTER + 16 + gridWidth + LEGEND_GAP,
    headerHeight + rowTitle + PANEL_TITLE + markSpace,
  );
  const width = Math.ceil(OUTER + 16 + gridWidth + LEGEND_GAP + legend.width + OUTER);
  const height = Math.ceil(
    Math.max(
      headerHeight + rowsOfPanels * cellHeight + 18,
      headerHeight + rowTitle + PANEL_TITLE + markSpace + legend.height + 20,
    ),
  );

  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${OUTER}" y="24" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  if (options.subtitle !== undefined)
    parts.push(`<text x="${OUTER}" y="42" font-size="11" fill="#555">${escapeXml(options.subtitle)}</text>`);
  // The figure's y-axis label, once, on the left.
  const gridTop = headerHeight;
  const gridMiddle = gridTop + (rowsOfPanels * cellHeight) / 2;
  parts.push(
    `<text x="${OUTER + 4}" y="${gridMiddle}" text-anchor="middle" transform="rotate(-90 ${OUTER + 4} ${gridMiddle})">${escapeXml(axisLabel(options.y))}</text>`,
  );

  panels.forEach((panel, index) => {
    const column = index % columns;
    const row = Math.floor(index / columns);
    const left = OUTER + 16 + column * cellWidth + AXIS_LEFT;
    const top = gridTop + row * cellHeight + rowTitle + PANEL_TITLE + markSpace;
    const rowName = options.rowTitles?.[row];
    if (rowName !== undefined && column === 0)
      parts.push(
        `<text x="${OUTER + 16}" y="${top - markSpace - PANEL_TITLE - 6}" font-weight="bold" font-size="13">${escapeXml(rowName)}</text>`,
      );
    const sx = (value: number): number => left + xScaleUnit.toPx(value);
    const sy = (value: number): number => top + yScaleUnit.toPx(value);
    const clipId = `clip-${hashText(options.title)}-${index}`;
    parts.push(
      `<defs><clipPath id="${clipId}"><rect x="${left}" y="${top - 4}" width="${plotWidth}" height="${plotHeight + 8}"/></clipPath></defs>`,
      `<text x="${left}" y="${top - markSpace - 6}" font-weight="bold">${escapeXml(fitText(panel.title, plotWidth))}</text>`,
    );
    for (const tick of xScaleUnit.ticks) {
      const px = sx(tick).toFixed(1);
      parts.push(
        `<line x1="${px}" y1="${top}" x2="${px}" y2="${top + plotHeight}" stroke="#e6e6e6"/>`,
        `<text x="${px}" y="${top + plotHeight + 14}" text-anchor="middle" font-size="10">${tickText(tick)}</text>`,
      );
    }
    for (const tick of yScaleUnit.ticks) {
      const py = sy(tick).toFixed(1);
      parts.push(
        `<line x1="${left}" y1="${py}" x2="${left + plotWidth}" y2="${py}" stroke="#e6e6e6"/>`,
        `<text x="${left - 5}" y="${Number(py) + 3.5}" text-anchor="end" font-size="10">${tickText(tick)}</text>`,
      );
    }
    parts.push(
      `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#444"/>`,
      `<text x="${left + plotWidth / 2}" y="${top + plotHeight + 30}" text-anchor="middle">${escapeXml(axisLabel(options.x))}</text>`,
    );
    const rows = markRows[index] ?? [];
    (panel.marks ?? []).forEach((mark, markIndex) => {
      const px = sx(mark.x);
      if (px < left - 0.5 || px > left + plotWidth + 0.5) return;
      const color = mark.key === undefined ? "#777" : (options.styles.get(mark.key)?.color ?? "#777");
      const labelY = top - 4 - (rows[markIndex] ?? 0) * MARK_ROW;
      parts.push(
        `<line x1="${px.toFixed(1)}" y1="${labelY + 2}" x2="${px.toFixed(1)}" y2="${top + plotHeight}" stroke="${color}" stroke-dasharray="3 3" stroke-width="1"/>`,
        `<text x="${(px + 2).toFixed(1)}" y="${labelY}" font-size="10" fill="${color}">${escapeXml(mark.label)}</text>`,
      );
    });
    for (const line of panel.lines) {
      const style = options.styles.get(line.key) ?? { color: "#333", dash: "", marker: "circle" as const };
      const points = line.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
      if (points.length === 0) continue;
      const vertices = options.steps === true ? stepVertices(points) : points;
      const path = vertices.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
      parts.push(
        `<polyline clip-path="url(#${clipId})" fill="none" stroke="${style.color}" stroke-width="1.8"${style.dash === "" ? "" : ` stroke-dasharray="${style.dash}"`} stroke-linejoin="round" points="${path}"/>`,
      );
      for (const p of points) {
        const px = sx(p.x);
        const py = sy(p.y);
        if (p.yLow !== undefined && p.yHigh !== undefined && p.yHigh > p.yLow) {
          const low = sy(p.yLow);
          const high = sy(p.yHigh);
          parts.push(
            `<path d="M${px.toFixed(1)},${low.toFixed(1)}V${high.toFixed(1)}M${(px - 3).toFixed(1)},${low.toFixed(1)}h6M${(px - 3).toFixed(1)},${high.toFixed(1)}h6" stroke="${style.color}" stroke-width="1.2" fill="none"/>`,
          );
        }
        if (p.xLow !== undefined && p.xHigh !== undefined && p.xHigh > p.xLow) {
          const low = sx(p.xLow);
          const high = sx(p.xHigh);
          parts.push(
            `<path d="M${low.toFixed(1)},${py.toFixed(1)}H${high.toFixed(1)}M${low.toFixed(1)},${(py - 3).toFixed(1)}v6M${high.toFixed(1)},${(py - 3).toFixed(1)}v6" stroke="${style.color}" stroke-width="1.2" fill="none"/>`,
          );
        }
        if (options.markers === true) parts.push(markerSvg(style.marker, px, py, style.color));
        if (p.label !== undefined)
          parts.push(
            `<text x="${(px + 5).toFixed(1)}" y="${(py - 5).toFixed(1)}" font-size="9" fill="#555">${escapeXml(p.label)}</text>`,
          );
      }
    }
  });
  parts.push(legend.svg, "</svg>");
  return `${parts.join("\n")}\n`;
}

/** `text`, cut with an ellipsis to fit `width` pixels. */
function fitText(text: string, width: number): string {
  const chars = Math.floor(width / (FONT * 0.6));
  return text.length <= chars ? text : `${text.slice(0, Math.max(1, chars - 1))}…`;
}

function axisLabel(axis: Axis): string {
  return axis.scale === "log" ? `${axis.label} (log scale)` : axis.label;
}

/** One bar: stacked segments, in the order of the figure's segment keys. */
export interface Bar {
  /** Style key of the bar's series (its swatch), and its label. */
  readonly key: string;
  readonly label: string;
  readonly segments: Readonly<Record<string, number>>;
}

export interface BarPanel {
  readonly title: string;
  readonly bars: readonly Bar[];
}

export interface BarFigureOptions {
  readonly title: string;
  readonly subtitle?: string;
  readonly valueLabel: string;
  /** Segment keys in stacking order, with their legend names. */
  readonly segments: readonly {
    readonly key: string;
    readonly name: string;
    readonly color: string;
    readonly hatch?: boolean;
  }[];
  readonly styles: ReadonlyMap<string, SeriesStyle>;
}

/**
 * Horizontal stacked bars, one panel per group of bars, one legend of segments on the right.
 * Each bar's label carries a swatch in its series' colour, as in the line figures.
 */
export function barFigureSvg(panels: readonly BarPanel[], options: BarFigureOptions): string {
  const barHeight = 16;
  const barGap = 7;
  const labelWidth = Math.min(
    320,
    12 + Math.max(40, ...panels.flatMap((panel) => panel.bars.map((bar) => textWidth(bar.label)))),
  );
  const plotWidth = 420;
  const totals = panels.flatMap((panel) =>
    panel.bars.map((bar) => Object.values(bar.segments).reduce((sum, value) => sum + value, 0)),
  );
  const scale = makeScale({ label: options.valueLabel, scale: "linear" }, totals, 0, plotWidth);
  const headerHeight = TITLE_HEIGHT + (options.subtitle === undefined ? 0 : SUBTITLE_HEIGHT);
  const left = OUTER + labelWidth;
  const parts: string[] = [];
  let y = headerHeight;
  const id = hashText(options.title);
  parts.push(
    `<defs><pattern id="hatch-${id}" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="5" height="5" fill="white"/><line x1="0" y1="0" x2="0" y2="5" stroke="#888" stroke-width="2"/></pattern></defs>`,
  );
  for (const panel of panels) {
    parts.push(`<text x="${OUTER}" y="${y + 12}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    y += PANEL_TITLE + 4;
    const top = y;
    const height = panel.bars.length * (barHeight + barGap);
    for (const tick of scale.ticks) {
      const px = (left + scale.toPx(tick)).toFixed(1);
      parts.push(`<line x1="${px}" y1="${top - 2}" x2="${px}" y2="${top + height}" stroke="#e6e6e6"/>`);
    }
    panel.bars.forEach((bar, index) => {
      const barY = top + index * (barHeight + barGap);
      const style = options.styles.get(bar.key);
      parts.push(
        `<rect x="${OUTER}" y="${barY + 4}" width="8" height="8" fill="${style?.color ?? "#333"}"/>`,
        `<text x="${OUTER + 12}" y="${barY + 12}">${escapeXml(bar.label)}</text>`,
      );
      let at = 0;
      let total = 0;
      for (const segment of options.segments) {
        const value = bar.segments[segment.key] ?? 0;
        if (value <= 0) continue;
        const x0 = left + scale.toPx(at);
        const x1 = left + scale.toPx(at + value);
        parts.push(
          `<rect x="${x0.toFixed(1)}" y="${barY}" width="${Math.max(0.5, x1 - x0).toFixed(1)}" height="${barHeight}" fill="${segment.hatch === true ? `url(#hatch-${id})` : segment.color}" stroke="white" stroke-width="0.5"><title>${escapeXml(`${bar.label}: ${segment.name} ${trim(value)}`)}</title></rect>`,
        );
        at += value;
        total += value;
      }
      parts.push(
        `<text x="${(left + scale.toPx(at) + 4).toFixed(1)}" y="${barY + 12}" font-size="10" fill="#333">${trim(total)}</text>`,
      );
    });
    const axisY = top + height;
    parts.push(`<line x1="${left}" y1="${axisY}" x2="${left + plotWidth}" y2="${axisY}" stroke="#444"/>`);
    for (const tick of scale.ticks)
      parts.push(
        `<text x="${(left + scale.toPx(tick)).toFixed(1)}" y="${axisY + 13}" text-anchor="middle" font-size="10">${tickText(tick)}</text>`,
      );
    y = axisY + 22;
  }
  parts.push(
    `<text x="${left + plotWidth / 2}" y="${y + 4}" text-anchor="middle">${escapeXml(options.valueLabel)}</text>`,
  );
  y += 14;
  // Segment legend, right of the bars.
  const legendX = left + plotWidth + 60;
  let legendWidth = 0;
  options.segments.forEach((segment, index) => {
    const rowY = headerHeight + PANEL_TITLE + 4 + index * LEGEND_ROW;
    parts.push(
      `<rect x="${legendX}" y="${rowY}" width="14" height="12" fill="${segment.hatch === true ? `url(#hatch-${id})` : segment.color}" stroke="#666" stroke-width="0.5"/>`,
      `<text x="${legendX + 20}" y="${rowY + 10}">${escapeXml(segment.name)}</text>`,
    );
    legendWidth = Math.max(legendWidth, 20 + textWidth(segment.name));
  });
  const width = Math.ceil(legendX + legendWidth + OUTER);
  const height = Math.ceil(
    Math.max(y + 8, headerHeight + PANEL_TITLE + 4 + options.segments.length * LEGEND_ROW + 12),
  );
  const head = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="${FONT}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${OUTER}" y="24" font-size="15" font-weight="bold">${escapeXml(options.title)}</text>`,
  ];
  if (options.subtitle !== undefined)
    head.push(`<text x="${OUTER}" y="42" font-size="11" fill="#555">${escapeXml(options.subtitle)}</text>`);
  return `${[...head, ...parts, "</svg>"].join("\n")}\n`;
}

/** A short stable id fragment for SVG ids (figures inlined in one page must not share ids). */
export function hashText(text: string): string {
  let hash = 2166136261;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 16777619);
  }
  return (hash >>> 0).toString(36);
}

/** The corners of a step line through `points`: each point is reached flat, then straight up or down. */
function stepVertices(points: readonly ChartPoint[]): ChartPoint[] {
  const vertices: ChartPoint[] = [];
  points.forEach((point, index) => {
    const previous = points[index - 1];
    if (previous !== undefined && previous.y !== point.y) vertices.push({ x: point.x, y: previous.y });
    vertices.push(point);
  });
  return vertices;
}
