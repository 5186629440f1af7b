import { randomBytes } from 'node:crypto';

/** Opcode of a close frame (RFC 6455 5.5.1). */
const CLOSE_OPCODE = 0x8;
/** The longest frame header: 2 bytes, a 64-bit length, a 4-byte masking key. */
const MAX_HEADER = 14;
/** A close frame's payload is at most 125 bytes: the 2-byte code and the reason. */
const MAX_REASON_BYTES = 123;

/**
 * Follows the frames of one direction of a WebSocket connection from their headers alone
 * (RFC 6455 5.2), so that the gateway knows where one frame ends and may put a close frame of its
 * own there. Payload bytes are skipped by count: never copied, unmasked or re-encoded. A control
 * frame may come between the fragments of a message (5.4), so a frame boundary is enough.
 */
export class FrameTracker {
  /** The header of the frame being read while it is incomplete; a header split over chunks is rare. */
  private readonly header = Buffer.alloc(MAX_HEADER);
  private headerBytes = 0;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;
  private closeFrameSeen = false;

  /** No frame is under way: a frame written now would not cut into another. */
  get atBoundary(): boolean {
    return this.headerBytes === 0 && this.remaining === 0;
  }

  /** A close frame has begun in this direction. */
  get closeSeen(): boolean {
    return this.closeFrameSeen;
  }

  /**
   * Follows `chunk` and returns how many of its bytes belong to frames. All of them, unless
   * `untilBoundary`: then it stops at the first frame boundary, which may be its start.
   */
  feed(chunk: Buffer, untilBoundary = false): number {
    const length = chunk.length;
    let i = 0;
    while (i < length) {
      if (this.remaining > 0) {
        const skipped = Math.min(this.remaining, length - i);
        this.remaining -= skipped;
        i += skipped;
        continue;
      }
      if (this.headerBytes === 0 && untilBoundary) return i;
      this.header[this.headerBytes++] = chunk[i++];
      if (this.headerBytes >= 2 && this.headerBytes === headerLength(this.header[1])) {
        this.beginPayload();
      }
    }
    return length;
  }

  private beginPayload(): void {
    const header = this.header;
    if ((header[0] & 0x0f) === CLOSE_OPCODE) this.closeFrameSeen = true;
    const code = header[1] & 0x7f;
    // A 64-bit length beyond 2^53 loses precision; such a frame cannot be sent anyway.
    this.remaining =
      code < 126 ? code : code === 126 ? header.readUInt16BE(2) : Number(header.readBigUInt64BE(2));
    this.headerBytes = 0;
  }
}

/** The header's length from its second byte: the length code and the mask bit. */
function headerLength(second: number): number {
  const code = second & 0x7f;
  const extended = code < 126 ? 0 : code === 126 ? 2 : 8;
  return 2 + extended + (second & 0x80 ? 4 : 0);
}

/**
 * A close frame with `code` and `reason` (cut to the 123 bytes a close frame holds, on a
 * character boundary). `masked` for the upstream: a frame from a client must be masked (5.3).
 */
export function closeFrame(code: number, reason: string, masked: boolean): Buffer {
  const text = utf8Prefix(reason, MAX_REASON_BYTES);
  const payloadLength = 2 + text.length;
  const headerSize = masked ? 6 : 2;
  const frame = Buffer.allocUnsafe(headerSize + payloadLength);
  frame[0] = 0x80 | CLOSE_OPCODE;
  frame[1] = (masked ? 0x80 : 0) | payloadLength;
  const payload = frame.subarray(headerSize);
  payload.writeUInt16BE(code, 0);
  text.copy(payload, 2);
  if (masked) {
    const key = randomBytes(4);
    key.copy(frame, 2);
    for (let i = 0; i < payload.length; i++) payload[i] ^= key[i & 3];
  }
  return frame;
}

function utf8Prefix(text: string, maxBytes: number): Buffer {
  const bytes = Buffer.from(text);
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) so that a character is never cut in two.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}
