import { randomBytes } from "node:crypto";
import type { GroupId, Multicast, ProcessId, ProcessLogic, ProcessOutput } from "@amcast/core";
import type { GroupWire, Replica, Signer, Verifier } from "@amcast/group";
import { canonical, createClient, createReplica, digest, SimulatedSignatures } from "@amcast/group";
import type { NodeSpec } from "@amcast/runtime";
import {
  deriveSigningSeed,
  Ed25519Signatures,
  Keyring,
  NodeHost,
  NodeTable,
  publicKeyOf,
  wallClock,
} from "@amcast/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { resolveService } from "../src/service.js";

/**
 * A Byzantine replica on the network runtime whose stream copies carry bad Ed25519 signatures:
 * by turns, a replayed one (its own valid signature of an earlier item), random bytes, and a
 * signature cut short. Everything else it sends is correct, so only the signature checks of the
 * receiving group stand between its copies and the order.
 */
class BadSigner implements ProcessLogic {
  readonly id: ProcessId;
  readonly wantsTicks: boolean;
  copiesSent = 0;
  private previous: string | undefined;

  constructor(private readonly inner: Replica<unknown>) {
    this.id = inner.id;
    this.wantsTicks = inner.wantsTicks;
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    return this.inner.receive(from, body).map((output) => this.corrupt(output));
  }

  tick(): readonly ProcessOutput[] {
    return this.inner.tick().map((output) => this.corrupt(output));
  }

  idle(): boolean {
    return true;
  }

  private corrupt(output: ProcessOutput): ProcessOutput {
    if (output.kind !== "send") return output;
    const wire = output.body as GroupWire;
    if (wire.t !== "copy") return output;
    this.copiesSent += 1;
    const turn = this.copiesSent % 3;
    const replayed = this.previous;
    this.previous = wire.signature;
    const signature =
      turn === 0 && replayed !== undefined && replayed !== wire.signature
        ? replayed
        : turn === 1
          ? randomBytes(64).toString("base64")
          : wire.signature.slice(0, 40);
    return { ...output, body: { ...wire, signature } };
  }
}

/**
 * A correct replica whose stream copies to one process are lost on the way (a lossy link): the
 * receiver then holds, of each item, only the copies of the other senders.
 */
class LosesCopiesTo implements ProcessLogic {
  readonly id: ProcessId;
  readonly wantsTicks: boolean;

  constructor(
    private readonly inner: Replica<unknown>,
    private readonly to: ProcessId,
  ) {
    this.id = inner.id;
    this.wantsTicks = inner.wantsTicks;
  }

  receive(from: ProcessId, body: unknown): readonly ProcessOutput[] {
    return this.lose(this.inner.receive(from, body));
  }

  tick(): readonly ProcessOutput[] {
    return this.lose(this.inner.tick());
  }

  idle(): boolean {
    return true;
  }

  private lose(outputs: readonly ProcessOutput[]): readonly ProcessOutput[] {
    return outputs.filter(
      (output) => output.kind !== "send" || output.to !== this.to || (output.body as GroupWire).t !== "copy",
    );
  }
}

/**
 * A client that equivocates: it signs two different requests for one (client, seq) whose texts
 * share the cheap 64-bit digest, and sends one to the group's first two replicas, the other to
 * the last two, these first (so they hold theirs before the primary orders the other). With that
 * digest as the signed one, each of the last two holds a validly signed request "identical" by
 * digest to the one the primary orders, substitutes its own, and the replicas run different
 * requests. SHA-256 tells them apart: every replica runs the one ordered.
 */
class EquivocatingClient implements ProcessLogic {
  readonly id = "c0";
  readonly wantsTicks = true;
  private ticks = 0;

  constructor(
    private readonly signer: Signer,
    private readonly replicas: readonly ProcessId[],
  ) {}

  receive(): readonly ProcessOutput[] {
    return [];
  }

  tick(): readonly ProcessOutput[] {
    this.ticks += 1;
    // The second request to the last two replicas at once; the first to the primary's side 100 ms later.
    if (this.ticks === 1) return this.requests(this.replicas.slice(2), COLLISION.second);
    if (this.ticks === 11) return this.requests(this.replicas.slice(0, 2), COLLISION.first);
    return [];
  }

  private requests(to: readonly ProcessId[], payload: string): ProcessOutput[] {
    const message = collidingRequest(payload);
    const signature = this.signer.sign(requestText(this.signer.digest, message));
    const body: GroupWire = { t: "request", message, seq: 0, signature, settled: 0 };
    return to.map((replica) => ({
      kind: "send",
      to: replica,
      body,
      bytes: 128,
      label: "request",
      protocol: false,
    }));
  }
}

/**
 * Two payloads whose requests (client c0, seq 0, view 0, settled 0, to group a, 4 payload bytes)
 * have the same cheap digest: found by a Pollard-rho search over three free characters (a
 * 48-bit condition on the digest's state, about 2^24 steps) and a fourth that cancels the rest.
 */
