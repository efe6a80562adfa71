export type { FlexCastOptions } from "./flexcast.js";
export {
  DEFAULT_FLEXCAST_OPTIONS,
  FlexCastGroup,
  flexcast,
  flexcastProtocol,
} from "./flexcast.js";
export type {
  FlexAck,
  FlexCastMessage,
  FlexForward,
  FlexNotif,
  HistoryEntry,
  HistoryWindow,
  NotificationRef,
  Position,
} from "./messages.js";
export { flexcastLatencyMs, flexcastSpanLatencyMs } from "./model.js";
