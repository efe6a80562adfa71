import type { TraceEvent } from "@amcast/core";
import { escapeXml, hashText } from "./chart.js";
import type { MulticastTrace } from "./explain.js";

/** One arrow: messages of one kind from one lane to another (the copies of every replica). */
interface Arrow {
  readonly from: number;
  readonly to: number;
  readonly kind: string;
  readonly sentMs: number;
  /** First copy's arrival; null when the trace does not say (network runtime). */
  arriveMs: number | null;
  copies: number;
}

/** A moment on one lane: the multicast, a group's delivery, the client's completion. */
interface Dot {
  readonly lane: number;
  readonly t: number;
  readonly label: string;
}

/** What the diagram shows, for tests and the report's text. */
export interface SequenceSummary {
  readonly lanes: readonly string[];
  readonly arrows: readonly {
    from: string;
    to: string;
    kind: string;
    copies: number;
    sentMs: number;
    arriveMs: number | null;
  }[];
  readonly deliveries: readonly { group: string; t: number }[];
  readonly latencyMs: number | null;
}

const LANE_WIDTH = 150;
const LEFT = 70;
const TOP = 86;
const MIN_GAP = 16;
const HEIGHT_MAX = 900;

/**
 * The lanes, arrows and dots of one multicast's life: the client's request, every protocol
 * message about it between groups (copies between replicas merged into one arrow with a count),
 * each group's delivery (first replica, with how many followed) and the completion.
 */
export function sequenceOf(trace: MulticastTrace): {
  lanes: string[];
  arrows: Arrow[];
  dots: Dot[];
  marks: { t: number; label: string }[];
  t0: number;
  summary: SequenceSummary;
} {
  const groupOf = new Map<string, string>();
  for (const event of trace.events)
    if (event.ev === "member") groupOf.set(String(event.proc), String(event.group));
  const multicast = trace.events.find((event) => event.ev === "multicast" && String(event.id) === trace.id) as
    | Extract<TraceEvent, { ev: "multicast" }>
    | undefined;
  const client = multicast === undefined ? "client" : String(multicast.client);
  const t0 = multicast?.t ?? trace.events[0]?.t ?? 0;
  const lanes: string[] = [`client ${client}`];
  const laneOf = (proc: string): number => {
    const group = groupOf.get(proc);
    const name = group === undefined ? (proc === client ? `client ${client}` : proc) : group;
    let index = lanes.indexOf(name);
    if (index < 0) {
      lanes.push(name);
      index = lanes.length - 1;
    }
    return index;
  };
  // Destination groups first, in their order: the reader looks for them.
  for (const group of multicast?.dst ?? []) if (!lanes.includes(String(group))) lanes.push(String(group));
  const arrows = new Map<string, Arrow>();
  const dots: Dot[] = [];
  const deliveries = new Map<string, { t: number; replicas: number; lastMs: number }>();
  const marks: { t: number; label: string }[] = [];
  let endMs = t0;
  for (const event of trace.events) {
    switch (event.ev) {
      case "multicast":
        if (String(event.id) === trace.id) dots.push({ lane: 0, t: event.t, label: "multicast" });
        break;
      case "send": {
        if (String(event.id) !== trace.id) break;
        const from = laneOf(String(event.from));
        const to = laneOf(String(event.to));
        const key = `${from}>${to}>${event.kind}`;
        const arrow = arrows.get(key);
        const arriveMs = event.arriveT ?? null;
        if (arrow === undefined) {
          arrows.set(key, { from, to, kind: event.kind, sentMs: event.t, arriveMs, copies: 1 });
        } else {
          arrow.copies += 1;
          if (arriveMs !== null && (arrow.arriveMs === null || arriveMs < arrow.arriveMs))
            arrow.arriveMs = arriveMs;
        }
        endMs = Math.max(endMs, event.t, arriveMs ?? event.t);
        break;
      }
      case "deliver": {
        if (String(event.id) !== trace.id) break;
        const group = String(event.group);
        const entry = deliveries.get(group);
        if (entry === undefined) deliveries.set(group, { t: event.t, replicas: 1, lastMs: event.t });
        else {
          entry.replicas += 1;
          entry.lastMs = event.t;
        }
        endMs = Math.max(endMs, event.t);
        break;
      }
      case "complete":
        if (String(event.id) !== trace.id) break;
        dots.push({ lane: 0, t: event.t, label: "complete" });
        endMs = Math.max(endMs, event.t);
        break;
      case "view":
        marks.push({ t: event.t, label: `${event.group} installs view ${event.view}` });
        break;
      case "fault":
        if (event.kind !== "byzantine") marks.push({ t: event.t, label: `${event.kind} ${event.proc}` });
        break;
      default:
        break;
    }
  }
  for (const [group, entry] of deliveries) {
    const lane = lanes.indexOf(group) < 0 ? laneOf(group) : lanes.indexOf(group);
    const more =
      entry.replicas > 1 ? ` (${entry.replicas} replicas by +${(entry.lastMs - t0).toFixed(1)} ms)` : "";
    dots.push({ lane, t: entry.t, label: `deliver${more}` });
  }
  const inWindow = marks.filter((mark) => mark.t >= t0 && mark.t <= endMs);
  const lastDelivery = Math.max(...[...deliveries.values()].map((entry) => entry.t));
  const summary: SequenceSummary = {
    lanes,
    arrows: [...arrows.values()].map((arrow) => ({
      from: lanes[arrow.from] as string,
      to: lanes[arrow.to] as string,
      kind: arrow.kind,
      copies: arrow.copies,
      sentMs: arrow.sentMs - t0,
      arriveMs: arrow.arriveMs === null ? null : arrow.arriveMs - t0,
    })),
    deliveries: [...deliveries].map(([group, entry]) => ({ group, t: entry.t - t0 })),
    latencyMs: Number.isFinite(lastDelivery) ? lastDelivery - t0 : null,
  };
  return { lanes, arrows: [...arrows.values()], dots, marks: inWindow, t0, summary };
}

