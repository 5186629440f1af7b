import { APP_PINO, LogThrottle } from '@app/common';
import { IDENTITY_HEADERS } from '@app/contracts';
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { GatewayMetrics } from '../metrics/gateway-metrics';
import type { ResponseTap } from './response-tap';
import type { CacheConfig } from '../routing/gateway-config';
import type { RouteMatch } from '../routing/route-table';
import { cacheKey, requestCacheMode, storableTtlMs } from './cache-policy';
import { answerFromEntry, hasStatePrecondition } from './conditional-request';
import { CachedResponse, ResponseCacheStore } from './response-cache-store';

/** What a per-user entry is keyed by: the identity the upstream is told (the auth step's `Principal`). */
export interface CachedCaller {
  readonly identityHeaders: { readonly [header in IdentityHeader]: string };
}

type IdentityHeader = (typeof IDENTITY_HEADERS)[keyof typeof IDENTITY_HEADERS];
/** What to do with a cacheable GET: answer with `hit`, or forward it with `tap` on the response. */
export type CacheResult =
  | { readonly hit: CachedResponse; readonly tap: null }
  | { readonly hit: null; readonly tap: ResponseTap };

type LookupResult = 'hit' | 'miss' | 'bypass' | 'error';

/** How often invalidations that could not reach the store are tried again. */
const INVALIDATION_RETRY_MS = 1_000;

/**
 * The gateway's response cache for GETs of services with a `cache` block. Entries are keyed by
 * service, generation, stripped canonical path and query, `Accept`/`Accept-Encoding` and, on a
 * route that is not public, the caller, so one user's answer is never served to another. Answers
 * carry `X-Cache: HIT`, `MISS` or `BYPASS` (the client asked not to be answered from the cache).
 * A 2xx answer to any other method than GET/HEAD/OPTIONS invalidates the service's entries on
 * every instance before the client sees the end of that answer. When the store fails, requests
 * are forwarded uncached; a service whose invalidation failed is not served from the cache on
 * this instance until the invalidation has gone through.
 */
@Injectable()
export class ResponseCache implements OnModuleDestroy {
  private readonly lookups: Counter<'service' | 'result'>;
  private readonly invalidations: Counter<'service'>;
  /** Services whose last invalidation did not reach the store. */
  private readonly unsynced = new Set<string>();
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly storeDownLog = new LogThrottle();

  constructor(
    readonly store: ResponseCacheStore,
    metrics: GatewayMetrics,
    @Inject(APP_PINO) private readonly logger: Logger,
  ) {
    this.lookups = new Counter({
      name: 'gateway_cache_lookups_total',
      help: 'Cacheable GETs by service and result (hit, miss, bypass, error)',
      labelNames: ['service', 'result'] as const,
      registers: [metrics.registry],
    });
    this.invalidations = new Counter({
      name: 'gateway_cache_invalidations_total',
      help: 'Generations of cached responses ended by a successful write, by service',
      labelNames: ['service'] as const,
      registers: [metrics.registry],
    });
  }

  onModuleDestroy(): void {
    if (this.retryTimer) clearInterval(this.retryTimer);
  }

  /** Looks a GET of a cached route up; `pathAndQuery` is what goes upstream. */
  async lookup(
    route: RouteMatch,
    config: CacheConfig,
    pathAndQuery: string,
    req: IncomingMessage,
    principal: CachedCaller | undefined,
  ): Promise<CacheResult> {
    const service = route.service.name;
    const shared = route.policy.kind === 'public';
    const mode = requestCacheMode(req.headers);
    // A route that is not public always has a caller by now; without one, nothing is cached.
    if (mode === 'bypass' || (!shared && principal === undefined)) {
      this.count(service, 'bypass');
      return { hit: null, tap: new CaptureTap(this, 'BYPASS', null) };
    }
    if (this.unsynced.has(service) && !(await this.sync(service))) {
      this.count(service, 'error');
      return { hit: null, tap: new CaptureTap(this, 'MISS', null) };
    }
    const key = cacheKey(pathAndQuery, shared ? null : callerOf(principal!), req.headers);
    let found;
    try {
      found = await this.store.lookup(service, key);
    } catch (err) {
      this.storeFailed(err, service);
      this.count(service, 'error');
      return { hit: null, tap: new CaptureTap(this, 'MISS', null) };
    }
    const target = { service, generation: found.generation, key, shared, config };
    if (mode === 'refresh' || hasStatePrecondition(req.headers)) {
      this.count(service, 'bypass');
      return { hit: null, tap: new CaptureTap(this, 'BYPASS', target) };
    }
    if (found.entry !== null) {
      this.count(service, 'hit');
      return { hit: answerFromEntry(req.method ?? 'GET', req.headers, found.entry), tap: null };
    }
    this.count(service, 'miss');
    return { hit: null, tap: new CaptureTap(this, 'MISS', target) };
  }

