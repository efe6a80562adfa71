import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(
  shared,
  defineConfig({
    // Each test runs whole simulations (the swarm: hundreds); they are deterministic, only slow.
    test: { testTimeout: 600_000 },
  }),
);
