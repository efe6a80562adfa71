import { JsonFields } from "./json.js";
import type { ParamsSystem, ProtocolContext, ProtocolDefinition } from "./protocol.js";

/**
 * The context a protocol runs with: `system` plus its parameters parsed from `params` (the JSON
 * value of a protocol entry's `params` field, undefined when absent) by the protocol's own
 * `parseParams`. Bad parameters throw an `InputError` naming `source`, the field under `field`
 * and the value; fields the protocol did not read are refused. Every replica and client of a run
 * calls this with the same document, so they all hold the same parameters.
 */
export function protocolContext<P>(
  protocol: ProtocolDefinition<unknown, P>,
  params: unknown,
  system: ParamsSystem,
  source: string,
  field: string,
): ProtocolContext<P> {
  const fields = JsonFields.at(params ?? {}, source, field);
  const parsed = protocol.parseParams?.(fields, system);
  fields.done();
  return { groups: system.groups, overlay: system.overlay, params: parsed as P };
}