/**
 * A message sequence diagram: lanes left to right (the client, then each group), time downward.
 * Long waits keep their length; moments closer than the row height are spread apart so every
 * label reads (the time beside each row is exact, ms after the multicast).
 */
export function sequenceDiagramSvg(trace: MulticastTrace): { svg: string; summary: SequenceSummary } {
  const { lanes, arrows, dots, marks, t0, summary } = sequenceOf(trace);
  const multicast = trace.events.find((event) => event.ev === "multicast" && String(event.id) === trace.id);
  const destinations = multicast?.ev === "multicast" ? multicast.dst.map(String).join(", ") : "";
  const times = new Set<number>();
  for (const arrow of arrows) {
    times.add(arrow.sentMs);
    if (arrow.arriveMs !== null) times.add(arrow.arriveMs);
  }
  for (const dot of dots) times.add(dot.t);
  for (const mark of marks) times.add(mark.t);
  const sorted = [...times].sort((a, b) => a - b);
  const spanMs = Math.max(1e-6, (sorted[sorted.length - 1] ?? t0) - (sorted[0] ?? t0));
  const scale = Math.max(0.5, (HEIGHT_MAX - sorted.length * MIN_GAP) / spanMs);
  const yOf = new Map<number, number>();
  let y = TOP;
  sorted.forEach((t, index) => {
    if (index > 0) y += Math.max(MIN_GAP, (t - (sorted[index - 1] as number)) * scale);
    yOf.set(t, y);
  });
  const bottom = Math.ceil(y + 40);
  const laneX = (lane: number): number => LEFT + 100 + lane * LANE_WIDTH;
  const subtitle = `${trace.why}; time runs down, in ms after the multicast (gaps under ${MIN_GAP} px stretched to stay legible)`;
  const width = Math.ceil(Math.max(laneX(lanes.length - 1) + LANE_WIDTH, 28 + subtitle.length * 6));
  const id = `seq-${hashText(`${trace.run}/${trace.id}`)}`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${bottom + 20}" viewBox="0 0 ${width} ${bottom + 20}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
    `<defs><marker id="${id}-head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#333"/></marker></defs>`,
    `<rect width="${width}" height="${bottom + 20}" fill="white"/>`,
    `<text x="14" y="22" font-size="14" font-weight="bold">${escapeXml(`multicast ${trace.id}${destinations === "" ? "" : ` to ${destinations}`} in ${trace.run}`)}</text>`,
    `<text x="14" y="40" fill="#555">${escapeXml(subtitle)}</text>`,
  ];
  lanes.forEach((lane, index) => {
    const x = laneX(index);
    parts.push(
      `<text x="${x}" y="${TOP - 18}" text-anchor="middle" font-weight="bold">${escapeXml(lane)}</text>`,
      `<line x1="${x}" y1="${TOP - 10}" x2="${x}" y2="${bottom}" stroke="#999" stroke-width="1"/>`,
    );
  });
  for (const t of sorted) {
    const rowY = yOf.get(t) as number;
    parts.push(
      `<text x="${LEFT}" y="${rowY + 4}" text-anchor="end" fill="#666" font-size="10">+${(t - t0).toFixed(2)}</text>`,
      `<line x1="${LEFT + 4}" y1="${rowY}" x2="${width - 10}" y2="${rowY}" stroke="#f0f0f0"/>`,
    );
  }
  for (const mark of marks) {
    const rowY = yOf.get(mark.t) as number;
    parts.push(
      `<line x1="${LEFT + 4}" y1="${rowY}" x2="${width - 10}" y2="${rowY}" stroke="#b00" stroke-dasharray="5 3"/>`,
      `<text x="${width - 12}" y="${rowY - 3}" text-anchor="end" fill="#b00" font-size="10">${escapeXml(mark.label)}</text>`,
    );
  }
  for (const arrow of [...arrows].sort((a, b) => a.sentMs - b.sentMs)) {
    const x1 = laneX(arrow.from);
    const x2 = laneX(arrow.to);
    const y1 = yOf.get(arrow.sentMs) as number;
    const label = `${arrow.kind}${arrow.copies > 1 ? ` ×${arrow.copies}` : ""}`;
    if (arrow.from === arrow.to) {
      const y2 = arrow.arriveMs === null ? y1 + MIN_GAP : (yOf.get(arrow.arriveMs) as number);
      parts.push(
        `<path d="M${x1},${y1} C${x1 + 40},${y1} ${x1 + 40},${y2} ${x1 + 2},${y2}" fill="none" stroke="#555" marker-end="url(#${id}-head)"/>`,
        `<text x="${x1 + 34}" y="${(y1 + y2) / 2 + 4}" fill="#333">${escapeXml(label)}</text>`,
      );
      continue;
    }
    const known = arrow.arriveMs !== null;
    const y2 = known ? (yOf.get(arrow.arriveMs as number) as number) : y1 + MIN_GAP;
    const direction = x2 > x1 ? 1 : -1;
    parts.push(
      `<line x1="${x1}" y1="${y1}" x2="${x2 - direction * 3}" y2="${y2}" stroke="#333" stroke-width="1.2"${known ? "" : ' stroke-dasharray="4 3"'} marker-end="url(#${id}-head)"><title>${escapeXml(`${label}: sent +${(arrow.sentMs - t0).toFixed(2)} ms${known ? `, first copy in at +${((arrow.arriveMs as number) - t0).toFixed(2)} ms` : ", arrival not recorded"}`)}</title></line>`,
    );
    // The label sits on the arrow's middle, haloed, so arrows from one moment keep theirs apart.
    parts.push(
      `<text x="${(x1 + x2) / 2}" y="${(y1 + y2) / 2 - 3}" text-anchor="middle" fill="#1a1a1a" stroke="white" stroke-width="3" paint-order="stroke">${escapeXml(label)}</text>`,
    );
  }
  // Where a destination held the message after its last message about it arrived: the wait is
  // the protocol's ordering (earlier messages first), not the network.
  for (const dot of dots) {
    if (!dot.label.startsWith("deliver")) continue;
    const arrivals = arrows
      .filter(
        (arrow) => arrow.to === dot.lane && arrow.arriveMs !== null && (arrow.arriveMs as number) <= dot.t,
      )
      .map((arrow) => arrow.arriveMs as number);
    const lastIn = Math.max(...arrivals);
    if (!Number.isFinite(lastIn) || dot.t - lastIn < 1) continue;
    const x = laneX(dot.lane);
    const y1 = yOf.get(lastIn) as number;
    const y2 = yOf.get(dot.t) as number;
    parts.push(
      `<rect x="${x - 3}" y="${y1}" width="6" height="${y2 - y1}" fill="#E69F00" opacity="0.55"><title>${escapeXml(`held ${(dot.t - lastIn).toFixed(1)} ms after its last message arrived`)}</title></rect>`,
      `<text x="${x + 8}" y="${(y1 + y2) / 2 + 4}" fill="#8a5a00" stroke="white" stroke-width="3" paint-order="stroke">${escapeXml(`held ${(dot.t - lastIn).toFixed(1)} ms after its last message (ordering, queueing)`)}</text>`,
    );
  }
  for (const dot of dots) {
    const x = laneX(dot.lane);
    const dotY = yOf.get(dot.t) as number;
    const deliver = dot.label.startsWith("deliver");
    // The client's lane is the first: its labels go left of it, away from the arrows.
    const left = dot.lane === 0;
    parts.push(
      `<circle cx="${x}" cy="${dotY}" r="${deliver ? 5 : 4}" fill="${deliver ? "#009E73" : "#0072B2"}" stroke="white"/>`,
      `<text x="${left ? x - 8 : x + 8}" y="${dotY + 4}"${left ? ' text-anchor="end"' : ""} fill="${deliver ? "#00663f" : "#004a75"}" font-weight="bold" stroke="white" stroke-width="3" paint-order="stroke">${escapeXml(dot.label)}</text>`,
    );
  }
  if (trace.note !== null)
    parts.push(`<text x="14" y="${bottom + 12}" fill="#b00">${escapeXml(`note: ${trace.note}`)}</text>`);
  parts.push("</svg>");
  return { svg: `${parts.join("\n")}\n`, summary };
}
