import type { DeployedNode } from "@amcast/runtime";
import { deploymentNodes, deploymentToJson, publicKeysFromSecret } from "@amcast/runtime";
import type { BuiltSystem, SystemSpec } from "@amcast/system";
import { buildSystem } from "@amcast/system";
// Types only (erased from the build): the manifests below are checked against the Kubernetes API
// types when this compiles — a misspelt or misplaced field does not — and validated against the
// API's schemas by the tests.
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IConfigMap } from "kubernetes-models/v1/ConfigMap";
import type { IPodSecurityContext } from "kubernetes-models/v1/PodSecurityContext";
import type { IResourceRequirements } from "kubernetes-models/v1/ResourceRequirements";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { ISecurityContext } from "kubernetes-models/v1/SecurityContext";
import type { IService } from "kubernetes-models/v1/Service";
import type { IVolume } from "kubernetes-models/v1/Volume";
import type { IVolumeMount } from "kubernetes-models/v1/VolumeMount";
import { stringify } from "yaml";

/**
 * What `amcast deploy` writes: a run of an experiment laid out for containers. The cluster is
 * described once, by a deployment file (docs/runtime.md) that carries the run whole (`system`) and
 * names every replica by the DNS name its container gets; the Kubernetes manifests and the compose
 * file only start `amcast replica` and `amcast clients` on that file. Nothing here is a second
 * spec: every address, id and count comes from the deployment.
 */

/** Where the files a container needs are mounted (the same in every manifest and compose file). */
export const CONTAINER_PATHS = {
  deployment: "/etc/amcast/deployment/deployment.json",
  secret: "/etc/amcast/secret/cluster.secret",
  traces: "/var/lib/amcast",
  /** Each replica journals what it decides in `<journals>/<its name>` (see docs/durability.md). */
  journals: "/var/lib/amcast/journals",
} as const;

/**
 * The persistent volume each Kubernetes replica journals to. Journals are truncated at the group's
 * checkpoints, so this bounds one checkpoint interval and the state; a deployment with
 * `storage.truncate: false` keeps every input and needs a larger claim for a long run (patch
 * `volumeClaimTemplates`).
 */
export const JOURNAL_VOLUME_SIZE = "4Gi";

/** The command line of a client host in a container: its id, the mounted files, where its trace goes. */
function clientHostArgs(id: string, tracePath: string): string[] {
  return [
    "clients",
    "--deployment",
    CONTAINER_PATHS.deployment,
    "--id",
    id,
    "--secret-file",
    CONTAINER_PATHS.secret,
    "--trace",
    tracePath,
  ];
}

/** The non-root user of the image (Dockerfile): every manifest runs as it. */
export const IMAGE_UID = 10001;

export interface DeployOptions {
  /** The prefix of every resource name (a DNS label), e.g. the experiment's name. */
  readonly name: string;
  /** The container image holding the `amcast` CLI (the repository's Dockerfile). */
  readonly image: string;
  /** The port every replica listens on. */
  readonly port: number;
  /** The port of every replica's /healthz and /readyz. */
  readonly healthPort: number;
  /** How many client hosts run the clients (one Job or compose service each). */
  readonly clientHosts: number;
  /** Every link adds the topology's one-way delays (the deployment's `latencyEmulation`). */
  readonly latencyEmulation: boolean;
}

export const DEFAULT_DEPLOY_OPTIONS: Omit<DeployOptions, "name"> = {
  image: "amcast:latest",
  port: 7000,
  healthPort: 8080,
  clientHosts: 1,
  latencyEmulation: false,
};

/** One file `amcast deploy` writes, relative to its output directory. */
export interface DeployFile {
  readonly path: string;
  readonly content: string;
  /** Files holding the cluster secret are readable by their owner only. */
  readonly secret?: boolean;
}

/** A Kubernetes object as plain data (validated against the API schemas in the tests). */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly [field: string]: unknown };
  readonly [field: string]: unknown;
}

