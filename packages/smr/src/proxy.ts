import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { createServer } from "node:http";
import type { GroupId } from "@amcast/core";
import type { ClientOptions, ServiceClient } from "./net.js";
import { connectClient } from "./net.js";
import type { Replies } from "./service.js";

/**
 * A front door for clients that do not speak the cluster's protocol: an HTTP server that takes
 * `POST /multicast` with a JSON body `{ "client": "app-7", "seq": 12, "destinations": ["left"],
 * "payload": ... }` and answers `200 { "replies": { "left": ... } }` once every destination group
 * has delivered it, through one client host of the service (`connectClient`).
 *
 * Retries are deduplicated by client id and sequence number, as a replicated service's client
 * table does: a request whose `(client, seq)` is in flight waits for the same multicast, one
 * that completed gets the same replies again, so an application may retry after a timeout or a
 * lost connection without the service applying its command twice. Each client numbers its
 * requests 1, 2, 3, ... and has at most one in flight; the proxy keeps each client's last
 * request only (`seq` below it is refused with 409) and at most `clientsMax` clients (the least
 * recently seen is forgotten first).
 *
 * Bad requests get a 4xx and one line saying what was wrong: 400 (not JSON, a field missing or of
 * the wrong type, an unknown group), 404, 405, 409 (an older `seq`, or another `seq` while one is
 * in flight), 413 (a body over `bodyBytesMax`). A multicast not answered within `waitMs` gets
 * 504: it goes on, and retrying the same `(client, seq)` waits for it again; once the client host
 * gives up on it (`timeoutMs`), its outcome is unknown and retries get 502.
 */
export interface ProxyOptions extends ClientOptions {
  /** Where the HTTP server listens (default 127.0.0.1, port 0: the kernel picks). */
  readonly listen?: { readonly host?: string; readonly port?: number };
  /** Largest request body (default 1 MiB). */
  readonly bodyBytesMax?: number;
  /** How long one HTTP request waits for its multicast (default 30 s). */
  readonly waitMs?: number;
  /** Clients whose last request is remembered (default 100,000). */
  readonly clientsMax?: number;
}

export interface ProxyHandle {
  /** The port the HTTP server listens on. */
  readonly port: number;
  /** What the proxy did: multicasts started, requests answered from the dedup table, refused. */
  readonly stats: { readonly multicasts: number; readonly deduplicated: number; readonly refused: number };
  /** Stops taking requests, closes the client host. */
  close(): Promise<void>;
}

interface Entry {
  readonly seq: number;
  readonly destinations: readonly GroupId[];
  outcome: { readonly replies: Replies<unknown> } | { readonly error: string } | undefined;
  readonly done: Promise<void>;
}

class RequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const CLIENT_ID_LENGTH_MAX = 256;

