import { CHECKOUT_SERVICE_API, CheckoutServiceModule } from '../src/checkout-service.module';
import { ServiceOpenApi } from '../../../test/support/service-openapi';

describe('checkout-service OpenAPI (e2e)', () => {
  const service = new ServiceOpenApi(CheckoutServiceModule, CHECKOUT_SERVICE_API);
  let doc: any;

  beforeAll(async () => {
    doc = await service.document();
  });

  afterAll(() => service.close());

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
