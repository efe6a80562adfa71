import { expect, it } from "vitest";

it("the sharded key-value service example runs as written, on the simulator and on the network", {
  // A simulated and a network run: 24 s within the suite at load 50, 60 s at load 110.
  timeout: 180_000,
}, async () => {
  // The example checks its own results (node:assert) and throws if any is wrong.
  await expect(import("../kv-service.js")).resolves.toBeDefined();
});