const COLLISION = { first: "\u0b76\u8bc0\u6584\u0020", second: "\u5f66\u613c\u8a94\u023c" };

function collidingRequest(payload: string): Multicast {
  return { id: "c0:0", client: "c0", dst: ["a"], payloadBytes: 4, payload };
}

/** What the client signs for request c0#0 (the group layer's request digest, under `hash`). */
function requestText(hash: (text: string) => string, message: Multicast): string {
  return hash(`request|c0|0|0|0|${canonical(message)}`);
}

const hosts: NodeHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.stop()));
});

interface Scheme extends Verifier {
  signerFor(id: ProcessId): Signer;
}

/**
 * A Byzantine service (skeen, f=1) on NodeHosts over the real transport, one node per replica and
 * one for client c0. `schemeOf` gives a node its signature scheme; `wrap` may replace a replica's
 * logic (a Byzantine replica) and `client` is c0's logic.
 */
async function byzantineService(options: {
  readonly groups: readonly GroupId[];
  readonly schemeOf: (
    node: NodeSpec,
    publicKeys: ReadonlyMap<ProcessId, Uint8Array>,
    secret: Uint8Array,
  ) => Scheme;
  readonly application?: (replica: ProcessId) => (message: Multicast) => unknown;
  readonly wrap?: (replica: Replica<unknown>) => ProcessLogic;
  readonly client: (signer: Signer, context: ReturnType<typeof resolveService>) => ProcessLogic;
}) {
  const secret = randomBytes(32);
  const service = resolveService(options.groups, { mode: "byzantine", f: 1, protocol: "skeen" }, "test");
  const { membership } = service;
  const replicaIds = membership.processes().map((process) => process.id);
  const nodes: NodeSpec[] = [
    ...replicaIds.map((id) => ({ id, role: "replica" as const, processes: [id] })),
    { id: "clients", role: "clients", processes: ["c0"] },
  ];
  const table = new NodeTable(nodes);
  const processes = [...replicaIds, "c0"];
  const publicKeys = new Map(processes.map((id) => [id, publicKeyOf(deriveSigningSeed(secret, id))]));
  const host = (node: NodeSpec, logic: ProcessLogic): NodeHost => {
    const started = new NodeHost({
      self: node.id,
      table,
      keyring: Keyring.fromSecret(
        secret,
        node.id,
        nodes.map((peer) => peer.id),
      ),
      listen: node.role === "replica" ? { host: "127.0.0.1", port: 0 } : null,
      processes: [logic],
      groupOf: (id) => membership.groupOf(id),
      seed: 1,
      clock: wallClock(),
      trace: null,
      recordSends: false,
      tickMs: 10,
      log: () => {},
      onFatal: (error) => {
        throw error;
      },
    });
    hosts.push(started);
    return started;
  };
  const replicas = new Map<ProcessId, Replica<unknown>>();
  const schemes = new Map<ProcessId, Scheme>();
  const addresses = new Map<string, { host: string; port: number }>();
  for (const node of nodes.filter((spec) => spec.role === "replica")) {
    const scheme = options.schemeOf(node, publicKeys, secret);
    schemes.set(node.id, scheme);
    const replica = createReplica({
      protocol: service.protocol,
      group: membership.groupOf(node.id) as GroupId,
      id: node.id,
      membership,
      overlay: service.overlay,
      params: service.params,
      mode: "byzantine",
      f: 1,
      application: options.application?.(node.id) ?? (() => null),
      signer: scheme.signerFor(node.id),
      verifier: scheme,
    });
    replicas.set(node.id, replica);
    const started = host(node, options.wrap?.(replica) ?? replica);
    addresses.set(node.id, { host: "127.0.0.1", port: await started.start() });
  }
  const clientNode = nodes.at(-1) as NodeSpec;
  const clientScheme = options.schemeOf(clientNode, publicKeys, secret);
  const clientHost = host(clientNode, options.client(clientScheme.signerFor("c0"), service));
  await clientHost.start();
  for (const started of hosts) started.connect(addresses);
  await clientHost.transport.whenConnected(30_000, replicaIds);
  return { service, replicas, schemes, clientHost };
}

const ed25519 = (node: NodeSpec, publicKeys: ReadonlyMap<ProcessId, Uint8Array>, secret: Uint8Array) =>
  new Ed25519Signatures(
    publicKeys,
    new Map(node.processes.map((id) => [id, deriveSigningSeed(secret, id)])),
    "test",
  );

