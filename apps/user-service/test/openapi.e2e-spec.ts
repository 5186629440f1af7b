import { USER_SERVICE_API, UserServiceModule } from '../src/user-service.module';
import { ServiceOpenApi } from '../../../test/support/service-openapi';

describe('user-service OpenAPI (e2e)', () => {
  const service = new ServiceOpenApi(UserServiceModule, USER_SERVICE_API);
  let doc: any;

  beforeAll(async () => {
    doc = await service.document();
  });

  afterAll(() => service.close());

  it('should list the user routes and the internal credential check, without health probes', () => {
    expect(doc.info.title).toBe('user-service');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/',
      '/internal/credentials/verify',
      '/{id}',
      '/{id}/roles',
    ]);
    expect(Object.keys(doc.paths['/']).sort()).toEqual(['get', 'post']);
    expect(Object.keys(doc.paths['/{id}']).sort()).toEqual(['delete', 'get', 'patch']);
    expect(Object.keys(doc.paths['/{id}/roles'])).toEqual(['put']);
  });

  it('should give the registration body with name, email and password, all required', () => {
    const body = doc.paths['/'].post.requestBody.content['application/json'].schema;
    expect(body).toEqual({ $ref: '#/components/schemas/CreateUserBody' });
    const schema = doc.components.schemas.CreateUserBody;
    expect(Object.keys(schema.properties).sort()).toEqual(['email', 'name', 'password']);
    expect([...schema.required].sort()).toEqual(['email', 'name', 'password']);
    expect(schema.properties.password).toMatchObject({ minLength: 8, maxLength: 128 });
    expect(doc.components.schemas.UpdateUserBody.required).toBeUndefined();
  });

  it('should type a user view and the conflict of a taken email with the shared error body', () => {
    expect(doc.components.schemas.UserView.properties.roles).toEqual({
      type: 'array',
      items: { type: 'string' },
      example: ['user'],
    });
    expect(doc.paths['/'].post.responses['409'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ErrorBody',
    });
  });
});
