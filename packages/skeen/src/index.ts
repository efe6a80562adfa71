export type { SkeenMessage, SkeenPropose } from "./skeen.js";
export { SkeenGroup, skeen } from "./skeen.js";
