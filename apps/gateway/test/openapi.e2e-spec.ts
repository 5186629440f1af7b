import { OpenApiInfo, setupOpenApi } from '@app/common';
import type { INestApplication, Type } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  PRODUCT_SERVICE_API,
  ProductServiceModule,
} from '../../product-service/src/product-service.module';
import { USER_SERVICE_API, UserServiceModule } from '../../user-service/src/user-service.module';
import { GatewayModule } from '../src/gateway.module';
import { API_CATALOG_OPTIONS, ApiCatalogOptions } from '../src/openapi/api-catalog';
import { setupGatewayOpenApi } from '../src/openapi/gateway-openapi';
import { loadGatewayConfig } from '../src/routing/gateway-config.loader';
import { eventually, writeConfig } from './support/test-gateway';
import { closedPort, TestUpstream } from './support/test-upstream';

type Json = any;

interface Reply {
  status: number;
  type: string;
  length: number;
  text: string;
  json: Json;
}

/** The real GatewayModule, set up as `main.ts` does it, on an ephemeral port. */
class DocsGateway {
  private constructor(
    private readonly app: INestApplication,
    private readonly config: { remove(): void },
    readonly origin: string,
  ) {}

  static async start(routes: unknown, catalog?: ApiCatalogOptions): Promise<DocsGateway> {
    const config = writeConfig(routes);
    process.env.GATEWAY_CONFIG = config.file;
    process.env.LOG_LEVEL = 'error';
    let builder = Test.createTestingModule({ imports: [GatewayModule] });
    if (catalog) builder = builder.overrideProvider(API_CATALOG_OPTIONS).useValue(catalog);
    const app = (await builder.compile()).createNestApplication({ logger: false });
    setupGatewayOpenApi(app);
    await app.listen(0, '127.0.0.1');
    const { port } = (app.getHttpServer() as Server).address() as { port: number };
    return new DocsGateway(app, config, `http://127.0.0.1:${port}`);
  }

  async get(path: string): Promise<Reply> {
    const res = await fetch(`${this.origin}${path}`);
    const body = Buffer.from(await res.arrayBuffer());
    const text = body.toString();
    let json: Json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return {
      status: res.status,
      type: res.headers.get('content-type') ?? '',
      length: body.length,
      text,
      json,
    };
  }

  async close(): Promise<void> {
    (this.app.getHttpServer() as Server).closeAllConnections();
    await this.app.close();
    this.config.remove();
  }
}

/** A real service app with its `/docs-json`, on an ephemeral port, with its own SQLite file. */
async function startService(
  module: Type<unknown>,
  info: OpenApiInfo,
  file: string,
): Promise<{ app: INestApplication; origin: string }> {
  process.env.DATABASE_PATH = file;
  const moduleRef = await Test.createTestingModule({ imports: [module] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  setupOpenApi(app, info);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as Server).address() as { port: number };
  return { app, origin: `http://127.0.0.1:${port}` };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every operation of a document with its path and method. */
function operations(doc: Json): { path: string; method: string; op: Json }[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] })),
  );
}

/** Every `$ref` anywhere in `value`. */
function refsIn(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refsIn);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    k === '$ref' && typeof v === 'string' ? [v] : refsIn(v),
  );
}

/** The structure OpenAPI 3.0 requires, checked field by field (no validator is installed). */
function expectValidOpenApi3(doc: Json): void {
  expect(doc.openapi).toMatch(/^3\.0\.\d+$/);
  expect(typeof doc.info.title).toBe('string');
  expect(typeof doc.info.version).toBe('string');
  const ids: string[] = [];
  for (const { path, op } of operations(doc)) {
    expect(path).toMatch(/^\//);
    expect(Object.keys(op.responses).length).toBeGreaterThan(0);
    for (const [status, response] of Object.entries(op.responses as Record<string, Json>)) {
      expect(status).toMatch(/^([1-5]\d\d|default)$/);
      expect(typeof response.description).toBe('string');
    }
    // Each `{name}` of the path template is a required path parameter.
    for (const [, name] of path.matchAll(/\{([^}]+)\}/g)) {
      expect(op.parameters).toEqual(
        expect.arrayContaining([expect.objectContaining({ name, in: 'path', required: true })]),
      );
    }
    for (const requirement of op.security ?? []) {
      for (const scheme of Object.keys(requirement)) {
        expect(doc.components.securitySchemes[scheme]).toBeDefined();
      }
    }
    if (op.operationId) ids.push(op.operationId);
  }
  expect(new Set(ids).size).toBe(ids.length);
  for (const ref of refsIn(doc)) {
    const [, section, name] = /^#\/components\/([^/]+)\/(.+)$/.exec(ref) ?? [];
    expect({ ref, resolves: doc.components?.[section]?.[name] !== undefined }).toEqual({
      ref,
      resolves: true,
    });
  }
}

