import { defineConfig } from "vitest/config";

/**
 * What every package's tests share. Timeouts catch a hang; they do not time anything (speed is
 * measured in benchmarks). They are set for a loaded two-core machine: a test that takes half a
 * second alone takes ten times as long while turbo runs the other packages' suites and another
 * build shares the cores, so the budget is a minute unless a package sets more.
 */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A package's test files share their worker's modules instead of each starting a fresh
    // process and loading the package and its dependencies again: that loading was most of the
    // time of many small files (@amcast/core's: 2.9 s of CPU isolated, 1.2 s shared). No test
    // changes global state (environment, working directory, mocks) that another file could see.
    isolate: false,
  },
});
