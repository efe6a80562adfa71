import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    // The CLI tests start real processes, and the network runtime's tests clusters of them.
    test: { testTimeout: 120_000 },
  }),
);
