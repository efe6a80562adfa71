import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    // The ILP cross-checks solve dozens of models; on a loaded machine that takes a while.
    test: { testTimeout: 120_000 },
  }),
);
