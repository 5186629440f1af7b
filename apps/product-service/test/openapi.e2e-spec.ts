import { PRODUCT_SERVICE_API, ProductServiceModule } from '../src/product-service.module';
import { ServiceOpenApi } from '../../../test/support/service-openapi';

describe('product-service OpenAPI (e2e)', () => {
  const service = new ServiceOpenApi(ProductServiceModule, PRODUCT_SERVICE_API);
  let doc: any;

  beforeAll(async () => {
    doc = await service.document();
  });

  afterAll(() => service.close());

  it('should describe the service as an OpenAPI 3 document', () => {
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info).toMatchObject({ title: 'product-service', version: '1.0.0' });
  });

  it('should list exactly the product routes at the service root, without health probes', () => {
    expect(Object.keys(doc.paths).sort()).toEqual(['/', '/{id}']);
    expect(Object.keys(doc.paths['/']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/{id}']).sort()).toEqual(['delete', 'get', 'patch']);
  });

  it('should give the create body schema with name and price, both required', () => {
    const body = doc.paths['/'].post.requestBody.content['application/json'].schema;
    expect(body).toEqual({ $ref: '#/components/schemas/CreateProductDto' });
    const schema = doc.components.schemas.CreateProductDto;
    expect(Object.keys(schema.properties).sort()).toEqual(['name', 'price']);
    expect([...schema.required].sort()).toEqual(['name', 'price']);
    expect(schema.properties.price).toMatchObject({ type: 'string', example: '19.99' });
    // An update changes any subset of the fields.
    expect(doc.components.schemas.UpdateProductDto.required).toBeUndefined();
  });

  it('should type the answers: a product, a page of products and the shared error body', () => {
    const get = doc.paths['/{id}'].get;
    expect(get.parameters).toEqual([
      expect.objectContaining({ name: 'id', in: 'path', required: true }),
    ]);
    expect(get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ProductView',
    });
    expect(get.responses['404'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ErrorBody',
    });
    expect(Object.keys(doc.components.schemas.ErrorBody.properties).sort()).toEqual([
      'error',
      'message',
      'requestId',
      'statusCode',
    ]);
    const page = doc.paths['/'].get.responses['200'].content['application/json'].schema;
    expect(page.properties.items.items).toEqual({ $ref: '#/components/schemas/ProductView' });
    expect(page.required).toEqual(['items', 'total', 'limit', 'offset']);
    expect(doc.paths['/'].post.responses['201']).toBeDefined();
    expect(doc.paths['/{id}'].delete.responses['204']).toBeDefined();
  });

  it('should declare no client identity headers: the gateway sets those', () => {
    const parameters = Object.values(doc.paths).flatMap((item) =>
      Object.values(item as Record<string, { parameters?: { name: string }[] }>).flatMap(
        (op) => op.parameters ?? [],
      ),
    );
    expect(parameters.filter((p) => /^x-user-/i.test(p.name))).toEqual([]);
  });
});
