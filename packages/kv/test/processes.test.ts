import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { HistoryEvent } from "@amcast/check";
import { checkLinearizability, formatLinearizabilityReport, kvModel } from "@amcast/check";
import type { ClusterConfig, ServiceClient } from "@amcast/smr";
import { connectClient } from "@amcast/smr";
import { afterAll, expect, it } from "vitest";
import type { KvCommand, KvReply } from "../src/index.js";
import { HistoryRecorder, KvClient, Partitioning } from "../src/index.js";
import { loopbackCluster } from "./loopback.js";

// Two shards, each a crash-tolerant group of three replicas, every replica a process of its own.
const GROUPS = ["a", "b"];
const REPLICAS_PER_GROUP = 3;
const PARTITIONING = {
  kind: "range",
  shards: [
    { group: "a", from: "" },
    { group: "b", from: "m" },
  ],
};

const processes = new Map<string, ChildProcess>();
const services: ServiceClient<KvCommand, KvReply>[] = [];
/** Stops every replica process still running and forgets them all. */
async function stopReplicaProcesses(): Promise<void> {
  await Promise.all(
    [...processes.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGTERM");
        }),
    ),
  );
  processes.clear();
}
afterAll(async () => {
  await Promise.all(services.map((service) => service.close()));
  await stopReplicaProcesses();
});

/**
 * Forks replica `id` and waits until it listens. A replica that could not listen rejects with
 * its error's code (EADDRINUSE when another process took its port).
 */
function startReplicaProcess(id: string, cluster: ClusterConfig, secret: Buffer): Promise<ChildProcess> {
  const child = fork(
    join(__dirname, "replica-process.mjs"),
    [JSON.stringify(cluster), id, JSON.stringify(PARTITIONING)],
    {
      env: { ...process.env, AMCAST_SECRET: secret.toString("hex") },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    },
  );
  processes.set(id, child);
  return new Promise((resolve, reject) => {
    child.once("message", (message: { failed?: string }) => {
      if (message.failed === undefined) return resolve(child);
      reject(
        Object.assign(new Error(`replica ${id} could not start: ${message.failed}`), {
          code: message.failed,
        }),
      );
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`replica ${id} exited (${code ?? signal}) before it listened`)),
    );
  });
}

it("flexcast/crash/linearizable on real processes: a replica killed mid-run, the clients' history is linearizable", {
  timeout: 120_000,
}, async () => {
  const secret = randomBytes(32);
  const cluster = await loopbackCluster(
    GROUPS,
    REPLICAS_PER_GROUP,
    { protocol: "flexcast", mode: "crash", linearizable: true, clientHosts: { east: 1, west: 1 } },
    async (cluster) => {
      const started = await Promise.allSettled(
        GROUPS.flatMap((group) =>
          Array.from({ length: REPLICAS_PER_GROUP }, (_, index) =>
            startReplicaProcess(`${group}/${index}`, cluster, secret),
          ),
        ),
      );
      const failed = started.find((result) => result.status === "rejected");
      if (failed !== undefined) throw failed.reason;
    },
    stopReplicaProcesses,
  );

  // Two client hosts (here, in the test's process) recording one history on the host's clock.
  const events: HistoryEvent[] = [];
  const kvs: KvClient[] = [];
  for (const host of ["east", "west"]) {
    const service = await connectClient<KvCommand, KvReply>({ cluster, secret, host, log: () => {} });
    services.push(service);
    kvs.push(
      new KvClient(service, {
        partitioning: Partitioning.fromSpec(PARTITIONING, "partitioning"),
        history: new HistoryRecorder((event) => events.push(event), { idPrefix: `${host}:` }),
      }),
    );
  }
  const [east, west] = kvs as [KvClient, KvClient];
  const ROUNDS = 6;
  const KILL_AFTER_ROUND = 1;
  await east.multiPut({ apple: "0", pear: "0" });
  for (let round = 1; round <= ROUNDS; round += 1) {
    // Single-shard writes and cross-shard range reads at once: the range-read anomaly's workload.
    await Promise.all([
      east.put("apple", `e${round}`),
      west.put("pear", `w${round}`),
      east.range("", null),
      west.range("a", "q"),
      west.compareAndSet("apple", `e${round}`, `c${round}`),
    ]);
    if (round === KILL_AFTER_ROUND) {
      // A real crash: the process is killed, with no chance to say goodbye.
      const victim = processes.get("a/0") as ChildProcess;
      const exited = new Promise((resolve) => victim.once("exit", (_, signal) => resolve(signal)));
      victim.kill("SIGKILL");
      expect(await exited).toBe("SIGKILL");
    }
  }
  const last = await west.multiGet(["apple", "pear"]);
  expect(last.get("pear")).toBe(`w${ROUNDS}`);
  expect([`e${ROUNDS}`, `c${ROUNDS}`]).toContain(last.get("apple"));

  expect(events.filter((event) => event.ev === "invoke")).toHaveLength(1 + ROUNDS * 5 + 1);
  expect(events.filter((event) => event.ev === "complete" && "outcome" in event)).toEqual([]);
  const report = checkLinearizability(events, kvModel);
  expect(report.verdict, formatLinearizabilityReport(report)).toBe("linearizable");
});
