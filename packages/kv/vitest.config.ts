import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Whole simulated runs and searches, CPU-bound: about a second each when idle, several times
    // that on a crowded 2-core machine, past the default 5 s.
    testTimeout: 60_000,
  },
});
