import { assert } from "./assert.js";

/**
 * A binary min-heap ordered by `before(a, b)` ("a comes out first"). `before` must be a strict
 * total order on the items ever held together (break ties explicitly, e.g. by a sequence number)
 * so that the pop order, and with it every run, is deterministic.
 */
export class BinaryHeap<T> {
  private readonly items: T[] = [];

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    const items = this.items;
    let index = items.length;
    items.push(item);
    // Sift up: move the hole toward the root while the parent comes out later.
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex] as T;
      if (!this.before(item, parent)) break;
      items[index] = parent;
      index = parentIndex;
    }
    items[index] = item;
  }

  pop(): T {
    const items = this.items;
    assert(items.length > 0, "pop from an empty heap");
    const top = items[0] as T;
    const last = items.pop() as T;
    const size = items.length;
    if (size > 0) {
      // Sift down: move the hole toward the leaves while a child comes out earlier than `last`.
      let index = 0;
      for (;;) {
        const left = 2 * index + 1;
        if (left >= size) break;
        const right = left + 1;
        let child = left;
        if (right < size && this.before(items[right] as T, items[left] as T)) child = right;
        if (!this.before(items[child] as T, last)) break;
        items[index] = items[child] as T;
        index = child;
      }
      items[index] = last;
    }
    return top;
  }
}
