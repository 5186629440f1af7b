import 'reflect-metadata';
import {
  ConflictException,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CreateOrders1764160000000 } from '../migrations/1764160000000-create-orders';
import { CreateIdempotencyKeys1764160000001 } from '../migrations/1764160000001-create-idempotency-keys';
import { IdempotencyKey, IdempotencyKeyStatus } from './idempotency-key.entity';
import {
  decide,
  IdempotencyScope,
  IdempotencyService,
  requestHash,
  StoredResponse,
} from './idempotency.service';
import { Order } from './order.entity';
import { WriteLock } from './write-lock';

const HOUR = 60 * 60 * 1000;
const options = { ttlMs: 24 * HOUR, lockTimeoutMs: 30_000 };

describe('decide', () => {
  const row = {
    createdAt: 1_000,
    lockedAt: 1_000,
    requestHash: 'h1',
    status: IdempotencyKeyStatus.InProgress,
    responseStatus: null,
    responseBody: null,
  };
  const completed = {
    ...row,
    status: IdempotencyKeyStatus.Completed,
    responseStatus: 201,
    responseBody: '{"id":5}',
  };

  it('should replay a completed key with the same request', () => {
    expect(decide(completed, 'h1', 2_000, options)).toEqual({
      kind: 'replay',
      response: { status: 201, body: { id: 5 } },
    });
  });

  it('should refuse the same key with another request, completed or not', () => {
    expect(decide(completed, 'h2', 2_000, options)).toEqual({ kind: 'mismatch' });
    expect(decide(row, 'h2', 2_000, options)).toEqual({ kind: 'mismatch' });
  });

  it('should call a fresh claim in progress and a stale one up for takeover', () => {
    expect(decide(row, 'h1', 1_000 + 29_999, options)).toEqual({ kind: 'in-progress' });
    expect(decide(row, 'h1', 1_000 + 30_000, options)).toEqual({ kind: 'take-over' });
  });

  it('should forget any key after 24 h, even a mismatching one', () => {
    expect(decide(completed, 'h1', 1_000 + 24 * HOUR, options)).toEqual({ kind: 'expired' });
    expect(decide(completed, 'h2', 1_000 + 24 * HOUR, options)).toEqual({ kind: 'expired' });
    expect(decide(completed, 'h1', 1_000 + 24 * HOUR - 1, options).kind).toBe('replay');
  });
});

