export type { LinearizableMessage } from "./linearizable.js";
export { LinearizableGroup, linearizable } from "./linearizable.js";
