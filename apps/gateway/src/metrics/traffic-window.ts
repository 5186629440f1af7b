/** Traffic of one service over the recent past, as the status report shows it. */
export interface TrafficSnapshot {
  /** Seconds the figures cover: the window, or less while the gateway is younger than it. */
  readonly windowSeconds: number;
  readonly requests: number;
  readonly requestsPerSecond: number;
  /** Requests answered with a 5xx status. */
  readonly errors: number;
  /** `errors / requests`, 0 without requests. */
  readonly errorRate: number;
  readonly retries: number;
  /** 99th percentile of request latency (upper edge of its bucket, within 10 %), `null` without requests. */
  readonly p99Ms: number | null;
  /** Since start, not only in the window. */
  readonly totals: { readonly requests: number; readonly errors: number; readonly retries: number };
}

const SLOTS = 60;
/** Latency buckets grow by 10 % from 0.1 ms; the last one holds everything beyond ~80 s. */
const MIN_MS = 0.1;
const GROWTH = 1.1;
const BUCKETS = 144;
const LOG_GROWTH = Math.log(GROWTH);

function bucketOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  const bucket = Math.ceil(Math.log(ms / MIN_MS) / LOG_GROWTH);
  return bucket < BUCKETS ? bucket : BUCKETS - 1;
}

function upperEdgeMs(bucket: number): number {
  return MIN_MS * GROWTH ** bucket;
}

/**
 * Requests, 5xx answers, retries and a latency histogram per second for the last 60 seconds, in a
 * ring of preallocated typed arrays: recording a request is a few array increments and allocates
 * nothing, so it can sit on the proxy path; a snapshot adds the live seconds up.
 */
export class TrafficWindow {
  private readonly second = new Float64Array(SLOTS).fill(-1);
  private readonly requests = new Uint32Array(SLOTS);
  private readonly errors = new Uint32Array(SLOTS);
  private readonly retries = new Uint32Array(SLOTS);
  private readonly latency = new Uint32Array(SLOTS * BUCKETS);
  private readonly startedAt: number;
  private totalRequests = 0;
  private totalErrors = 0;
  private totalRetries = 0;

  constructor(private readonly now: () => number = () => performance.now()) {
    this.startedAt = now();
  }

  /** One finished request: the status sent to the client and its latency in seconds. */
  record(status: number, seconds: number): void {
    const slot = this.slotNow();
    this.requests[slot] += 1;
    this.totalRequests += 1;
    if (status >= 500) {
      this.errors[slot] += 1;
      this.totalErrors += 1;
    }
    this.latency[slot * BUCKETS + bucketOf(seconds * 1000)] += 1;
  }

  /** One attempt sent again after a retryable failure. */
  retried(): void {
    this.retries[this.slotNow()] += 1;
    this.totalRetries += 1;
  }

  snapshot(): TrafficSnapshot {
    const now = this.now();
    const current = Math.floor(now / 1000);
    let requests = 0;
    let errors = 0;
    let retries = 0;
    const histogram = new Uint32Array(BUCKETS);
    for (let slot = 0; slot < SLOTS; slot++) {
      const second = this.second[slot];
      if (second < 0 || second <= current - SLOTS) continue;
      requests += this.requests[slot];
      errors += this.errors[slot];
      retries += this.retries[slot];
      const base = slot * BUCKETS;
      for (let b = 0; b < BUCKETS; b++) histogram[b] += this.latency[base + b];
    }
    const windowSeconds = Math.min(SLOTS, Math.max(1, (now - this.startedAt) / 1000));
    return {
      windowSeconds: Math.round(windowSeconds * 10) / 10,
      requests,
      requestsPerSecond: Math.round((requests / windowSeconds) * 100) / 100,
      errors,
      errorRate: requests === 0 ? 0 : errors / requests,
      retries,
      p99Ms: requests === 0 ? null : percentileMs(histogram, requests, 0.99),
      totals: {
        requests: this.totalRequests,
        errors: this.totalErrors,
        retries: this.totalRetries,
      },
    };
  }

  /** The ring slot of the current second, cleared first when it last held an older second. */
  private slotNow(): number {
    const second = Math.floor(this.now() / 1000);
    const slot = second % SLOTS;
    if (this.second[slot] !== second) {
      this.second[slot] = second;
      this.requests[slot] = 0;
      this.errors[slot] = 0;
      this.retries[slot] = 0;
      this.latency.fill(0, slot * BUCKETS, (slot + 1) * BUCKETS);
    }
    return slot;
  }
}

function percentileMs(histogram: Uint32Array, total: number, quantile: number): number {
  const rank = Math.ceil(total * quantile);
  let seen = 0;
  for (let b = 0; b < BUCKETS; b++) {
    seen += histogram[b];
    if (seen >= rank) return Math.round(upperEdgeMs(b) * 1000) / 1000;
  }
  return Math.round(upperEdgeMs(BUCKETS - 1) * 1000) / 1000;
}
