import type { OpenAPIObject, SchemaObject } from '@nestjs/swagger';
import { parseAuthPolicy } from '../routing/auth-policy';
import { mergeApiDocuments, RouteLookup, ServiceApi } from './api-document-merge';

const INFO = { title: 'API', version: '1.0.0', description: 'All of it.' };

function doc(
  paths: OpenAPIObject['paths'],
  schemas: Record<string, SchemaObject> = {},
): OpenAPIObject {
  return { openapi: '3.0.0', info: { title: 't', version: '1' }, paths, components: { schemas } };
}

const ok = { '200': { description: 'ok' } };
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string) => ({ content: { 'application/json': { schema: ref(name) } } });

/** `/api/a` → service a (public GET, else authenticated), `/api/a/special` → service b, `/internal` fenced. */
const route: RouteLookup = (method, path) => {
  const service = path.startsWith('/api/a/special') ? 'b' : path.startsWith('/api/a') ? 'a' : null;
  if (service === null || /^\/api\/a\/internal(\/|$)/.test(path)) return undefined;
  const policy = method === 'GET' ? 'public' : method === 'DELETE' ? 'role:admin' : 'authenticated';
  return { service, policy: parseAuthPolicy(policy) };
};

function service(document: OpenAPIObject | null, reason?: string): ServiceApi {
  return { name: 'a', basePath: '/api/a', document, reason };
}

describe('mergeApiDocuments', () => {
  it('should put service paths under the base path, the root at the base path itself', () => {
    const merged = mergeApiDocuments({
      info: INFO,
      gateway: null,
      services: [
        service(doc({ '/': { get: { responses: ok } }, '/{id}': { get: { responses: ok } } })),
      ],
      route,
    });
    expect(Object.keys(merged.paths)).toEqual(['/api/a', '/api/a/{id}']);
  });

  it('should drop operations the gateway does not forward to that service', () => {
    const merged = mergeApiDocuments({
      info: INFO,
      gateway: null,
      services: [
        service(
          doc({
            '/internal/reset': { post: { responses: ok } },
            '/special/x': { get: { responses: ok } },
            '/kept': { get: { responses: ok } },
          }),
        ),
      ],
      route,
    });
    expect(Object.keys(merged.paths)).toEqual(['/api/a/kept']);
  });

  it('should rename components, follow nested references and drop unused ones', () => {
    const merged = mergeApiDocuments({
      info: INFO,
      gateway: null,
      services: [
        service(
          doc(
            {
              '/': {
                post: {
                  operationId: 'create',
                  responses: { '201': { description: 'x', ...json('Thing') } },
                },
              },
              '/internal/x': {
                post: { responses: { '200': { description: 'x', ...json('Secret') } } },
              },
            },
            {
              Thing: { type: 'object', properties: { part: ref('Part') } },
              Part: { type: 'array', items: ref('Part') },
              Secret: { type: 'object' },
              Unused: { type: 'object' },
            },
          ),
        ),
      ],
      route,
    });
    expect(merged.components?.schemas).toEqual({
      'a.Thing': { type: 'object', properties: { part: ref('a.Part') } },
      'a.Part': { type: 'array', items: ref('a.Part') },
    });
    const post = merged.paths['/api/a'].post!;
    expect(post.responses['201']).toEqual({ description: 'x', ...json('a.Thing') });
    expect(post.operationId).toBe('a.create');
    expect(post.tags).toEqual(['a']);
  });

  it('should require the bearer token exactly where the route policy is not public', () => {
    const merged = mergeApiDocuments({
      info: INFO,
      gateway: doc({}, { ErrorBody: { type: 'object' } }),
      services: [
        service(
          doc({
            '/{id}': {
              get: { responses: ok },
              patch: { responses: ok },
              delete: { description: 'Gone for good.', responses: ok },
            },
          }),
        ),
      ],
      route,
    });
    const item = merged.paths['/api/a/{id}'];
    expect(item.get).toMatchObject({ 'x-auth-policy': 'public' });
    expect(item.get!.security).toBeUndefined();
    expect(Object.keys(item.get!.responses)).toEqual(['200']);
    expect(item.patch).toMatchObject({
      security: [{ bearer: [] }],
      'x-auth-policy': 'authenticated',
    });
    expect(Object.keys(item.patch!.responses).sort()).toEqual(['200', '401']);
    expect(item.patch!.responses['401']).toEqual({
      description: expect.any(String),
      ...json('ErrorBody'),
    });
    expect(item.delete!.description).toBe('Requires the `admin` role. Gone for good.');
    expect(Object.keys(item.delete!.responses).sort()).toEqual(['200', '401', '403']);
  });

  it('should list a service without a document, and one whose document cannot be walked', () => {
    const broken = doc({ '/': { get: { responses: ok } } });
    Object.defineProperty(broken.paths['/'], 'get', {
      get: () => {
        throw new Error('boom');
      },
      enumerable: true,
    });
    const merged = mergeApiDocuments({
      info: INFO,
      gateway: null,
      services: [
        service(null, 'no healthy replica'),
        { name: 'b', basePath: '/api/a/special', document: broken },
      ],
      route,
    });
    expect(merged['x-unavailable']).toEqual([
      { service: 'a', reason: 'no healthy replica' },
      { service: 'b', reason: 'unreadable: boom' },
    ]);
    expect(merged.paths).toEqual({});
    expect(merged.info.description).toBe(
      'All of it.\n\nNot listed now, their documents could not be fetched:' +
        '\n- a: no healthy replica\n- b: unreadable: boom',
    );
  });

  it('should not change the gateway document it merges', () => {
    const gateway = doc({ '/api/auth/me': { get: { security: [{ bearer: [] }], responses: ok } } });
    const before = JSON.stringify(gateway);
    const merged = mergeApiDocuments({ info: INFO, gateway, services: [], route });
    expect(Object.keys(merged.paths['/api/auth/me'].get!.responses).sort()).toEqual(['200', '401']);
    expect(JSON.stringify(gateway)).toBe(before);
  });
});
