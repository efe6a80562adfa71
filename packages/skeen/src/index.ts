export type { SkeenMessage, SkeenPropose, SkeenState } from "./skeen.js";
export { SkeenGroup, skeen } from "./skeen.js";
