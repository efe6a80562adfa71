#!/usr/bin/env node
import { AssertionError, didYouMean, InputError } from "@amcast/core";
import { commandHelp, overallHelp } from "./commands/help.js";
import { COMMANDS } from "./commands/index.js";
import { UsageError } from "./commands/usage.js";

function main(argv: string[]): number | Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    const topic = command === "help" ? rest[0] : undefined;
    process.stdout.write(topic === undefined ? overallHelp() : commandHelp(topic) || overallHelp());
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined)
    throw new UsageError(
      `unknown command ${JSON.stringify(command)}${didYouMean(command, Object.keys(COMMANDS))} (known: ${Object.keys(COMMANDS).join(", ")}; amcast --help lists them)`,
    );
  // `--help` anywhere (before a lone `--`) asks for the command's help, whatever else is there.
  const flags = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (flags.includes("--help") || flags.includes("-h")) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  return run(rest);
}

// A reader that stops early (`amcast experiment | head`) closes the pipe: the run goes on to the
// end so that its results and traces are still written; only the rest of its printing is dropped.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
});

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof InputError || error instanceof UsageError) {
    // Bad input is the user's to fix: one clear line, no stack trace.
    process.stderr.write(`amcast: ${error.message}\n`);
    process.exitCode = 2;
  } else if (error instanceof AssertionError) {
    process.stderr.write(`amcast: internal assertion failed: ${error.message}\n${error.stack ?? ""}\n`);
    process.exitCode = 3;
  } else {
    throw error;
  }
}
