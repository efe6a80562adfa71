import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describeValue, InputError } from "@amcast/core";
import type { ProtocolNames } from "./templates.js";
import { protocolNames, protocolPackageFiles } from "./templates.js";

/** Where the registry lives, inside the project root. */
const REGISTRY_DIR = join("packages", "protocols");
const REGISTRY_SOURCE = join(REGISTRY_DIR, "src", "index.ts");
const REGISTRY_MANIFEST = join(REGISTRY_DIR, "package.json");
/** The registry object in REGISTRY_SOURCE: `const REGISTRY = { ... };`. */
const REGISTRY_OBJECT = /const REGISTRY = \{\n([\s\S]*?)\n\};/;

/**
 * The registry source with `names` added: an import of its package and an entry in REGISTRY
 * (biome sorts the imports afterwards).
 */
export function registerInSource(source: string, names: ProtocolNames, file: string): string {
  const found = REGISTRY_OBJECT.exec(source);
  if (found === null) throw new InputError(file, "REGISTRY", "no `const REGISTRY = { ... };` to add to");
  const key = names.constant === names.name ? names.name : `${JSON.stringify(names.name)}: ${names.constant}`;
  const entries = `${found[1]}\n  ${key},`;
  const registry = source.replace(REGISTRY_OBJECT, `const REGISTRY = {\n${entries}\n};`);
  return `import { ${names.constant} } from "${names.packageName}";\n${registry}`;
}

/** The registry's manifest with the package added to its dependencies (sorted). */
export function registerInManifest(manifestText: string, names: ProtocolNames): string {
  const manifest = JSON.parse(manifestText) as { dependencies?: Record<string, string> };
  const dependencies = { ...manifest.dependencies, [names.packageName]: "workspace:*" };
  manifest.dependencies = Object.fromEntries(
    Object.entries(dependencies).sort(([a], [b]) => a.localeCompare(b)),
  );
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

export interface ScaffoldOptions {
  /** The project root (holding pnpm-workspace.yaml). */
  readonly root: string;
  /** Update only the lockfile, not node_modules (for a copy of the project without its own). */
  readonly lockfileOnly?: boolean;
  /** Progress lines; default: none. */
  readonly log?: (line: string) => void;
}

/** What the scaffold wrote and changed, as paths relative to the root. */
export interface ScaffoldResult {
  readonly names: ProtocolNames;
  readonly created: readonly string[];
  readonly changed: readonly string[];
}

/**
 * Creates `packages/NAME`, registers it in `@amcast/protocols` (the one list of protocols, which
 * the conformance suite, the swarm, experiments and the public API read), formats what it wrote
 * and updates the lockfile. Refuses a name that is taken.
 */
export function scaffoldProtocol(name: string, options: ScaffoldOptions): ScaffoldResult {
  const names = protocolNames(name);
  const { root } = options;
  const log = options.log ?? (() => {});
  const packageDir = join("packages", name);
  if (existsSync(join(root, packageDir)))
    throw new InputError("new-protocol", "NAME", `${packageDir} exists already; choose another name`);
  const registrySource = readFileSync(join(root, REGISTRY_SOURCE), "utf8");
  if (registrySource.includes(`from "${names.packageName}"`))
    throw new InputError(REGISTRY_SOURCE, "REGISTRY", `${describeValue(name)} is registered already`);

  const created: string[] = [];
  for (const [path, content] of protocolPackageFiles(names)) {
    const file = join(root, packageDir, path);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
    created.push(join(packageDir, path));
  }
  log(`created ${packageDir} (${names.packageName})`);

  writeFileSync(join(root, REGISTRY_SOURCE), registerInSource(registrySource, names, REGISTRY_SOURCE));
  const manifest = readFileSync(join(root, REGISTRY_MANIFEST), "utf8");
  writeFileSync(join(root, REGISTRY_MANIFEST), registerInManifest(manifest, names));
  log(`registered ${name} in ${REGISTRY_SOURCE}`);

  const biome = join(root, "node_modules", ".bin", "biome");
  run(root, existsSync(biome) ? biome : "biome", [
    "check",
    "--write",
    REGISTRY_SOURCE,
    REGISTRY_MANIFEST,
    packageDir,
  ]);
  // Every package the new one needs is in the store already: no registry round trips.
  const install = [
    "install",
    "--prefer-offline",
    ...(options.lockfileOnly === true ? ["--lockfile-only"] : []),
  ];
  run(root, "pnpm", install);
  log("updated pnpm-lock.yaml");
  return { names, created, changed: [REGISTRY_SOURCE, REGISTRY_MANIFEST, "pnpm-lock.yaml"] };
}

/** Runs a tool in the project; a failure is an error with its output. */
function run(root: string, command: string, args: readonly string[]): void {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8" });
  if (result.status !== 0)
    throw new Error(
      `${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}):\n${result.stdout}${result.stderr}`,
    );
}
