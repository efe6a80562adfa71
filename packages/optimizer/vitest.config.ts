import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    // The ILP cross-checks solve dozens of models: the slowest instance takes 19 s of CPU, 4-5
    // minutes of wall time with the machine's cores shared fifteen ways (seen here).
    test: { testTimeout: 600_000 },
  }),
);
