import { createHash } from 'node:crypto';
import type { RedisClient, RedisConnection } from '../redis/redis-connection';

/** A response as the cache keeps it. */
export interface CachedResponse {
  readonly status: number;
  /** The upstream's headers as sent to clients, without the per-request ones. */
  readonly headers: Readonly<Record<string, string | string[]>>;
  readonly body: Buffer;
  /** `Date.now()` when it was stored, for the `Age` header. */
  readonly storedAt: number;
}

export interface CacheLookup {
  /**
   * The service's generation at lookup time. An answer fetched after the lookup is stored under
   * it, so an answer that raced a write lands in a generation no one reads any more.
   */
  readonly generation: string;
  readonly entry: CachedResponse | null;
}

/**
 * Cached responses by service, generation and key. Every successful write to a service starts a
 * new generation of its entries (one counter increment); the old ones are never read again and
 * expire by their TTL.
 */
export abstract class ResponseCacheStore {
  abstract readonly kind: 'redis' | 'memory';
  abstract lookup(service: string, key: string): Promise<CacheLookup>;
  abstract store(
    service: string,
    generation: string,
    key: string,
    entry: CachedResponse,
    ttlMs: number,
  ): Promise<void>;
  abstract invalidate(service: string): Promise<void>;
}

/** Bytes of cached bodies and headers one process keeps without `REDIS_URL`. */
const MEMORY_MAX_BYTES = 32 * 1_048_576;

interface MemoryEntry {
  readonly entry: CachedResponse;
  readonly expiresAt: number;
  readonly bytes: number;
}

/** The cache of one gateway instance: least recently used entries go first past `maxBytes`. */
export class MemoryResponseCacheStore extends ResponseCacheStore {
  readonly kind = 'memory';
  private readonly entries = new Map<string, MemoryEntry>();
  private readonly generations = new Map<string, number>();
  private bytes = 0;

  constructor(
    private readonly maxBytes = MEMORY_MAX_BYTES,
    private readonly clock: () => number = Date.now,
  ) {
    super();
  }

  lookup(service: string, key: string): Promise<CacheLookup> {
    const generation = String(this.generations.get(service) ?? 0);
    const id = `${service}:${generation}:${key}`;
    const found = this.entries.get(id);
    if (found === undefined) return Promise.resolve({ generation, entry: null });
    this.entries.delete(id);
    if (found.expiresAt <= this.clock()) {
      this.bytes -= found.bytes;
      return Promise.resolve({ generation, entry: null });
    }
    // Re-inserted: Map order is the recency order.
    this.entries.set(id, found);
    return Promise.resolve({ generation, entry: found.entry });
  }

  store(
    service: string,
    generation: string,
    key: string,
    entry: CachedResponse,
    ttlMs: number,
  ): Promise<void> {
    const bytes = entry.body.length + JSON.stringify(entry.headers).length + key.length;
    if (bytes > this.maxBytes) return Promise.resolve();
    const id = `${service}:${generation}:${key}`;
    const previous = this.entries.get(id);
    if (previous !== undefined) {
      this.entries.delete(id);
      this.bytes -= previous.bytes;
    }
    this.entries.set(id, { entry, expiresAt: this.clock() + ttlMs, bytes });
    this.bytes += bytes;
    for (const [oldest, old] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= old.bytes;
    }
    return Promise.resolve();
  }

  invalidate(service: string): Promise<void> {
    this.generations.set(service, (this.generations.get(service) ?? 0) + 1);
    return Promise.resolve();
  }

  /** Entries held and their bytes; for tests. */
  get usage(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }
}

/** The generation and, in the same step, the entry of that generation; read-only (Redis 7). */
const LOOKUP = `#!lua flags=no-writes
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. generation .. ':' .. ARGV[2])}`;
const LOOKUP_SHA = createHash('sha1').update(LOOKUP).digest('hex');

interface StoredForm {
  s: number;
  h: Record<string, string | string[]>;
  t: number;
  /** The body, base64. */
  b: string;
}

/**
 * The cache shared by every gateway instance:
 * - `<prefix>cache:<service>:gen`: the service's generation, incremented by each successful write;
 * - `<prefix>cache:<service>:<generation>:<key>`: one response as JSON, with its TTL.
 * A lookup is one round trip (a script reads the generation and the entry together).
 */
export class RedisResponseCacheStore extends ResponseCacheStore {
  readonly kind = 'redis';
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisConnection,
    keyPrefix: string,
  ) {
    super();
    this.prefix = `${keyPrefix}cache:`;
  }

  lookup(service: string, key: string): Promise<CacheLookup> {
    return this.redis.run('cache-lookup', async (c) => {
      const reply = (await evalLookup(c, {
        keys: [`${this.prefix}${service}:gen`],
        arguments: [`${this.prefix}${service}:`, key],
      })) as [string, string | null];
      const [generation, stored] = reply;
      return { generation: String(generation), entry: stored ? decode(stored) : null };
    });
  }

  store(
    service: string,
    generation: string,
    key: string,
    entry: CachedResponse,
    ttlMs: number,
  ): Promise<void> {
    const form: StoredForm = {
      s: entry.status,
      h: { ...entry.headers },
      t: entry.storedAt,
      b: entry.body.toString('base64'),
    };
    return this.redis.run('cache-store', async (c) => {
      await c.set(`${this.prefix}${service}:${generation}:${key}`, JSON.stringify(form), {
        expiration: { type: 'PX', value: ttlMs },
      });
    });
  }

  invalidate(service: string): Promise<void> {
    return this.redis.run('cache-invalidate', async (c) => {
      await c.incr(`${this.prefix}${service}:gen`);
    });
  }
}

/** EVALSHA, loading the script with EVAL when this Redis has not seen it yet. */
async function evalLookup(
  client: RedisClient,
  options: { keys: string[]; arguments: string[] },
): Promise<unknown> {
  try {
    return await client.evalSha(LOOKUP_SHA, options);
  } catch (err) {
    if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
    return client.eval(LOOKUP, options);
  }
}

function decode(text: string): CachedResponse | null {
  try {
    const form = JSON.parse(text) as StoredForm;
    return {
      status: form.s,
      headers: form.h,
      body: Buffer.from(form.b, 'base64'),
      storedAt: form.t,
    };
  } catch {
    return null;
  }
}
