import { ConfigurationError } from '@app/common';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SERVICE_OPTIONS } from './gateway-config';
import { GatewayConfigError, loadGatewayConfig, parseGatewayConfig } from './gateway-config.loader';

const service = (overrides: Record<string, unknown> = {}) => ({
  name: 'products',
  basePath: '/api/products',
  targets: ['http://127.0.0.1:3001'],
  ...overrides,
});

function problems(document: unknown): string {
  try {
    parseGatewayConfig(document, 'test.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayConfigError);
    return (err as Error).message;
  }
  throw new Error('config accepted');
}

describe('parseGatewayConfig', () => {
  it('should apply the documented defaults', () => {
    const config = parseGatewayConfig({ services: [service()] });
    expect(config.services[0]).toEqual({
      ...DEFAULT_SERVICE_OPTIONS,
      index: 0,
      name: 'products',
      basePath: '/api/products',
      targets: [{ url: 'http://127.0.0.1:3001', weight: 1 }],
    });
    expect(config.services[0].retry).toEqual({
      attempts: 3,
      backoffBaseMs: 100,
      backoffMaxMs: 2000,
    });
    expect(config.services[0].timeouts.perTryMs).toBe(5000);
    expect(config.services[0].auth.default).toEqual({ kind: 'authenticated' });
  });

  it('should let a service override single fields of the defaults block', () => {
    const config = parseGatewayConfig({
      defaults: { retry: { attempts: 5 }, timeouts: { perTryMs: 2000 } },
      services: [service({ retry: { backoffBaseMs: 50 } })],
    });
    expect(config.services[0].retry).toEqual({
      attempts: 5,
      backoffBaseMs: 50,
      backoffMaxMs: 2000,
    });
    expect(config.services[0].timeouts).toEqual({ connectMs: 1000, perTryMs: 2000, idleMs: 60000 });
  });

  it('should parse auth policies and rules', () => {
    const config = parseGatewayConfig({
      services: [
        service({
          auth: {
            default: 'role:admin',
            rules: [
              { methods: ['GET', 'HEAD'], policy: 'public' },
              { path: '/', methods: ['POST'], policy: 'authenticated' },
              { pathPrefix: '/reports', policy: 'role:auditor' },
            ],
          },
        }),
      ],
    });
    expect(config.services[0].auth).toEqual({
      default: { kind: 'role', role: 'admin' },
      rules: [
        { methods: ['GET', 'HEAD'], path: null, pathPrefix: null, policy: { kind: 'public' } },
        { methods: ['POST'], path: '/', pathPrefix: null, policy: { kind: 'authenticated' } },
        {
          methods: null,
          path: null,
          pathPrefix: '/reports',
          policy: { kind: 'role', role: 'auditor' },
        },
      ],
    });
  });

  it('should accept every role name a token may carry', () => {
    const config = parseGatewayConfig({
      services: [service({ auth: { default: 'role:shop:admin.eu_1' } })],
    });
    expect(config.services[0].auth.default).toEqual({ kind: 'role', role: 'shop:admin.eu_1' });
  });

  it('should normalise targets to their origin', () => {
    const config = parseGatewayConfig({
      services: [service({ targets: ['HTTP://LocalHost:80/'] })],
    });
    expect(config.services[0].targets).toEqual([{ url: 'http://localhost', weight: 1 }]);
  });

  it('should read a target with a weight, and a plain URL as weight 1', () => {
    const config = parseGatewayConfig({
      services: [
        service({
          balancer: 'weighted',
          targets: [{ url: 'http://a:1/', weight: 3 }, 'http://b:2', { url: 'http://c:3' }],
        }),
      ],
    });
    expect(config.services[0].balancer).toBe('weighted');
    expect(config.services[0].targets).toEqual([
      { url: 'http://a:1', weight: 3 },
      { url: 'http://b:2', weight: 1 },
      { url: 'http://c:3', weight: 1 },
    ]);
  });

  it.each([
    [
      { url: 'http://a:1', weight: 0 },
      'services[0].targets[0].weight: must be an integer from 1 to 1000, got 0',
    ],
    [{ url: 'ftp://a' }, 'services[0].targets[0].url: not an http(s) URL'],
    [{ url: 'http://a:1', share: 2 }, 'services[0].targets[0].share: unknown key'],
  ])('should refuse the weighted target %j naming the field', (target, message) => {
    expect(problems({ services: [service({ targets: [target] })] })).toContain(message);
  });

  it('should refuse a target listed twice, with or without a weight', () => {
    expect(
      problems({
        services: [service({ targets: ['http://a:1', { url: 'http://a:1/', weight: 2 }] })],
      }),
    ).toContain('services[0].targets[1]: http://a:1 is listed twice');
  });

  it('should refuse an unknown balancer', () => {
    expect(problems({ services: [service({ balancer: 'random' })] })).toContain(
      'services[0].balancer: must be round-robin or least-request or weighted, got "random"',
    );
  });

  it('should read discovery from the defaults block and let a service override it', () => {
    const config = parseGatewayConfig({
      defaults: { discovery: { enabled: true, intervalMs: 2000 } },
      services: [
        service({ targets: ['http://tasks.products:3001'] }),
        service({ name: 'other', basePath: '/api/other', discovery: { enabled: false } }),
      ],
    });
    expect(config.services[0].discovery).toEqual({ enabled: true, intervalMs: 2000 });
    expect(config.services[0].targets).toEqual([{ url: 'http://tasks.products:3001', weight: 1 }]);
    expect(config.services[1].discovery).toEqual({ enabled: false, intervalMs: 2000 });
    expect(DEFAULT_SERVICE_OPTIONS.discovery).toEqual({ enabled: false, intervalMs: 5000 });
  });

  it.each([
    [{ services: [service({ timeout: 1 })] }, 'services[0].timeout: unknown key'],
    [{ servces: [] }, 'servces: unknown key'],
    [{ services: [service({ retry: { tries: 2 } })] }, 'services[0].retry.tries: unknown key'],
    [
      { services: [service({ discovery: { interval: 5 } })] },
      'services[0].discovery.interval: unknown key',
    ],
    [
      { services: [service({ discovery: { intervalMs: 10 } })] },
      'services[0].discovery.intervalMs: must be an integer from 50 to 3600000',
    ],
    [
      { defaults: { discovery: { enabled: 'yes' } }, services: [service()] },
      'defaults.discovery.enabled: must be true or false',
    ],
    [{ services: [service({ discovery: true })] }, 'services[0].discovery: must be an object'],
    [
      { services: [service({ targets: ['ftp://x'] })] },
      'services[0].targets[0]: not an http(s) URL',
    ],
    [
      { services: [service({ targets: ['127.0.0.1:3001'] })] },
      'services[0].targets[0]: not an http(s) URL',
    ],
    [
      { services: [service({ targets: ['http://a:1/path'] })] },
      'services[0].targets[0]: must be an origin such as http://127.0.0.1:3001 (no path or query)',
    ],
    [
      { services: [service({ targets: ['http://u:p@a:1'] })] },
      'services[0].targets[0]: must not carry credentials',
    ],
    [
      { services: [service({ targets: ['http://a:1', 'http://a:1/'] })] },
      'services[0].targets[1]: http://a:1 is listed twice',
    ],
    [
      { services: [service({ targets: [] })] },
      'services[0].targets: must list from 1 to 31 targets',
    ],
    [
      { services: [service(), service({ name: 'other' })] },
      'services[1].basePath: /api/products is already used by services[0]',
    ],
    [
      { services: [service(), service({ basePath: '/api/other' })] },
      'services[1].name: "products" is already used by services[0]',
    ],
    [
      { services: [service({ basePath: '/api/x/' })] },
      'services[0].basePath: must be a canonical path',
    ],
    [
      { services: [service({ basePath: '/api/../x' })] },
      'services[0].basePath: must be a canonical path',
    ],
    [{ services: [service({ basePath: '/' })] }, 'services[0].basePath: must not be "/"'],
    [{ services: [service({ basePath: '/api' })] }, 'services[0].basePath: overlaps /api/auth'],
    [{ services: [service({ basePath: '/health/x' })] }, 'services[0].basePath: overlaps /health'],
    [{ services: [service({ name: 'Products' })] }, 'services[0].name: must be lower-case'],
    [{ services: [] }, 'services: must list at least one service'],
    [{}, 'services: is required'],
    [{ services: {} }, 'services: must be a list, got {}'],
    [
      { services: [service({ retry: { attempts: 0 } })] },
      'services[0].retry.attempts: must be an integer from 1 to 10',
    ],
    [
      { services: [service({ retry: { backoffBaseMs: 500, backoffMaxMs: 100 } })] },
      'services[0].retry.backoffMaxMs: must not be below backoffBaseMs',
    ],
    [
      { services: [service({ passiveHealth: { cooldownMs: 5_000, maxCooldownMs: 1_000 } })] },
      'services[0].passiveHealth.maxCooldownMs: must not be below cooldownMs',
    ],
    [
      { services: [service({ activeHealth: { enabled: 'yes' } })] },
      'services[0].activeHealth.enabled: must be true or false',
    ],
    [
      { services: [service({ discovery: { intervalMs: 10 } })] },
      'services[0].discovery.intervalMs: must be an integer from 50 to 3600000',
    ],
    [
      { services: [service({ auth: { default: 'admin' } })] },
      'services[0].auth.default: must be public, authenticated or role:<name>',
    ],
    [
      {
        services: [
          service({ auth: { rules: [{ path: '/a', pathPrefix: '/b', policy: 'public' }] } }),
        ],
      },
      'services[0].auth.rules[0]: use either path or pathPrefix, not both',
    ],
    [
      { services: [service({ auth: { rules: [{ methods: ['get'], policy: 'public' }] } })] },
      'services[0].auth.rules[0].methods[0]: must be an upper-case HTTP method',
    ],
    [
      { services: [service({ auth: { rules: [{ path: '/a' }] } })] },
      'services[0].auth.rules[0].policy: is required',
    ],
    [
      { services: [service({ cors: { origins: ['*'], credentials: true } })] },
      'services[0].cors.origins[0]: must not be "*" when credentials are allowed',
    ],
    [
      { services: [service({ cors: { origins: ['null'] } })] },
      'services[0].cors.origins[0]: the "null" origin is never allowed',
    ],
    [
      { services: [service({ cors: { origins: ['https://shop.example.com/'] } })] },
      'services[0].cors.origins[0]: must be an exact origin',
    ],
  ])('should refuse %j naming the field', (document, message) => {
    expect(problems(document)).toContain(message);
  });

  it('should suggest the key a typo meant', () => {
    const { basePath: _basePath, ...rest } = service();
    expect(problems({ services: [{ ...rest, basePth: '/api/products' }] })).toContain(
      'services[0].basePth: unknown key (did you mean basePath?); services[0].basePath: is required',
    );
    expect(problems({ services: [service({ zzz: 1 })] })).toMatch(
      /services\[0\]\.zzz: unknown key$/,
    );
  });

  it('should echo the bad value', () => {
    expect(problems({ services: [service({ retry: { attempts: 'three' } })] })).toContain(
      'services[0].retry.attempts: must be an integer from 1 to 10, got "three"',
    );
    expect(problems({ services: [service({ name: 7 })] })).toContain(
      'services[0].name: must be a non-empty string, got 7',
    );
  });

  it('should be a configuration error, reported once at start', () => {
    expect(() => parseGatewayConfig({ services: [] }, 'test.yaml')).toThrow(ConfigurationError);
  });

  it('should name the file it refuses', () => {
    expect(problems({ services: [] })).toMatch(
      /^Invalid configuration: gateway config test\.yaml: /,
    );
  });
});

describe('loadGatewayConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'gateway-config-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('should read YAML', () => {
    const file = join(dir, 'g.yaml');
    writeFileSync(
      file,
      'services:\n  - name: a\n    basePath: /a\n    targets: [http://127.0.0.1:1]\n',
    );
    expect(loadGatewayConfig(file).services[0].basePath).toBe('/a');
  });

  it('should read JSON', () => {
    const file = join(dir, 'g.json');
    writeFileSync(file, JSON.stringify({ services: [service()] }));
    expect(loadGatewayConfig(file).services[0].name).toBe('products');
  });

  it('should refuse a YAML file with a duplicate key', () => {
    const file = join(dir, 'g.yaml');
    writeFileSync(file, 'services: []\nservices: []\n');
    expect(() => loadGatewayConfig(file)).toThrow(/is not valid YAML/);
  });

  it('should refuse a missing file, naming it', () => {
    expect(() => loadGatewayConfig(join(dir, 'missing.yaml'))).toThrow(
      /gateway config .*missing\.yaml cannot be read/,
    );
  });
});

