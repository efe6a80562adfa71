import type { JsonFields } from "@amcast/core";
import { closestName, describeValue, InputError, listNames } from "@amcast/core";
import type { NetworkOptions, ProcessingCost } from "@amcast/sim";

/**
 * Parameters an experiment can sweep, and the block of the experiment file each one lives in. A
 * swept value is written into that block and the block is parsed again by its own reader, so a
 * swept value is checked exactly like a value written there by hand.
 */
export const SWEEP_PARAMETERS = {
  clientsPerGroup: "workload",
  multicastsPerClient: "workload",
  outstanding: "workload",
  thinkMs: "workload",
  ratePerSec: "workload",
  outstandingMax: "workload",
  payloadBytes: "workload",
  localPercent: "workload",
  startSpreadMs: "workload",
  perMessageUs: "processing",
  perByteNs: "processing",
  jitterSdFraction: "network",
} as const;

export type SweepParameter = keyof typeof SWEEP_PARAMETERS;

/** One point of a sweep: the swept values and the blocks they change. */
export interface SweepPoint<Workload> {
  /** Swept parameter -> value, in the order the file lists the parameters. */
  readonly values: Readonly<Record<string, number>>;
  /** Every workload of the experiment with this point's workload values. */
  readonly workloads: readonly Workload[];
  readonly processing: ProcessingCost;
  readonly network: NetworkOptions;
}

export interface Sweep<Workload> {
  readonly parameters: readonly SweepParameter[];
  readonly points: readonly SweepPoint<Workload>[];
}

/** The readers of the blocks a sweep changes (the experiment parser's own). */
export interface SweepReaders<Workload> {
  readonly workload: (raw: Record<string, unknown>, path: string) => Workload;
  readonly processing: (raw: Record<string, unknown>, path: string) => ProcessingCost;
  readonly network: (raw: Record<string, unknown>, path: string) => NetworkOptions;
}

/** Points of a sweep at most (each point multiplies the runs). */
const SWEEP_POINTS_MAX = 1000;

/**
 * Reads the experiment's `sweep` field: either an object of lists (`{"clientsPerGroup": [1, 2, 4]}`,
 * every combination of the lists) or a list of points (`[{"clientsPerGroup": 1,
 * "multicastsPerClient": 600}, ...]`, parameters that change together). Null without the field.
 */
