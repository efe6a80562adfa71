import { expect, it } from "vitest";

it("the sharded key-value service example runs as written, on the simulator and on the network", {
  timeout: 60_000,
}, async () => {
  // The example checks its own results (node:assert) and throws if any is wrong.
  await expect(import("../kv-service.js")).resolves.toBeDefined();
});
