import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { InputError } from "@amcast/core";
import type { RunSelector } from "@amcast/runtime";
import { readSecret, selectOneRun } from "@amcast/runtime";
import { displayPath, findProjectRoot } from "@amcast/system";
import type { DeployFile, DeployOptions } from "../deploy.js";
import { composeFiles, DEFAULT_DEPLOY_OPTIONS, dnsLabel, kubernetesFiles } from "../deploy.js";
import { selectRuns } from "../run.js";
import { resolveExperimentFile } from "./experiment.js";
import { integerFlag, parseCommandArgs, stringFlag, UsageError } from "./usage.js";

const TARGETS = ["k8s", "compose"] as const;

/**
 * `amcast deploy k8s|compose --experiment NAME [--out DIR] [run selection] [--name N] [--image I]
 * [--port P] [--health-port P] [--client-hosts N] [--secret-file F] [--latency-emulation]`: writes what runs one run of
 * an experiment in containers — Kubernetes manifests with a kustomize base, or a compose file —
 * around one deployment file (docs/deploy.md).
 */
export function runDeployCommand(args: string[]): number {
  const { values, positionals } = parseCommandArgs(
    "deploy",
    args,
    {
      experiment: { type: "string" },
      out: { type: "string" },
      protocol: { type: "string" },
      mode: { type: "string" },
      workload: { type: "string" },
      seed: { type: "string" },
      linearizable: { type: "boolean" },
      "fault-plan": { type: "string" },
      name: { type: "string" },
      image: { type: "string" },
      port: { type: "string" },
      "health-port": { type: "string" },
      "client-hosts": { type: "string" },
      "secret-file": { type: "string" },
      "latency-emulation": { type: "boolean" },
    },
    1,
  );
  const target = positionals[0];
  if (target !== "k8s" && target !== "compose")
    throw new UsageError(
      `deploy: name a target, ${TARGETS.join(" or ")} (amcast deploy k8s --experiment NAME)`,
    );
  const name = stringFlag(values.experiment);
  if (name === undefined) throw new UsageError("deploy: --experiment NAME is required");
  const file = resolveExperimentFile(name, join(findProjectRoot(process.cwd()), "experiments"));
  const seed = integerFlag("deploy", "seed", values.seed, 0, Number.MAX_SAFE_INTEGER);
  const selector: RunSelector = {
    ...pick("protocol", stringFlag(values.protocol)),
    ...pick("mode", stringFlag(values.mode)),
    ...pick("workload", stringFlag(values.workload)),
    ...pick("seed", seed),
    ...pick("linearizable", values.linearizable === true ? true : undefined),
    ...pick("faultPlan", stringFlag(values["fault-plan"])),
  };
  const system = selectOneRun(
    file,
    selector,
    selectRuns,
    (problem) =>
      new InputError(displayPath(file), "", `--protocol/--mode/--workload/--seed/--fault-plan ${problem}`),
  );
  const options: DeployOptions = {
    name: stringFlag(values.name) ?? dnsLabel(name.replace(/^.*\//, "").replace(/\.json$/, "")),
    image: stringFlag(values.image) ?? DEFAULT_DEPLOY_OPTIONS.image,
    port: integerFlag("deploy", "port", values.port, 1, 65535) ?? DEFAULT_DEPLOY_OPTIONS.port,
    healthPort:
      integerFlag("deploy", "health-port", values["health-port"], 1, 65535) ??
      DEFAULT_DEPLOY_OPTIONS.healthPort,
    clientHosts:
      integerFlag("deploy", "client-hosts", values["client-hosts"], 1, 1000) ??
      DEFAULT_DEPLOY_OPTIONS.clientHosts,
    latencyEmulation: values["latency-emulation"] === true,
  };
  if (options.port === options.healthPort)
    throw new UsageError(`deploy: --port and --health-port are both ${options.port}`);
  const secretFile = stringFlag(values["secret-file"]);
  if (target === "compose" && secretFile !== undefined)
    throw new UsageError(
      "deploy compose: the cluster secret is the file cluster.secret beside compose.yaml; --secret-file is for k8s",
    );
  let files: DeployFile[];
  try {
    files =
      target === "k8s"
        ? kubernetesFiles(
            system,
            options,
            secretFile === undefined ? randomBytes(32) : readSecret(secretFile),
          )
        : composeFiles(system, options);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new UsageError(`deploy: ${(error as Error).message}`);
  }
  const out = resolve(stringFlag(values.out) ?? join("deploy", `${options.name}-${target}`));
  mkdirSync(out, { recursive: true });
  for (const { path, content, secret } of files)
    writeFileSync(join(out, path), content, secret === true ? { mode: 0o600 } : {});
  process.stdout.write(
    `${system.label} (seed ${system.seed}): ${files.length} files in ${displayPath(out)}\n${files.map(({ path }) => `  ${path}`).join("\n")}\n`,
  );
  process.stdout.write(
    target === "k8s"
      ? `apply with: kubectl apply -k ${displayPath(out)}   (secret-${options.name}-secret.yaml holds the cluster secret: keep it out of version control)\n`
      : `make the cluster secret, then start: head -c 32 /dev/urandom > ${displayPath(join(out, "cluster.secret"))} && docker compose -f ${displayPath(join(out, "compose.yaml"))} up\n`,
  );
  return 0;
}

function pick<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
