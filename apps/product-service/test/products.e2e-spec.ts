import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { sampleOf as sample } from '../../../test/support/prometheus-text';
import { ProductServiceModule } from '../src/product-service.module';

describe('product-service (e2e)', () => {
  let app: INestApplication;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'products-e2e-'));
    process.env.DATABASE_PATH = join(dir, 'products.db');
    const moduleRef = await Test.createTestingModule({ imports: [ProductServiceModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    delete process.env.DATABASE_PATH;
    rmSync(dir, { recursive: true, force: true });
  });

  it('should seed the catalogue on first start', async () => {
    const res = await request(app.getHttpServer()).get('/').expect(200);
    expect(res.body.total).toBeGreaterThanOrEqual(4);
    expect(res.body.items[1]).toEqual({ id: 2, name: 'USB-C cable', price: '0.10' });
  });

  it('should paginate with limit and offset', async () => {
    const res = await request(app.getHttpServer()).get('/?limit=2&offset=1').expect(200);
    expect(res.body).toMatchObject({ limit: 2, offset: 1 });
    expect(res.body.items.map((p: { id: number }) => p.id)).toEqual([2, 3]);
  });

  it('should keep money exact: a price of 0.1 + 0.2 reads back as 0.30', async () => {
    const created = await request(app.getHttpServer())
      .post('/')
      .send({ name: 'Sum', price: '0.30' })
      .expect(201);
    expect(created.body.price).toBe('0.30');
    const fromNumber = await request(app.getHttpServer())
      .post('/')
      .send({ name: 'Tenth', price: 0.1 })
      .expect(201);
    expect(fromNumber.body.price).toBe('0.10');
  });

  it('should create, read, update and delete a product', async () => {
    const server = app.getHttpServer();
    const created = await request(server)
      .post('/')
      .send({ name: 'Mouse', price: '19.99' })
      .expect(201);
    const id = created.body.id as number;
    await request(server).get(`/${id}`).expect(200, { id, name: 'Mouse', price: '19.99' });
    await request(server).patch(`/${id}`).send({ price: '17.5' }).expect(200, {
      id,
      name: 'Mouse',
      price: '17.50',
    });
    await request(server).delete(`/${id}`).expect(204);
    await request(server).get(`/${id}`).expect(404);
  });

  describe('Idempotency-Key', () => {
    const admin = { 'x-user-id': '1', 'x-user-roles': 'admin,user' };
    const run = Date.now().toString(36);
    const count = async () =>
      (await request(app.getHttpServer()).get('/?limit=1').expect(200)).body.total as number;

    it('should create one product for two POSTs with one key and replay the first answer', async () => {
      const server = app.getHttpServer();
      const headers = { ...admin, 'idempotency-key': `create-${run}` };
      const before = await count();
      const first = await request(server)
        .post('/')
        .set(headers)
        .send({ name: 'Keyed', price: '2.50' });
      expect(first.status).toBe(201);
      const again = await request(server)
        .post('/')
        .set(headers)
        .send({ price: '2.5', name: 'Keyed' })
        .expect(201);
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await count()).toBe(before + 1);
    });

    it('should refuse the key with another body with 422 and create nothing', async () => {
      const server = app.getHttpServer();
      const headers = { ...admin, 'idempotency-key': `mismatch-${run}` };
      await request(server).post('/').set(headers).send({ name: 'A', price: '1.00' }).expect(201);
      const before = await count();
      const res = await request(server)
        .post('/')
        .set(headers)
        .send({ name: 'B', price: '1.00' })
        .expect(422);
      expect(res.body.message).toBe('Idempotency-Key was already used with a different request');
      expect(await count()).toBe(before);
    });

    it('should create exactly one product for ten simultaneous POSTs with one key', async () => {
      const server = app.getHttpServer();
      const headers = { ...admin, 'idempotency-key': `burst-${run}` };
      const before = await count();
      const answers = await Promise.all(
        Array.from({ length: 10 }, () =>
          request(server).post('/').set(headers).send({ name: 'Burst', price: '3.00' }),
        ),
      );
      const fresh = answers.filter((r) => r.status === 201 && !r.headers['idempotency-replayed']);
      expect(fresh).toHaveLength(1);
      for (const r of answers) {
        if (r.status === 409) {
          expect(r.body.message).toBe('a request with this Idempotency-Key is still in progress');
        } else {
          expect({ status: r.status, body: r.body }).toEqual({ status: 201, body: fresh[0].body });
        }
      }
      expect(await count()).toBe(before + 1);
    });

    it('should replay a keyed PATCH and DELETE, and keep the keys of two users apart', async () => {
      const server = app.getHttpServer();
      const id = (
        await request(server).post('/').set(admin).send({ name: 'P', price: '1.00' }).expect(201)
      ).body.id as number;
      const patch = { ...admin, 'idempotency-key': `patch-${run}` };
      await request(server).patch(`/${id}`).set(patch).send({ price: '4.00' }).expect(200);
      const replay = await request(server)
        .patch(`/${id}`)
        .set(patch)
        .send({ price: '4.00' })
        .expect(200);
      expect(replay.headers['idempotency-replayed']).toBe('true');
      // The same key used for another operation is another request.
      await request(server).delete(`/${id}`).set(patch).expect(422);
      const del = { ...admin, 'idempotency-key': `delete-${run}` };
      await request(server).delete(`/${id}`).set(del).expect(204);
      const again = await request(server).delete(`/${id}`).set(del).expect(204);
      expect(again.headers['idempotency-replayed']).toBe('true');
      await request(server).delete(`/${id}`).set(admin).expect(404);
      const other = {
        'x-user-id': '2',
        'x-user-roles': 'admin',
        'idempotency-key': `delete-${run}`,
      };
      await request(server).delete(`/${id}`).set(other).expect(404);
    });

    it('should refuse a malformed key with 400', async () => {
      const res = await request(app.getHttpServer())
        .post('/')
        .set({ ...admin, 'idempotency-key': 'has space' })
        .send({ name: 'x', price: '1.00' })
        .expect(400);
      expect(res.body.message).toBe('Idempotency-Key must be 1 to 255 visible ASCII characters');
    });
  });

  it.each([
    [{ name: 'x', price: '1.234' }, /price must be a non-negative decimal/],
    [{ name: 'x', price: '-1' }, /price must be/],
    [{ name: 'x', price: 1e21 }, /price must be/],
    [{ price: '1.00' }, /name/],
    [{ name: 'x', price: '1', extra: true }, /property extra should not exist/],
  ])('should refuse %j with 400 naming the field', async (body, message) => {
    const res = await request(app.getHttpServer()).post('/').send(body).expect(400);
    expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
    expect(res.body.message).toMatch(message);
    expect(res.body.requestId).toEqual(expect.any(String));
  });

  it('should keep every one of 60 concurrent creates and updates', async () => {
    const server = app.getHttpServer();
    const before = (await request(server).get('/?limit=1').expect(200)).body.total as number;
    const created = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        request(server)
          .post('/')
          .send({ name: `Concurrent ${i}`, price: `${i + 1}.00` }),
      ),
    );
    expect(created.map((r) => r.status)).toEqual(Array(60).fill(201));
    const ids = created.map((r) => r.body.id as number);
    expect(new Set(ids).size).toBe(60);

    const updated = await Promise.all(
      ids.map((id, i) =>
        request(server)
          .patch(`/${id}`)
          .send({ price: `${i + 1}.50` }),
      ),
    );
    expect(updated.map((r) => r.status)).toEqual(Array(60).fill(200));

    const after = await request(server).get('/?limit=100').expect(200);
    expect(after.body.total).toBe(before + 60);
    const prices = new Map<number, string>(
      (after.body.items as { id: number; price: string }[]).map((p) => [p.id, p.price]),
    );
    expect(ids.map((id) => prices.get(id))).toEqual(ids.map((_, i) => `${i + 1}.50`));
  });

  it('should answer 400 naming the id for a malformed id and 404 for an unknown one', async () => {
    const bad = await request(app.getHttpServer()).get('/abc').expect(400);
    expect(bad.body.message).toBe('id must be a positive integer');
    const missing = await request(app.getHttpServer())
      .get('/987654')
      .set('X-Request-Id', 'trace-42')
      .expect(404);
    expect(missing.body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'product 987654 not found',
      requestId: 'trace-42',
    });
    expect(missing.headers['x-request-id']).toBe('trace-42');
  });

  it('should answer liveness and readiness with the database checked', async () => {
    await request(app.getHttpServer()).get('/health/live').expect(200);
    const ready = await request(app.getHttpServer()).get('/health/ready').expect(200);
    expect(ready.body.details.database.status).toBe('up');
    expect(ready.body.details.storage).toEqual({ status: 'up', writable: true });
  });

  describe('/metrics', () => {
    const scrape = async (): Promise<string> => {
      const res = await request(app.getHttpServer()).get('/metrics').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
      return res.text;
    };

    it('should count a read under its route template and status, with one latency sample', async () => {
      const count = 'http_requests_total{method="GET",route="/:id",status="200"}';
      const latency = 'http_request_duration_seconds_count{method="GET",route="/:id"}';
      const before = await scrape();
      await request(app.getHttpServer()).get('/1').expect(200);
      const after = await scrape();
      expect(sample(after, count)).toBe(sample(before, count) + 1);
      expect(sample(after, latency)).toBe(sample(before, latency) + 1);
      expect(after).toContain(
        'http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/:id"}',
      );
      expect(after).not.toMatch(/route="\/1"/);
    });

    it('should count a 404 of a matched route under that route', async () => {
      const missing = 'http_requests_total{method="GET",route="/:id",status="404"}';
      const before = await scrape();
      await request(app.getHttpServer()).get('/987654').expect(404);
      expect(sample(await scrape(), missing)).toBe(sample(before, missing) + 1);
    });

    it('should label every path no route matches as one "unmatched" route, never the raw path', async () => {
      const unmatched = 'http_requests_total{method="GET",route="unmatched",status="404"}';
      const before = await scrape();
      await request(app.getHttpServer()).get('/no/such/path-4711').expect(404);
      await request(app.getHttpServer()).get('/no/other-4712').expect(404);
      const after = await scrape();
      expect(sample(after, unmatched)).toBe(sample(before, unmatched) + 2);
      // In no label value (sample values are numbers, and a memory figure may hold these digits).
      expect(after).not.toMatch(/"[^"\n]*(path-4711|other-4712)[^"\n]*"/);
    });

    it('should not count its own scrapes', async () => {
      await scrape();
      expect(await scrape()).not.toContain('route="/metrics"');
    });

    it("should export the process' default metrics", async () => {
      const text = await scrape();
      expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
      expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    });

    it("should record the database's wait: the write lock's on SQLite, the pool's on PostgreSQL", async () => {
      const postgres = app.get(DataSource).options.type === 'postgres';
      const waits = 'db_write_lock_wait_seconds_count';
      const before = await scrape();
      const writes = 5;
      await Promise.all(
        Array.from({ length: writes }, (_, i) =>
          request(app.getHttpServer())
            .post('/')
            .send({ name: `Queued ${i}`, price: '1.00' })
            .expect(201),
        ),
      );
      const after = await scrape();
      if (postgres) {
        expect(sample(after, waits)).toBe(0);
        expect(after).toMatch(/^db_pool_waiting_clients \d+$/m);
        expect(sample(after, 'db_pool_connections{state="idle"}')).toBeGreaterThanOrEqual(1);
      } else {
        // Background writes (idempotency upkeep) may add samples of their own.
        expect(sample(after, waits)).toBeGreaterThanOrEqual(sample(before, waits) + writes);
        // Five writes sent at once: all but the first waited for the lock.
        expect(sample(after, 'db_write_lock_wait_seconds_sum')).toBeGreaterThan(
          sample(before, 'db_write_lock_wait_seconds_sum'),
        );
        expect(after).not.toContain('db_pool_waiting_clients');
      }
    });
  });
});
