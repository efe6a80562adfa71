import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Each test runs whole simulations (the swarm: hundreds); they are deterministic, only slow.
    testTimeout: 600_000,
  },
});
