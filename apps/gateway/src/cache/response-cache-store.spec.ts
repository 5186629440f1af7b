import { CachedResponse, MemoryResponseCacheStore } from './response-cache-store';

const entry = (body: string): CachedResponse => ({
  status: 200,
  headers: { 'content-type': 'text/plain' },
  body: Buffer.from(body),
  storedAt: 0,
});

describe('MemoryResponseCacheStore', () => {
  let now: number;
  const clock = () => now;
  beforeEach(() => (now = 1_000));

  it('should serve an entry until its TTL, under the generation it was stored in', async () => {
    const store = new MemoryResponseCacheStore(1_048_576, clock);
    const { generation } = await store.lookup('svc', 'k');
    await store.store('svc', generation, 'k', entry('a'), 500);
    await expect(store.lookup('svc', 'k')).resolves.toMatchObject({ entry: { status: 200 } });
    now = 1_500;
    await expect(store.lookup('svc', 'k')).resolves.toMatchObject({ entry: null });
  });

  it('should end every entry of a service, and only of that service, on invalidation', async () => {
    const store = new MemoryResponseCacheStore(1_048_576, clock);
    const a = await store.lookup('a', 'k');
    const b = await store.lookup('b', 'k');
    await store.store('a', a.generation, 'k', entry('a'), 60_000);
    await store.store('b', b.generation, 'k', entry('b'), 60_000);
    await store.invalidate('a');
    const after = await store.lookup('a', 'k');
    expect(after.entry).toBeNull();
    expect(after.generation).not.toBe(a.generation);
    await expect(store.lookup('b', 'k')).resolves.toMatchObject({ entry: { status: 200 } });
    // An answer fetched before the write lands in the old generation, where no one looks.
    await store.store('a', a.generation, 'k', entry('stale'), 60_000);
    await expect(store.lookup('a', 'k')).resolves.toMatchObject({ entry: null });
  });

  it('should stay within its byte bound, dropping the least recently used entry', async () => {
    const store = new MemoryResponseCacheStore(350, clock);
    const body = 'x'.repeat(80);
    for (const key of ['k1', 'k2', 'k3']) await store.store('s', '0', key, entry(body), 60_000);
    await store.lookup('s', 'k1');
    await store.store('s', '0', 'k4', entry(body), 60_000);
    expect(store.usage.bytes).toBeLessThanOrEqual(350);
    await expect(store.lookup('s', 'k1')).resolves.toMatchObject({ entry: { status: 200 } });
    await expect(store.lookup('s', 'k2')).resolves.toMatchObject({ entry: null });
    await store.store('s', '0', 'huge', entry('y'.repeat(400)), 60_000);
    await expect(store.lookup('s', 'huge')).resolves.toMatchObject({ entry: null });
  });
});
