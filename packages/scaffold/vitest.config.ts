import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    // The scaffold test generates a package and builds, typechecks and tests it: whole programs.
    test: { testTimeout: 120_000 },
  }),
);
