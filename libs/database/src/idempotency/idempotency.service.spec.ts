import 'reflect-metadata';
import {
  ConflictException,
  ServiceUnavailableException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { Column, DataSource, Entity, EntityManager, PrimaryGeneratedColumn } from 'typeorm';
import { ServiceMetrics } from '@app/common';
import { DatabaseMetrics } from '../database-metrics';
import { WriteLock } from '../write-lock';
import { CreateIdempotencyRecords1765000000000 } from './create-idempotency-records.migration';
import { IdempotencyRecord, IdempotencyStatus } from './idempotency-record.entity';
import {
  decide,
  IdempotencyScope,
  IdempotencyService,
  requestHash,
  Seal,
  StoredResponse,
} from './idempotency.service';
import { ProcessIdentity } from './process-identity';

const HOUR = 60 * 60 * 1000;
const SELF: ProcessIdentity = { host: 'host-a', pid: 100, boot: 'boot-1' };
const alive = new Set([100, 200]);
const options = { ttlMs: 24 * HOUR, self: SELF, pidAlive: (pid: number) => alive.has(pid) };

/** The work's effect, written in the same transaction as the sealed answer. */
@Entity('effects')
class Effect {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 20 })
  label!: string;
}

describe('decide', () => {
  const row = {
    createdAt: 1_000,
    leaseUntil: 6_000,
    lockOwner: 'host-b/7/boot-x',
    requestHash: 'h1',
    status: IdempotencyStatus.InProgress,
    responseStatus: null,
    responseBody: null,
  };
  const completed = {
    ...row,
    status: IdempotencyStatus.Completed,
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

  it('should call a claim in progress until its lease runs out, then up for takeover', () => {
    expect(decide(row, 'h1', 5_999, options)).toEqual({ kind: 'in-progress' });
    expect(decide(row, 'h1', 6_000, options)).toEqual({ kind: 'take-over' });
  });

  it('should free at once a claim whose holder on this host is gone, before its lease ends', () => {
    const onHost = (owner: string) => decide({ ...row, lockOwner: owner }, 'h1', 2_000, options);
    expect(onHost('host-a/300/boot-9')).toEqual({ kind: 'take-over' }); // pid 300 no longer runs
    expect(onHost('host-a/100/boot-0')).toEqual({ kind: 'take-over' }); // our pid, an earlier boot
    expect(onHost('host-a/200/boot-9')).toEqual({ kind: 'in-progress' }); // alive
    expect(onHost('host-a/100/boot-1')).toEqual({ kind: 'in-progress' }); // this very process
    expect(onHost('host-b/300/boot-9')).toEqual({ kind: 'in-progress' }); // another host: lease only
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
      scope: 'user:2',
      key: 'key-1',
      requestHash: requestHash({ productId: 1, quantity: 3 }),
      requestId: 'req-1',
      ...overrides,
    };
  }

  const insertEffect = (manager: EntityManager, label: string) => manager.insert(Effect, { label });

  /** Work that writes one effect and seals the answer in the same transaction, as checkout does. */
  function placeOrder(lock: WriteLock) {
    return jest.fn(async (seal: Seal) => {
      await lock.transaction(async (manager) => {
        await insertEffect(manager, 'now');
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
      entities: [IdempotencyRecord, Effect],
      migrations: [CreateIdempotencyRecords1765000000000],
    });
    await dataSource.initialize();
    await dataSource.runMigrations();
    await dataSource.query(
      'CREATE TABLE effects (id INTEGER PRIMARY KEY AUTOINCREMENT, label VARCHAR(20))',
    );
    now = 1_700_000_000_000;
    lock = new WriteLock(dataSource, new DatabaseMetrics(new ServiceMetrics(), dataSource));
    service = new IdempotencyService(dataSource.getRepository(IdempotencyRecord), lock, {
      ...options,
      heartbeatMs: 0,
      purgeIntervalMs: 0,
      now: () => now,
    });
  });

  afterEach(() => dataSource.destroy());

  const orderCount = () => dataSource.getRepository(Effect).count();
  const keyRows = () => dataSource.getRepository(IdempotencyRecord).find();

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

  it('should let a request take over a claim whose lease ran out, and fail the old holder without its order', async () => {
    const gate = deferred();
    let oldSeal: Seal | undefined;
    const stuck = service.execute(scope(), async (seal) => {
      oldSeal = seal;
      await gate.promise;
      await lock.transaction(async (manager) => {
        await insertEffect(manager, 'stale');
        await seal(manager, { status: 201, body: { stale: true } });
      });
      return { status: 201, body: { stale: true } };
    });
    await new Promise((r) => setImmediate(r));
    expect(oldSeal).toBeDefined();
    now += 5_000;
    const retry = await service.execute(scope(), placeOrder(lock));
    expect(retry).toEqual({ response: created, replayed: false });
    gate.resolve();
    await expect(stuck).rejects.toThrow(ConflictException);
    const effects = await dataSource.getRepository(Effect).find();
    expect(effects.map((e) => e.label)).toEqual(['now']);
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

  it('should keep the same key of another scope independent', async () => {
    const work = placeOrder(lock);
    await service.execute(scope({ scope: 'user:2' }), work);
    const other = await service.execute(scope({ scope: 'user:3' }), work);
    expect(other.replayed).toBe(false);
    expect(work).toHaveBeenCalledTimes(2);
    expect(await keyRows()).toHaveLength(2);
  });

  it('should roll the order back when sealing fails (the order and the answer commit together)', async () => {
    await expect(
      service.execute(scope(), async (seal) => {
        await lock.transaction(async (manager) => {
          await insertEffect(manager, 'x');
          // Someone deleted the claim under us: the seal cannot find it.
          await manager.delete(IdempotencyRecord, { key: 'key-1' });
          await seal(manager, created);
        });
        return created;
      }),
    ).rejects.toThrow(ConflictException);
    expect(await orderCount()).toBe(0);
  });
  it('should keep the claim of a long request while it renews the lease, and free it when renewals stop', async () => {
    const gate = deferred();
    const first = service.execute(scope(), async () => {
      await gate.promise;
      return created;
    });
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 10; i++) {
      now += 1_000;
      expect(await service.renewLeases()).toBe(1);
    }
    await expect(service.execute(scope(), placeOrder(lock))).rejects.toThrow(ConflictException);
    // Another process (the holder died: no more renewals) sees the claim free 5 s later.
    const other = new IdempotencyService(dataSource.getRepository(IdempotencyRecord), lock, {
      ...options,
      self: { host: 'host-b', pid: 1, boot: 'boot-b' },
      heartbeatMs: 0,
      purgeIntervalMs: 0,
      now: () => now,
    });
    now += 4_999;
    await expect(other.execute(scope(), placeOrder(lock))).rejects.toThrow(ConflictException);
    now += 1;
    await expect(other.execute(scope(), placeOrder(lock))).resolves.toEqual({
      response: created,
      replayed: false,
    });
    gate.resolve();
    await expect(first).rejects.toThrow(ConflictException);
  });

  it('should record no answer and run the work as usual for a request without a key', async () => {
    const write = { key: undefined, scope: 'user:2', requestId: 'req-1' };
    const result = await service.perform(write, { id: 1 }, 201, async (sealBody) => {
      await lock.transaction(async (manager) => {
        await insertEffect(manager, 'keyless');
        await sealBody(manager, created.body);
      });
      return created.body;
    });
    expect(result).toEqual({ response: created, replayed: false });
    expect(await keyRows()).toHaveLength(0);
    const keyed = { ...write, key: 'k' };
    const work = jest.fn((sealBody: Parameters<Parameters<IdempotencyService['perform']>[3]>[0]) =>
      lock.transaction(async (manager) => {
        await insertEffect(manager, 'keyed');
        await sealBody(manager, created.body);
        return created.body;
      }),
    );
    await service.perform(keyed, { id: 1 }, 201, work);
    await expect(service.perform(keyed, { id: 1 }, 201, work)).resolves.toEqual({
      response: created,
      replayed: true,
    });
    expect(work).toHaveBeenCalledTimes(1);
  });
});