describe('parseGatewayConfig: response cache, rate limits and trusted proxies', () => {
  it('should leave caching and limits off and trust no proxy by default', () => {
    const config = parseGatewayConfig({ services: [service()] });
    expect(config.trustedProxyHops).toBe(0);
    expect(config.services[0].cache).toBeNull();
    expect(config.services[0].rateLimits).toEqual([]);
  });

  it('should take idempotencyKeys per service, off unless set, from defaults too', () => {
    const config = parseGatewayConfig({
      services: [service(), service({ name: 'b', basePath: '/b', idempotencyKeys: true })],
    });
    expect(config.services.map((s) => s.idempotencyKeys)).toEqual([false, true]);
    const all = parseGatewayConfig({
      defaults: { idempotencyKeys: true },
      services: [service(), service({ name: 'b', basePath: '/b', idempotencyKeys: false })],
    });
    expect(all.services.map((s) => s.idempotencyKeys)).toEqual([true, false]);
    expect(problems({ services: [service({ idempotencyKeys: 'yes' })] })).toContain(
      'services[0].idempotencyKeys: must be true or false',
    );
  });

  it('should take websocket per service, off unless set, and the tunnel limits with their defaults', () => {
    const config = parseGatewayConfig({
      websockets: { maxTunnelsPerUser: 5 },
      services: [service(), service({ name: 'b', basePath: '/b', websocket: true })],
    });
    expect(config.services.map((s) => s.websocket)).toEqual([false, true]);
    expect(config.websockets).toEqual({
      maxTunnels: 10_000,
      maxTunnelsPerUser: 5,
      idleTimeoutMs: 300_000,
    });
    expect(parseGatewayConfig({ services: [service()] }).websockets.maxTunnelsPerUser).toBe(100);
    const wrong = problems({
      websockets: { maxTunnels: 0, idleTimeoutMs: 50, perUser: 3 },
      services: [service({ websocket: 'yes' })],
    });
    expect(wrong).toContain('services[0].websocket: must be true or false');
    expect(wrong).toContain('websockets.maxTunnels: must be an integer from 1 to 1000000, got 0');
    expect(wrong).toContain(
      'websockets.idleTimeoutMs: must be an integer from 100 to 86400000, got 50',
    );
    expect(wrong).toContain('websockets.perUser: unknown key');
  });

  it('should parse a cache block, from defaults or per service, and let a service turn it off', () => {
    const config = parseGatewayConfig({
      trustedProxyHops: 2,
      defaults: { cache: { ttlSeconds: 30 } },
      services: [
        service(),
        service({ name: 'b', basePath: '/b', cache: { ttlSeconds: 5, maxBodyBytes: 1024 } }),
        service({ name: 'c', basePath: '/c', cache: null }),
      ],
    });
    expect(config.trustedProxyHops).toBe(2);
    expect(config.services.map((s) => s.cache)).toEqual([
      { ttlSeconds: 30, maxBodyBytes: 262_144 },
      { ttlSeconds: 5, maxBodyBytes: 1024 },
      null,
    ]);
  });

  it('should parse rate limits with their defaults', () => {
    const config = parseGatewayConfig({
      services: [
        service({
          rateLimits: [
            { methods: ['POST'], path: '/orders', limit: 5, windowSeconds: 60, by: 'user' },
            { pathPrefix: '/search', limit: 100, windowSeconds: 1, onStoreDown: 'deny' },
          ],
        }),
      ],
    });
    expect(config.services[0].rateLimits).toEqual([
      {
        methods: ['POST'],
        path: '/orders',
        pathPrefix: null,
        limit: 5,
        windowSeconds: 60,
        by: 'user',
        onStoreDown: 'allow',
      },
      {
        methods: null,
        path: null,
        pathPrefix: '/search',
        limit: 100,
        windowSeconds: 1,
        by: 'ip',
        onStoreDown: 'deny',
      },
    ]);
  });

  it('should name every bad cache, rate limit and proxy field', () => {
    const message = problems({
      trustedProxyHops: -1,
      services: [
        service({
          cache: { ttlSeconds: 0, maxBodyBytes: 'big', extra: true },
          rateLimits: [
            { path: '/a', pathPrefix: '/b', limit: 0, windowSeconds: 60, by: 'session' },
            { methods: ['post'], path: 'orders', onStoreDown: 'maybe' },
          ],
        }),
        service({ name: 'b', basePath: '/b', cache: { maxBodyBytes: 10 }, rateLimits: {} }),
      ],
    });
    for (const expected of [
      'trustedProxyHops: must be an integer from 0 to 10',
      'services[0].cache.extra: unknown key',
      'services[0].cache.ttlSeconds: must be an integer from 1 to 86400',
      'services[0].cache.maxBodyBytes: must be an integer from 1 to 16777216',
      'services[0].rateLimits[0]: use either path or pathPrefix, not both',
      'services[0].rateLimits[0].limit: must be an integer from 1 to 1000000000',
      'services[0].rateLimits[0].by: must be ip or user',
      'services[0].rateLimits[1].limit: is required',
      'services[0].rateLimits[1].windowSeconds: is required',
      'services[0].rateLimits[1].onStoreDown: must be allow or deny',
      'services[0].rateLimits[1].methods[0]: must be an upper-case HTTP method such as GET',
      'services[0].rateLimits[1].path: must be a canonical path starting with "/"',
      'services[1].cache.ttlSeconds: is required',
      'services[1].rateLimits: must be a list',
    ]) {
      expect(message).toContain(expected);
    }
  });
});

