import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { escapeXml } from "./chart.js";
import type { MulticastTrace } from "./explain.js";
import type { Figure } from "./figures.js";
import { buildFigures } from "./figures.js";
import type { Provenance } from "./provenance.js";
import type { RunRecord } from "./record.js";
import type { TableData } from "./record-tables.js";
import { kindsTableData, runNotes, runsTableData } from "./record-tables.js";
import { sequenceDiagramSvg } from "./sequence.js";
import { formatNumber } from "./table.js";

/** A table the console prints as text, carried into the report as it is. */
export interface ReportSection {
  readonly title: string;
  readonly text: string;
}

/** What the report says about where the results come from. */
export interface ReportHeader {
  readonly experiment: string;
  readonly description: string;
  /** "simulator", "network runtime", or where a trace came from. */
  readonly source: string;
  readonly provenance: Provenance | null;
  readonly resumes: readonly Provenance[];
  readonly configuration: Record<string, unknown> | null;
  readonly runsPlanned: number;
}

export interface ReportContent {
  readonly header: ReportHeader;
  readonly records: readonly RunRecord[];
  readonly sections: readonly ReportSection[];
  readonly sequence: MulticastTrace | null;
}

/**
 * Writes the figures (SVG with their CSV beside), the explained multicast's sequence diagram and
 * `index.html`, which holds the configuration, the tables, the figures, the checks' verdicts and
 * the diagram. Returns the files written.
 */
export function writeReport(dir: string, content: ReportContent): string[] {
  const written: string[] = [];
  const figures = buildFigures(content.header.experiment, content.records);
  for (const figure of figures) {
    writeFileSync(join(dir, `${figure.name}.svg`), figure.svg);
    writeFileSync(join(dir, `${figure.name}.csv`), figure.csv);
    written.push(`${figure.name}.svg`);
  }
  let sequenceSvg: string | null = null;
  if (content.sequence !== null) {
    sequenceSvg = sequenceDiagramSvg(content.sequence).svg;
    writeFileSync(join(dir, "sequence.svg"), sequenceSvg);
    written.push("sequence.svg");
  }
  writeFileSync(join(dir, "index.html"), reportHtml(content, figures, sequenceSvg));
  written.push("index.html");
  return written;
}

/** The reconfiguration tables and the published figures, as the console printed them, for the report. */
export function linesSections(reconfig: readonly string[], published: readonly string[]): ReportSection[] {
  const sections: ReportSection[] = [];
  if (reconfig.some((line) => line !== ""))
    sections.push({ title: "reconfiguration", text: reconfig.join("\n").trim() });
  if (published.length > 0) sections.push({ title: "published figures", text: published.join("\n") });
  return sections;
}

const STYLE = `
body { font: 14px/1.45 Helvetica, Arial, sans-serif; color: #1a1a1a; margin: 0 auto; max-width: 1280px; padding: 18px 28px 60px; }
h1 { font-size: 24px; margin: 6px 0 4px; }
h2 { font-size: 18px; margin: 30px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
p.meta { color: #555; font-size: 12.5px; margin: 4px 0; }
nav { font-size: 13px; margin: 10px 0 0; }
nav a { margin-right: 14px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 12px; }
th, td { padding: 3px 9px; border-bottom: 1px solid #eee; white-space: nowrap; }
th { text-align: left; background: #f6f6f6; border-bottom: 1px solid #ccc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
.ok { color: #00663f; font-weight: bold; }
.bad { color: #b00; font-weight: bold; }
figure { margin: 14px 0 26px; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 12.5px; color: #444; max-width: 900px; }
pre { background: #f7f7f7; padding: 8px 10px; font-size: 12px; overflow-x: auto; }
details summary { cursor: pointer; }
`;

