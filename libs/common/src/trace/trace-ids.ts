import { randomFillSync } from 'node:crypto';

/** Random bytes drawn per refill: 256 span ids, or 128 trace ids, per call into the OS. */
const POOL_BYTES = 4096;

const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Trace and span ids as W3C Trace Context wants them: lower-case hex, random, never all zeros.
 * They are cut from one hex string of pooled random bytes (refilled by `randomFillSync`), which
 * measured at a fraction of a `randomUUID()` per id and of `randomBytes(8).toString('hex')`. The
 * method names are OpenTelemetry's `IdGenerator`, so that the SDK draws its ids here too.
 */
export class TraceIds {
  private readonly bytes = Buffer.allocUnsafe(POOL_BYTES);
  private hex = '';
  private at = 0;

  generateTraceId(): string {
    const id = this.take(32);
    return id === ZERO_TRACE_ID ? this.generateTraceId() : id;
  }

  generateSpanId(): string {
    const id = this.take(16);
    return id === ZERO_SPAN_ID ? this.generateSpanId() : id;
  }

  private take(chars: number): string {
    if (this.at + chars > this.hex.length) {
      randomFillSync(this.bytes);
      this.hex = this.bytes.toString('hex');
      this.at = 0;
    }
    const id = this.hex.slice(this.at, this.at + chars);
    this.at += chars;
    return id;
  }
}

/** The one generator of a process. */
export const traceIds = new TraceIds();