describe('requestHash', () => {
  it('should not depend on field order and should tell different values apart', () => {
    const a = requestHash({ productId: 1, quantity: 2 });
    expect(requestHash({ quantity: 2, productId: 1 })).toBe(a);
    expect(requestHash({ productId: 1, quantity: 3 })).not.toBe(a);
    expect(requestHash({ productId: 12, quantity: 3 })).not.toBe(
      requestHash({ productId: 1, quantity: 23 }),
    );
    expect(a).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('IdempotencyService (SQLite)', () => {
  let dataSource: DataSource;
  let service: IdempotencyService;
  let now: number;
  const created: StoredResponse = { status: 201, body: { id: 1, totalPrice: '0.30' } };

  function scope(overrides: Partial<IdempotencyScope> = {}): IdempotencyScope {
    return {
      userId: 2,
      key: 'key-1',
      requestHash: requestHash({ productId: 1, quantity: 3 }),
      requestId: 'req-1',
      ...overrides,
    };
  }

  /** Work that writes one order and seals the answer in the same transaction, as checkout does. */
  function placeOrder(lock: WriteLock) {
    return jest.fn(async (seal: Parameters<Parameters<IdempotencyService['execute']>[1]>[0]) => {
      await lock.transaction(async (manager) => {
        await manager.insert(Order, {
          userId: 2,
          productId: 1,
          quantity: 3,
          unitPriceMinor: 10,
          totalPriceMinor: 30,
          status: 'CONFIRMED' as Order['status'],
          createdAt: 'now',
          updatedAt: 'now',
        });
        await seal(manager, created);
      });
      return created;
    });
  }

  function deferred<T = void>() {
    let resolve!: (v: T) => void;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
  }

  let lock: WriteLock;

  beforeEach(async () => {
    dataSource = new DataSource({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [IdempotencyKey, Order],
      migrations: [CreateOrders1764160000000, CreateIdempotencyKeys1764160000001],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    now = 1_700_000_000_000;
    lock = new WriteLock(dataSource);
    service = new IdempotencyService(dataSource.getRepository(IdempotencyKey), lock, {
      ...options,
      now: () => now,
    });
  });

  afterEach(() => dataSource.destroy());

  const orderCount = () => dataSource.getRepository(Order).count();
  const keyRows = () => dataSource.getRepository(IdempotencyKey).find();

  it('should run the work once and replay its answer to a retry', async () => {
    const work = placeOrder(lock);
    const first = await service.execute(scope(), work);
    const second = await service.execute(scope({ requestId: 'req-2' }), work);
    expect(first).toEqual({ response: created, replayed: false });
    expect(second).toEqual({ response: created, replayed: true });
    expect(work).toHaveBeenCalledTimes(1);
    expect(await orderCount()).toBe(1);
    const [row] = await keyRows();
    expect(row).toMatchObject({ status: 'COMPLETED', responseStatus: 201, lockToken: null });
  });

  it('should refuse the key with another request body with 422 and run nothing', async () => {
    await service.execute(scope(), placeOrder(lock));
    const other = placeOrder(lock);
    const call = service.execute(
      scope({ requestHash: requestHash({ productId: 1, quantity: 4 }) }),
      other,
    );
    await expect(call).rejects.toThrow(UnprocessableEntityException);
    expect(other).not.toHaveBeenCalled();
    expect(await orderCount()).toBe(1);
  });

  it('should answer 409 to a second request while the first still runs', async () => {
    const gate = deferred();
    const slow = jest.fn(async () => {
      await gate.promise;
      return created;
    });
    const first = service.execute(scope(), slow);
    await new Promise((r) => setImmediate(r));
    const second = placeOrder(lock);
    await expect(service.execute(scope(), second)).rejects.toThrow(
      new ConflictException('a request with this Idempotency-Key is still in progress'),
    );
    expect(second).not.toHaveBeenCalled();
    gate.resolve();
    await expect(first).resolves.toEqual({ response: created, replayed: false });
  });

  it('should let exactly one of many simultaneous requests with one key run', async () => {
    const work = placeOrder(lock);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => service.execute(scope(), work)),
    );
    const ran = results.filter((r) => r.status === 'fulfilled' && !r.value.replayed);
    expect(ran).toHaveLength(1);
    expect(work).toHaveBeenCalledTimes(1);
    expect(await orderCount()).toBe(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictException);
    }
  });

  it('should let a request take over a claim older than the lock timeout, and fail the old holder without its order', async () => {
    const gate = deferred();
    let oldSeal: Parameters<Parameters<IdempotencyService['execute']>[1]>[0] | undefined;
    const stuck = service.execute(scope(), async (seal) => {
      oldSeal = seal;
      await gate.promise;
      await lock.transaction(async (manager) => {
        await manager.insert(Order, {
          userId: 2,
          productId: 1,
          quantity: 3,
          unitPriceMinor: 10,
          totalPriceMinor: 30,
          status: 'CONFIRMED' as Order['status'],
          createdAt: 'stale',
          updatedAt: 'stale',
        });
        await seal(manager, { status: 201, body: { stale: true } });
      });
      return { status: 201, body: { stale: true } };
    });
    await new Promise((r) => setImmediate(r));
    expect(oldSeal).toBeDefined();
    now += 30_000;
    const retry = await service.execute(scope(), placeOrder(lock));
    expect(retry).toEqual({ response: created, replayed: false });
    gate.resolve();
    await expect(stuck).rejects.toThrow(ConflictException);
    const orders = await dataSource.getRepository(Order).find();
    expect(orders.map((o) => o.createdAt)).toEqual(['now']);
  });

  it('should release the key after a 503 so the retry runs', async () => {
    const failing = jest.fn(() => Promise.reject(new ServiceUnavailableException('down')));
    await expect(service.execute(scope(), failing)).rejects.toThrow(ServiceUnavailableException);
    expect(await keyRows()).toHaveLength(0);
    const retry = await service.execute(scope(), placeOrder(lock));
    expect(retry.replayed).toBe(false);
    expect(await orderCount()).toBe(1);
  });

  it('should release the key after an unexpected error', async () => {
    await expect(service.execute(scope(), () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(await keyRows()).toHaveLength(0);
  });

  it('should store a 422 as the final answer and replay it with the first request id', async () => {
    const refuse = jest.fn(() =>
      Promise.reject(new UnprocessableEntityException('product 42 does not exist')),
    );
    const body = {
      statusCode: 422,
      error: 'Unprocessable Entity',
      message: 'product 42 does not exist',
      requestId: 'req-1',
    };
    await expect(service.execute(scope(), refuse)).resolves.toEqual({
      response: { status: 422, body },
      replayed: false,
    });
    await expect(service.execute(scope({ requestId: 'req-2' }), refuse)).resolves.toEqual({
      response: { status: 422, body },
      replayed: true,
    });
    expect(refuse).toHaveBeenCalledTimes(1);
  });

  it('should treat a key older than 24 h as never seen', async () => {
    const work = placeOrder(lock);
    await service.execute(scope(), work);
    now += 24 * HOUR;
    const again = await service.execute(scope(), work);
    expect(again.replayed).toBe(false);
    expect(work).toHaveBeenCalledTimes(2);
    expect(await keyRows()).toHaveLength(1);
  });

  it('should purge only keys past the TTL', async () => {
    await service.execute(scope({ key: 'old' }), placeOrder(lock));
    now += 23 * HOUR;
    await service.execute(scope({ key: 'young' }), placeOrder(lock));
    now += HOUR;
    expect(await service.purgeExpired()).toBe(1);
    expect((await keyRows()).map((r) => r.key)).toEqual(['young']);
  });

  it('should keep the same key of another user independent', async () => {
    const work = placeOrder(lock);
    await service.execute(scope({ userId: 2 }), work);
    const other = await service.execute(scope({ userId: 3 }), work);
    expect(other.replayed).toBe(false);
    expect(work).toHaveBeenCalledTimes(2);
    expect(await keyRows()).toHaveLength(2);
  });

  it('should roll the order back when sealing fails (the order and the answer commit together)', async () => {
    await expect(
      service.execute(scope(), async (seal) => {
        await lock.transaction(async (manager) => {
          await manager.insert(Order, {
            userId: 2,
            productId: 1,
            quantity: 3,
            unitPriceMinor: 10,
            totalPriceMinor: 30,
            status: 'CONFIRMED' as Order['status'],
            createdAt: 'x',
            updatedAt: 'x',
          });
          // Someone deleted the claim under us: the seal cannot find it.
          await manager.delete(IdempotencyKey, { key: 'key-1' });
          await seal(manager, created);
        });
        return created;
      }),
    ).rejects.toThrow(ConflictException);
    expect(await orderCount()).toBe(0);
  });
});
