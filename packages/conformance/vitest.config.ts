import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      // Each test runs whole simulations (the swarm: hundreds); they are deterministic, only slow.
      testTimeout: 600_000,
      // The swarm is split over files to be spread over workers, and this package is with
      // @amcast/experiment the suite's longest: two files at once even on a two-core machine
      // (vitest would run one there, cores minus one).
      maxWorkers: 2,
    },
  }),
);
