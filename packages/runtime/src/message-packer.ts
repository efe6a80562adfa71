import { Packr } from "msgpackr";
// The compact form of request inputs (a msgpack extension), for this packer and every unpacker.
import "./wire-records.js";

/** Largest unsigned integer the composed form writes itself (msgpack uint32); larger ones are packed whole. */
const UINT32_MAX = 0xffff_ffff;

/**
 * Encodes a message as the msgpack array [from, to, body, sentAt] (the transport's wire form of
 * one message), encoding each body once however many processes it goes to. The group layer sends
 * one body object to several processes in a row (a broadcast among replicas, a stream item's
 * copies to every replica of a group, a client's request to every replica of its entry group),
 * and never changes what it sent: so the body's bytes are remembered from the first message and
 * copied into the next ones, whose other fields are small integers. The bytes are exactly what
 * packing the whole array gives. `forget()` drops the remembered body (at the end of a turn).
 */
export class MessagePacker {
  private readonly packr = new Packr({ useRecords: false });
  private lastBody: object | undefined;
  private lastBodyBytes: Buffer | undefined;

  pack(fromIndex: number, toIndex: number, body: unknown, sentAt: number): Buffer {
    if (body === this.lastBody && this.lastBodyBytes !== undefined) {
      const composed = compose(fromIndex, toIndex, this.lastBodyBytes, sentAt);
      if (composed !== undefined) return composed;
    }
    const packed = this.packr.pack([fromIndex, toIndex, body, sentAt]);
    const head = 1 + uintBytes(fromIndex) + uintBytes(toIndex);
    const tail = uintBytes(sentAt);
    if (typeof body === "object" && body !== null && head > 0 && tail > 0) {
      this.lastBody = body;
      // No copy needed: msgpackr never writes over bytes it returned (the transport keeps whole
      // messages from it in its batches on the same ground).
      this.lastBodyBytes = packed.subarray(head, packed.length - tail);
    } else this.forget();
    return packed;
  }

  forget(): void {
    this.lastBody = undefined;
    this.lastBodyBytes = undefined;
  }
}

/** Bytes of msgpack's shortest encoding of a whole number in [0, 2^32); NaN outside it (not composed). */
function uintBytes(value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) return Number.NaN;
  return value < 0x80 ? 1 : value < 0x100 ? 2 : value < 0x1_0000 ? 3 : 5;
}

function writeUint(target: Buffer, offset: number, value: number): number {
  if (value < 0x80) {
    target[offset] = value;
    return offset + 1;
  }
  if (value < 0x100) {
    target[offset] = 0xcc;
    target[offset + 1] = value;
    return offset + 2;
  }
  if (value < 0x1_0000) {
    target[offset] = 0xcd;
    target.writeUInt16BE(value, offset + 1);
    return offset + 3;
  }
  target[offset] = 0xce;
  target.writeUInt32BE(value, offset + 1);
  return offset + 5;
}

function compose(fromIndex: number, toIndex: number, body: Buffer, sentAt: number): Buffer | undefined {
  const length = 1 + uintBytes(fromIndex) + uintBytes(toIndex) + body.length + uintBytes(sentAt);
  if (Number.isNaN(length)) return undefined;
  const message = Buffer.allocUnsafe(length);
  message[0] = 0x94; // a fixarray of 4
  let offset = writeUint(message, 1, fromIndex);
  offset = writeUint(message, offset, toIndex);
  offset += body.copy(message, offset);
  writeUint(message, offset, sentAt);
  return message;
}