/**
 * Written as YAML 1.1, which Kubernetes and Compose read: strings such as "no" or "on" are
 * quoted (1.1 reads them as booleans), shared objects are repeated, not aliased, and long
 * strings are not folded.
 */
const YAML_OPTIONS = { version: "1.1", aliasDuplicateObjects: false, lineWidth: 0 } as const;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A StatefulSet's name is at most 52 characters: its pods carry a revision label of name + hash. */
const STATEFUL_SET_NAME_MAX = 52;

/** `text` as a DNS-1123 label: lower case, runs of other characters as one "-". */
export function dnsLabel(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

function checkLabel(value: string, what: string, max = 63): string {
  if (!DNS_LABEL.test(value) || value.length > max)
    throw new Error(
      `${what} ${JSON.stringify(value)} is not a DNS label of at most ${max} characters (a-z, 0-9, "-"); choose another --name`,
    );
  return value;
}

/** The group's part of resource names, checked unique over the run's groups. */
function groupLabels(groups: readonly string[]): Map<string, string> {
  const labels = new Map<string, string>();
  const owner = new Map<string, string>();
  for (const group of groups) {
    const label = dnsLabel(group) || "group";
    const other = owner.get(label);
    if (other !== undefined)
      throw new Error(
        `groups ${JSON.stringify(other)} and ${JSON.stringify(group)} both become ${label} in resource names`,
      );
    owner.set(label, group);
    labels.set(group, label);
  }
  return labels;
}

/** A run's replicas by group, `<group>/0` first (the order the deployment lists them). */
function replicasByGroup(built: BuiltSystem): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const { id, group } of built.membership.processes()) {
    const list = groups.get(String(group)) ?? [];
    list.push(id);
    groups.set(String(group), list);
  }
  return groups;
}

/**
 * The deployment file. A Byzantine run's processes sign, and the deployment lists their public
 * keys, derived from the cluster secret: only a generator that holds the secret can write it.
 */
function deploymentJson(
  options: DeployOptions,
  system: SystemSpec,
  nodes: readonly DeployedNode[],
  secret: Buffer | null,
): string {
  const { name, latencyEmulation } = options;
  if (system.mode === "byzantine" && secret === null)
    throw new Error(
      `${system.label} is a Byzantine run: its deployment lists every process's public key, derived from the cluster secret; generate it with amcast deploy k8s (which holds the secret)`,
    );
  const publicKeys =
    system.mode === "byzantine" && secret !== null
      ? new Map(
          Object.entries(
            publicKeysFromSecret(
              secret,
              nodes.flatMap((node) => node.processes),
            ),
          ).map(([process, key]) => [process, Buffer.from(key, "hex")]),
        )
      : new Map<string, Buffer>();
  return `${JSON.stringify(
    deploymentToJson({ name, system, traceSends: false, latencyEmulation, nodes, limits: {}, publicKeys }),
    null,
    1,
  )}\n`;
}

function nodesOf(
  built: BuiltSystem,
  clientHosts: number,
  address: (replica: string) => string,
  port: number,
): DeployedNode[] {
  return deploymentNodes(built, clientHosts, (replica) => ({ host: address(replica), port }));
}

