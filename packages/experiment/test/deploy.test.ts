import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Deployment } from "@amcast/runtime";
import { loadDeployment, replicaOnHost } from "@amcast/runtime";
import { StatefulSet as AppsStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Job } from "kubernetes-models/batch/v1/Job";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { afterAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import type { DeployOptions, Manifest } from "../src/deploy.js";
import {
  CONTAINER_PATHS,
  composeFiles,
  DEFAULT_DEPLOY_OPTIONS,
  IMAGE_UID,
  kubernetesFiles,
  kubernetesLayout,
} from "../src/deploy.js";
import { selectRuns } from "../src/index.js";

/**
 * `amcast deploy`: every generated Kubernetes object is validated against the API's schemas
 * (kubernetes-models, offline), and the wiring is checked end to end — each replica id of the
 * deployment file has a pod of a StatefulSet governed by the headless Service, its deployment
 * address is that pod's DNS name, and the pod picks its replica by that name.
 */

const ROOT = resolve(__dirname, "../../..");
const [CRASH] = selectRuns(join(ROOT, "experiments/crash-cluster.json"), {});
const SECRET = Buffer.from("0123456789abcdef0123456789abcdef");
const OPTIONS: DeployOptions = { ...DEFAULT_DEPLOY_OPTIONS, name: "crash-cluster" };

/** The API's schema for each kind the generator writes (an unknown kind fails the test). */
const MODELS: Record<string, (manifest: Manifest) => { validate(): void }> = {
  "v1/Service": (manifest) => new Service(manifest as never),
  "v1/ConfigMap": (manifest) => new ConfigMap(manifest as never),
  "v1/Secret": (manifest) => new Secret(manifest as never),
  "apps/v1/StatefulSet": (manifest) => new AppsStatefulSet(manifest as never),
  "policy/v1/PodDisruptionBudget": (manifest) => new PodDisruptionBudget(manifest as never),
  "batch/v1/Job": (manifest) => new Job(manifest as never),
};

function validate(manifest: Manifest): void {
  const model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
  if (model === undefined) throw new Error(`no schema for ${manifest.apiVersion} ${manifest.kind}`);
  model(manifest).validate();
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Writes the generated deployment file and reads it back as every node does. */
function loadGenerated(content: string): Deployment {
  const dir = mkdtempSync(join(tmpdir(), "amcast-deploy-"));
  dirs.push(dir);
  writeFileSync(join(dir, "deployment.json"), content);
  return loadDeployment(join(dir, "deployment.json"));
}

type Obj = Record<string, unknown>;
const at = (value: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((node, key) => (node as Obj | undefined)?.[key as string], value);

describe("amcast deploy k8s", () => {
  if (CRASH === undefined) throw new Error("experiments/crash-cluster.json has no run");
  const files = kubernetesFiles(CRASH, OPTIONS, SECRET);
  const byPath = new Map(files.map((file) => [file.path, file]));
  const manifests = files
    .filter(({ path }) => path.endsWith(".yaml") && path !== "kustomization.yaml")
    .map(({ path, content }) => {
      const docs = parseAllDocuments(content);
      expect(docs, path).toHaveLength(1);
      return { path, manifest: docs[0]?.toJS() as Manifest };
    });
  const ofKind = (kind: string): Manifest[] =>
    manifests.filter(({ manifest }) => manifest.kind === kind).map(({ manifest }) => manifest);

  it("writes one object per file, each valid against the Kubernetes API schemas", () => {
    expect(manifests.map(({ manifest }) => `${manifest.kind}/${manifest.metadata.name}`).sort()).toEqual([
      "ConfigMap/crash-cluster-deployment",
      "Job/crash-cluster-clients",
      "PodDisruptionBudget/crash-cluster-canada",
      "PodDisruptionBudget/crash-cluster-saopaulo",
      "PodDisruptionBudget/crash-cluster-virginia",
      "Secret/crash-cluster-secret",
      "Service/crash-cluster",
      "StatefulSet/crash-cluster-canada",
      "StatefulSet/crash-cluster-saopaulo",
      "StatefulSet/crash-cluster-virginia",
    ]);
    for (const { manifest } of manifests) validate(manifest);
    // The validator is live: a wrong type is refused.
    const [statefulSet] = ofKind("StatefulSet");
    expect(() =>
      validate({ ...statefulSet, spec: { ...(statefulSet?.spec as Obj), replicas: "3" } } as Manifest),
    ).toThrow(/replicas must be integer/);
    // The kustomize base lists every manifest, and only those.
    const kustomization = parse(byPath.get("kustomization.yaml")?.content ?? "") as Obj;
    expect(kustomization.kind).toBe("Kustomization");
    expect([...(kustomization.resources as string[])].sort()).toEqual(
      manifests.map(({ path }) => path).sort(),
    );
    expect(byPath.get("secret-crash-cluster-secret.yaml")?.secret).toBe(true);
  });

  it("wires every replica id to a pod and the DNS name the headless Service gives it", () => {
    const layout = kubernetesLayout(CRASH, OPTIONS, SECRET);
    const deployment = loadGenerated(layout.deployment);
    expect(byPath.get("deployment.json")?.content).toBe(layout.deployment);
    const [service] = ofKind("Service");
    expect(at(service, "spec", "clusterIP")).toBe("None");
    expect(at(service, "spec", "publishNotReadyAddresses")).toBe(true);
    const serviceSelector = at(service, "spec", "selector") as Obj;
    const statefulSets = new Map(ofKind("StatefulSet").map((set) => [set.metadata.name, set]));
    const replicas = deployment.nodes.filter((node) => node.role === "replica");
    expect(replicas).toHaveLength(9);
    for (const replica of replicas) {
      const set = statefulSets.get(layout.pods.get(replica.id)?.statefulSet ?? "");
      if (set === undefined) throw new Error(`no StatefulSet runs ${replica.id}`);
      // The StatefulSet naming rule: pod <set>-<ordinal>, ordinals 0 .. replicas-1, DNS name
      // <pod>.<serviceName> (within the namespace) when the Service governs the set's pods.
      const ordinal = Number(replica.id.split("/")[1]);
      expect(ordinal).toBeLessThan(at(set, "spec", "replicas") as number);
      const pod = `${set.metadata.name}-${ordinal}`;
      expect(at(set, "spec", "serviceName")).toBe(service?.metadata.name);
      const podLabels = at(set, "spec", "template", "metadata", "labels") as Obj;
      for (const [key, value] of Object.entries(serviceSelector)) expect(podLabels[key]).toBe(value);
      expect(at(set, "spec", "selector", "matchLabels")).toEqual(podLabels);
      expect(replica.host).toBe(`${pod}.${service?.metadata.name}`);
      expect(replica.port).toBe(OPTIONS.port);
      // The pod knows only its name: it picks its replica by it.
      expect(replicaOnHost(deployment, pod).id).toBe(replica.id);
      // Replicas of a group are kept on different nodes; at most f of them evicted at once.
      expect(
        at(
          set,
          "spec",
          "template",
          "spec",
          "affinity",
          "podAntiAffinity",
          "requiredDuringSchedulingIgnoredDuringExecution",
          0,
        ),
      ).toEqual({ labelSelector: { matchLabels: podLabels }, topologyKey: "kubernetes.io/hostname" });
      const budget = ofKind("PodDisruptionBudget").find((pdb) => pdb.metadata.name === set.metadata.name);
      expect(at(budget, "spec", "maxUnavailable")).toBe(CRASH.f);
      const args = at(set, "spec", "template", "spec", "containers", 0, "args") as string[];
      expect(args.slice(0, 5)).toEqual([
        "replica",
        "--deployment",
        "/etc/amcast/deployment/deployment.json",
        "--host",
        "$(POD_NAME)",
      ]);
      expect(
        at(set, "spec", "template", "spec", "containers", 0, "env", 0, "valueFrom", "fieldRef", "fieldPath"),
      ).toBe("metadata.name");
      // Each pod journals to its own persistent claim, so a replaced pod replays and rejoins.
      expect(args.slice(args.indexOf("--data-dir"), args.indexOf("--data-dir") + 2)).toEqual([
        "--data-dir",
        `${CONTAINER_PATHS.journals}/$(POD_NAME)`,
      ]);
      expect(at(set, "spec", "volumeClaimTemplates", 0, "metadata", "name")).toBe("journal");
      const mounts = at(set, "spec", "template", "spec", "containers", 0, "volumeMounts") as Obj[];
      expect(mounts).toContainEqual({ name: "journal", mountPath: CONTAINER_PATHS.journals });
    }
    // The ConfigMap carries the deployment file, the Secret the cluster secret.
    expect(at(ofKind("ConfigMap")[0], "data", "deployment.json")).toBe(layout.deployment);
    expect(Buffer.from(at(ofKind("Secret")[0], "data", "cluster.secret") as string, "base64")).toEqual(
      SECRET,
    );
    // Each client host of the deployment runs as a Job, once.
    const hosts = deployment.nodes.filter((node) => node.role === "clients").map((node) => node.id);
    const jobs = ofKind("Job");
    expect(
      jobs.map((job) => (at(job, "spec", "template", "spec", "containers", 0, "args") as string[])[4]),
    ).toEqual(hosts);
    for (const job of jobs) expect(at(job, "spec", "backoffLimit")).toBe(0);
  });

  it("spreads clients over several Jobs and refuses names that are no DNS labels", () => {
    const layout = kubernetesLayout(CRASH, { ...OPTIONS, clientHosts: 3 }, SECRET);
    const deployment = loadGenerated(layout.deployment);
    expect(deployment.nodes.filter((node) => node.role === "clients").map((node) => node.id)).toEqual([
      "clients-0",
      "clients-1",
      "clients-2",
    ]);
    expect(layout.manifests.filter(({ manifest }) => manifest.kind === "Job")).toHaveLength(3);
    expect(() => kubernetesLayout(CRASH, { ...OPTIONS, name: "Crash_Cluster" }, SECRET)).toThrow(
      /not a DNS label/,
    );
    expect(() => kubernetesLayout(CRASH, { ...OPTIONS, name: "x".repeat(50) }, SECRET)).toThrow(
      /StatefulSet name .* at most 52/,
    );
  });
});

describe("amcast deploy compose", () => {
  if (CRASH === undefined) throw new Error("experiments/crash-cluster.json has no run");
  const files = composeFiles(CRASH, OPTIONS);

  it("is the committed example (deploy/compose), so the example cannot drift from the generator", () => {
    for (const { path, content } of files)
      expect(content, `deploy/compose/${path}`).toBe(
        readFileSync(join(ROOT, "deploy/compose", path), "utf8"),
      );
  });

  it("runs every replica of the deployment under its own service name, and the clients after them", () => {
    const compose = parse(files.find(({ path }) => path === "compose.yaml")?.content ?? "") as {
      services: Record<string, Obj>;
    };
    const deployment = loadGenerated(files.find(({ path }) => path === "deployment.json")?.content ?? "");
    for (const node of deployment.nodes) {
      if (node.role === "replica") {
        const service = compose.services[node.host];
        const command = service?.command as string[];
        expect(command[command.indexOf("--id") + 1]).toBe(node.id);
        // Its journal on the named volume, in a directory of its own.
        expect(command[command.indexOf("--data-dir") + 1]).toBe(`${CONTAINER_PATHS.journals}/${node.host}`);
      } else {
        const service = compose.services[node.id];
        expect(Object.keys(service?.depends_on as Obj).sort()).toEqual(
          deployment.nodes
            .filter((peer) => peer.role === "replica")
            .map((peer) => peer.host)
            .sort(),
        );
      }
    }
    expect(Object.keys(compose.services)).toHaveLength(deployment.nodes.length + 1);
  });
});

describe("the Dockerfile", () => {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");

  it("runs as the user the manifests ask for, with the paths they mount, and amcast as entrypoint", () => {
    const stages = dockerfile.match(/^FROM .*/gm) ?? [];
    expect(stages).toEqual([`FROM \${NODE_IMAGE} AS build`, `FROM \${NODE_IMAGE}`]);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf("FROM "));
    expect(runtime).toContain(`useradd --uid ${IMAGE_UID} `);
    expect(runtime).toMatch(new RegExp(`^USER ${IMAGE_UID}:${IMAGE_UID}$`, "m"));
    expect(runtime).toContain(`VOLUME ${CONTAINER_PATHS.traces}`);
    expect(runtime).toMatch(/^ENTRYPOINT \["node", "--max-semi-space-size=32", "\/app\/dist\/cli.js"\]$/m);
    // The runtime stage copies the built production tree only, never the sources.
    expect(runtime.match(/^COPY .*/gm)).toEqual(["COPY --from=build /app /app"]);
  });
});
