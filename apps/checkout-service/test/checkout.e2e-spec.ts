import { OrderView } from '@app/contracts';
import { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ProductServiceModule } from '../../product-service/src/product-service.module';
import { UserServiceModule } from '../../user-service/src/user-service.module';
import { CheckoutServiceModule } from '../src/checkout-service.module';
import { sampleOf } from '../../../test/support/prometheus-text';
import { freePort } from '../../../test/support/ports';
import { DelayingForwarder } from './support/delaying-forwarder';

/**
 * The checkout service against the real product and user services, each booted here on an
 * ephemeral port with its own temporary SQLite file. Checkout itself uses a temporary SQLite file,
 * or the PostgreSQL database of an externally given DATABASE_URL, which may hold rows from earlier
 * runs: counts are compared before and after, and keys carry a per-run suffix.
 */
describe('checkout-service (e2e)', () => {
  const ENV_VARS = [
    'DATABASE_URL',
    'DATABASE_PATH',
    'PRODUCT_SERVICE_URLS',
    'USER_SERVICE_URLS',
    'UPSTREAM_TIMEOUT_MS',
    'UPSTREAM_ATTEMPTS',
    'LOG_LEVEL',
  ];
  const savedEnv = Object.fromEntries(ENV_VARS.map((k) => [k, process.env[k]]));
  const externalDatabaseUrl = process.env.DATABASE_URL;
  const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const keyOf = (name: string) => `${name}-${run}`;

  const uma = { 'x-user-id': '2', 'x-user-roles': 'user' };
  const ada = { 'x-user-id': '1', 'x-user-roles': 'admin,user' };

  const started: INestApplication[] = [];
  let dir: string;
  let products: INestApplication;
  let productsUrl: string;
  let usersUrl: string;
  let closedUrl: string;
  let checkout: INestApplication;
  let slowProducts: DelayingForwarder;
  let slowProductsUrl: string;
  let dime: number;
  let nineteen: number;

  function setEnv(env: Record<string, string | undefined>): void {
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }

  function urlOf(app: INestApplication): string {
    return `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  }

  /** Compiles and starts one app, with `env` set just before the config factories read it. */
  async function boot(
    module: Type<unknown>,
    env: Record<string, string | undefined>,
  ): Promise<INestApplication> {
    setEnv(env);
    const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    started.push(app);
    await app.listen(0, '127.0.0.1');
    return app;
  }

  function checkoutEnv(productUrls: string[], userUrls: string[] = [usersUrl]) {
    return {
      LOG_LEVEL: savedEnv.LOG_LEVEL,
      DATABASE_URL: externalDatabaseUrl,
      DATABASE_PATH: externalDatabaseUrl ? undefined : join(dir, 'orders.db'),
      PRODUCT_SERVICE_URLS: productUrls.join(','),
      USER_SERVICE_URLS: userUrls.join(','),
      UPSTREAM_TIMEOUT_MS: '2000',
      UPSTREAM_ATTEMPTS: '3',
    };
  }

  /** Rows in the orders table, read straight from checkout's database. */
  async function orderRows(): Promise<number> {
    const [row] = await checkout.get(DataSource).query('SELECT COUNT(*) AS n FROM orders');
    return Number((row as { n: number | string }).n);
  }

  async function createProduct(name: string, price: string): Promise<number> {
    const res = await request(products.getHttpServer()).post('/').send({ name, price }).expect(201);
    return res.body.id as number;
  }

  function order(app: INestApplication, headers: Record<string, string>, body: object) {
    return request(app.getHttpServer()).post('/').set(headers).send(body);
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'checkout-e2e-'));
    // The peers always get their own SQLite files, whatever database checkout runs on.
    products = await boot(ProductServiceModule, {
      DATABASE_URL: undefined,
      DATABASE_PATH: join(dir, 'products.db'),
    });
    productsUrl = urlOf(products);
    const users = await boot(UserServiceModule, {
      DATABASE_URL: undefined,
      DATABASE_PATH: join(dir, 'users.db'),
    });
    usersUrl = urlOf(users);
    closedUrl = `http://127.0.0.1:${await freePort()}`;
    slowProducts = new DelayingForwarder(productsUrl);
    slowProductsUrl = await slowProducts.start();
    checkout = await boot(CheckoutServiceModule, checkoutEnv([productsUrl]));
    dime = await createProduct('Dime', '0.10');
    nineteen = await createProduct('Mouse', '19.99');
  });

  afterAll(async () => {
    for (const app of started.reverse()) await app.close();
    await slowProducts.stop().catch(() => undefined);
    setEnv(savedEnv);
    rmSync(dir, { recursive: true, force: true });
  });

  describe('pricing', () => {
    it('should price 3 x "0.10" at exactly "0.30" and store the order as CONFIRMED', async () => {
      const before = await orderRows();
      const res = await order(checkout, uma, { productId: dime, quantity: 3 }).expect(201);
      expect(res.body).toEqual({
        id: expect.any(Number),
        userId: 2,
        productId: dime,
        quantity: 3,
        unitPrice: '0.10',
        totalPrice: '0.30',
        status: 'CONFIRMED',
        createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      });
      expect(await orderRows()).toBe(before + 1);
      await request(checkout.getHttpServer())
        .get(`/orders/${res.body.id}`)
        .set(uma)
        .expect(200, res.body);
    });

    it('should price 3 x "19.99" at exactly "59.97"', async () => {
      const res = await order(checkout, uma, { productId: nineteen, quantity: 3 }).expect(201);
      expect(res.body).toMatchObject({ unitPrice: '19.99', totalPrice: '59.97' });
    });

    it('should use the price the product service has now', async () => {
      const id = await createProduct('Changing', '5.00');
      await request(products.getHttpServer()).patch(`/${id}`).send({ price: '7.25' }).expect(200);
      const res = await order(checkout, uma, { productId: id, quantity: 2 }).expect(201);
      expect(res.body).toMatchObject({ unitPrice: '7.25', totalPrice: '14.50' });
    });

    it('should pass the request id on to the product service', async () => {
      const viaForwarder = await boot(CheckoutServiceModule, checkoutEnv([slowProductsUrl]));
      await order(viaForwarder, uma, { productId: dime, quantity: 1 })
        .set('X-Request-Id', `trace-${run}`)
        .expect(201)
        .expect('x-request-id', `trace-${run}`);
      expect(slowProducts.received.map((r) => [r.path, r.headers['x-request-id']])).toEqual([
        [`/${dime}`, `trace-${run}`],
      ]);
    });
  });

  describe('refusals', () => {
    it('should answer 401 "missing identity" without a usable X-User-Id, before reading the body', async () => {
      for (const headers of [
        {} as Record<string, string>,
        { 'x-user-id': 'abc' },
        { 'x-user-id': '0' },
        { 'x-user-id': '-3' },
      ]) {
        const res = await order(checkout, headers, { productId: dime, quantity: 0 }).expect(401);
        expect(res.body).toEqual({
          statusCode: 401,
          error: 'Unauthorized',
          message: 'missing identity',
          requestId: expect.any(String),
        });
      }
      await request(checkout.getHttpServer()).get('/orders').expect(401);
      await request(checkout.getHttpServer()).get('/orders/1').expect(401);
      await request(checkout.getHttpServer()).post('/orders/1/cancel').expect(401);
    });

    it.each([0, -1, 1.5, '2', null])(
      'should refuse quantity %p with 400 naming quantity and write nothing',
      async (quantity) => {
        const before = await orderRows();
        const res = await order(checkout, uma, { productId: dime, quantity }).expect(400);
        expect(res.body.message).toMatch(/quantity must be a positive integer/);
        expect(await orderRows()).toBe(before);
      },
    );

    it('should refuse a missing productId and unknown fields with 400', async () => {
      const missing = await order(checkout, uma, { quantity: 1 }).expect(400);
      expect(missing.body.message).toMatch(/productId/);
      const extra = await order(checkout, uma, { productId: dime, quantity: 1, price: '0.01' });
      expect(extra.status).toBe(400);
      expect(extra.body.message).toMatch(/property price should not exist/);
    });

    it('should answer 422 naming an unknown product and write nothing', async () => {
      const before = await orderRows();
      const res = await order(checkout, uma, { productId: 987654, quantity: 1 }).expect(422);
      expect(res.body).toMatchObject({
        statusCode: 422,
        error: 'Unprocessable Entity',
        message: 'product 987654 does not exist',
      });
      expect(await orderRows()).toBe(before);
    });

    it('should answer 422 naming an unknown user and write nothing', async () => {
      const before = await orderRows();
      const res = await order(
        checkout,
        { 'x-user-id': '424242', 'x-user-roles': 'user' },
        { productId: dime, quantity: 1 },
      ).expect(422);
      expect(res.body.message).toBe('user 424242 does not exist');
      expect(await orderRows()).toBe(before);
    });
  });

  describe('peers down', () => {
    it('should answer 503 "product-service unavailable" and write no row when no product replica answers', async () => {
      const down = await boot(CheckoutServiceModule, {
        ...checkoutEnv([closedUrl]),
        // The 503s here are expected; their error log lines would only clutter the report.
        LOG_LEVEL: 'fatal',
      });
      const before = await orderRows();
      const res = await order(down, uma, { productId: dime, quantity: 1 }).expect(503);
      expect(res.body).toMatchObject({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'product-service unavailable',
      });
      expect(await orderRows()).toBe(before);
    });

    it('should answer 503 "user-service unavailable" and write no row when no user replica answers', async () => {
      const down = await boot(CheckoutServiceModule, {
        ...checkoutEnv([productsUrl], [closedUrl]),
        // The 503s here are expected; their error log lines would only clutter the report.
        LOG_LEVEL: 'fatal',
      });
      const before = await orderRows();
      const res = await order(down, uma, { productId: dime, quantity: 1 }).expect(503);
      expect(res.body.message).toBe('user-service unavailable');
      expect(await orderRows()).toBe(before);
    });

    it('should release the key after a 503 so a retry with it succeeds once the peer is back', async () => {
      const down = await boot(CheckoutServiceModule, {
        ...checkoutEnv([closedUrl]),
        // The 503s here are expected; their error log lines would only clutter the report.
        LOG_LEVEL: 'fatal',
      });
      const headers = { ...uma, 'idempotency-key': keyOf('after-outage') };
      const before = await orderRows();
      await order(down, headers, { productId: dime, quantity: 2 }).expect(503);
      const retry = await order(checkout, headers, { productId: dime, quantity: 2 }).expect(201);
      expect(retry.headers['idempotency-replayed']).toBeUndefined();
      expect(retry.body.totalPrice).toBe('0.20');
      expect(await orderRows()).toBe(before + 1);
    });

    it('should go past a closed first product replica to the second and answer 201', async () => {
      const halfDown = await boot(CheckoutServiceModule, checkoutEnv([closedUrl, productsUrl]));
      for (let i = 0; i < 2; i++) {
        const res = await order(halfDown, uma, { productId: nineteen, quantity: 1 }).expect(201);
        expect(res.body.totalPrice).toBe('19.99');
      }
    });
  });

  describe('Idempotency-Key', () => {
    it('should replay the first answer to a retry with the same key and create one order', async () => {
      const headers = { ...uma, 'idempotency-key': keyOf('replay') };
      const body = { productId: dime, quantity: 4 };
      const before = await orderRows();
      const first = await order(checkout, headers, body).expect(201);
      const again = await order(checkout, headers, body).expect(201);
      expect(first.headers['idempotency-replayed']).toBeUndefined();
      expect(again.headers['idempotency-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(first.body.totalPrice).toBe('0.40');
      expect(await orderRows()).toBe(before + 1);
    });

    it('should treat the same fields in another order as the same request', async () => {
      const headers = { ...uma, 'idempotency-key': keyOf('field-order') };
      const first = await order(checkout, headers, { productId: dime, quantity: 1 }).expect(201);
      const again = await request(checkout.getHttpServer())
        .post('/')
        .set(headers)
        .set('content-type', 'application/json')
        .send(`{ "quantity": 1, "productId": ${dime} }`)
        .expect(201);
      expect(again.body).toEqual(first.body);
    });

    it('should refuse the same key with a different body with 422 and create nothing', async () => {
      const headers = { ...uma, 'idempotency-key': keyOf('mismatch') };
      await order(checkout, headers, { productId: dime, quantity: 1 }).expect(201);
      const before = await orderRows();
      const res = await order(checkout, headers, { productId: dime, quantity: 2 }).expect(422);
      expect(res.body.message).toBe('Idempotency-Key was already used with a different request');
      expect(await orderRows()).toBe(before);
    });

    it('should replay a 422 for an unknown product as the final answer', async () => {
      const headers = { ...uma, 'idempotency-key': keyOf('unknown-product') };
      const first = await order(checkout, headers, { productId: 876543, quantity: 1 }).expect(422);
      const again = await order(checkout, headers, { productId: 876543, quantity: 1 }).expect(422);
      expect(first.body.message).toBe('product 876543 does not exist');
      expect(again.body).toEqual(first.body);
      expect(again.headers['idempotency-replayed']).toBe('true');
    });

    it('should answer 409 to the same key while the first request is still running', async () => {
      slowProducts.delayMs = 800;
      const slow = await boot(CheckoutServiceModule, checkoutEnv([slowProductsUrl]));
      const headers = { ...uma, 'idempotency-key': keyOf('in-flight') };
      const body = { productId: nineteen, quantity: 2 };
      const before = await orderRows();
      const seen = slowProducts.received.length;
      const first = order(slow, headers, body).then((res) => res);
      while (slowProducts.received.length === seen) await new Promise((r) => setTimeout(r, 10));

      const second = await order(slow, headers, body).expect(409);
      expect(second.body.message).toBe('a request with this Idempotency-Key is still in progress');

      const firstRes = await first;
      expect(firstRes.status).toBe(201);
      expect(firstRes.body.totalPrice).toBe('39.98');
      slowProducts.delayMs = 0;
      const replay = await order(slow, headers, body).expect(201);
      expect(replay.body).toEqual(firstRes.body);
      expect(await orderRows()).toBe(before + 1);
      // The 409 and the replay never reached the product service.
      expect(slowProducts.received.length).toBe(seen + 1);
    });

    it('should keep the same key of two users apart: two orders', async () => {
      const key = keyOf('shared');
      const before = await orderRows();
      const a = await order(
        checkout,
        { ...ada, 'idempotency-key': key },
        { productId: dime, quantity: 1 },
      ).expect(201);
      const b = await order(
        checkout,
        { ...uma, 'idempotency-key': key },
        { productId: dime, quantity: 1 },
      ).expect(201);
      expect(a.body.userId).toBe(1);
      expect(b.body.userId).toBe(2);
      expect(a.body.id).not.toBe(b.body.id);
      expect(b.headers['idempotency-replayed']).toBeUndefined();
      expect(await orderRows()).toBe(before + 2);
    });

    it.each([
      ['an empty key', ''],
      ['a key with a space', 'has space'],
      ['a 256-character key', 'x'.repeat(256)],
      ['a non-ASCII key', 'caf\u00e9'],
    ])('should refuse %s with 400 and create nothing', async (_label, key) => {
      const before = await orderRows();
      const res = await request(checkout.getHttpServer())
        .post('/')
        .set(uma)
        .set('Idempotency-Key', key)
        .send({ productId: dime, quantity: 1 })
        .expect(400);
      expect(res.body.message).toBe('Idempotency-Key must be 1 to 255 visible ASCII characters');
      expect(await orderRows()).toBe(before);
    });
  });

  describe('orders of the caller', () => {
    let newcomer: Record<string, string>;

    beforeAll(async () => {
      const registered = await request(urlOf(started[1]))
        .post('/')
        .send({ name: 'Newcomer', email: `newcomer-${run}@example.com`, password: 'newcomer-pw-1' })
        .expect(201);
      newcomer = { 'x-user-id': String(registered.body.id), 'x-user-roles': 'user' };
    });

    it("should list the caller's own orders, newest first, with pagination", async () => {
      const list = (query = '') =>
        request(checkout.getHttpServer()).get(`/orders${query}`).set(newcomer).expect(200);
      const before = (await list()).body.total as number;
      const first = await order(checkout, newcomer, { productId: dime, quantity: 1 }).expect(201);
      const second = await order(checkout, newcomer, { productId: nineteen, quantity: 1 }).expect(
        201,
      );
      const page = await list('?limit=2&offset=0');
      expect(page.body).toEqual({
        items: [second.body, first.body],
        total: before + 2,
        limit: 2,
        offset: 0,
      });
      const next = await list('?limit=1&offset=1');
      expect(next.body.items).toEqual([first.body]);
      const everything = await list('?limit=100');
      expect(
        everything.body.items.every((o: OrderView) => o.userId === Number(newcomer['x-user-id'])),
      ).toBe(true);
      await request(checkout.getHttpServer()).get('/orders?limit=0').set(newcomer).expect(400);
    });

    it("should read the caller's own order and answer 404 for another user's", async () => {
      const mine = await order(checkout, newcomer, { productId: dime, quantity: 2 }).expect(201);
      await request(checkout.getHttpServer())
        .get(`/orders/${mine.body.id}`)
        .set(newcomer)
        .expect(200, mine.body);
      const theirs = await request(checkout.getHttpServer())
        .get(`/orders/${mine.body.id}`)
        .set(ada)
        .expect(404);
      expect(theirs.body.message).toBe(`order ${mine.body.id} not found`);
      await request(checkout.getHttpServer()).get('/orders/abc').set(newcomer).expect(400);
      await request(checkout.getHttpServer()).get('/orders/9999999999').set(newcomer).expect(404);
    });

    it('should cancel a confirmed order once and answer 409 to cancelling it again', async () => {
      const placed = await order(checkout, newcomer, { productId: dime, quantity: 1 }).expect(201);
      const id = placed.body.id as number;
      await request(checkout.getHttpServer()).post(`/orders/${id}/cancel`).set(uma).expect(404);
      const cancelled = await request(checkout.getHttpServer())
        .post(`/orders/${id}/cancel`)
        .set(newcomer)
        .expect(200);
      expect(cancelled.body).toEqual({ ...placed.body, status: 'CANCELLED' });
      const again = await request(checkout.getHttpServer())
        .post(`/orders/${id}/cancel`)
        .set(newcomer)
        .expect(409);
      expect(again.body.message).toBe(`order ${id} is already cancelled`);
      await request(checkout.getHttpServer())
        .get(`/orders/${id}`)
        .set(newcomer)
        .expect(200, { ...placed.body, status: 'CANCELLED' });
    });
  });

  describe('operations', () => {
    it('should answer liveness and readiness with the database checked', async () => {
      await request(checkout.getHttpServer()).get('/health/live').expect(200);
      const ready = await request(checkout.getHttpServer()).get('/health/ready').expect(200);
      expect(ready.body.details.database.status).toBe('up');
    });

    it('should refuse to start with a bad PRODUCT_SERVICE_URLS, exiting 1 with a message naming it', async () => {
      // A real process: the start-up path that reports the error and exits is part of the contract.
      const child = spawn(
        process.execPath,
        [
          '-r',
          'ts-node/register',
          '-r',
          'tsconfig-paths/register',
          'apps/checkout-service/src/main.ts',
        ],
        {
          cwd: join(__dirname, '../../..'),
          env: {
            ...process.env,
            TS_NODE_TRANSPILE_ONLY: 'true',
            DATABASE_URL: '',
            DATABASE_PATH: ':memory:',
            PORT: '0',
            PRODUCT_SERVICE_URLS: 'http://127.0.0.1:3001,not a url',
          },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const [code] = (await once(child, 'exit')) as [number | null];
      expect(code).toBe(1);
      const fatal = stderr
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { level: string; msg: string })
        .find((line) => line.level === 'fatal');
      expect(fatal?.msg).toBe(
        'Invalid configuration: PRODUCT_SERVICE_URLS="http://127.0.0.1:3001,not a url": must be a comma-separated list of http(s) URLs',
      );
    }, 30_000);
  });

  describe('/metrics', () => {
    const scrape = async () =>
      (await request(checkout.getHttpServer()).get('/metrics').expect(200)).text;

    it('should count an order and its read under their route templates', async () => {
      const placed = 'http_requests_total{method="POST",route="/",status="201"}';
      const read = 'http_requests_total{method="GET",route="/orders/:id",status="200"}';
      const latency = 'http_request_duration_seconds_count{method="GET",route="/orders/:id"}';
      const before = await scrape();
      const created = await order(checkout, uma, { productId: dime, quantity: 1 }).expect(201);
      await request(checkout.getHttpServer())
        .get(`/orders/${created.body.id}`)
        .set(uma)
        .expect(200);
      const after = await scrape();
      expect(sampleOf(after, placed)).toBe(sampleOf(before, placed) + 1);
      expect(sampleOf(after, read)).toBe(sampleOf(before, read) + 1);
      expect(sampleOf(after, latency)).toBe(sampleOf(before, latency) + 1);
      expect(after).not.toContain(`/orders/${created.body.id}"`);
      if (externalDatabaseUrl) {
        expect(after).toMatch(/^db_pool_waiting_clients \d+$/m);
      } else {
        const waits = 'db_write_lock_wait_seconds_count';
        expect(sampleOf(after, waits)).toBeGreaterThanOrEqual(sampleOf(before, waits) + 1);
      }
    });

    it("should keep each app's series in its own registry", async () => {
      const peer = (await request(products.getHttpServer()).get('/metrics').expect(200)).text;
      expect(peer).not.toContain('route="/orders/:id"');
    });
  });
});
