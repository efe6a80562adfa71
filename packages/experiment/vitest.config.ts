import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    // The CLI tests start real processes, and the network runtime's tests clusters of them.
    // Two files at once (vitest would run one on two cores): the clusters mostly wait (emulated
    // latency, ticks, restarts), and each step of their fault plans waits for what the cluster
    // did (a checkpoint, a cut applied and crossed, a restart back), not for wall time, so a
    // neighbour that slows them delays the run without failing it. (With time-driven plans, two
    // clusters at once at load 100 failed three more net-amnesia, net-faults and parity cases.)
    test: { testTimeout: 120_000, maxWorkers: 2 },
  }),
);
