import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The scaffold test generates a package and builds, typechecks and tests it: whole programs.
    testTimeout: 120_000,
  },
});
