import { Test } from '@nestjs/testing';
import { join } from 'node:path';
import { GatewayModule } from '../src/gateway.module';
import { GATEWAY_CONFIG } from '../src/routing/routing.tokens';
import { LiveConfig } from '../src/proxy/live-config';
import { TestGateway, writeConfig } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

const ROOT = join(__dirname, '..', '..', '..');

/** Builds the real GatewayModule over `config` and returns why it refused to start. */
async function startupError(config: unknown): Promise<string> {
  const file = writeConfig(config);
  process.env.GATEWAY_CONFIG = file.file;
  try {
    await Test.createTestingModule({ imports: [GatewayModule] }).compile();
  } catch (err) {
    return (err as Error).message;
  } finally {
    file.remove();
  }
  throw new Error('the gateway started with an invalid config');
}

const valid = (overrides: Record<string, unknown> = {}) => ({
  name: 'products',
  basePath: '/api/products',
  targets: ['http://127.0.0.1:3001'],
  ...overrides,
});

describe('gateway: config validation at start', () => {
  it('should refuse an unknown key and name it', async () => {
    const message = await startupError({ services: [valid({ timeout: 5 })] });
    expect(message).toContain('services[0].timeout: unknown key');
  });

  it('should refuse a target that is not an http(s) URL and name it', async () => {
    const message = await startupError({
      services: [valid(), valid({ name: 'users', basePath: '/api/users', targets: ['ftp://x'] })],
    });
    expect(message).toContain('services[1].targets[0]: not an http(s) URL');
  });

  it('should refuse two services on one base path and name the second', async () => {
    const message = await startupError({ services: [valid(), valid({ name: 'copy' })] });
    expect(message).toContain('services[1].basePath: /api/products is already used by services[0]');
  });

  it('should report every problem of the file at once', async () => {
    const message = await startupError({
      services: [
        valid({ targets: ['not a url'], auth: { default: 'admins' } }),
        valid({ name: 'users', basePath: '/api/users/', cors: { origins: ['null'] } }),
      ],
    });
    expect(message).toContain('services[0].targets[0]: not an http(s) URL');
    expect(message).toContain(
      'services[0].auth.default: must be public, authenticated or role:<name>',
    );
    expect(message).toContain('services[1].basePath: must be a canonical path');
    expect(message).toContain('services[1].cors.origins[0]: the "null" origin is never allowed');
  });

  it('should refuse a missing config file and name it', async () => {
    process.env.GATEWAY_CONFIG = '/nonexistent/gateway.yaml';
    await expect(Test.createTestingModule({ imports: [GatewayModule] }).compile()).rejects.toThrow(
      /gateway config \/nonexistent\/gateway\.yaml cannot be read/,
    );
  });

  it('should accept the local and swarm config files of the repository', async () => {
    for (const name of ['gateway.local.yaml', 'gateway.swarm.yaml']) {
      process.env.GATEWAY_CONFIG = join(ROOT, 'config', name);
      const moduleRef = await Test.createTestingModule({ imports: [GatewayModule] }).compile();
      const table = moduleRef.get(LiveConfig).current.routes;
      const canonical = (path: string) => ({ ok: true as const, path, query: '' });
      expect(table.resolve(canonical('/api/products/1'), 'GET')?.policy).toEqual({
        kind: 'public',
      });
      expect(table.resolve(canonical('/api/products/1'), 'DELETE')?.policy).toEqual({
        kind: 'role',
        role: 'admin',
      });
      expect(table.resolve(canonical('/api/users'), 'POST')?.policy).toEqual({ kind: 'public' });
      expect(table.resolve(canonical('/api/users/1'), 'GET')?.policy).toEqual({
        kind: 'authenticated',
      });
      expect(table.resolve(canonical('/api/checkout/orders'), 'POST')?.service.name).toBe(
        'checkout-service',
      );
      expect(moduleRef.get(GATEWAY_CONFIG)).toMatchObject({ services: { length: 3 } });
      await moduleRef.close();
    }
  });
});

describe('gateway: an unexpected error on the proxy path', () => {
  const upstream = new TestUpstream();
  let gateway: TestGateway;

  beforeAll(async () => {
    await upstream.start();
    gateway = await new TestGateway({
      services: [valid({ targets: [upstream.origin] })],
    }).start();
    const table = gateway.get(LiveConfig).current.routes;
    const resolve = table.resolve.bind(table);
    table.resolve = (canonical, method) => {
      if (canonical.path === '/api/products/boom') throw new Error('bug on the hot path');
      return resolve(canonical, method);
    };
  });

  afterAll(async () => {
    await upstream.kill();
    await gateway.close();
  });

  it('should answer 500 in the shared error shape and keep serving', async () => {
    const res = await gateway.send('GET', '/api/products/boom');
    expect(res.status).toBe(500);
    expect(res.json).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'internal error',
      requestId: res.headers['x-request-id'],
    });
    const next = await gateway.send('GET', '/api/products/fine');
    expect(next.status).toBe(200);
    expect(upstream.seen.map((s) => s.url)).toEqual(['/fine']);
  });
});