function reportHtml(content: ReportContent, figures: readonly Figure[], sequenceSvg: string | null): string {
  const { header, records, sections, sequence } = content;
  const failed = records.filter((record) => !record.verdict.passed);
  const checked = [...new Set(records.flatMap((record) => record.verdict.checked))];
  const body: string[] = [];
  body.push(`<h1>${escapeXml(header.experiment)}</h1>`);
  if (header.description !== "") body.push(`<p>${escapeXml(header.description)}</p>`);
  body.push(`<p class="meta">${escapeXml(metaLine(header, records.length))}</p>`);
  body.push(
    `<nav><a href="#checks">checks</a><a href="#results">results</a><a href="#figures">figures</a>${sequence === null ? "" : '<a href="#explain">a multicast explained</a>'}${sections.length === 0 ? "" : '<a href="#details">more tables</a>'}<a href="#configuration">configuration</a><a href="#files">files</a></nav>`,
  );

  body.push(`<h2 id="checks">Checks</h2>`);
  if (records.length < header.runsPlanned)
    body.push(
      `<p class="bad">${records.length} of ${header.runsPlanned} runs finished; the rest did not run (interrupted?): rerun with --resume.</p>`,
    );
  body.push(
    failed.length === 0
      ? `<p class="ok">Every run holds every checked property (${records.length} run${records.length === 1 ? "" : "s"}; checked: ${escapeXml(checked.join(", ") || "nothing")}).</p>`
      : `<p class="bad">${failed.length} of ${records.length} runs FAILED.</p>`,
  );
  for (const record of failed) {
    body.push(`<h3 class="bad">${escapeXml(record.label)} (seed ${record.seed})</h3>`);
    body.push(`<pre>${escapeXml(record.verdict.report ?? `stopped: ${record.summary.stoppedBy}`)}</pre>`);
  }

  body.push(`<h2 id="results">Results</h2>`);
  body.push(tableHtml(runsTableData(records)));
  for (const note of runNotes(records)) body.push(`<p class="meta">${escapeXml(note)}</p>`);
  body.push(
    "<h3>Latency per kind of message</h3><p class=\"meta\">floor: max over destinations of the client's one-way delay; model: the protocol's message pattern on the latency matrix</p>",
  );
  body.push(tableHtml(kindsTableData(records)));

  body.push(`<h2 id="figures">Figures</h2>`);
  for (const figure of figures) {
    body.push(
      `<figure><img src="${figure.name}.svg" alt="${escapeXml(figure.title)}"><figcaption>${escapeXml(figure.caption)} <a href="${figure.name}.svg">SVG</a> · <a href="${figure.name}.csv">data (CSV)</a></figcaption></figure>`,
    );
  }

  if (sequence !== null && sequenceSvg !== null) {
    const { summary } = sequenceDiagramSvg(sequence);
    body.push(`<h2 id="explain">A multicast explained: ${escapeXml(sequence.id)}</h2>`);
    body.push(
      `<p>Run <b>${escapeXml(sequence.run)}</b>, ${escapeXml(sequence.why)}. Lanes are the client and the groups; each arrow is one kind of protocol message about this multicast (×N: copies between replicas), from its first send to its first copy's arrival; dots are the deliveries and the completion; the orange bar is how long a destination held the multicast after its last message about it arrived (waiting for earlier messages, or in its queue). Messages inside a group (its replication) carry no multicast id and are not drawn. Choose another with <code>--explain ID</code> or <code>--explain RUN/ID</code>.</p>`,
    );
    if (sequence.note !== null) body.push(`<p class="bad">${escapeXml(sequence.note)}</p>`);
    body.push(`<div class="scroll">${sequenceSvg.replace(/^<\?xml[^>]*>/, "")}</div>`);
    body.push(
      tableHtml({
        header: ["message", "from", "to", "copies", "sent ms", "arrived ms", "in flight ms"],
        rows: [...summary.arrows]
          .sort((a, b) => a.sentMs - b.sentMs)
          .map((arrow) => [
            arrow.kind,
            arrow.from,
            arrow.to,
            arrow.copies,
            arrow.sentMs,
            arrow.arriveMs ?? "-",
            arrow.arriveMs === null ? "-" : arrow.arriveMs - arrow.sentMs,
          ]),
      }),
    );
  }

  if (sections.length > 0) {
    body.push(`<h2 id="details">More tables</h2>`);
    if (records.length > 0 && sections.length > 0)
      body.push(
        `<p class="meta">as printed by the run; they cover the runs of the invocation that printed them</p>`,
      );
    for (const section of sections)
      body.push(`<h3>${escapeXml(section.title)}</h3><pre>${escapeXml(section.text)}</pre>`);
  }

  body.push(`<h2 id="configuration">Configuration</h2>`);
  if (header.provenance !== null) {
    body.push(
      `<details><summary>provenance (date, commit, Node, machine, command)</summary><pre>${escapeXml(JSON.stringify({ ...header.provenance, resumes: header.resumes }, null, 2))}</pre></details>`,
    );
  }
  body.push(
    header.configuration === null
      ? "<p>Not known: the report was made from a trace.</p>"
      : `<details><summary>the resolved experiment configuration (defaults applied, files read in)</summary><pre>${escapeXml(JSON.stringify(header.configuration, null, 2))}</pre></details>`,
  );

  body.push(`<h2 id="files">Files</h2>`);
  const files = [
    ["summary.json", "provenance, configuration, every run's summary"],
    ["runs.csv", "one row per run and seed (swept values as columns)"],
    ["kinds.csv", "latency per kind of message, per run"],
    ["samples.csv", "one row per multicast"],
    ...(records.some((record) => records.some((other) => other !== record && other.group === record.group))
      ? [["aggregate.csv", "rows over seeds: mean and 95% confidence interval"]]
      : []),
    ...figures.flatMap((figure) => [
      [`${figure.name}.svg`, figure.title],
      [`${figure.name}.csv`, "its data"],
    ]),
  ];
  body.push(
    `<ul>${files.map(([file, what]) => `<li><a href="${file}">${file}</a>: ${escapeXml(what as string)}</li>`).join("")}</ul>`,
  );
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>amcast: ${escapeXml(header.experiment)}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
${body.join("\n")}
</body>
</html>
`;
}

function metaLine(header: ReportHeader, runs: number): string {
  const parts = [header.source, `${runs} run${runs === 1 ? "" : "s"}`];
  const p = header.provenance;
  if (p !== null) {
    parts.push(p.date.replace("T", " ").replace(/\.\d+Z$/, " UTC"));
    if (p.git !== null)
      parts.push(`commit ${p.git.commit.slice(0, 10)}${p.git.dirty ? " (with uncommitted changes)" : ""}`);
    parts.push(`Node ${p.node}`, `${p.machine.hostname} (${p.machine.cpus} × ${p.machine.cpuModel})`);
  }
  if (header.resumes.length > 0) parts.push(`resumed ${header.resumes.length} time(s)`);
  return parts.join(" · ");
}

function tableHtml(table: TableData): string {
  const numeric = table.header.map((_, column) =>
    table.rows.every((row) => {
      const cell = row[column];
      return (
        typeof cell === "number" ||
        cell === "-" ||
        (typeof cell === "string" && /^-?[\d.]+( ± [\d.]+)?$/.test(cell))
      );
    }),
  );
  const head = table.header.map((name) => `<th>${escapeXml(name)}</th>`).join("");
  const rows = table.rows
    .map(
      (row) =>
        `<tr>${row
          .map((cell, column) => {
            const text = typeof cell === "number" ? formatNumber(cell) : cell;
            const verdict =
              table.header[column] === "checks"
                ? String(text).startsWith("ok")
                  ? ' class="ok"'
                  : ' class="bad"'
                : numeric[column]
                  ? ' class="num"'
                  : "";
            return `<td${verdict}>${escapeXml(String(text))}</td>`;
          })
          .join("")}</tr>`,
    )
    .join("\n");
  return `<div class="scroll"><table><thead><tr>${head}</tr></thead><tbody>\n${rows}\n</tbody></table></div>`;
}
