/**
 * How long the oracles take on a run of about 1,000,000 events: `pnpm exec tsx bench/check.bench.ts`.
 * The synthetic run is correct (every process delivers its group's messages in one global order),
 * so every check does its full work instead of stopping at a capped violation.
 */
import { formatTraceLine, parseTrace, type TraceEvent } from "@amcast/core";
import { Bench } from "tinybench";
import { checkRun } from "../src/index.js";

const GROUPS = 8;
const REPLICAS = 3;
const TARGET_EVENTS = 1_000_000;

function syntheticRun(): TraceEvent[] {
  let state = 12345;
  const random = (): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const groups = Array.from({ length: GROUPS }, (_, index) => `g${index}`);
  const events: TraceEvent[] = [];
  for (const group of groups) {
    for (let replica = 0; replica < REPLICAS; replica += 1)
      events.push({ ev: "member", group, proc: `${group}/${replica}`, t: 0 });
  }
  let index = 0;
  while (events.length < TARGET_EVENTS) {
    // Mostly local messages, a quarter addressed to two groups, as in typical partitioned workloads.
    const first = groups[Math.floor(random() * GROUPS)] as string;
    const dst = [first];
    if (random() < 0.25) {
      const second = groups[Math.floor(random() * GROUPS)] as string;
      if (second !== first) dst.push(second);
    }
    const client = `c${Math.floor(random() * 64)}`;
    const id = `${client}:${index}`;
    const t = index;
    events.push({ ev: "multicast", id, client, dst, t });
    for (const group of dst) {
      for (let replica = 0; replica < REPLICAS; replica += 1) {
        events.push({ ev: "deliver", id, group, proc: `${group}/${replica}`, t: t + 0.5 + random() * 0.4 });
      }
    }
    events.push({ ev: "complete", id, client, t: t + 0.95 });
    index += 1;
  }
  return events;
}

// Through JSON Lines and back, as `amcast check` reads a file: every id is then its own string, as
// in a real trace, instead of one shared string object per message.
const events = parseTrace(syntheticRun().map(formatTraceLine).join("\n"), "synthetic");
const multicasts = events.filter((event) => event.ev === "multicast").length;
process.stdout.write(`synthetic run: ${events.length} events, ${multicasts} multicasts\n`);

const cold = checkRun(events, { realTime: true });
if (cold.violations.length > 0)
  throw new Error(`the synthetic run should be correct:\n${cold.violations[0]?.message}`);

const bench = new Bench({ name: "checkRun, 1M events", iterations: 5, time: 0, warmupIterations: 1 });
bench
  .add("checkRun (5 properties)", () => {
    checkRun(events);
  })
  .add("checkRun (6 properties, real time)", () => {
    checkRun(events, { realTime: true });
  });
await bench.run();
console.table(bench.table());
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state === "completed") {
    process.stdout.write(
      `${task.name}: mean ${(result.latency.mean / 1000).toFixed(2)} s over ${result.latency.samplesCount} runs\n`,
    );
  }
}
process.stdout.write(`heap used after: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB\n`);