describe('parseGatewayConfig: the schema and the cross-field rules together', () => {
  it('should report schema and cross-field problems of one document at once, schema problems first', () => {
    const message = problems({
      services: [
        service({ retry: { attempts: 0, backoffBaseMs: 500, backoffMaxMs: 100 } }),
        service({ name: 'products', targets: ['http://a:1', 'http://a:1'], timeouts: { idle: 1 } }),
      ],
    });
    expect(message.split('; ')).toEqual([
      'Invalid configuration: gateway config test.yaml: services[0].retry.attempts: must be an integer from 1 to 10, got 0',
      'services[1].timeouts.idle: unknown key (did you mean idleMs?)',
      'services[0].retry.backoffMaxMs: must not be below backoffBaseMs',
      'services[1].name: "products" is already used by services[0]',
      'services[1].basePath: /api/products is already used by services[0]',
      'services[1].targets[1]: http://a:1 is listed twice',
    ]);
  });

  it('should say what a cors or cache section may be, and check the object it is', () => {
    expect(problems({ services: [service({ cors: 'yes' })] })).toContain(
      'services[0].cors: must be an object, or null or false to turn it off, got "yes"',
    );
    expect(problems({ services: [service({ cache: true })] })).toContain(
      'services[0].cache: must be an object, or null or false to turn it off, got true',
    );
    const message = problems({ services: [service({ cors: { origin: ['*'] } })] });
    expect(message).toContain('services[0].cors.origin: unknown key (did you mean origins?)');
    expect(message).toContain('services[0].cors.origins: is required');
    expect(message).not.toContain('null');
  });

  it('should echo the value of every kind of field it refuses', () => {
    const message = problems({
      services: [
        service({
          rateLimits: [{ limit: 1, windowSeconds: 1, by: 'session' }],
          auth: { default: 'role:' },
          targets: ['http://u:p@a:1'],
        }),
      ],
    });
    expect(message).toContain('services[0].rateLimits[0].by: must be ip or user, got "session"');
    expect(message).toContain(
      'services[0].auth.default: must be public, authenticated or role:<name>, got "role:"',
    );
    expect(message).toContain(
      'services[0].targets[0]: must not carry credentials, got "http://u:p@a:1"',
    );
  });

  it('should compare ordered bounds as they take effect over the defaults block', () => {
    expect(
      problems({
        defaults: { retry: { backoffBaseMs: 1000 } },
        services: [service({ retry: { backoffMaxMs: 500 } })],
      }),
    ).toContain('services[0].retry.backoffMaxMs: must not be below backoffBaseMs');
    expect(
      problems({
        defaults: { passiveHealth: { cooldownMs: 120_000 } },
        services: [service()],
      }),
    ).toContain('defaults.passiveHealth.maxCooldownMs: must not be below cooldownMs');
  });

  it('should name one problem for a value of the wrong type or an empty one', () => {
    const message = problems({ services: [service({ name: '', basePath: 5 })] });
    expect(message).toMatch(
      /: services\[0\]\.name: must be a non-empty string, got ""; services\[0\]\.basePath: must be a non-empty string, got 5$/,
    );
  });

  it('should refuse a document that is not an object', () => {
    expect(problems(null)).toContain('(root): must be an object, got null');
    expect(problems(['services'])).toContain('(root): must be an object, got ["services"]');
  });

  it('should take every default from the schema, also inside lists and turned-on sections', () => {
    const config = parseGatewayConfig({
      services: [service({ cors: { origins: ['https://shop.example.com'] } })],
    });
    expect(config.services[0].cors).toEqual({
      origins: ['https://shop.example.com'],
      credentials: false,
      methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE'],
      allowHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-request-id'],
      exposeHeaders: ['x-request-id'],
      maxAgeSeconds: 600,
    });
    // Defaults are copies: a loaded config never shares a list with another one.
    const other = parseGatewayConfig({
      services: [service({ cors: { origins: ['https://a.example.com'] } })],
    });
    expect(other.services[0].cors?.methods).not.toBe(config.services[0].cors?.methods);
  });
});
