import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The attack tests run whole Byzantine-mode simulations (about a second each when idle); on a
    // loaded machine they outlast the default 5 s.
    testTimeout: 60_000,
  },
});
