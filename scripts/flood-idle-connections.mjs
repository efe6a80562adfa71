#!/usr/bin/env node
// Measures what a flood of unauthenticated connections does to a replica: starts one replica
// (`amcast replica`, from the built CLI) on loopback, opens N TCP connections to it that never
// send a byte (or, with --slow, dribble an HTTP upgrade request one byte a second), spread over
// several local addresses (127.0.0.2, 127.0.0.3, ...), holds them, and samples the replica's
// resident memory (RSS) and the sockets it holds open. Then, with the flood still on, a client
// host with the right key runs a small workload against the replica: authenticated traffic must
// still get through.
//
//   pnpm run build && node scripts/flood-idle-connections.mjs [--connections 10000]
//       [--addresses 100] [--hold-s 10] [--slow]
//
// Prints one table row per sample and a summary; nothing is written outside a temp directory.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    connections: { type: "string", default: "10000" },
    addresses: { type: "string", default: "100" },
    "hold-s": { type: "string", default: "10" },
    slow: { type: "boolean", default: false },
  },
});
const connectionsWanted = Number(values.connections);
const addressCount = Number(values.addresses);
const holdMs = Number(values["hold-s"]) * 1000;
const cli = fileURLToPath(new URL("../packages/experiment/dist/cli.js", import.meta.url));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resident memory of a process, in MiB (VmRSS of /proc/PID/status). */
function rssMiB(pid) {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line)[1]) / 1024;
}

/** Sockets a process holds open (file descriptors that are sockets). */
function socketCount(pid) {
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) count += 1;
    } catch {
      // Closed while we looked.
    }
  }
  return count;
}

const dir = mkdtempSync(join(tmpdir(), "amcast-flood-"));
const port = await freePort();
writeFileSync(
  join(dir, "one.topology.json"),
  JSON.stringify({
    kind: "topology",
    name: "one",
    regions: ["a"],
    latencyMs: [[1]],
    groups: "one-per-region",
  }),
);
writeFileSync(
  join(dir, "one.json"),
  JSON.stringify({
    name: "one",
    topology: "one.topology.json",
    protocols: [{ protocol: "skeen" }],
    workloads: [{ name: "local", clientsPerGroup: 4, multicastsPerClient: 200, localPercent: 100 }],
  }),
);
writeFileSync(
  join(dir, "deployment.json"),
  JSON.stringify({
    kind: "deployment",
    experiment: "one.json",
    replicas: [{ id: "a/0", host: "127.0.0.1", port }],
  }),
);
writeFileSync(join(dir, "cluster.secret"), randomBytes(32));
const nodeArgs = (command, id) => [
  cli,
  command,
  "--deployment",
  join(dir, "deployment.json"),
  "--id",
  id,
  "--secret-file",
  join(dir, "cluster.secret"),
];

const replica = spawn(process.execPath, nodeArgs("replica", "a/0"), { stdio: ["ignore", "ignore", "pipe"] });
let replicaLog = "";
replica.stderr.on("data", (chunk) => {
  replicaLog += chunk.toString("utf8");
});
const cleanUp = () => {
  if (replica.exitCode === null) replica.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
};
process.on("exit", cleanUp);
while (!replicaLog.includes("replica listening")) await sleep(20);
await sleep(1000);
const baseline = rssMiB(replica.pid);

// The flood: connections opened a few hundred at a time (the listen backlog is finite).
const sockets = new Set();
let opened = 0;
let refused = 0;
let closedByReplica = 0;
const request = Buffer.from(`GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n`);
const open = (index) =>
  new Promise((resolve) => {
    const socket = connect({
      host: "127.0.0.1",
      port,
      localAddress: `127.0.0.${2 + (index % addressCount)}`,
    });
    let connected = false;
    let sent = 0;
    let dribble;
    socket.on("connect", () => {
      connected = true;
      opened += 1;
      sockets.add(socket);
      if (values.slow)
        dribble = setInterval(() => {
          if (sent < request.length) socket.write(request.subarray(sent, ++sent));
        }, 1000);
      resolve();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(dribble);
      if (!connected) {
        refused += 1;
        resolve();
      } else if (sockets.delete(socket)) closedByReplica += 1;
    });
  });
const started = performance.now();
let peak = baseline;
const sample = (label) => {
  const rss = rssMiB(replica.pid);
  peak = Math.max(peak, rss);
  console.log(
    `${label.padEnd(14)} ${(performance.now() - started).toFixed(0).padStart(7)} ms  RSS ${rss.toFixed(1).padStart(7)} MiB  replica sockets ${String(socketCount(replica.pid)).padStart(6)}  flood open ${String(sockets.size).padStart(6)}  closed by replica ${closedByReplica}`,
  );
};
console.log(
  `replica pid ${replica.pid} on port ${port}; baseline RSS ${baseline.toFixed(1)} MiB; flooding with ${connectionsWanted} ${values.slow ? "slow" : "idle"} connections from ${addressCount} address(es)`,
);
for (let next = 0; next < connectionsWanted; next += 250) {
  await Promise.all(
    Array.from({ length: Math.min(250, connectionsWanted - next) }, (_, offset) => open(next + offset)),
  );
  if ((next / 250) % 8 === 7) sample("opening");
}
sample("opened");
const holdUntil = performance.now() + holdMs;
while (performance.now() < holdUntil) {
  await sleep(1000);
  sample("holding");
}

// Authenticated traffic while the flood is on.
const clientStarted = performance.now();
const clients = spawn(process.execPath, nodeArgs("clients", "clients"), {
  stdio: ["ignore", "ignore", "pipe"],
});
let clientLog = "";
clients.stderr.on("data", (chunk) => {
  clientLog += chunk.toString("utf8");
});
const clientTimer = setTimeout(() => clients.kill("SIGKILL"), 60_000);
const clientCode = await new Promise((resolve) => clients.on("exit", (code) => resolve(code)));
clearTimeout(clientTimer);
const clientMs = performance.now() - clientStarted;
sample("after clients");
console.log(
  `summary: baseline ${baseline.toFixed(1)} MiB, peak ${peak.toFixed(1)} MiB, final ${rssMiB(replica.pid).toFixed(1)} MiB; ${opened} connections opened, ${refused} refused, ${closedByReplica} closed by the replica, ${sockets.size} still open`,
);
console.log(
  `authenticated client host under the flood: exit ${clientCode} after ${clientMs.toFixed(0)} ms (${(/workload done: [^\n]*/.exec(clientLog) ?? ["no summary"])[0]})`,
);
for (const socket of sockets) socket.destroy();
replica.kill("SIGTERM");
await new Promise((resolve) => replica.on("exit", resolve));
const replicaLines = replicaLog.trim().split("\n");
console.log(`replica log: ${replicaLines.length} lines; last: ${replicaLines.at(-1)}`);
