import { renameSync, writeFileSync } from 'node:fs';
import { createServer, Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { GatewayProcess } from './support/gateway-process';
import { eventually, metric, TestGateway, writeConfig } from './support/test-gateway';
import { echo, TestUpstream } from './support/test-upstream';

/** Writes `config` where the gateway reads it: in place, or as an editor does (a new file renamed over it). */
function rewrite(file: string, config: unknown, byRename = false): void {
  const text = typeof config === 'string' ? config : stringify(config);
  if (!byRename) {
    writeFileSync(file, text);
    return;
  }
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

interface ReadyConfig {
  version: { number: number; digest: string; loadedAt: string };
  lastReload: { result: string; trigger: string; error: string | null } | null;
}

async function readyConfig(origin: string): Promise<ReadyConfig> {
  const res = await fetch(`${origin}/health/ready`);
  const body = (await res.json()) as { details: { config: ReadyConfig } };
  return body.details.config;
}

/** A server that answers after `delayMs` and reports when a connection to it closes. */
class SlowUpstream {
  private server?: Server;
  readonly sockets = new Set<Socket>();
  closed = 0;
  origin = '';

  constructor(private readonly delayMs: number) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (req.url === '/health/ready') {
        res.end('ok');
        return;
      }
      setTimeout(() => res.end('slow'), this.delayMs);
    });
    this.server.keepAliveTimeout = 30_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => {
        this.sockets.delete(socket);
        this.closed += 1;
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describe('gateway: live config reload (file watch)', () => {
  const a1 = new TestUpstream();
  const a2 = new TestUpstream();
  const b1 = new TestUpstream();
  const slow = new SlowUpstream(600);
  let gateway: TestGateway;

  const open = { auth: { default: 'public' } };
  const alpha = (targets: string[]) => ({
    name: 'alpha',
    basePath: '/api/alpha',
    targets,
    ...open,
  });
  const beta = () => ({ name: 'beta', basePath: '/api/beta', targets: [b1.origin], ...open });
  const gamma = () => ({ name: 'gamma', basePath: '/api/gamma', targets: [slow.origin], ...open });
  /** One active check at start, then none for a minute: health seen after a reload is carried over. */
  const defaults = { activeHealth: { intervalMs: 60_000, timeoutMs: 5_000 } };
  const small = () => ({ defaults, services: [alpha([a1.origin]), gamma()] });
  const large = () => ({
    defaults,
    services: [alpha([a1.origin, a2.origin]), beta(), gamma()],
  });

  const version = async () => (await readyConfig(gateway.origin)).version.number;
  const reloadTo = async (config: unknown, expected: number, byRename = false) => {
    rewrite(gateway.configFile, config, byRename);
    await eventually(async () => (await version()) === expected, 5_000);
  };

  beforeAll(async () => {
    await Promise.all([a1.start(), a2.start(), b1.start(), slow.start()]);
    gateway = await new TestGateway(large()).start();
    // The first round of active checks has passed: nothing below waits on one.
    await eventually(async () => {
      const targets = await Promise.all(
        [a1, a2].map((upstream) => alphaTarget(gateway, upstream.origin)),
      );
      return targets.every((t) => t?.state === 'up' && t.lastCheck !== null);
    }, 10_000);
  });

  afterAll(async () => {
    await gateway.close();
    await Promise.all([a1.kill(), a2.kill(), b1.kill(), slow.stop()]);
  });

  it('should report version 1, no reload and every reload result at 0 at start', async () => {
    const text = await gateway.metrics();
    for (const result of ['success', 'invalid', 'error']) {
      expect(text).toContain(`gateway_config_reloads_total{result="${result}"} 0`);
    }
    const config = await readyConfig(gateway.origin);
    expect(config.version).toEqual({
      number: 1,
      digest: expect.stringMatching(/^[0-9a-f]{12}$/),
      loadedAt: expect.any(String),
    });
    expect(config.lastReload).toBeNull();
  });

  it('should fail no request under steady load through 20 reloads that add and remove a service and a target', async () => {
    const client = new Pool(gateway.origin, { connections: 8, pipelining: 1 });
    const statuses = new Map<number, number>();
    let errors = 0;
    let running = true;
    const loop = async () => {
      while (running) {
        try {
          const res = await client.request({ method: 'GET', path: '/api/alpha/item' });
          await res.body.dump();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        } catch {
          errors += 1;
        }
      }
    };
    const loops = Array.from({ length: 8 }, loop);
    const before = await version();
    for (let i = 1; i <= 20; i++) {
      await reloadTo(i % 2 === 1 ? small() : large(), before + i, i % 4 === 0);
      await new Promise((r) => setTimeout(r, 50));
    }
    running = false;
    await Promise.all(loops);
    await client.close();
    const ok = statuses.get(200) ?? 0;
    expect({ errors, failed: [...statuses].filter(([status]) => status !== 200) }).toEqual({
      errors: 0,
      failed: [],
    });
    expect(ok).toBeGreaterThan(200);
    // The last reload (20, even) has both alpha targets and beta again.
    expect(a2.count).toBeGreaterThan(0);
    expect((await gateway.send('GET', '/api/beta/x')).status).toBe(200);
    const text = await gateway.metrics();
    expect(metric(text, 'gateway_config_reloads_total{result="success"}')).toBe(20);
    expect(metric(text, 'gateway_config_reloads_total{result="invalid"}')).toBe(0);
  }, 60_000);

  it('should answer 404 for a removed route as soon as the version says the reload is done', async () => {
    const now = await version();
    expect((await gateway.send('GET', '/api/beta/x')).status).toBe(200);
    await reloadTo(small(), now + 1);
    const res = await gateway.send('GET', '/api/beta/x');
    expect(res.status).toBe(404);
    await reloadTo(large(), now + 2);
    expect((await gateway.send('GET', '/api/beta/x')).status).toBe(200);
  });

  it('should change nothing for an invalid file, also under load, and say why', async () => {
    const now = await readyConfig(gateway.origin);
    const client = new Pool(gateway.origin, { connections: 4 });
    let failed = 0;
    let ok = 0;
    let running = true;
    const loop = async () => {
      while (running) {
        for (const path of ['/api/alpha/x', '/api/beta/x']) {
          const res = await client.request({ method: 'GET', path });
          await res.body.dump();
          if (res.statusCode === 200) ok += 1;
          else failed += 1;
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    const bad = {
      defaults,
      services: [alpha([a1.origin]), { ...beta(), targets: ['ftp://127.0.0.1:1'] }],
    };
    rewrite(gateway.configFile, bad);
    await eventually(
      async () => (await readyConfig(gateway.origin)).lastReload?.result === 'invalid',
    );
    await new Promise((r) => setTimeout(r, 200));
    running = false;
    await Promise.all(loops);
    await client.close();
    const after = await readyConfig(gateway.origin);
    expect(after.version).toEqual(now.version);
    expect(after.lastReload).toMatchObject({ result: 'invalid', trigger: 'file' });
    expect(after.lastReload!.error).toContain('services[1].targets[0]');
    expect({ failed, some: ok > 0 }).toEqual({ failed: 0, some: true });
    // Both alpha targets still answer: the invalid file's single target was not applied.
    a2.reset();
    for (let i = 0; i < 4; i++) await gateway.send('GET', '/api/alpha/x');
    expect(a2.count).toBe(2);
    expect(metric(await gateway.metrics(), 'gateway_config_reloads_total{result="invalid"}')).toBe(
      1,
    );
    // Putting the file back as it was ends the failure without a new version.
    rewrite(gateway.configFile, large());
    await eventually(async () => (await readyConfig(gateway.origin)).lastReload?.error === null);
    expect((await readyConfig(gateway.origin)).version).toEqual(now.version);
  });

  it('should refuse a file that changes what needs a restart, and name it', async () => {
    const now = await version();
    rewrite(gateway.configFile, { ...large(), trustedProxyHops: 2 });
    await eventually(async () => (await readyConfig(gateway.origin)).lastReload?.error != null);
    const after = await readyConfig(gateway.origin);
    expect(after.version.number).toBe(now);
    expect(after.lastReload!.error).toContain('trustedProxyHops: 0 -> 2 needs a restart');
    rewrite(gateway.configFile, large());
    await eventually(async () => (await readyConfig(gateway.origin)).lastReload?.error === null);
  });

  it('should let a request in flight finish on the old version, then close the pool of its removed target', async () => {
    const now = await version();
    const closedBefore = slow.closed;
    const inFlight = gateway.send('GET', '/api/gamma/wait');
    await eventually(() => slow.sockets.size > 0);
    await reloadTo({ defaults, services: [alpha([a1.origin, a2.origin]), beta()] }, now + 1);
    expect((await gateway.send('GET', '/api/gamma/wait')).status).toBe(404);
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(res.text).toBe('slow');
    // Its server sees the gateway's connection closed once the request has ended.
    // Well before undici's own keep-alive timeout (4 s) would close an idle connection.
    await eventually(() => slow.sockets.size === 0 && slow.closed > closedBefore, 1_000);
    await reloadTo(large(), now + 2);
    expect((await gateway.send('GET', '/api/gamma/wait')).status).toBe(200);
  });

  it('should carry the health of unchanged targets over a reload', async () => {
    const now = await version();
    a2.healthy = false;
    // a2 leaves and comes back: a new target, checked at once, and found down.
    await reloadTo(small(), now + 1);
    await reloadTo(large(), now + 2);
    await eventually(async () => (await alphaTarget(gateway, a2.origin))?.state === 'down');
    const checked = await alphaTarget(gateway, a2.origin);
    // alpha unchanged, gamma dropped: a2 is the same target, still down, without a new check.
    await reloadTo({ defaults, services: [alpha([a1.origin, a2.origin]), beta()] }, now + 3);
    expect(await alphaTarget(gateway, a2.origin)).toMatchObject({
      state: 'down',
      lastCheck: checked!.lastCheck,
    });
    a2.reset();
    for (let i = 0; i < 6; i++)
      expect((await gateway.send('GET', '/api/alpha/x')).status).toBe(200);
    expect(a2.count).toBe(0);
    a2.healthy = true;
  });

  it('should rebuild the merged OpenAPI document for the services of the new version', async () => {
    const doc = JSON.stringify({
      openapi: '3.0.0',
      info: { title: 'beta', version: '1' },
      paths: { '/things': { get: { responses: { '200': { description: 'ok' } } } } },
    });
    b1.behaviour = (req, res, seen) => {
      if (req.url !== '/docs-json') return echo(req, res, seen);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(doc);
    };
    const paths = async () =>
      Object.keys(
        ((await gateway.send('GET', '/docs/openapi.json')).json as { paths: object }).paths,
      );
    const now = await version();
    await reloadTo(large(), now + 1);
    expect(await paths()).toContain('/api/beta/things');
    await reloadTo(small(), now + 2);
    expect(await paths()).not.toContain('/api/beta/things');
    await reloadTo(large(), now + 3);
    expect(await paths()).toContain('/api/beta/things');
    b1.behaviour = echo;
  });

  it('should show the version in the admin status', async () => {
    const status = (await gateway.send('GET', '/api/admin/status')).json;
    expect(status.configVersion).toEqual((await readyConfig(gateway.origin)).version);
    expect(status.lastReload).toMatchObject({ result: 'success', trigger: 'file', error: null });
  });
});

/** A target of alpha as the admin status reports it (authentication is off in this suite). */
async function alphaTarget(
  gateway: TestGateway,
  origin: string,
): Promise<{ state: string; lastCheck: unknown } | undefined> {
  const status = (await gateway.send('GET', '/api/admin/status')).json as {
    services: { name: string; targets: { origin: string; state: string; lastCheck: unknown }[] }[];
  };
  return status.services.find((s) => s.name === 'alpha')?.targets.find((t) => t.origin === origin);
}

describe('gateway: live config reload (SIGHUP, as a process)', () => {
  const upstream = new TestUpstream();
  let gateway: GatewayProcess;
  let origin = '';
  let config: { file: string; remove(): void };
  const service = (name: string, basePath: string) => ({
    name,
    basePath,
    targets: [upstream.origin],
    auth: { default: 'public' },
  });

  beforeAll(async () => {
    await upstream.start();
    config = writeConfig({ services: [service('products', '/api/products')] });
    gateway = await GatewayProcess.start({
      GATEWAY_CONFIG: config.file,
      GATEWAY_CONFIG_WATCH: 'false',
      LOG_LEVEL: 'info',
      GATEWAY_ACCESS_LOG: 'false',
    });
    origin = gateway.origin;
  }, 70_000);

  afterAll(async () => {
    await gateway?.stop('SIGTERM');
    config.remove();
    await upstream.kill();
  });

  it('should reload on SIGHUP only (the file is not watched), and serve the new route', async () => {
    rewrite(config.file, {
      services: [service('products', '/api/products'), service('orders', '/api/orders')],
    });
    await new Promise((r) => setTimeout(r, 800));
    expect((await readyConfig(origin)).version.number).toBe(1);
    expect((await fetch(`${origin}/api/orders/1`)).status).toBe(404);
    gateway.child.kill('SIGHUP');
    await eventually(async () => (await readyConfig(origin)).version.number === 2);
    expect((await fetch(`${origin}/api/orders/1`)).status).toBe(200);
    expect((await readyConfig(origin)).lastReload).toMatchObject({
      trigger: 'SIGHUP',
      result: 'success',
      error: null,
    });
  });

  it('should log one line naming the bad field of an invalid file, and keep running', async () => {
    rewrite(config.file, {
      services: [{ ...service('products', '/api/products'), retries: 3 }],
    });
    const mark = gateway.output.length;
    gateway.child.kill('SIGHUP');
    await eventually(async () => (await readyConfig(origin)).lastReload?.result === 'invalid');
    await new Promise((r) => setTimeout(r, 300));
    const lines = gateway.output
      .slice(mark)
      .split('\n')
      .filter((line) => line.includes('services[0].retries: unknown key'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'warn',
      msg: expect.stringContaining('config not reloaded, version 2 stays'),
      trigger: 'SIGHUP',
      result: 'invalid',
    });
    expect((await readyConfig(origin)).version.number).toBe(2);
    expect((await fetch(`${origin}/api/orders/1`)).status).toBe(200);
    expect(gateway.child.exitCode).toBeNull();
  });
});
