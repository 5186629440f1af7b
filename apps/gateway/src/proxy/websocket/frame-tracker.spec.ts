import type { Writable } from 'node:stream';
import * as ws from 'ws';
import { closeFrame, FrameTracker } from './frame-tracker';

/** ws's own frame parser, which @types/ws does not describe. */
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean }) => Writable;
};

/** The examples of RFC 6455 5.7. */
const HELLO = Buffer.from([0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
const HELLO_MASKED = Buffer.from([
  0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
]);
const HEL_FRAGMENT = Buffer.from([0x01, 0x03, 0x48, 0x65, 0x6c]);
const LO_FRAGMENT = Buffer.from([0x80, 0x02, 0x6c, 0x6f]);
const PING = Buffer.from([0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);

function binary(length: number, masked = false): Buffer {
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + extended + (masked ? 4 : 0));
  header[0] = 0x82;
  header[1] = (masked ? 0x80 : 0) | (extended === 0 ? length : extended === 2 ? 126 : 127);
  if (extended === 2) header.writeUInt16BE(length, 2);
  if (extended === 8) header.writeBigUInt64BE(BigInt(length), 2);
  return Buffer.concat([header, Buffer.alloc(length, 0x61)]);
}

/** The boundaries the tracker reports when `stream` comes in `size`-byte chunks, as offsets in it. */
function boundaries(stream: Buffer, size: number): number[] {
  const tracker = new FrameTracker();
  const found: number[] = [];
  for (let start = 0; start < stream.length; start += size) {
    const chunk = stream.subarray(start, start + size);
    let at = 0;
    while (at < chunk.length) {
      const stop = tracker.feed(chunk.subarray(at), true);
      if (stop === 0 && tracker.atBoundary) {
        // At a boundary already: step over one byte to find the next.
        if (found.at(-1) !== start + at) found.push(start + at);
        at += tracker.feed(chunk.subarray(at, at + 1));
        continue;
      }
      at += stop;
      if (tracker.atBoundary) found.push(start + at);
    }
  }
  return [...new Set(found)];
}

describe('FrameTracker', () => {
  it('should follow the RFC 6455 examples, masked or not, to their ends', () => {
    for (const frame of [HELLO, HELLO_MASKED, PING, binary(256), binary(65_536)]) {
      const tracker = new FrameTracker();
      expect(tracker.atBoundary).toBe(true);
      expect(tracker.feed(frame.subarray(0, frame.length - 1))).toBe(frame.length - 1);
      expect(tracker.atBoundary).toBe(false);
      tracker.feed(frame.subarray(frame.length - 1));
      expect(tracker.atBoundary).toBe(true);
    }
  });

  it('should read the 16- and 64-bit lengths, also when a header is split over chunks', () => {
    const frames = [binary(256), binary(70_000, true), HELLO];
    const stream = Buffer.concat(frames);
    const ends = frames.map((_, i) =>
      frames.slice(0, i + 1).reduce<number>((sum, f) => sum + f.length, 0),
    );
    for (const size of [1, 2, 3, 7, 13, 1_000, stream.length]) {
      expect(boundaries(stream, size)).toEqual(expect.arrayContaining(ends));
      expect(boundaries(stream, size).filter((b) => b > 0 && !ends.includes(b))).toEqual([]);
    }
  });

  it('should stop at the first boundary inside a chunk, and at its start when already there', () => {
    const tracker = new FrameTracker();
    const stream = Buffer.concat([HEL_FRAGMENT, PING, LO_FRAGMENT]);
    expect(tracker.feed(stream, true)).toBe(0);
    tracker.feed(stream.subarray(0, 3));
    expect(tracker.feed(stream.subarray(3), true)).toBe(HEL_FRAGMENT.length - 3);
    expect(tracker.atBoundary).toBe(true);
    // A ping between two fragments of a message is a boundary too (RFC 6455 5.4).
    const ping = stream.subarray(HEL_FRAGMENT.length);
    expect(tracker.feed(ping.subarray(0, 1))).toBe(1);
    expect(tracker.feed(ping.subarray(1), true)).toBe(PING.length - 1);
    expect(tracker.atBoundary).toBe(true);
  });

  it('should count zero-length frames as ended at once', () => {
    const tracker = new FrameTracker();
    const empty = Buffer.from([0x8a, 0x00]);
    expect(tracker.feed(Buffer.concat([empty, HELLO]), true)).toBe(0);
    tracker.feed(empty.subarray(0, 1));
    expect(tracker.feed(Buffer.concat([empty.subarray(1), HELLO]), true)).toBe(1);
    expect(tracker.atBoundary).toBe(true);
  });

  it('should notice a close frame, and only a close frame', () => {
    const tracker = new FrameTracker();
    tracker.feed(Buffer.concat([HELLO, PING, binary(300)]));
    expect(tracker.closeSeen).toBe(false);
    tracker.feed(closeFrame(1000, 'bye', false));
    expect(tracker.closeSeen).toBe(true);
    expect(tracker.atBoundary).toBe(true);
  });
});

describe('closeFrame', () => {
  /** The code and reason a real WebSocket implementation reads from `frame`. */
  function decode(frame: Buffer, fromClient: boolean): Promise<[number, string]> {
    return new Promise((resolve, reject) => {
      const receiver = new Receiver({ isServer: fromClient });
      receiver.on('conclude', (code: number, reason: Buffer) => resolve([code, reason.toString()]));
      receiver.on('error', reject);
      receiver.write(frame);
    });
  }

  it('should be read by ws as the code and reason, masked for an upstream, unmasked for a client', async () => {
    await expect(decode(closeFrame(1001, 'going away', false), false)).resolves.toEqual([
      1001,
      'going away',
    ]);
    const masked = closeFrame(1008, 'token revoked', true);
    expect(masked[1] & 0x80).toBe(0x80);
    await expect(decode(masked, true)).resolves.toEqual([1008, 'token revoked']);
  });

  it('should cut a long reason to 123 bytes without splitting a character', async () => {
    const frame = closeFrame(1001, 'é'.repeat(100), false);
    expect(frame.length).toBeLessThanOrEqual(2 + 125);
    const [, reason] = await decode(frame, false);
    expect(reason).toBe('é'.repeat(61));
  });
});
