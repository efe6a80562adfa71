export type { ControlPayload, DestinationCount, ReconfigOptions, ViewedMessage } from "./views.js";
export { controlPayload, ReconfigurableGroup, reconfigurable } from "./views.js";
