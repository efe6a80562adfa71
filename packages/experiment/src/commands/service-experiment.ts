import { InputError, listNames } from "@amcast/core";
import { runGtpccExperiment } from "../service/gtpcc-command.js";
import { runKvExperiment } from "../service/kv-command.js";
import type { ServiceExperimentOptions } from "../service/output.js";
import { checkServiceExperiment } from "../service/runs.js";

export type { ServiceExperimentOptions } from "../service/output.js";

/** Services an experiment's `service.kind` may name, and what runs each. */
const SERVICES: Readonly<Record<string, (options: ServiceExperimentOptions) => number>> = {
  kv: (options) => runKvExperiment(options, serviceDoc(options)),
  gtpcc: (options) => runGtpccExperiment(options, serviceDoc(options)),
};

function serviceDoc(options: ServiceExperimentOptions) {
  const service = options.experiment.service;
  if (service === null) throw new Error("not a service experiment");
  return service.doc;
}

/** Runs a service experiment (the experiment file has a `service` block): see docs/history.md. */
export function runServiceExperiment(options: ServiceExperimentOptions): number {
  const { experiment } = options;
  const service = experiment.service;
  if (service === null) throw new Error("not a service experiment");
  checkServiceExperiment(experiment);
  const run = SERVICES[service.kind];
  if (run === undefined)
    throw new InputError(
      experiment.file,
      "service.kind",
      `unknown service ${JSON.stringify(service.kind)} (known: ${listNames(Object.keys(SERVICES))})`,
    );
  return run(options);
}
