export type { ByzcastForward, ByzcastMessage } from "./byzcast.js";
export { ByzcastGroup, byzcast } from "./byzcast.js";
export { byzcastLatencyMs, byzcastTreeLatencyMs } from "./model.js";
