import { describeValue, InputError } from "@amcast/core";

/** The names a new protocol goes by in code, derived from its package name. */
export interface ProtocolNames {
  /** The protocol's name (`ProtocolDefinition.name`, the registry key, the directory): "my-proto". */
  readonly name: string;
  /** The package: "@amcast/my-proto". */
  readonly packageName: string;
  /** The exported protocol definition: "myProto". */
  readonly constant: string;
  /** The group logic class and message type prefix: "MyProto". */
  readonly type: string;
}

/** Words a protocol's constant cannot be (they are not valid as `export const NAME`). */
const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false " +
    "finally for function if import in instanceof new null return super switch this throw true try " +
    "typeof var void while with yield let static implements interface package private protected public " +
    "await arguments eval"
  ).split(" "),
);

/** Checks a protocol name given on the command line and derives the others from it. */
export function protocolNames(name: string): ProtocolNames {
  if (!/^[a-z][a-z0-9]*(-[a-z0-9]+)*$/.test(name))
    throw new InputError(
      "new-protocol",
      "NAME",
      `expected lower-case letters and digits, words joined by "-" (e.g. "sequencer", "my-proto"), got ${describeValue(name)}`,
    );
  const words = name.split("-");
  const type = words.map((word) => `${word[0]?.toUpperCase() ?? ""}${word.slice(1)}`).join("");
  const constant = `${type[0]?.toLowerCase() ?? ""}${type.slice(1)}`;
  if (RESERVED.has(constant))
    throw new InputError("new-protocol", "NAME", `${describeValue(name)} is a reserved word in TypeScript`);
  return { name, packageName: `@amcast/${name}`, constant, type };
}

/** The files of a new protocol package, by path inside it. */
export function protocolPackageFiles(names: ProtocolNames): Map<string, string> {
  return new Map([
    ["package.json", packageJson(names)],
    ["tsconfig.json", TSCONFIG],
    ["tsconfig.build.json", TSCONFIG_BUILD],
    ["vitest.config.ts", VITEST_CONFIG],
    // The purity marker: biome lints src/ with biome.pure.json, and the purity test reads it.
    ["biome.json", PURE_MARKER],
    ["src/index.ts", indexTs(names)],
    [`src/${names.name}.ts`, logicTs(names)],
    [`test/${names.name}.test.ts`, testTs(names)],
  ]);
}

