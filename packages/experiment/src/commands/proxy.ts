import { resolve } from "node:path";
import { InputError } from "@amcast/core";
import { readSecret } from "@amcast/runtime";
import type { ClusterConfig } from "@amcast/smr";
import { DEFAULT_CLIENT_HOST, startProxy } from "@amcast/smr";
import { displayPath, readJson } from "@amcast/system";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

/**
 * `amcast proxy --cluster FILE (--keys FILE | --secret-file FILE) [--host ID] [--listen ADDRESS]
 * [--port PORT]`: an HTTP front door to a service built on `@amcast/smr` (its cluster object as a
 * JSON file): `POST /multicast {client, seq, destinations, payload}` answers with every
 * destination group's reply, retries deduplicated by client id and sequence number (startProxy).
 * It is one client host of the cluster (`--host`, default "clients"). Runs until SIGINT/SIGTERM.
 */
export async function runProxyCommand(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(
    "proxy",
    args,
    {
      cluster: { type: "string" },
      keys: { type: "string" },
      "secret-file": { type: "string" },
      host: { type: "string" },
      listen: { type: "string" },
      port: { type: "string" },
    },
    0,
  );
  const file = stringFlag(values.cluster);
  if (file === undefined)
    throw new UsageError("proxy: --cluster FILE is required (the service's cluster object, JSON)");
  const keysFile = stringFlag(values.keys);
  const secretFile = stringFlag(values["secret-file"]);
  if ((keysFile === undefined) === (secretFile === undefined))
    throw new UsageError("proxy: give either --keys FILE (this client host's keyring) or --secret-file FILE");
  const cluster = readJson(resolve(file), "cluster file") as ClusterConfig;
  const host = stringFlag(values.host) ?? DEFAULT_CLIENT_HOST;
  const credentials =
    keysFile !== undefined
      ? { keys: readJson(resolve(keysFile), "keyring file") }
      : { secret: readSecret(secretFile ?? "") };
  if (keysFile !== undefined && (credentials.keys as { node?: unknown })?.node !== host)
    throw new InputError(displayPath(keysFile), "node", `is not the keyring of client host ${host}`);
  const port = integerFlag("proxy", "port", values.port, 0, 65535) ?? 8000;
  const listenHost = stringFlag(values.listen) ?? "127.0.0.1";
  const proxy = await startProxy({
    cluster,
    host,
    ...credentials,
    listen: { host: listenHost, port },
    log: (line) => process.stderr.write(`[proxy] ${line}\n`),
  });
  process.stderr.write(`[proxy] listening on http://${listenHost}:${proxy.port}/multicast\n`);
  await new Promise<void>((done) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => done());
  });
  await proxy.close();
  process.stderr.write(
    `[proxy] stopped: ${proxy.stats.multicasts} multicasts, ${proxy.stats.deduplicated} retries answered, ${proxy.stats.refused} refused\n`,
  );
  return 0;
}