/** The index of a replica within its group: `Canada/2` is 2, the StatefulSet's pod ordinal. */
function replicaIndex(id: string): number {
  return Number(id.slice(id.lastIndexOf("/") + 1));
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

export interface KubernetesLayout {
  /** The deployment file every pod reads (also in the ConfigMap). */
  readonly deployment: string;
  /** Every object, one per file (`<kind>-<name>.yaml`), and the kustomization listing them. */
  readonly manifests: readonly { readonly path: string; readonly manifest: Manifest }[];
  /** Per replica id: its pod name and the DNS name its deployment address is. */
  readonly pods: ReadonlyMap<
    string,
    { readonly pod: string; readonly statefulSet: string; readonly dns: string }
  >;
  readonly service: string;
}

/**
 * The Kubernetes layout of a run: a headless Service governing one StatefulSet per group (pod
 * `<name>-<group>-<i>` runs replica `<group>/<i>` and is reached at
 * `<name>-<group>-<i>.<service>`, the headless Service's naming rule within the namespace),
 * the deployment file in a ConfigMap, the cluster secret in a Secret, one Job per client host,
 * and a PodDisruptionBudget per replicated group (at most f replicas evicted at once).
 */
export function kubernetesLayout(
  system: SystemSpec,
  options: DeployOptions,
  secret: Buffer,
): KubernetesLayout {
  const name = checkLabel(options.name, "name");
  const service = name;
  const built = buildSystem(system);
  const byGroup = replicasByGroup(built);
  const labelOf = groupLabels([...byGroup.keys()]);
  const pods = new Map<string, { pod: string; statefulSet: string; dns: string }>();
  for (const [group, replicas] of byGroup) {
    const statefulSet = checkLabel(
      `${name}-${labelOf.get(group)}`,
      "StatefulSet name",
      STATEFUL_SET_NAME_MAX,
    );
    for (const id of replicas) {
      const pod = `${statefulSet}-${replicaIndex(id)}`;
      pods.set(id, { pod, statefulSet, dns: `${pod}.${service}` });
    }
  }
  const nodes = nodesOf(built, options.clientHosts, (replica) => pods.get(replica)?.dns ?? "", options.port);
  const deployment = deploymentJson(options, system, nodes, secret);

  const common = { "app.kubernetes.io/name": "amcast", "app.kubernetes.io/instance": name };
  const configMap = `${name}-deployment`;
  const secretName = `${name}-secret`;
  const volumes: IVolume[] = [
    { name: "deployment", configMap: { name: configMap } },
    { name: "secret", secret: { secretName, defaultMode: 0o400 } },
    { name: "traces", emptyDir: {} },
  ];
  const volumeMounts: IVolumeMount[] = [
    { name: "deployment", mountPath: "/etc/amcast/deployment", readOnly: true },
    { name: "secret", mountPath: "/etc/amcast/secret", readOnly: true },
    { name: "traces", mountPath: CONTAINER_PATHS.traces },
  ];
  const podSecurity: IPodSecurityContext = {
    runAsNonRoot: true,
    runAsUser: IMAGE_UID,
    runAsGroup: IMAGE_UID,
    fsGroup: IMAGE_UID,
    seccompProfile: { type: "RuntimeDefault" },
  };
  const containerSecurity: ISecurityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
  };
  const resources: IResourceRequirements = {
    requests: { cpu: "500m", memory: "256Mi" },
    limits: { memory: "1Gi" },
  };
  const manifests: { path: string; manifest: Manifest }[] = [];
  const add = (
    manifest: IService | IConfigMap | ISecret | IStatefulSet | IPodDisruptionBudget | IJob,
  ): void => {
    const named = manifest as Manifest;
    manifests.push({ path: `${dnsLabel(named.kind)}-${named.metadata.name}.yaml`, manifest: named });
  };

  add({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: service, labels: { ...common, "app.kubernetes.io/component": "replica" } },
    spec: {
      clusterIP: "None",
      // Peers must find each other before they are ready (readiness means "connected").
      publishNotReadyAddresses: true,
      selector: { ...common, "app.kubernetes.io/component": "replica" },
      ports: [{ name: "amcast", port: options.port, targetPort: options.port }],
    },
  });
  add({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: configMap, labels: common },
    data: { "deployment.json": deployment },
  });
  add({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: secretName, labels: common },
    type: "Opaque",
    data: { "cluster.secret": secret.toString("base64") },
  });
  const f = system.mode === "solo" ? 0 : system.f;
  for (const [group, replicas] of byGroup) {
    const statefulSet = pods.get(replicas[0] ?? "")?.statefulSet ?? "";
    const labels = {
      ...common,
      "app.kubernetes.io/component": "replica",
      "amcast/group": labelOf.get(group) ?? "",
    };
    add({
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: statefulSet, labels, annotations: { "amcast/group-id": group } },
      spec: {
        serviceName: service,
        replicas: replicas.length,
        // Every replica waits for its peers: start them together, not one after another.
        podManagementPolicy: "Parallel",
        selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            securityContext: podSecurity,
            terminationGracePeriodSeconds: 10,
            affinity: {
              // A group survives f crashed replicas, not a node that takes several of them.
              podAntiAffinity: {
                requiredDuringSchedulingIgnoredDuringExecution: [
                  { labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" },
                ],
              },
            },
            containers: [
              {
                name: "replica",
                image: options.image,
                imagePullPolicy: "IfNotPresent",
                args: [
                  "replica",
                  "--deployment",
                  CONTAINER_PATHS.deployment,
                  "--host",
                  "$(POD_NAME)",
                  "--listen",
                  "0.0.0.0",
                  "--secret-file",
                  CONTAINER_PATHS.secret,
                  "--health-port",
                  String(options.healthPort),
                  "--trace",
                  `${CONTAINER_PATHS.traces}/$(POD_NAME).trace.jsonl`,
                  // A container restarted after a crash rebuilds itself from its journal and
                  // rejoins with its votes and state: an empty restart could vote twice in a term.
                  "--data-dir",
                  `${CONTAINER_PATHS.journals}/$(POD_NAME)`,
                ],
                env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
                ports: [
                  { name: "amcast", containerPort: options.port },
                  { name: "health", containerPort: options.healthPort },
                ],
                readinessProbe: {
                  httpGet: { path: "/readyz", port: "health" },
                  periodSeconds: 2,
                  failureThreshold: 3,
                },
                livenessProbe: { httpGet: { path: "/healthz", port: "health" }, periodSeconds: 10 },
                resources,
                securityContext: containerSecurity,
                volumeMounts: [...volumeMounts, { name: "journal", mountPath: CONTAINER_PATHS.journals }],
              },
            ],
            volumes,
          },
        },
        // One claim per pod, kept when the pod is replaced: the journal outlives a lost pod.
        volumeClaimTemplates: [
          {
            metadata: { name: "journal", labels },
            spec: {
              accessModes: ["ReadWriteOnce"],
              resources: { requests: { storage: JOURNAL_VOLUME_SIZE } },
            },
          },
        ],
      },
    });
    if (f > 0)
      add({
        apiVersion: "policy/v1",
        kind: "PodDisruptionBudget",
        metadata: { name: statefulSet, labels },
        spec: { maxUnavailable: f, selector: { matchLabels: labels } },
      });
  }
  for (const node of nodes.filter((candidate) => candidate.role === "clients")) {
    const job = checkLabel(`${name}-${dnsLabel(node.id)}`, "Job name");
    const labels = { ...common, "app.kubernetes.io/component": "clients" };
    add({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: job, labels },
      spec: {
        // A client host run twice would reuse its message ids: never retry it.
        backoffLimit: 0,
        template: {
          metadata: { labels },
          spec: {
            restartPolicy: "Never",
            securityContext: podSecurity,
            containers: [
              {
                name: "clients",
                image: options.image,
                imagePullPolicy: "IfNotPresent",
                args: clientHostArgs(node.id, `${CONTAINER_PATHS.traces}/${dnsLabel(node.id)}.trace.jsonl`),
                resources,
                securityContext: containerSecurity,
                volumeMounts,
              },
            ],
            volumes,
          },
        },
      },
    });
  }
  return { deployment, manifests, pods, service };
}

