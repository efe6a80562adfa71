import { expect, it } from "vitest";

it("the README's key-value store runs as written, on the simulator and on the network", {
  timeout: 60_000,
}, async () => {
  // The example checks its own results (node:assert) and throws if any is wrong.
  await expect(import("../kv-store.js")).resolves.toBeDefined();
});
