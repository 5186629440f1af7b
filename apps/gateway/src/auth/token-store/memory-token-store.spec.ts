import { MemoryTokenStore } from './memory-token-store';
import { Revocation } from './token-store';

describe('MemoryTokenStore', () => {
  let now: number;
  let store: MemoryTokenStore;
  let revocations: Array<Revocation | 'all'>;

  beforeEach(() => {
    now = 1_000;
    store = new MemoryTokenStore(() => now);
    revocations = [];
    store.onRevocation((r) => revocations.push(r));
  });

  afterEach(() => store.onModuleDestroy());

  it('should keep a token live until its TTL and only for its user', async () => {
    await store.register('a', '1', 500);
    await expect(store.isLive('a', '1')).resolves.toBe(true);
    await expect(store.isLive('a', '2')).resolves.toBe(false);
    now = 1_499;
    await expect(store.isLive('a', '1')).resolves.toBe(true);
    now = 1_500;
    await expect(store.isLive('a', '1')).resolves.toBe(false);
  });

  it('should revoke one token and announce it', async () => {
    await store.register('a', '1', 500);
    await store.register('b', '1', 500);
    await store.revoke('a', '1');
    await expect(store.isLive('a', '1')).resolves.toBe(false);
    await expect(store.isLive('b', '1')).resolves.toBe(true);
    expect(revocations).toEqual([{ sub: '1', jti: 'a' }]);
  });

  it('should not let one user revoke another user’s token', async () => {
    await store.register('a', '1', 500);
    await store.revoke('a', '2');
    await expect(store.isLive('a', '1')).resolves.toBe(true);
  });

  it('should revoke all of a user’s tokens and count them', async () => {
    await store.register('a', '1', 500);
    await store.register('b', '1', 500);
    await store.register('c', '2', 500);
    await expect(store.revokeAll('1')).resolves.toBe(2);
    await expect(store.isLive('a', '1')).resolves.toBe(false);
    await expect(store.isLive('b', '1')).resolves.toBe(false);
    await expect(store.isLive('c', '2')).resolves.toBe(true);
    expect(revocations).toEqual([{ sub: '1' }]);
  });

  it('should sweep expired tokens', async () => {
    await store.register('a', '1', 500);
    store.sweep(2_000);
    await expect(store.revokeAll('1')).resolves.toBe(0);
  });
});
