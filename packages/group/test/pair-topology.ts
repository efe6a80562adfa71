import { Topology } from "@amcast/core";

/** Two groups in two regions 20 ms apart; replicas of a group 1 ms apart. */
export const PAIR_TOPOLOGY = new Topology(
  "pair",
  {
    regions: ["A", "B"],
    latencyMs: [
      [1, 20],
      [22, 1],
    ],
  },
  [
    { id: "a", region: "A" },
    { id: "b", region: "B" },
  ],
  [],
);
