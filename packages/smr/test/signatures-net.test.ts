import { randomBytes } from "node:crypto";
import type { GroupId, ProcessId, ProcessLogic, ProcessOutput } from "@amcast/core";
import type { GroupWire, Replica } from "@amcast/group";
import { createClient, createReplica } from "@amcast/group";
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

const hosts: NodeHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.stop()));
});

describe("Ed25519 signatures on the network runtime", () => {
  it("a Byzantine replica's wrongly signed and replayed stream copies are rejected; the service goes on", {
    timeout: 60_000,
  }, async () => {
    const secret = randomBytes(32);
    const service = resolveService(["a", "b"], { mode: "byzantine", f: 1, protocol: "skeen" }, "test");
    const { membership } = service;
    const replicaIds = membership.processes().map((process) => process.id);
    const nodes: NodeSpec[] = [
      ...replicaIds.map((id) => ({ id, role: "replica" as const, processes: [id] })),
      { id: "clients", role: "clients", processes: ["c0"] },
    ];
    const table = new NodeTable(nodes);
    const processes = [...replicaIds, "c0"];
    const publicKeys = new Map(processes.map((id) => [id, publicKeyOf(deriveSigningSeed(secret, id))]));
    const signaturesOf = (node: NodeSpec): Ed25519Signatures =>
      new Ed25519Signatures(
        publicKeys,
        new Map(node.processes.map((id) => [id, deriveSigningSeed(secret, id)])),
        "test",
      );
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
    const verifiers = new Map<ProcessId, Ed25519Signatures>();
    let bad: BadSigner | undefined;
    const addresses = new Map<string, { host: string; port: number }>();
    for (const node of nodes.filter((spec) => spec.role === "replica")) {
      const signatures = signaturesOf(node);
      verifiers.set(node.id, signatures);
      const group = membership.groupOf(node.id) as GroupId;
      const replica = createReplica({
        protocol: service.protocol,
        group,
        id: node.id,
        membership,
        overlay: service.overlay,
        params: service.params,
        mode: "byzantine",
        f: 1,
        application: () => null,
        signer: signatures.signerFor(node.id),
        verifier: signatures,
      });
      replicas.set(node.id, replica);
      // b/1 is the Byzantine one: the items of b's stream to a carry its bad signatures.
      if (node.id === "b/1") bad = new BadSigner(replica);
      const started = host(node, node.id === "b/1" ? (bad as BadSigner) : replica);
      addresses.set(node.id, { host: "127.0.0.1", port: await started.start() });
    }
    const clientNode = nodes.at(-1) as NodeSpec;
    const client = createClient({
      id: "c0",
      protocol: service.protocol,
      membership,
      overlay: service.overlay,
      params: service.params,
      mode: "byzantine",
      f: 1,
      outstandingMax: 64,
      signer: signaturesOf(clientNode).signerFor("c0"),
    });
    const clientHost = host(clientNode, client);
    await clientHost.start();
    for (const started of hosts) started.connect(addresses);
    await clientHost.transport.whenConnected(30_000, replicaIds);

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
    for (const id of membership.replicas("a")) {
      const replica = replicas.get(id) as Replica<unknown>;
      const signatures = verifiers.get(id) as Ed25519Signatures;
      // Every copy of b/1 that reached a's replica failed its check (some may arrive after a
      // quorum of others decided the item and be dropped as stale first).
      expect(replica.drops.get("bad-signature") ?? 0).toBeGreaterThan(0);
      expect(signatures.stats.rejected).toBe(replica.drops.get("bad-signature") ?? 0);
      expect(signatures.stats.verified).toBeGreaterThan(0);
    }
    // b's own replicas run the protocol unharmed: no signature of b's members or of the client failed.
    for (const id of ["b/0", "b/2", "b/3"]) expect(replicas.get(id)?.drops.get("bad-signature") ?? 0).toBe(0);
  });
});
