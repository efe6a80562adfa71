import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      // The CLI tests start real processes, and the network runtime's tests clusters of them.
      testTimeout: 120_000,
      // The suite's longest package, and most of its time is spent waiting on real processes
      // (workloads of fixed length, restarts after fixed pauses), not on this process's CPU: two
      // files at once even on a two-core machine (vitest would run one there, cores minus one).
      maxWorkers: 2,
    },
  }),
);
