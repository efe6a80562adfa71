import { byzcast } from "@amcast/byzcast";
import type { ProtocolDefinition } from "@amcast/core";
import { assert, describeValue, didYouMean, InputError, listNames } from "@amcast/core";
import { flexcast } from "@amcast/flexcast";
import { sequencer } from "@amcast/sequencer";
import { skeen } from "@amcast/skeen";

/**
 * Every protocol amcast knows, by the name experiments, the swarm, the conformance suite, the
 * benchmarks and the public API (`ProtocolName`) use. This is the one place a protocol is
 * registered: its package joins here (and in this package's dependencies), and everything else
 * follows. `pnpm run new-protocol NAME` adds both lines.
 */
const REGISTRY = {
  skeen,
  byzcast,
  flexcast,
  sequencer,
};

/** The name of a registered protocol. */
export type ProtocolName = keyof typeof REGISTRY;

/** The registered protocols, in registration order. */
export const PROTOCOLS: readonly ProtocolDefinition<unknown>[] = Object.entries(REGISTRY).map(
  ([key, protocol]) => {
    assert(protocol.name === key, () => `protocol ${protocol.name} is registered as ${key}`);
    return protocol as ProtocolDefinition<unknown>;
  },
);

export function protocolNames(): ProtocolName[] {
  return PROTOCOLS.map((protocol) => protocol.name as ProtocolName);
}

/** The protocol called `name`; otherwise an `InputError` at `source`/`field` listing the known ones. */
export function protocolByName(name: unknown, source: string, field: string): ProtocolDefinition<unknown> {
  const protocol = PROTOCOLS.find((candidate) => candidate.name === name);
  if (protocol === undefined) {
    throw new InputError(
      source,
      field,
      `unknown protocol ${describeValue(name)}${typeof name === "string" ? didYouMean(name, protocolNames()) : ""} (known: ${listNames(protocolNames())})`,
    );
  }
  return protocol;
}
