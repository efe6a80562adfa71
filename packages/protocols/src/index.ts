import { byzcast } from "@amcast/byzcast";
import type { ProtocolDefinition } from "@amcast/core";
import { describeValue, didYouMean, InputError, listNames } from "@amcast/core";
import { flexcast } from "@amcast/flexcast";
import { skeen } from "@amcast/skeen";

/** Every protocol an experiment, the swarm and the public API can name. A new protocol package joins by being listed here. */
export const PROTOCOLS: readonly ProtocolDefinition<unknown>[] = [
  skeen as ProtocolDefinition<unknown>,
  byzcast as ProtocolDefinition<unknown>,
  flexcast as ProtocolDefinition<unknown>,
];

export function protocolNames(): string[] {
  return PROTOCOLS.map((protocol) => protocol.name);
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
