import { configurationReference } from "../config-reference.js";
import { parseCommandArgs } from "./usage.js";

/** `amcast reference`: the configuration reference (docs/configuration.md), generated from the parsers. */
export function runReferenceCommand(args: string[]): number {
  parseCommandArgs("reference", args, {}, 0);
  process.stdout.write(`${configurationReference()}\n`);
  return 0;
}
