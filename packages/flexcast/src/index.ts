export type { FlexCastOptions, FlexCastParams, NotificationPattern } from "./flexcast.js";
export {
  DEFAULT_FLEXCAST_OPTIONS,
  FlexCastGroup,
  flexcast,
  flexcastProtocol,
  NOTIFICATION_PATTERNS,
} from "./flexcast.js";
export type {
  FlexAck,
  FlexCastMessage,
  FlexFlushDone,
  FlexForward,
  FlexNotif,
  HistoryEntry,
  HistoryWindow,
  NotificationChain,
  NotificationRef,
  Position,
} from "./messages.js";
export { flexcastLatencyMs, flexcastSpanLatencyMs } from "./model.js";
