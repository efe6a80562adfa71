import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The ILP cross-checks solve dozens of models; on a loaded machine that takes a while.
    testTimeout: 120_000,
  },
});
