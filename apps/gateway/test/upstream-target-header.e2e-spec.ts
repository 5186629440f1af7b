import { TestGateway } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

const routes = (targets: string[]) => ({
  services: [{ name: 'products', basePath: '/api/products', targets }],
});

describe('gateway: X-Upstream-Target names the replica that answered, outside production only', () => {
  const replicas = [new TestUpstream(), new TestUpstream()];
  const saved = { NODE_ENV: process.env.NODE_ENV, JWT_SECRET: process.env.JWT_SECRET };

  beforeAll(() => Promise.all(replicas.map((r) => r.start())));
  afterAll(() => Promise.all(replicas.map((r) => r.kill())));
  afterEach(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('should name each target in turn in development', async () => {
    process.env.NODE_ENV = 'development';
    const gateway = await new TestGateway(routes(replicas.map((r) => r.origin))).start();
    try {
      const named: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await gateway.send('GET', '/api/products/1');
        expect(res.status).toBe(200);
        named.push(res.headers['x-upstream-target']);
      }
      const [a, b] = replicas.map((r) => r.origin);
      expect(new Set(named)).toEqual(new Set([a, b]));
      expect(named[0]).not.toBe(named[1]);
      expect(named[2]).toBe(named[0]);
    } finally {
      await gateway.close();
    }
  });

  it('should never send it in production', async () => {
    process.env.NODE_ENV = 'production';
    process.env.JWT_SECRET = 'a-production-secret-of-at-least-32-bytes!';
    const gateway = await new TestGateway(routes(replicas.map((r) => r.origin))).start();
    try {
      for (let i = 0; i < 2; i++) {
        const res = await gateway.send('GET', '/api/products/1');
        expect(res.status).toBe(200);
        expect(res.headers['x-upstream-target']).toBeUndefined();
      }
    } finally {
      await gateway.close();
    }
  });
});
