/**
 * Splits events by `run` (events without one form one run), in first-appearance order: traces
 * and histories of several runs are checked run by run.
 */
export function splitRuns<E extends { readonly run?: string | undefined }>(
  events: readonly E[],
): { run: string | undefined; events: E[] }[] {
  const runs = new Map<string | undefined, E[]>();
  for (const event of events) {
    let list = runs.get(event.run);
    if (list === undefined) {
      list = [];
      runs.set(event.run, list);
    }
    list.push(event);
  }
  return [...runs].map(([run, list]) => ({ run, events: list }));
}
