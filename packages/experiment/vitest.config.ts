import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    // The CLI tests start real processes, and the network runtime's tests clusters of them.
    // One file at a time (vitest's default on two cores): two clusters of real processes at once
    // on a loaded two-core machine starve each other's restarts past the runner's stall limit
    // (tried: at load 100 three more net-amnesia, net-faults and parity cases failed than with one).
    test: { testTimeout: 120_000 },
  }),
);