describe('gateway: combined OpenAPI documentation (e2e)', () => {
  describe('over real product and user services, with checkout down', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-openapi-'));
    const services: INestApplication[] = [];
    let gateway: DocsGateway;
    let doc: Json;

    beforeAll(async () => {
      const products = await startService(
        ProductServiceModule,
        PRODUCT_SERVICE_API,
        join(dir, 'products.db'),
      );
      services.push(products.app);
      const users = await startService(UserServiceModule, USER_SERVICE_API, join(dir, 'users.db'));
      services.push(users.app);
      delete process.env.DATABASE_PATH;
      const down = `http://127.0.0.1:${await closedPort()}`;
      gateway = await DocsGateway.start({
        services: [
          {
            name: 'product-service',
            basePath: '/api/products',
            targets: [products.origin],
            auth: {
              default: 'role:admin',
              rules: [{ methods: ['GET', 'HEAD'], policy: 'public' }],
            },
          },
          {
            name: 'user-service',
            basePath: '/api/users',
            targets: [users.origin],
            auth: {
              default: 'authenticated',
              rules: [{ methods: ['POST'], path: '/', policy: 'public' }],
            },
          },
          {
            name: 'checkout-service',
            basePath: '/api/checkout',
            targets: [down],
            auth: { default: 'authenticated' },
          },
        ],
      });
      const res = await gateway.get('/docs/openapi.json');
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      doc = res.json;
    });

    afterAll(async () => {
      await gateway.close();
      await Promise.all(services.map((app) => app.close()));
      rmSync(dir, { recursive: true, force: true });
    });

    it('should be a structurally valid OpenAPI 3.0 document', () => {
      expectValidOpenApi3(doc);
    });

    it('should list the gateway and service routes at their public paths, and nothing else', () => {
      expect(Object.keys(doc.paths).sort()).toEqual([
        '/api/admin/status',
        '/api/auth/login',
        '/api/auth/logout',
        '/api/auth/logout-all',
        '/api/auth/me',
        '/api/products',
        '/api/products/{id}',
        '/api/users',
        '/api/users/{id}',
        '/api/users/{id}/roles',
      ]);
      expect(Object.keys(doc.paths['/api/products/{id}']).sort()).toEqual([
        'delete',
        'get',
        'patch',
      ]);
      expect(Object.keys(doc.paths['/api/products']).sort()).toEqual(['get', 'post']);
      expect(Object.keys(doc.paths['/api/auth/login'])).toEqual(['post']);
      expect(Object.keys(doc.paths['/api/admin/status'])).toEqual(['get']);
    });

    it('should leave out what the gateway never forwards and its own non-API endpoints', () => {
      const paths = Object.keys(doc.paths).join('\n');
      expect(paths).not.toMatch(/internal|health|metrics|docs/);
      expect(Object.keys(doc.components.schemas)).not.toContain(
        'user-service.VerifyCredentialsBody',
      );
    });

    it('should answer 200 with a service that is down left out and named', () => {
      expect(Object.keys(doc.paths).filter((p) => p.startsWith('/api/checkout'))).toEqual([]);
      expect(doc['x-unavailable']).toEqual([
        { service: 'checkout-service', reason: expect.stringMatching(/.+/) },
      ]);
      expect(doc.info.description).toContain('- checkout-service: ');
      expect((doc.tags as { name: string }[]).map((t) => t.name)).not.toContain('checkout-service');
    });

    it('should namespace each service’s schemas so that equal names do not collide', () => {
      const post = doc.paths['/api/products'].post;
      expect(post.requestBody.content['application/json'].schema).toEqual({
        $ref: '#/components/schemas/product-service.CreateProductDto',
      });
      const body = doc.components.schemas['product-service.CreateProductDto'];
      expect(Object.keys(body.properties).sort()).toEqual(['name', 'price']);
      expect([...body.required].sort()).toEqual(['name', 'price']);
      for (const name of ['ErrorBody', 'product-service.ErrorBody', 'user-service.ErrorBody']) {
        expect(Object.keys(doc.components.schemas[name].properties).sort()).toEqual([
          'error',
          'message',
          'requestId',
          'statusCode',
        ]);
      }
      expect(doc.paths['/api/users/{id}'].get.responses['200'].content).toEqual({
        'application/json': { schema: { $ref: '#/components/schemas/user-service.UserView' } },
      });
    });

    it('should tag operations by service and keep the gateway’s own tag', () => {
      const tags = (path: string, method: string): unknown => doc.paths[path][method].tags;
      expect(tags('/api/products/{id}', 'get')).toEqual(['product-service']);
      expect(tags('/api/users', 'post')).toEqual(['user-service']);
      expect(tags('/api/auth/login', 'post')).toEqual(['auth']);
      expect(tags('/api/admin/status', 'get')).toEqual(['admin']);
      expect((doc.tags as { name: string }[]).map((t) => t.name).sort()).toEqual([
        'admin',
        'auth',
        'product-service',
        'user-service',
      ]);
    });

    it('should mark exactly the routes the config protects with the bearer scheme', () => {
      expect(doc.components.securitySchemes).toEqual({
        bearer: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
      });
      const bearer = [{ bearer: [] }];
      const security = Object.fromEntries(
        operations(doc).map(({ path, method, op }) => [
          `${method.toUpperCase()} ${path}`,
          op.security,
        ]),
      );
      expect(security).toEqual({
        'GET /api/products': undefined,
        'POST /api/products': bearer,
        'GET /api/products/{id}': undefined,
        'PATCH /api/products/{id}': bearer,
        'DELETE /api/products/{id}': bearer,
        'GET /api/users': bearer,
        'POST /api/users': undefined,
        'GET /api/users/{id}': bearer,
        'PATCH /api/users/{id}': bearer,
        'DELETE /api/users/{id}': bearer,
        'PUT /api/users/{id}/roles': bearer,
        'POST /api/auth/login': undefined,
        'POST /api/auth/logout': bearer,
        'POST /api/auth/logout-all': bearer,
        'GET /api/auth/me': bearer,
        'GET /api/admin/status': bearer,
      });
      const create = doc.paths['/api/products'].post;
      expect(create['x-auth-policy']).toBe('role:admin');
      expect(create.description).toMatch(/^Requires the `admin` role\./);
      expect(Object.keys(create.responses).sort()).toEqual([
        '201',
        '400',
        '401',
        '403',
        '409',
        '422',
      ]);
      expect(doc.paths['/api/users/{id}'].get['x-auth-policy']).toBe('authenticated');
      expect(doc.paths['/api/users/{id}'].get.responses['401'].content).toEqual({
        'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } },
      });
      expect(doc.paths['/api/products/{id}'].get['x-auth-policy']).toBe('public');
      expect(doc.paths['/api/products/{id}'].get.responses['401']).toBeUndefined();
    });

    it('should serve Swagger UI at /docs from local assets that all load', async () => {
      const page = await gateway.get('/docs');
      expect(page.status).toBe(200);
      expect(page.type).toMatch(/^text\/html/);
      expect(page.text).not.toMatch(/https?:\/\//);
      const assets = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      expect(assets.sort()).toEqual([
        '/docs/favicon-16x16.png',
        '/docs/favicon-32x32.png',
        '/docs/swagger-initializer.js',
        '/docs/swagger-ui-bundle.js',
        '/docs/swagger-ui-standalone-preset.js',
        '/docs/swagger-ui.css',
      ]);
      const loaded = await Promise.all(assets.map((a) => gateway.get(a)));
      expect(loaded.map((r) => r.status)).toEqual(assets.map(() => 200));
      const byName = Object.fromEntries(assets.map((a, i) => [a, loaded[i]]));
      expect(byName['/docs/swagger-ui.css'].type).toMatch(/^text\/css/);
      expect(byName['/docs/swagger-ui-bundle.js'].type).toMatch(/javascript/);
      expect(byName['/docs/swagger-ui-bundle.js'].length).toBeGreaterThan(500_000);
      expect(byName['/docs/favicon-32x32.png'].type).toBe('image/png');
      expect(byName['/docs/swagger-initializer.js'].text).toContain("url: '/docs/openapi.json'");
    });

    it('should answer 404 for a file of the UI package it does not serve', async () => {
      for (const path of ['/docs/index.html', '/docs/swagger-ui-bundle.js.map', '/docs/LICENSE']) {
        expect({ path, status: (await gateway.get(path)).status }).toEqual({ path, status: 404 });
      }
    });

    it('should serve its own document at /docs-json: the auth and admin endpoints only', async () => {
      const own = await gateway.get('/docs-json');
      expect(own.status).toBe(200);
      expect(own.json.info.title).toBe('gateway');
      expect(Object.keys(own.json.paths).sort()).toEqual([
        '/api/admin/status',
        '/api/auth/login',
        '/api/auth/logout',
        '/api/auth/logout-all',
        '/api/auth/me',
      ]);
      // The combined document's additions are made on a copy.
      expect(own.json.paths['/api/auth/me'].get.responses['401']).toBeUndefined();
    });

    it('should never forward a service’s raw document, yet merge it from the service itself', async () => {
      const raw = [
        await gateway.get('/api/products/docs-json'),
        await gateway.get('/api/users/docs-json'),
      ];
      expect(raw.map((r) => r.status)).toEqual([404, 404]);
      // Fetched from the replicas directly: the merged document still has both services.
      const merged = await gateway.get('/docs/openapi.json');
      expect(merged.json['x-unavailable'].map((u: { service: string }) => u.service)).toEqual([
        'checkout-service',
      ]);
      expect(Object.keys(merged.json.paths)).toEqual(
        expect.arrayContaining(['/api/products/{id}', '/api/users/{id}']),
      );
    });

    it('should refuse a config that mounts a service on the documentation paths', () => {
      for (const basePath of ['/docs', '/docs/api', '/docs-json']) {
        const config = writeConfig({
          services: [{ name: 'x', basePath, targets: ['http://127.0.0.1:1'] }],
        });
        try {
          expect(() => loadGatewayConfig(config.file)).toThrow(/overlaps \/docs/);
        } finally {
          config.remove();
        }
      }
    });
  });

  describe('cache and recovery, over an upstream serving its own document', () => {
    const WIDGET_DOC = {
      openapi: '3.0.0',
      info: { title: 'widget-service', version: '2.1.0', description: 'Widgets.' },
      paths: {
        '/{id}': {
          get: {
            operationId: 'get',
            parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
            responses: {
              '200': {
                description: 'A widget',
                content: {
                  'application/json': { schema: { $ref: '#/components/schemas/Widget' } },
                },
              },
            },
          },
        },
      },
      components: { schemas: { Widget: { type: 'object' } } },
    };
    const widgets = new TestUpstream((req, res) => {
      res.writeHead(req.url === '/docs-json' ? 200 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(req.url === '/docs-json' ? WIDGET_DOC : {}));
    });
    const widgetPaths = (doc: Json) =>
      Object.keys(doc.paths).filter((p) => p.startsWith('/api/widgets'));
    const docsFetches = () => widgets.seen.filter((s) => s.url === '/docs-json').length;
    const routes = () => ({
      services: [
        {
          name: 'widget-service',
          basePath: '/api/widgets',
          targets: [widgets.origin],
          activeHealth: { intervalMs: 100, timeoutMs: 500 },
          auth: { default: 'public' },
        },
      ],
    });

    beforeAll(() => widgets.start());
    afterAll(() => widgets.kill());
    beforeEach(() => widgets.reset());

    it('should fetch a service document once per TTL, however many clients ask', async () => {
      const gateway = await DocsGateway.start(routes(), { ttlMs: 60_000, partialTtlMs: 60_000 });
      try {
        const together = await Promise.all(
          Array.from({ length: 5 }, () => gateway.get('/docs/openapi.json')),
        );
        const after: Reply[] = [];
        for (let i = 0; i < 3; i++) after.push(await gateway.get('/docs/openapi.json'));
        const all = [...together, ...after];
        expect(all.map((r) => r.status)).toEqual(Array(8).fill(200));
        expect(new Set(all.map((r) => r.text)).size).toBe(1);
        expect(widgetPaths(all[0].json)).toEqual(['/api/widgets/{id}']);
        expect(docsFetches()).toBe(1);
      } finally {
        await gateway.close();
      }
    });

    it('should keep answering 200 while a service goes down, then list it again', async () => {
      const gateway = await DocsGateway.start(routes(), { ttlMs: 200, partialTtlMs: 200 });
      const statuses: number[] = [];
      const read = async (): Promise<Json> => {
        const res = await gateway.get('/docs/openapi.json');
        statuses.push(res.status);
        return res.json;
      };
      try {
        const up = await read();
        expect(up.paths['/api/widgets/{id}'].get.operationId).toBe('widget-service.get');
        expect(up['x-unavailable']).toEqual([]);

        const port = widgets.port;
        await widgets.kill();
        let down: Json;
        await eventually(async () => {
          down = await read();
          return down['x-unavailable'].length === 1;
        }, 15_000);
        expect(down['x-unavailable']).toEqual([
          { service: 'widget-service', reason: expect.stringMatching(/.+/) },
        ]);
        expect(widgetPaths(down)).toEqual([]);
        expect(down.paths['/api/auth/login']).toBeDefined();
        expect(down.components.schemas['widget-service.Widget']).toBeUndefined();

        await widgets.start(port);
        let back: Json;
        await eventually(async () => {
          back = await read();
          return back['x-unavailable'].length === 0;
        }, 15_000);
        expect(widgetPaths(back)).toEqual(['/api/widgets/{id}']);
        expect(back.components.schemas['widget-service.Widget']).toEqual({ type: 'object' });
        expect(statuses.length).toBeGreaterThanOrEqual(3);
        expect(statuses).toEqual(statuses.map(() => 200));
      } finally {
        await gateway.close();
      }
    });
  });
});
