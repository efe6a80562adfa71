import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { amcast, scratchProject } from "./project.js";

/**
 * The HTML report in a real browser: Debian's Chromium, driven by playwright-core (which brings
 * no browser of its own). Where Chromium is not installed the test is skipped, and says so.
 */
const CHROMIUM = process.env.AMCAST_CHROMIUM ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM)
  console.warn(
    `report browser test SKIPPED: no Chromium at ${CHROMIUM} (install Debian's: apt-get install -y chromium, or set AMCAST_CHROMIUM)`,
  );

/** Flags that let Chromium start as root on a machine without a network or a GPU. */
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

let project = "";
let browser: Browser | undefined;

beforeAll(async () => {
  if (!HAVE_CHROMIUM) return;
  project = scratchProject("amcast-browser-", {
    page: {
      name: "page",
      description: "Two protocols, a sweep, two seeds and a crash: every part of the report.",
      topology: "../overlays/three.topology.json",
      protocols: [{ protocol: "skeen" }, { protocol: "flexcast", overlay: "../overlays/three.cdag.json" }],
      mode: "crash",
      faults: { crashes: [{ leaderOf: "b", atMs: 200 }] },
      workloads: [{ name: "mixed", clientsPerGroup: 1, multicastsPerClient: 30, localPercent: 50 }],
      sweep: { clientsPerGroup: [1, 2] },
      seeds: [1, 2],
    },
    // The smallest run on real processes (four of them) with its messages traced.
    net: {
      name: "net",
      description: "Skeen on real processes.",
      topology: "../overlays/three.topology.json",
      protocols: [{ protocol: "skeen" }],
      workloads: [{ name: "mixed", clientsPerGroup: 1, multicastsPerClient: 8, localPercent: 50 }],
    },
  });
  const run = amcast(project, "experiment", "page", "--out", "out");
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
});

afterAll(async () => {
  await browser?.close();
});

/** What a report page showed: its figures' sources, and every console error, page error or failed load. */
interface Rendered {
  readonly figures: string[];
  readonly errors: string[];
}

/**
 * Opens a report, checks that its sections are there, that every figure loaded with a size (an SVG
 * that fails to parse has none) and that the inline sequence diagram is laid out, then runs `more`
 * on the page.
 */
async function render(
  file: string,
  title: string,
  more: (page: Page) => Promise<void> = async () => {},
): Promise<Rendered> {
  const page = await (browser as Browser).newPage();
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("requestfailed", (request) => errors.push(`failed to load ${request.url()}`));
  await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
  expect(await page.title()).toBe(title);
  for (const id of ["checks", "results", "figures", "explain", "configuration", "files"])
    expect(await page.locator(`#${id}`).count()).toBe(1);
  const images = await page.locator("figure img").evaluateAll((nodes) =>
    // Runs in the page (an HTMLImageElement there); typed loosely, the tests compile without the DOM types.
    nodes.map((node) => {
      const image = node as unknown as {
        getAttribute(name: string): string | null;
        naturalWidth: number;
        complete: boolean;
      };
      return { src: image.getAttribute("src"), width: image.naturalWidth, complete: image.complete };
    }),
  );
  for (const image of images) {
    expect(image.complete).toBe(true);
    expect(image.width).toBeGreaterThan(300);
  }
  // The sequence diagram is inline and laid out: lanes for the client and the groups.
  const box = await page.locator("#explain ~ div svg").first().boundingBox();
  expect(box?.width ?? 0).toBeGreaterThan(300);
  expect(await page.locator("#explain ~ div svg text", { hasText: /^deliver/ }).count()).toBeGreaterThan(0);
  await more(page);
  await page.close();
  return { figures: images.map((image) => image.src ?? ""), errors };
}

describe.skipIf(!HAVE_CHROMIUM)("the HTML report in Chromium", () => {
  it("renders every section and figure with no console error", async () => {
    const rendered = await render(join(project, "out", "index.html"), "amcast: page", async (page) => {
      // Every row of the main table passed its checks (the crash included).
      expect(await page.locator("#results ~ div table td.ok").count()).toBe(4);
    });
    expect(rendered.figures).toEqual(
      expect.arrayContaining([
        "latency-cdf.svg",
        "latency-over-time.svg",
        "messages-per-multicast.svg",
        "throughput-latency.svg",
        "throughput-vs-clientsPerGroup.svg",
      ]),
    );
    expect(rendered.errors).toEqual([]);
  });

  it("renders a network-runtime report, its diagram drawn from the run's trace", async () => {
    const run = amcast(
      project,
      ...[
        "experiment",
        "net",
        "--runtime",
        "net",
        "--out",
        "net-out",
        "--trace",
        "net.jsonl",
        "--trace-sends",
      ],
    );
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const rendered = await render(join(project, "net-out", "index.html"), "amcast: net", async (page) => {
      expect(await page.locator("p.meta", { hasText: /^network runtime/ }).count()).toBe(1);
      expect(await page.locator("#details ~ h3", { hasText: /^transport/ }).count()).toBe(1);
      // Real processes cannot know when a message arrives: the report says why arrows are dashed.
      expect(await page.locator("#explain ~ p.bad", { hasText: /arrival times/ }).count()).toBe(1);
    });
    expect(rendered.figures).toEqual(
      expect.arrayContaining(["latency-cdf.svg", "latency-over-time.svg", "messages-per-multicast.svg"]),
    );
    expect(rendered.errors).toEqual([]);
  });
});
