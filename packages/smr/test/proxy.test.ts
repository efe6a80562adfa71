import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { Application, ClusterConfig, ProxyHandle, ReplicaHandle } from "../src/index.js";
import { startProxy, startReplica } from "../src/index.js";
import { onFreePorts } from "../src/ports.js";

/**
 * `startProxy` (amcast proxy): plain HTTP clients multicast through it; a retry of the same
 * (client, seq) is answered with the same replies and applied once; bad requests get a 4xx.
 */

/** Counts what it applies: a duplicate would show as a second application. */
function counter(applied: string[]): Application<{ op: string }, number> {
  return ({ payload }) => {
    applied.push(payload.op);
    return applied.length;
  };
}

const replicas: ReplicaHandle[] = [];
let proxy: ProxyHandle | undefined;
afterAll(async () => {
  await proxy?.close();
  await Promise.all(replicas.map((replica) => replica.stop()));
});

describe("amcast proxy", () => {
  it("multicasts plain JSON requests, answers retries from the first multicast, refuses bad ones", async () => {
    const secret = randomBytes(32);
    const applied: Record<string, string[]> = { left: [], right: [] };
    const cluster = await onFreePorts(
      2,
      async ([left, right]) => {
        const cluster: ClusterConfig = {
          groups: {
            left: [{ host: "127.0.0.1", port: left as number }],
            right: [{ host: "127.0.0.1", port: right as number }],
          },
        };
        for (const group of ["left", "right"])
          replicas.push(
            await startReplica({
              cluster,
              id: `${group}/0`,
              secret,
              application: counter(applied[group] ?? []),
            }),
          );
        return cluster;
      },
      async () => {
        await Promise.all(replicas.splice(0).map((replica) => replica.stop()));
      },
    );
    proxy = await startProxy({ cluster, secret, bodyBytesMax: 1024 });
    const url = `http://127.0.0.1:${proxy.port}/multicast`;
    const post = async (body: unknown): Promise<{ status: number; body: Record<string, unknown> }> => {
      const response = await fetch(url, {
        method: "POST",
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };

    const first = await post({
      client: "app-1",
      seq: 1,
      destinations: ["left", "right"],
      payload: { op: "a" },
    });
    expect(first).toEqual({ status: 200, body: { replies: { left: 1, right: 1 } } });
    // The same request again (a retry after a lost answer), twice at once: the same replies, applied once.
    const retries = await Promise.all([
      post({ client: "app-1", seq: 1, destinations: ["right", "left"], payload: { op: "a" } }),
      post({ client: "app-1", seq: 1, destinations: ["left", "right"], payload: { op: "a" } }),
    ]);
    for (const retry of retries) expect(retry).toEqual(first);
    expect(applied).toEqual({ left: ["a"], right: ["a"] });
    expect(await post({ client: "app-1", seq: 2, destinations: ["left"], payload: { op: "b" } })).toEqual({
      status: 200,
      body: { replies: { left: 2 } },
    });
    // Another client's seq 1 is its own.
    expect(
      (await post({ client: "app-2", seq: 1, destinations: ["right"], payload: { op: "c" } })).body,
    ).toEqual({
      replies: { right: 2 },
    });
    expect(applied).toEqual({ left: ["a", "b"], right: ["a", "c"] });
    expect(proxy.stats).toMatchObject({ multicasts: 3, deduplicated: 2 });

    const refused = async (body: unknown, status: number, reason: RegExp): Promise<void> => {
      const answer = await post(body);
      expect(answer.status, JSON.stringify(body).slice(0, 80)).toBe(status);
      expect(answer.body.error).toMatch(reason);
    };
    await refused("{not json", 400, /not JSON/);
    await refused([1, 2], 400, /JSON object/);
    await refused(
      { client: "app-1", seq: 3, destinations: ["middle"], payload: 1 },
      400,
      /unknown group "middle"/,
    );
    await refused({ client: "app-1", seq: 0, destinations: ["left"], payload: 1 }, 400, /seq must be/);
    await refused({ client: "", seq: 3, destinations: ["left"], payload: 1 }, 400, /client must be/);
    await refused({ client: "app-1", seq: 3, destinations: [], payload: 1 }, 400, /destinations/);
    await refused({ client: "app-1", seq: 3, destinations: ["left"] }, 400, /payload is missing/);
    await refused(
      { client: "app-1", seq: 3, destinations: ["left"], payload: 1, extra: 1 },
      400,
      /unknown field "extra"/,
    );
    await refused({ client: "app-1", seq: 1, destinations: ["left"], payload: { op: "a" } }, 409, /stale/);
    await refused(
      { client: "app-1", seq: 2, destinations: ["right"], payload: { op: "b" } },
      409,
      /other destinations/,
    );
    await refused(
      { client: "app-1", seq: 3, destinations: ["left"], payload: "x".repeat(2000) },
      413,
      /over 1024 bytes/,
    );
    expect((await fetch(`http://127.0.0.1:${proxy.port}/other`)).status).toBe(404);
    expect((await fetch(url)).status).toBe(405);
    // Nothing refused reached the service.
    expect(applied).toEqual({ left: ["a", "b"], right: ["a", "c"] });
  });
});