  /** The client's headers for a hit: the stored ones with `Content-Length`, `Age` and `X-Cache`. */
  hitHeaders(entry: CachedResponse): OutgoingHttpHeaders {
    const headers: OutgoingHttpHeaders = { ...entry.headers };
    if (entry.status !== 304) headers['content-length'] = entry.body.length;
    headers.age = String(Math.max(0, Math.floor((Date.now() - entry.storedAt) / 1000)));
    headers['x-cache'] = 'HIT';
    return headers;
  }

  /** A tap for a write to a cached service: a 2xx answer ends the service's entries. */
  invalidation(service: string): ResponseTap {
    return new InvalidationTap(this, service);
  }

  /** Starts a new generation of the service's entries; resolves (never rejects) when done or failed. */
  invalidate(service: string): Promise<void> {
    return this.store.invalidate(service).then(
      () => {
        this.invalidations.labels(service).inc();
        this.unsynced.delete(service);
      },
      (err: unknown) => {
        this.storeFailed(err, service);
        this.unsynced.add(service);
        this.retryTimer ??= setInterval(() => this.retryInvalidations(), INVALIDATION_RETRY_MS);
        this.retryTimer.unref();
      },
    );
  }

  /** Keeps an answer; a failure only costs the entry. */
  save(target: CacheTarget, entry: CachedResponse, ttlMs: number): void {
    this.store
      .store(target.service, target.generation, target.key, entry, ttlMs)
      .catch((err: unknown) => this.storeFailed(err, target.service));
  }

  private async sync(service: string): Promise<boolean> {
    await this.invalidate(service);
    return !this.unsynced.has(service);
  }

  private retryInvalidations(): void {
    for (const service of this.unsynced) void this.invalidate(service);
    if (this.unsynced.size === 0 && this.retryTimer) {
      clearInterval(this.retryTimer);
      this.retryTimer = null;
    }
  }

  private storeFailed(err: unknown, service: string): void {
    if (!this.storeDownLog.allow()) return;
    this.logger.warn({ err, service }, 'response cache store unavailable; requests go uncached');
  }

  private count(service: string, result: LookupResult): void {
    this.lookups.labels(service, result).inc();
  }
}

/** Where a fetched answer goes: the service, generation and key of its lookup. */
export interface CacheTarget {
  readonly service: string;
  readonly generation: string;
  readonly key: string;
  readonly shared: boolean;
  readonly config: CacheConfig;
}

/** Per-user entries are keyed by everything the upstream learns of the caller. */
function callerOf(principal: CachedCaller): string {
  const identity = principal.identityHeaders;
  return `${identity[IDENTITY_HEADERS.userId]}\0${identity[IDENTITY_HEADERS.email]}\0${identity[IDENTITY_HEADERS.roles]}`;
}

/** Marks the answer and, for a `target`, keeps a copy of it when it is storable and small enough. */
class CaptureTap implements ResponseTap {
  private chunks: Buffer[] | null = null;
  private bytes = 0;
  private status = 0;
  private ttlMs = 0;
  private headers: Record<string, string | string[]> = {};

  constructor(
    private readonly cache: ResponseCache,
    private readonly label: 'MISS' | 'BYPASS',
    private readonly target: CacheTarget | null,
  ) {}

  responseStarted(status: number, headers: OutgoingHttpHeaders): void {
    const target = this.target;
    if (target !== null) {
      this.ttlMs = storableTtlMs(status, headers, target.shared, target.config.ttlSeconds);
      const declared = Number(headers['content-length'] ?? 0);
      if (this.ttlMs > 0 && !(declared > target.config.maxBodyBytes)) {
        this.status = status;
        for (const name of Object.keys(headers)) {
          const value = headers[name];
          if (value === undefined || name === 'x-request-id' || name === 'content-length') continue;
          this.headers[name] = typeof value === 'number' ? String(value) : value;
        }
        this.chunks = [];
      }
    }
    headers['x-cache'] = this.label;
  }

  responseData(chunk: Buffer): void {
    if (this.chunks === null) return;
    this.bytes += chunk.length;
    if (this.bytes > this.target!.config.maxBodyBytes) this.chunks = null;
    else this.chunks.push(chunk);
  }

  responseEnded(): null {
    if (this.chunks !== null) {
      const entry: CachedResponse = {
        status: this.status,
        headers: this.headers,
        body: Buffer.concat(this.chunks, this.bytes),
        storedAt: Date.now(),
      };
      this.chunks = null;
      this.cache.save(this.target!, entry, this.ttlMs);
    }
    return null;
  }

  responseAborted(): void {
    this.chunks = null;
  }
}

class InvalidationTap implements ResponseTap {
  private pending: Promise<void> | null = null;

  constructor(
    private readonly cache: ResponseCache,
    private readonly service: string,
  ) {}

  responseStarted(status: number): void {
    if (status >= 200 && status < 300) this.pending = this.cache.invalidate(this.service);
  }

  responseData(): void {}

  responseEnded(): Promise<void> | null {
    return this.pending;
  }

  responseAborted(): void {}
}
