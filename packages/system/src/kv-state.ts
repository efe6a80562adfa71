import type { Multicast } from "@amcast/core";
import type { Application, ApplicationState } from "@amcast/group";

/**
 * A key-value state of `keys` keys ("k0".."k<keys-1>") in `partitions` partitions (key i in
 * partition i mod partitions), each value 16 characters at first (the key's number, zero-padded),
 * then the id of the last message that wrote it. Every
 * delivered message writes one key, chosen from its id. Keys are only ever overwritten, and a
 * partition is stored as an array in key order, so its snapshot is canonical without sorting.
 */
export class PartitionedKv implements ApplicationState {
  private readonly values: string[][];

  constructor(
    private readonly keys: number,
    private readonly partitionCount: number,
  ) {
    this.values = Array.from({ length: partitionCount }, (_, partition) =>
      Array.from({ length: Math.ceil((keys - partition) / partitionCount) }, (_, slot) =>
        String(slot * partitionCount + partition).padStart(16, "0"),
      ),
    );
  }

  apply(message: Multicast): null {
    const key = keyOf(message.id, this.keys);
    (this.values[key % this.partitionCount] as string[])[Math.floor(key / this.partitionCount)] = message.id;
    return null;
  }

  partitions(): readonly string[] {
    return this.values.map((_, index) => partitionName(index));
  }

  snapshot(partition: string): unknown {
    return this.values[partitionIndex(partition)];
  }

  restore(partition: string, state: unknown): void {
    this.values[partitionIndex(partition)] = [...(state as string[])];
  }
}

function partitionName(index: number): string {
  return `p${String(index).padStart(4, "0")}`;
}

function partitionIndex(name: string): number {
  return Number(name.slice(1));
}

/** The key a message writes: a hash of its id (FNV-1a), modulo the key count. */
function keyOf(id: string, keys: number): number {
  let hash = 0x811c_9dc5;
  for (let index = 0; index < id.length; index += 1)
    hash = Math.imul(hash ^ id.charCodeAt(index), 0x0100_0193);
  return (hash >>> 0) % keys;
}

/**
 * `BuildOptions.application` for a `PartitionedKv` of `keys` keys in `partitions` partitions per
 * replica; `onStore` hears each replica's store.
 */
export function keyValueApplication(
  keys: number,
  partitions: number,
  onStore: (id: string, store: PartitionedKv) => void = () => {},
): (id: string) => { readonly application: Application; readonly state: ApplicationState } {
  return (id) => {
    const store = new PartitionedKv(keys, partitions);
    onStore(id, store);
    return { application: (message) => store.apply(message), state: store };
  };
}