export async function startProxy(options: ProxyOptions): Promise<ProxyHandle> {
  const bodyBytesMax = options.bodyBytesMax ?? 1024 * 1024;
  const waitMs = options.waitMs ?? 30_000;
  const clientsMax = options.clientsMax ?? 100_000;
  const groups = new Set(Object.keys(options.cluster.groups));
  const client: ServiceClient<unknown, unknown> = await connectClient(options);
  // Insertion order is recency order: a client's entry is re-inserted at every request.
  const lastRequest = new Map<string, Entry>();
  const stats = { multicasts: 0, deduplicated: 0, refused: 0 };

  const handle = async (request: IncomingMessage): Promise<{ status: number; body: unknown }> => {
    const path = (request.url ?? "").split("?")[0];
    if (path !== "/multicast") throw new RequestError(404, `no such path ${path}; POST /multicast`);
    if (request.method !== "POST") throw new RequestError(405, "POST /multicast with a JSON body");
    const call = parseCall(await readBody(request, bodyBytesMax), groups);
    const previous = lastRequest.get(call.client);
    let entry: Entry;
    if (previous !== undefined && previous.seq === call.seq) {
      if (previous.destinations.join("\u0000") !== call.destinations.join("\u0000"))
        throw new RequestError(409, `client ${call.client} seq ${call.seq} was sent to other destinations`);
      entry = previous;
      stats.deduplicated += 1;
    } else {
      if (previous !== undefined && call.seq < previous.seq)
        throw new RequestError(
          409,
          `client ${call.client} already sent seq ${previous.seq}; seq ${call.seq} is stale`,
        );
      if (previous !== undefined && previous.outcome === undefined)
        throw new RequestError(
          409,
          `client ${call.client} has seq ${previous.seq} in flight; one request at a time per client`,
        );
      const started = client.multicast(call.destinations, call.payload);
      const fresh: Entry = {
        seq: call.seq,
        destinations: call.destinations,
        outcome: undefined,
        done: started.then(
          (replies) => {
            fresh.outcome = { replies };
          },
          (error: Error) => {
            fresh.outcome = { error: error.message };
          },
        ),
      };
      entry = fresh;
      stats.multicasts += 1;
    }
    lastRequest.delete(call.client);
    lastRequest.set(call.client, entry);
    if (lastRequest.size > clientsMax) {
      const oldest = lastRequest.keys().next().value;
      if (oldest !== undefined) lastRequest.delete(oldest);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([entry.done, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    const outcome = entry.outcome;
    if (outcome === undefined)
      return { status: 504, body: { error: `not answered within ${waitMs} ms; retry with the same seq` } };
    if ("error" in outcome) return { status: 502, body: { error: outcome.error } };
    return { status: 200, body: { replies: outcome.replies } };
  };

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    handle(request).then(
      ({ status, body }) => reply(response, status, body),
      (error: Error) => {
        stats.refused += 1;
        const status = error instanceof RequestError ? error.status : 500;
        reply(response, status, { error: error.message });
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = waitMs + 10_000;
  server.maxConnections = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.listen?.port ?? 0, options.listen?.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    port: (server.address() as { port: number }).port,
    stats,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await client.close();
    },
  };
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/**
 * The request body, refused past `bytesMax` (413): the rest is read and dropped (the server's
 * request timeout bounds how long), and the connection closed after the answer.
 */
function readBody(request: IncomingMessage, bytesMax: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] | null = [];
    let bytes = 0;
    request.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (chunks === null) return;
      if (bytes <= bytesMax) chunks.push(chunk);
      else {
        chunks = null;
        reject(new RequestError(413, `the body is over ${bytesMax} bytes`));
      }
    });
    request.on("end", () => {
      if (chunks !== null) resolve(Buffer.concat(chunks).toString("utf8"));
    });
    request.on("error", reject);
  });
}

interface Call {
  readonly client: string;
  readonly seq: number;
  readonly destinations: GroupId[];
  readonly payload: unknown;
}

/** A request body, or a 400 naming the first field that is wrong. */
function parseCall(text: string, groups: ReadonlySet<string>): Call {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new RequestError(400, `the body is not JSON (${(error as Error).message})`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new RequestError(400, "the body must be a JSON object {client, seq, destinations, payload}");
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter(
    (key) => !["client", "seq", "destinations", "payload"].includes(key),
  );
  if (unknown.length > 0) throw new RequestError(400, `unknown field ${JSON.stringify(unknown[0])}`);
  const { client, seq, destinations, payload } = fields;
  if (typeof client !== "string" || client.length === 0 || client.length > CLIENT_ID_LENGTH_MAX)
    throw new RequestError(400, `client must be a string of 1 to ${CLIENT_ID_LENGTH_MAX} characters`);
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1)
    throw new RequestError(400, `seq must be a whole number from 1, got ${JSON.stringify(seq)}`);
  if (!Array.isArray(destinations) || destinations.length === 0)
    throw new RequestError(400, "destinations must be a non-empty array of group ids");
  const wanted: GroupId[] = [];
  for (const group of destinations) {
    if (typeof group !== "string" || !groups.has(group))
      throw new RequestError(
        400,
        `unknown group ${JSON.stringify(group)} (groups: ${[...groups].join(", ")})`,
      );
    if (!wanted.includes(group)) wanted.push(group);
  }
  if (payload === undefined) throw new RequestError(400, "payload is missing");
  return { client, seq, destinations: wanted.sort(), payload };
}