export function readSweep<Workload>(
  doc: JsonFields,
  readers: SweepReaders<Workload>,
): Sweep<Workload> | null {
  const raw = doc.raw("sweep");
  if (raw === undefined) return null;
  const source = doc.source;
  let parameters: SweepParameter[];
  let combos: { values: Record<string, number>; paths: Record<string, string> }[];
  if (Array.isArray(raw)) {
    if (raw.length === 0) throw doc.error("sweep", "expected at least one point, got []");
    const first = raw[0];
    if (!isPlainObject(first))
      throw new InputError(
        source,
        "sweep[0]",
        `expected an object of parameter values, got ${describeValue(first)}`,
      );
    parameters = Object.keys(first).map((name) => checkParameter(source, `sweep[0].${name}`, name));
    if (parameters.length === 0) throw new InputError(source, "sweep[0]", "names no parameter");
    combos = raw.map((point, index) => {
      if (!isPlainObject(point))
        throw new InputError(
          source,
          `sweep[${index}]`,
          `expected an object of parameter values, got ${describeValue(point)}`,
        );
      const names = Object.keys(point);
      for (const name of names) checkParameter(source, `sweep[${index}].${name}`, name);
      const missing = parameters.filter((name) => !names.includes(name));
      const extra = names.filter((name) => !(parameters as string[]).includes(name));
      if (missing.length > 0 || extra.length > 0) {
        throw new InputError(
          source,
          `sweep[${index}]`,
          `every point sets the same parameters as sweep[0] (${listNames(parameters)})`,
        );
      }
      const values: Record<string, number> = {};
      const paths: Record<string, string> = {};
      for (const name of parameters) {
        values[name] = checkNumberValue(source, `sweep[${index}].${name}`, point[name]);
        paths[name] = `sweep[${index}].${name}`;
      }
      return { values, paths };
    });
  } else if (isPlainObject(raw)) {
    parameters = Object.keys(raw).map((name) => checkParameter(source, `sweep.${name}`, name));
    if (parameters.length === 0) throw doc.error("sweep", "names no parameter");
    combos = [{ values: {}, paths: {} }];
    for (const name of parameters) {
      const list = raw[name];
      if (!Array.isArray(list) || list.length === 0)
        throw new InputError(
          source,
          `sweep.${name}`,
          `expected a non-empty list of values, got ${describeValue(list)}`,
        );
      const next: typeof combos = [];
      for (const combo of combos) {
        list.forEach((value, index) => {
          const path = `sweep.${name}[${index}]`;
          next.push({
            values: { ...combo.values, [name]: checkNumberValue(source, path, value) },
            paths: { ...combo.paths, [name]: path },
          });
        });
      }
      combos = next;
      if (combos.length > SWEEP_POINTS_MAX)
        throw doc.error("sweep", `has more than ${SWEEP_POINTS_MAX} points; sweep fewer values`);
    }
  } else {
    throw doc.error("sweep", `expected an object of lists or a list of points, got ${describeValue(raw)}`);
  }
  const seen = new Set<string>();
  combos.forEach(({ values, paths }) => {
    const key = JSON.stringify(values);
    const first = Object.values(paths)[0] ?? "sweep";
    if (seen.has(key)) throw new InputError(source, first, `point ${key} is listed twice`);
    seen.add(key);
  });

  const rawWorkloads = doc.raw("workloads");
  const workloadItems = Array.isArray(rawWorkloads) ? rawWorkloads : [];
  const rawProcessing = doc.raw("processing");
  const rawNetwork = doc.raw("network");
  const points = combos.map(({ values, paths }) => {
    const reread = <T>(
      block: Record<string, unknown>,
      blockPath: string,
      read: (raw: Record<string, unknown>, path: string) => T,
      section: string,
    ): T => {
      const changed = { ...block };
      for (const name of parameters) if (SWEEP_PARAMETERS[name] === section) changed[name] = values[name];
      try {
        return read(changed, blockPath);
      } catch (error) {
        // Name the sweep's entry, not the block it was written into.
        if (!(error instanceof InputError)) throw error;
        const name = parameters.find((candidate) => error.field === joinPath(blockPath, candidate));
        if (name === undefined) throw error;
        const problem = error.message.slice(`${error.source}: ${error.field}: `.length);
        throw new InputError(source, paths[name] ?? "sweep", problem);
      }
    };
    const workloads = workloadItems.map((item, index) =>
      reread(isPlainObject(item) ? item : {}, `workloads[${index}]`, readers.workload, "workload"),
    );
    const processing = reread(
      isPlainObject(rawProcessing) ? rawProcessing : {},
      "processing",
      readers.processing,
      "processing",
    );
    const network = reread(
      isPlainObject(rawNetwork) ? rawNetwork : {},
      "network",
      readers.network,
      "network",
    );
    return { values, workloads, processing, network };
  });
  return { parameters, points };
}

/** The run-label part of a sweep point: `clientsPerGroup=4`, one per parameter. */
export function sweepLabelParts(values: Readonly<Record<string, number>>): string[] {
  return Object.entries(values).map(([name, value]) => `${name}=${value}`);
}

function checkParameter(source: string, path: string, name: string): SweepParameter {
  if (Object.hasOwn(SWEEP_PARAMETERS, name)) return name as SweepParameter;
  const known = Object.keys(SWEEP_PARAMETERS);
  const guess = closestName(name, known);
  throw new InputError(
    source,
    path,
    `cannot sweep ${describeValue(name)}${guess === undefined ? "" : ` (did you mean ${describeValue(guess)}?)`}; sweepable: ${listNames(known)}`,
  );
}

function checkNumberValue(source: string, path: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value))
    throw new InputError(source, path, `expected a number, got ${describeValue(value)}`);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function joinPath(block: string, field: string): string {
  return block === "" ? field : `${block}.${field}`;
}
