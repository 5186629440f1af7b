import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { sampleOf as sample } from '../../../test/support/prometheus-text';
import { ProductServiceModule } from '../src/product-service.module';

describe('product-service /metrics (e2e)', () => {
  let app: INestApplication;
  let dir: string;
  const scrape = async (): Promise<string> => {
    const res = await request(app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain;.*version=0\.0\.4/);
    return res.text;
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'products-metrics-e2e-'));
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
    expect(after).not.toMatch(/4711|4712/);
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
