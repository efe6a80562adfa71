import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Replicated groups are whole simulations (a second or two each when idle): the default 5 s
    // is too short when the machine is busy.
    testTimeout: 60_000,
  },
});
