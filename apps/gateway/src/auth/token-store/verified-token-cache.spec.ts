import 'reflect-metadata';
import { principalOf } from '../principal';
import { MemoryTokenStore } from './memory-token-store';
import { VerifiedTokenCache } from './verified-token-cache';

const principal = (sub: string, jti: string) => ({
  ok: true as const,
  principal: principalOf({
    sub,
    jti,
    email: `${sub}@example.com`,
    roles: ['user'],
    iat: 0,
    exp: 0,
    iss: 'api-gateway',
    aud: 'api',
  }),
});

/** A memory store whose coherence the test switches. */
class SwitchableStore extends MemoryTokenStore {
  coherent = true;
  override cacheCoherent(): boolean {
    return this.coherent;
  }
}

describe('VerifiedTokenCache', () => {
  let store: SwitchableStore;
  let cache: VerifiedTokenCache;

  beforeEach(() => {
    store = new SwitchableStore();
    cache = new VerifiedTokenCache(store, 3);
  });

  afterEach(() => store.onModuleDestroy());

  it('should answer a cached token until it expires', () => {
    const p = principal('1', 'a');
    cache.put('tok-a', p, 1_000, cache.epoch);
    expect(cache.get('tok-a', 999)).toBe(p);
    expect(cache.get('tok-a', 1_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('should drop one token when it is revoked and keep the user’s others', async () => {
    cache.put('tok-a', principal('1', 'a'), 10_000, cache.epoch);
    cache.put('tok-b', principal('1', 'b'), 10_000, cache.epoch);
    await store.revoke('a', '1');
    expect(cache.get('tok-a', 0)).toBeUndefined();
    expect(cache.get('tok-b', 0)).toBeDefined();
  });

  it('should drop every token of a user on revoke-all, and only theirs', async () => {
    cache.put('tok-a', principal('1', 'a'), 10_000, cache.epoch);
    cache.put('tok-b', principal('1', 'b'), 10_000, cache.epoch);
    cache.put('tok-c', principal('2', 'c'), 10_000, cache.epoch);
    await store.revokeAll('1');
    expect(cache.get('tok-a', 0)).toBeUndefined();
    expect(cache.get('tok-b', 0)).toBeUndefined();
    expect(cache.get('tok-c', 0)).toBeDefined();
  });

  it('should not cache a verification that a revocation overtook', async () => {
    const epoch = cache.epoch;
    await store.revoke('a', '1');
    cache.put('tok-a', principal('1', 'a'), 10_000, epoch);
    expect(cache.size).toBe(0);
  });

  it('should neither answer nor fill while the store is not coherent', () => {
    cache.put('tok-a', principal('1', 'a'), 10_000, cache.epoch);
    store.coherent = false;
    expect(cache.get('tok-a', 0)).toBeUndefined();
    cache.put('tok-b', principal('1', 'b'), 10_000, cache.epoch);
    store.coherent = true;
    expect(cache.get('tok-b', 0)).toBeUndefined();
  });

  it('should drop everything on an "all" invalidation', () => {
    cache.put('tok-a', principal('1', 'a'), 10_000, cache.epoch);
    cache.invalidate('all');
    expect(cache.size).toBe(0);
  });

  it('should evict the oldest entry when full', () => {
    for (const t of ['a', 'b', 'c', 'd'])
      cache.put(`tok-${t}`, principal('1', t), 10_000, cache.epoch);
    expect(cache.size).toBe(3);
    expect(cache.get('tok-a', 0)).toBeUndefined();
    expect(cache.get('tok-d', 0)).toBeDefined();
  });
});
