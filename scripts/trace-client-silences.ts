/**
 * How long the client host of a network run went without recording anything: the longest gaps
 * between its clients' `multicast` and `complete` events (with closed-loop clients and no think
 * time a busy host records events every millisecond or so, so a long gap is a host that was held
 * up: its event loop blocked, or the machine did not schedule it), and the gap that starts at
 * each completion of the reconfiguration controller (`ctl`), which is when it plans.
 *
 *   pnpm run experiment paper-reconfig --runtime net --trace trace.jsonl
 *   pnpm exec tsx scripts/trace-client-silences.ts trace.jsonl
 *
 * One client host (the default `--client-hosts 1`): with several, their events interleave and
 * hide one host's silence.
 */
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";

const file = process.argv[2];
if (file === undefined) {
  console.error("usage: tsx scripts/trace-client-silences.ts TRACE.jsonl");
  process.exit(2);
}
interface Run {
  readonly times: number[];
  readonly controller: number[];
}
const runs = new Map<string, Run>();
for await (const line of createInterface({ input: createReadStream(file) })) {
  if (line === "") continue;
  const event = JSON.parse(line) as { ev: string; t: number; client?: string; run?: string };
  if (event.ev !== "multicast" && event.ev !== "complete") continue;
  const label = event.run ?? "";
  const run = runs.get(label) ?? { times: [], controller: [] };
  runs.set(label, run);
  run.times.push(event.t);
  if (event.ev === "complete" && event.client === "ctl") run.controller.push(event.t);
}
for (const [label, run] of runs) {
  const times = Float64Array.from(run.times).sort();
  const gaps: { fromMs: number; ms: number }[] = [];
  for (let i = 1; i < times.length; i++)
    gaps.push({ fromMs: times[i - 1] as number, ms: (times[i] as number) - (times[i - 1] as number) });
  const longest = [...gaps].sort((a, b) => b.ms - a.ms).slice(0, 5);
  console.log(`${label}: ${times.length} client events; longest silences (ms at s):`);
  console.log(
    `  ${longest.map((gap) => `${gap.ms.toFixed(0)} at ${(gap.fromMs / 1000).toFixed(1)}`).join(", ")}`,
  );
  if (run.controller.length === 0) continue;
  // The controller's completion is recorded, then it plans: the gap that starts there.
  const atController = run.controller.map((t) => {
    const gap = gaps.find((candidate) => candidate.fromMs >= t);
    return `${(t / 1000).toFixed(1)} s: ${gap === undefined ? "-" : gap.ms.toFixed(0)}`;
  });
  console.log(`  silence after each controller completion (ms): ${atController.join(", ")}`);
}
