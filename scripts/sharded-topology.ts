/**
 * Writes a topology with several groups per AWS region, and its C-DAG order, from the 12-region
 * ones: `overlays/aws-<12*N>.topology.json` and two C-DAG orders, `overlays/aws-<12*N>-cdag-o1.json` and
 * `overlays/aws-<12*N>-cdag-inter.json`.
 *
 *   pnpm exec tsx scripts/sharded-topology.ts [--per-region 4]
 *
 * There is no measured matrix with more than 12 AWS regions, so a larger system is built the way
 * a partitioned service grows: more shards in the same regions. Group `<region>-<i>` (i = 1..N)
 * sits in `<region>`; the delays stay the measured ones of `aws-12-regions-ms.csv`: between two
 * regions the inter-region delay, between two groups of one region the matrix's diagonal (the
 * prototype's measured server-to-server delay inside that region, 1.5-6.7 ms one way). The order
 * is the prototype's first 12-region order ("Flex O1") with each region's groups next to each
 * other, so a region's shards stay together in the C-DAG; the interleaved order puts them 12
 * positions apart (the same regions in the same order, once per shard).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { "per-region": { type: "string", default: "4" } } });
const perRegion = Number(values["per-region"]);
if (!Number.isInteger(perRegion) || perRegion < 2 || perRegion > 26)
  throw new Error(`--per-region is a whole number in 2..26, got ${values["per-region"]}`);

const root = new URL("..", import.meta.url).pathname;
const o1 = JSON.parse(readFileSync(`${root}overlays/aws-12-cdag-o1.json`, "utf8")) as { order: string[] };
const regions = readFileSync(`${root}overlays/aws-12-regions-ms.csv`, "utf8")
  .split("\n")[0]
  ?.split(",")
  .slice(1);
if (regions === undefined || regions.length !== 12) throw new Error("aws-12-regions-ms.csv names 12 regions");
const shards = (region: string): string[] =>
  Array.from({ length: perRegion }, (_, index) => `${region}-${index + 1}`);
const count = 12 * perRegion;

const topology = {
  kind: "topology",
  name: `aws-${count}`,
  description:
    `${perRegion} groups per AWS region (${count} groups): group <region>-<i> sits in <region>. Delays are the measured ones of ` +
    "aws-12-regions-ms.csv: between regions the inter-region delay, between groups of one region the matrix's diagonal " +
    "(the measured delay inside that region). Written by scripts/sharded-topology.ts.",
  latencyCsv: "aws-12-regions-ms.csv",
  groups: regions.flatMap((region) => shards(region).map((id) => ({ id, region }))),
};
const order = {
  kind: "cdag",
  name: `aws-${count}-o1`,
  description: `The prototype's first 12-region order ("Flex O1") with each region's ${perRegion} groups next to each other. Written by scripts/sharded-topology.ts.`,
  order: o1.order.flatMap(shards),
};
const interleaved = {
  kind: "cdag",
  name: `aws-${count}-inter`,
  description: `The prototype's first 12-region order ("Flex O1") repeated ${perRegion} times, shard i of every region in round i: a region's groups sit 12 positions apart, so a multicast to one region's shards spans most of the order (FlexCast's notification-heavy case). Written by scripts/sharded-topology.ts.`,
  order: Array.from({ length: perRegion }, (_, index) =>
    o1.order.map((region) => `${region}-${index + 1}`),
  ).flat(),
};
writeFileSync(`${root}overlays/aws-${count}.topology.json`, `${JSON.stringify(topology, null, 2)}\n`);
writeFileSync(`${root}overlays/aws-${count}-cdag-o1.json`, `${JSON.stringify(order, null, 2)}\n`);
writeFileSync(`${root}overlays/aws-${count}-cdag-inter.json`, `${JSON.stringify(interleaved, null, 2)}\n`);
console.log(
  `wrote overlays/aws-${count}.topology.json, aws-${count}-cdag-o1.json and aws-${count}-cdag-inter.json`,
);