function packageJson({ name, packageName }: ProtocolNames): string {
  const manifest = {
    name: packageName,
    version: "0.1.0",
    description: `${name}: an atomic multicast protocol as pure group logic`,
    type: "module",
    license: "MIT",
    sideEffects: false,
    exports: { ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } },
    files: ["dist", "src"],
    scripts: {
      build: "tsc -p tsconfig.build.json",
      typecheck: "tsc -p tsconfig.json --noEmit",
      lint: "biome check .",
      test: "vitest run",
    },
    dependencies: { "@amcast/core": "workspace:*" },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

const TSCONFIG = `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": ".", "outDir": "dist-typecheck" },
  "include": ["src", "test"]
}
`;

const TSCONFIG_BUILD = `{
  "extends": "../../tsconfig.base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist" },
  "include": ["src"]
}
`;

const VITEST_CONFIG = `import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../../vitest.shared";

export default mergeConfig(shared, defineConfig({}));
`;

export const PURE_MARKER = `{
  "root": false,
  "extends": ["../../biome.json", "../../biome.pure.json"]
}
`;

function indexTs({ name, constant, type }: ProtocolNames): string {
  return `export type { ${type}Message, ${type}Notice } from "./${name}.js";
export { ${type}Group, ${constant} } from "./${name}.js";
`;
}

function logicTs({ name, constant, type }: ProtocolNames): string {
  return `import type {
  DestinationSet,
  FlatProtocolDefinition,
  GroupConfig,
  GroupId,
  GroupInput,
  GroupLogic,
  GroupOutput,
  LatencyModel,
  MessageId,
  Multicast,
  WireDescription,
} from "@amcast/core";
import { AssertionError, assert, assertNever } from "@amcast/core";

/**
 * ${name}: (what the protocol is, and where it was published).
 *
 * 1. The client sends m to the protocol's entry groups (\`entryGroups\`): here, every destination.
 * 2. A destination delivers m as soon as it arrives.
 *
 * Order argument: (why any two destinations deliver their common messages in the same order, and
 * why no cycle can form across groups).
 *
 * As generated, this is not atomic multicast yet: two destinations can receive two messages in
 * opposite orders, and deliver them so. The shared property suite and the swarm find the cycle
 * (\`pnpm run conformance --protocol ${name}\`); replace the rules above and the code below with the
 * protocol's. docs/writing-a-protocol.md walks through a fixed sequencer.
 */
export interface ${type}Notice {
  readonly type: "notice";
  readonly id: MessageId;
}
export type ${type}Message = ${type}Notice;

export class ${type}Group implements GroupLogic<${type}Message> {
  readonly group: GroupId;
  private deliveredCount = 0;

  constructor(config: GroupConfig) {
    this.group = config.group;
  }

  get delivered(): number {
    return this.deliveredCount;
  }

  /**
   * The whole state as plain data, for checkpoints (docs/writing-a-protocol.md): add every field
   * the rules keep. The conformance suite restores groups from it mid-run and fails on what it
   * forgets.
   */
  snapshot(): { readonly delivered: number } {
    return { delivered: this.deliveredCount };
  }

  restore(state: unknown): void {
    this.deliveredCount = (state as { delivered: number }).delivered;
  }

  step(input: GroupInput<${type}Message>): readonly GroupOutput<${type}Message>[] {
    switch (input.kind) {
      case "request":
        return this.onRequest(input.message);
      case "peer":
        return this.onPeer(input.from, input.body);
      default:
        return assertNever(input, "input");
    }
  }

  /** Rule 2: deliver on arrival. */
  private onRequest(message: Multicast): GroupOutput<${type}Message>[] {
    assert(
      message.dst.includes(this.group),
      () => \`\${this.group} got \${message.id} for \${message.dst.join(",")}\`,
    );
    this.deliveredCount += 1;
    return [{ kind: "deliver", message }];
  }

  /** No rule sends a message between groups yet. */
  private onPeer(from: GroupId, body: ${type}Message): GroupOutput<${type}Message>[] {
    throw new AssertionError(\`\${this.group} got \${body.type} \${body.id} from \${from}, which no rule sends\`);
  }
}

/** The message pattern's delay: client -> every destination. */
function ${constant}LatencyMs(dst: DestinationSet, latency: LatencyModel): number {
  let last = 0;
  for (const group of dst) last = Math.max(last, latency.clientToGroupMs(group));
  return last;
}

export const ${constant}: FlatProtocolDefinition<${type}Message> = {
  name: "${name}",
  overlayKind: null,
  entryGroups: (dst) => dst,
  createGroup: (config) => new ${type}Group(config),
  describe: (body): WireDescription => ({ kind: body.type, id: body.id, bytes: 8 + body.id.length }),
  modelLatencyMs: (dst, _context, latency) => ${constant}LatencyMs(dst, latency),
};
`;
}

function testTs({ name, constant, type }: ProtocolNames): string {
  return `import type { Multicast } from "@amcast/core";
import { describe, expect, it } from "vitest";
import { ${type}Group, ${constant} } from "../src/index.js";

const GROUPS = ["g1", "g2", "g3"];
const context = { groups: GROUPS, overlay: null, params: undefined };
const group = (id: string): ${type}Group => new ${type}Group({ ...context, group: id });
const message = (id: string, dst: string[]): Multicast => ({ id, client: "c0", dst, payloadBytes: 0 });

describe("${name} group logic", () => {
  it("delivers a local multicast at its group", () => {
    const g1 = group("g1");
    expect(g1.step({ kind: "request", message: message("m1", ["g1"]) })).toEqual([
      { kind: "deliver", message: message("m1", ["g1"]) },
    ]);
    expect(g1.delivered).toBe(1);
  });

  it("sends a client's multicast to its entry groups", () => {
    expect(${constant}.entryGroups(["g1", "g3"], context)).toEqual(["g1", "g3"]);
  });

  it("models its message pattern's latency", () => {
    const latency = {
      clientToGroupMs: (g: string) => ({ g1: 10, g2: 50, g3: 5 })[g] ?? 0,
      groupToGroupMs: () => 30,
    };
    expect(${constant}.modelLatencyMs?.(["g1", "g3"], context, latency)).toBe(10);
  });
});
`;
}
