import { setupOpenApi } from '@app/common';
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { CHECKOUT_SERVICE_API, CheckoutServiceModule } from '../src/checkout-service.module';

describe('checkout-service OpenAPI (e2e)', () => {
  let app: INestApplication;
  let dir: string;
  let doc: any;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orders-openapi-'));
    process.env.DATABASE_PATH = join(dir, 'orders.db');
    const moduleRef = await Test.createTestingModule({
      imports: [CheckoutServiceModule],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    setupOpenApi(app, CHECKOUT_SERVICE_API);
    await app.init();
    doc = (await request(app.getHttpServer()).get('/docs-json').expect(200)).body;
  });

  afterAll(async () => {
    await app.close();
    delete process.env.DATABASE_PATH;
    rmSync(dir, { recursive: true, force: true });
  });

  it('should list the checkout and order routes', () => {
    expect(doc.info.title).toBe('checkout-service');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/',
      '/orders',
      '/orders/{id}',
      '/orders/{id}/cancel',
    ]);
    expect(Object.keys(doc.paths['/'])).toEqual(['post']);
  });

  it('should give the checkout body and the optional Idempotency-Key header', () => {
    const post = doc.paths['/'].post;
    expect(post.requestBody.content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/CreateOrderDto',
    });
    const schema = doc.components.schemas.CreateOrderDto;
    expect([...schema.required].sort()).toEqual(['productId', 'quantity']);
    expect(schema.properties.quantity).toMatchObject({ type: 'integer', minimum: 1 });
    expect(post.parameters).toEqual([
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: false }),
    ]);
  });

  it('should type an order with its status as an enum and money as strings', () => {
    const order = doc.components.schemas.OrderView;
    expect(order.properties.totalPrice.type).toBe('string');
    expect(order.properties.status).toEqual({
      allOf: [{ $ref: '#/components/schemas/OrderStatus' }],
    });
    expect(doc.components.schemas.OrderStatus.enum).toEqual(['CONFIRMED', 'CANCELLED']);
    expect(doc.paths['/orders/{id}/cancel'].post.responses['200'].content).toEqual({
      'application/json': { schema: { $ref: '#/components/schemas/OrderView' } },
    });
  });
});
