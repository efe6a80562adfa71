import type { GroupId, MessageId, Multicast } from "@amcast/core";

/**
 * Envelopes the group layer puts on the wire between processes. Protocol bodies travel inside
 * `peer`; the receiver learns the sending group from the link (membership), never from here.
 */
export type GroupWire =
  | { readonly t: "request"; readonly message: Multicast; readonly seq: number }
  | { readonly t: "peer"; readonly body: unknown }
  | { readonly t: "reply"; readonly id: MessageId; readonly group: GroupId };

/** Modelled bytes of an envelope's own header (type tag, lengths, sequence number). */
export const ENVELOPE_BYTES = 16;

/** Modelled bytes of a multicast carried in a request: ids, destinations and payload. */
export function multicastBytes(message: Multicast): number {
  let bytes = 8 + message.id.length + message.client.length + message.payloadBytes;
  for (const group of message.dst) bytes += 2 + group.length;
  return bytes;
}

export function replyBytes(id: MessageId, group: GroupId): number {
  return ENVELOPE_BYTES + id.length + group.length;
}

/** Narrows an untrusted body to an envelope kind, or undefined when it is not one. */
export function readEnvelope(body: unknown): GroupWire | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const t = (body as { t?: unknown }).t;
  return t === "request" || t === "peer" || t === "reply" ? (body as GroupWire) : undefined;
}