describe("Ed25519 signatures on the network runtime", () => {
  it("a Byzantine replica's wrongly signed and replayed stream copies are rejected; the service goes on", {
    timeout: 60_000,
  }, async () => {
    let bad: BadSigner | undefined;
    const { replicas, schemes, clientHost } = await byzantineService({
      groups: ["a", "b"],
      schemeOf: ed25519,
      // b/1 is the Byzantine one: the items of b's stream to a carry its bad signatures. a's
      // primary orders f+1 = 2 identical copies of an item and checks only those: the copies of
      // b/2 and b/3 to it are lost, so it holds b/0's and b/1's and must check b/1's (the other
      // copies reach it later, forwarded by its backups).
      wrap: (replica) => {
        if (replica.id === "b/2" || replica.id === "b/3") return new LosesCopiesTo(replica, "a/0");
        if (replica.id !== "b/1") return replica;
        bad = new BadSigner(replica);
        return bad;
      },
      client: (signer, { membership, protocol, overlay, params }) =>
        createClient({
          id: "c0",
          protocol,
          membership,
          overlay,
          params,
          mode: "byzantine",
          f: 1,
          outstandingMax: 64,
          signer,
        }),
    });

    // Global multicasts: each group sends the other its stream items, b/1's copies among them.
    const multicasts = 30;
    const results = await Promise.all(
      Array.from(
        { length: multicasts },
        (_, index) =>
          new Promise<Readonly<Record<GroupId, unknown>>>((resolve) => {
            clientHost.multicast("c0", ["a", "b"], index, 8, resolve);
          }),
      ),
    );
    expect(results.map((result) => Object.keys(result).sort())).toEqual(
      Array.from({ length: multicasts }, () => ["a", "b"]),
    );
    expect(bad?.copiesSent).toBeGreaterThan(3);
    // A copy received directly is authentic by its link and checked only when shown to others:
    // a's primary (a/0: no view change here) checks each before it proposes it and refuses b/1's
    // (and those of b/1's copies its backups forward to it); a backup checks only inputs relayed
    // to it that it does not hold itself, so none of b/1's.
    const primary = replicas.get("a/0") as Replica<unknown>;
    expect(primary.orderer.leader()).toBe("a/0");
    const refused = primary.drops.get("bad-signature") ?? 0;
    expect(refused).toBeGreaterThan(0);
    expect((schemes.get("a/0") as Ed25519Signatures).stats.rejected).toBeGreaterThanOrEqual(refused);
    for (const id of ["a/1", "a/2", "a/3"]) {
      expect(replicas.get(id)?.drops.get("bad-signature") ?? 0).toBe(0);
      expect((schemes.get(id) as Ed25519Signatures).stats.rejected).toBe(0);
    }
    expect((schemes.get("a/0") as Ed25519Signatures).stats.verified).toBeGreaterThan(0);
    // b's own replicas run the protocol unharmed: no signature of b's members or of the client failed.
    for (const id of ["b/0", "b/2", "b/3"]) expect(replicas.get(id)?.drops.get("bad-signature") ?? 0).toBe(0);
  });

  /** Runs the equivocating client against group a under `schemeOf`; what each replica executed. */
  async function equivocation(schemeOf: Parameters<typeof byzantineService>[0]["schemeOf"]) {
    const executed = new Map<ProcessId, unknown>();
    const { replicas } = await byzantineService({
      groups: ["a"],
      schemeOf,
      application: (replica) => (message) => {
        executed.set(replica, message.payload);
        return null;
      },
      client: (signer, { membership }) => new EquivocatingClient(signer, membership.replicas("a")),
    });
    const deadline = Date.now() + 30_000;
    while (executed.size < replicas.size && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all(hosts.splice(0).map((host) => host.stop()));
    return executed;
  }

  it("a request crafted to collide with a signed one under the cheap digest is told apart: every replica runs the one ordered", {
    timeout: 60_000,
  }, async () => {
    const first = collidingRequest(COLLISION.first);
    const second = collidingRequest(COLLISION.second);
    // The collision is real under the cheap digest, and SHA-256 (Ed25519's digest) separates them.
    expect(requestText(digest, first)).toBe(requestText(digest, second));
    const sha256 = ed25519({ id: "x", role: "clients", processes: [] }, new Map(), new Uint8Array(32)).digest;
    expect(requestText(sha256, first)).not.toBe(requestText(sha256, second));

    // The attack works where the cheap digest is what is signed (the simulator's model, here on
    // real sockets): the replicas that received the second request run it instead of the first.
    const modelled = new SimulatedSignatures(1);
    const cheap = await equivocation(() => modelled);
    expect([...cheap.keys()].sort()).toEqual(["a/0", "a/1", "a/2", "a/3"]);
    expect(new Set(cheap.values()).size).toBe(2);

    // With Ed25519 over SHA-256 digests, all four run what the primary (a/0) ordered.
    const real = await equivocation(ed25519);
    expect([...real.keys()].sort()).toEqual(["a/0", "a/1", "a/2", "a/3"]);
    expect([...new Set(real.values())]).toEqual([COLLISION.first]);
  });
});