/** The files of `amcast deploy k8s`: one manifest per file, a kustomize base, and the deployment file. */
export function kubernetesFiles(system: SystemSpec, options: DeployOptions, secret: Buffer): DeployFile[] {
  const layout = kubernetesLayout(system, options, secret);
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    resources: layout.manifests.map(({ path }) => path),
  };
  return [
    ...layout.manifests.map(({ path, manifest }) => ({
      path,
      content: stringify(manifest, YAML_OPTIONS),
      ...(manifest.kind === "Secret" ? { secret: true } : {}),
    })),
    { path: "kustomization.yaml", content: stringify(kustomization) },
    { path: "deployment.json", content: layout.deployment },
  ];
}

// ---------------------------------------------------------------------------------------------
// docker compose

/**
 * The compose file of a run: one service per replica, named `<group>-<i>` (its DNS name on the
 * compose network, and its address in the deployment file beside it), one per client host, and
 * under the `check` profile a service that merges the traces and checks them. The cluster secret
 * is the file `cluster.secret` beside it, which the user makes (never written by the generator,
 * so the generated files can be committed).
 */
export function composeFiles(system: SystemSpec, options: DeployOptions): DeployFile[] {
  checkLabel(options.name, "name");
  const built = buildSystem(system);
  const labelOf = groupLabels([...replicasByGroup(built).keys()]);
  const serviceOf = (replica: string): string =>
    `${labelOf.get(replica.slice(0, replica.lastIndexOf("/")))}-${replicaIndex(replica)}`;
  const nodes = nodesOf(built, options.clientHosts, serviceOf, options.port);
  const traceOf = (node: DeployedNode): string =>
    `${CONTAINER_PATHS.traces}/${node.role === "replica" ? serviceOf(node.id) : dnsLabel(node.id)}.trace.jsonl`;
  const mounts = [
    `./deployment.json:${CONTAINER_PATHS.deployment}:ro`,
    `./cluster.secret:${CONTAINER_PATHS.secret}:ro`,
    `traces:${CONTAINER_PATHS.traces}`,
  ];
  const replicas = nodes.filter((node) => node.role === "replica");
  const services: Record<string, unknown> = {};
  for (const node of replicas)
    services[serviceOf(node.id)] = {
      image: options.image,
      command: [
        "replica",
        "--deployment",
        CONTAINER_PATHS.deployment,
        "--id",
        node.id,
        "--listen",
        "0.0.0.0",
        "--secret-file",
        CONTAINER_PATHS.secret,
        "--health-port",
        String(options.healthPort),
        "--trace",
        traceOf(node),
        // On the named volume, so a restarted container rebuilds itself from its journal and rejoins.
        "--data-dir",
        `${CONTAINER_PATHS.journals}/${serviceOf(node.id)}`,
      ],
      volumes: mounts,
      healthcheck: {
        // The image has no curl, and a node process costs a second to start on a busy machine:
        // the shell asks /readyz over bash's /dev/tcp.
        test: [
          "CMD",
          "bash",
          "-c",
          `exec 3<>/dev/tcp/127.0.0.1/${options.healthPort} && printf 'GET /readyz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '`,
        ],
        interval: "2s",
        timeout: "5s",
        retries: 60,
        start_period: "30s",
      },
      stop_grace_period: "10s",
    };
  const clientHosts = nodes.filter((node) => node.role === "clients");
  for (const node of clientHosts)
    services[dnsLabel(node.id)] = {
      image: options.image,
      command: clientHostArgs(node.id, traceOf(node)),
      volumes: mounts,
      depends_on: Object.fromEntries(
        replicas.map((replica) => [serviceOf(replica.id), { condition: "service_healthy" }]),
      ),
    };
  const merged = `${CONTAINER_PATHS.traces}/run.trace.jsonl`;
  services.check = {
    image: options.image,
    profiles: ["check"],
    entrypoint: ["sh", "-c", 'amcast merge-traces --out "$$0" "$$@" && amcast check "$$0"'],
    command: [merged, ...nodes.map(traceOf)],
    volumes: [`traces:${CONTAINER_PATHS.traces}`],
  };
  // No top-level `name`: Compose v1 refuses it (the project is named with -p, or after the directory).
  const compose = { services, volumes: { traces: {} } };
  return [
    { path: "compose.yaml", content: stringify(compose, YAML_OPTIONS) },
    { path: "deployment.json", content: deploymentJson(options, system, nodes, null) },
  ];
}
