import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { describeWhen } from '../apps/gateway/test/support/redis-available';
import { redisServerStatus } from '../apps/gateway/test/support/redis-server';
import { EXPECTED_REPLICAS, appPort, effectiveEnv, stackProblems } from './stack-checks';
import {
  appOf,
  loadStack,
  namedVolumesOf,
  POSTGRES_OVERRIDE,
  secretsOf,
  TLS_OVERRIDE,
  Stack,
  STACK_FILE,
} from './stack-file';
import { AppProcess, ROOT } from './support/app-process';
import { freePort } from './support/ports';

const run = promisify(execFile);

/** What every deploy must set: the first administrator's address (README, step 2). */
const DEPLOY = { ADMIN_EMAIL: 'ops@example.net' };
/** What the documented PostgreSQL deploy adds: a constraint every Linux node meets. */
const SPREAD = { ...DEPLOY, API_PLACEMENT: 'node.platform.os == linux' };
const PINNED = 'node.labels.api-data == true';

const dockerStatus = (): { ok: true } | { ok: false; reason: string } => {
  const probe = spawnSync('docker', ['stack', 'config', '--help'], { encoding: 'utf8' });
  return probe.error
    ? { ok: false, reason: `the docker CLI is not available (${probe.error.message})` }
    : { ok: true };
};

const constraintsOf = (stack: Stack, service: string): string[] =>
  stack.services[service]?.deploy?.placement?.constraints ?? [];

/** `docker stack config` for `files`; resolves with its stdout, rejects with its stderr. */
function dockerStackConfig(files: string[], env: Record<string, string> = {}): Stack {
  const result = spawnSync('docker', ['stack', 'config', ...files.flatMap((f) => ['-c', f])], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, API_PLACEMENT: '', REGISTRY: '', TAG: '', ADMIN_EMAIL: '', ...env },
  });
  if (result.status !== 0) {
    throw new Error(`docker stack config ${files.join(' ')} failed:\n${result.stderr}`);
  }
  return parse(result.stdout) as Stack;
}

// The docker CLI validates the files offline against the Compose schema `docker stack deploy`
// uses; no engine or Swarm is needed. Its resolved output also checks the loader used below.
const docker = dockerStatus();
if (!docker.ok) console.warn(`SKIPPED "docker stack config": ${docker.reason}.`);
(docker.ok ? describe : describe.skip)('docker stack config', () => {
  it.each([
    ['the SQLite stack', [STACK_FILE], DEPLOY],
    ['the PostgreSQL override', [STACK_FILE, POSTGRES_OVERRIDE], DEPLOY],
    ['the PostgreSQL override with the replicas spread', [STACK_FILE, POSTGRES_OVERRIDE], SPREAD],
    ['the TLS override', [STACK_FILE, TLS_OVERRIDE], DEPLOY],
  ])('should accept %s and resolve it as the checks read it', (_name, files, env) => {
    const resolved = dockerStackConfig(files, env);
    const ours = loadStack(files, env);
    expect(Object.keys(resolved.services).sort()).toEqual(Object.keys(ours.services).sort());
    for (const [name, service] of Object.entries(ours.services)) {
      const theirs = resolved.services[name];
      expect({ name, env: theirs.environment ?? {} }).toEqual({
        name,
        env: service.environment ?? {},
      });
      expect({ name, secrets: secretsOf(theirs).sort() }).toEqual({
        name,
        secrets: secretsOf(service).sort(),
      });
      expect({ name, constraints: constraintsOf(resolved, name) }).toEqual({
        name,
        constraints: constraintsOf(ours, name),
      });
      expect({ name, test: theirs.healthcheck?.test }).toEqual({
        name,
        test: service.healthcheck?.test,
      });
      expect({ name, replicas: theirs.deploy?.replicas }).toEqual({
        name,
        replicas: service.deploy?.replicas,
      });
      expect({ name, command: theirs.command }).toEqual({ name, command: service.command });
    }
  });

  it('should refuse a file outside the schema (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stack-bad-'));
    try {
      const bad = join(dir, 'bad.yml');
      writeFileSync(
        bad,
        readFileSync(join(ROOT, STACK_FILE), 'utf8').replace('order: start-first', 'order: later'),
      );
      expect(() => dockerStackConfig([bad], DEPLOY)).toThrow(/order/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('should refuse to resolve the stack without ADMIN_EMAIL, as the checks do', () => {
    const missing = /required variable ADMIN_EMAIL is missing a value: set ADMIN_EMAIL/;
    for (const env of [{}, { ADMIN_EMAIL: '' }] as Array<Record<string, string>>) {
      expect(() => dockerStackConfig([STACK_FILE], env)).toThrow(missing);
      expect(() => loadStack([STACK_FILE], env)).toThrow(missing);
    }
  });
});

describe('stack files agree with the apps', () => {
  const base = loadStack([STACK_FILE], DEPLOY);

  it('should find nothing off in the SQLite stack', () => {
    expect(stackProblems(base)).toEqual([]);
    expect(
      Object.fromEntries(Object.keys(EXPECTED_REPLICAS).map((s) => [s, constraintsOf(base, s)])),
    ).toEqual({
      gateway: [],
      'product-service': [PINNED],
      'user-service': [PINNED],
      'checkout-service': [PINNED],
      redis: [PINNED],
    });
  });

  it('should add the TLS listener on 8443 from two secrets, the healthcheck still on plain HTTP', () => {
    const tls = loadStack([STACK_FILE, TLS_OVERRIDE], DEPLOY);
    expect(stackProblems(tls)).toEqual([]);
    const gateway = tls.services.gateway;
    expect(gateway.ports?.map((p) => [p.published, p.target])).toEqual([
      [8080, 8080],
      [8443, 8443],
    ]);
    expect(secretsOf(gateway)).toEqual(
      expect.arrayContaining(['gateway_tls_cert', 'gateway_tls_key']),
    );
    expect(gateway.healthcheck?.test?.join(' ')).toContain('http://127.0.0.1:8080/health/ready');
    // The check can fail: a TLS listener whose port is not published.
    const unpublished = structuredClone(tls);
    unpublished.services.gateway.ports = unpublished.services.gateway.ports?.slice(0, 1);
    expect(stackProblems(unpublished)).toEqual([
      expect.stringContaining('gateway: should publish 8080 to 8080 and 8443 to 8443'),
    ]);
  });

  it('should run the services on PostgreSQL, each from its own secret, spread when asked', () => {
    const spread = loadStack([STACK_FILE, POSTGRES_OVERRIDE], SPREAD);
    expect(stackProblems(spread)).toEqual([]);
    const services = ['product-service', 'user-service', 'checkout-service'];
    const urls = services.map((s) => spread.services[s].environment?.DATABASE_URL_FILE);
    expect(urls).toEqual([
      '/run/secrets/products_database_url',
      '/run/secrets/users_database_url',
      '/run/secrets/orders_database_url',
    ]);
    expect(services.map((s) => constraintsOf(spread, s))).toEqual(
      services.map(() => [SPREAD.API_PLACEMENT]),
    );
    // The stores keep their local volumes, so they stay on the labelled node.
    expect([constraintsOf(spread, 'redis'), constraintsOf(spread, 'postgres')]).toEqual([
      [PINNED],
      [PINNED],
    ]);
    const init = readFileSync(join(ROOT, 'deploy/postgres/create-databases.sql'), 'utf8');
    expect([...init.matchAll(/CREATE DATABASE (\w+)/g)].map((m) => m[1])).toEqual([
      'products',
      'users',
      'orders',
    ]);

    // Without API_PLACEMENT nothing spreads: a forgotten variable keeps the safe pinning.
    const pinned = loadStack([STACK_FILE, POSTGRES_OVERRIDE], DEPLOY);
    expect(services.map((s) => constraintsOf(pinned, s))).toEqual(services.map(() => [PINNED]));
  });

  /** One edit of the SQLite stack and a problem it must cause: proof that the checks can fail. */
  const breakages: Array<[string, (s: Stack) => void, RegExp]> = [
    [
      'an undefined secret',
      (s) => delete s.secrets!.jwt_secret,
      /^gateway: secret jwt_secret is not defined/,
    ],
    [
      'a secret read but not mounted',
      (s) => (s.services.gateway.secrets = ['jwt_secret']),
      /^gateway: reads \/run\/secrets\/redis_password but does not mount/,
    ],
    [
      'a secret mounted but never read',
      (s) => delete s.services.gateway.environment!.REDIS_PASSWORD_FILE,
      /^gateway: mounts secret redis_password but nothing reads/,
    ],
    [
      'the admin password secret mounted but never read',
      (s) => delete s.services['user-service'].environment!.ADMIN_PASSWORD_FILE,
      /^user-service: mounts secret admin_password but nothing reads/,
    ],
    [
      'a service moved to another port',
      (s) => (s.services['product-service'].environment!.PORT = '3011'),
      /^product-service: healthcheck probes port 3001, but PORT is 3011/,
    ],
    [
      'a gateway target on the wrong port',
      (s) => (s.services['user-service'].environment!.PORT = '3012'),
      /^gateway: config\/gateway.swarm.yaml user-service: .* uses port 3002, but user-service listens on 3012/,
    ],
    [
      "checkout's peer URL missing",
      (s) => delete s.services['checkout-service'].environment!.PRODUCT_SERVICE_URLS,
      /^checkout-service: PRODUCT_SERVICE_URLS is not set and defaults to a loopback address/,
    ],
    [
      'a peer URL naming no service',
      (s) => (s.services['checkout-service'].environment!.USER_SERVICE_URLS = 'http://users:3002'),
      /^checkout-service: USER_SERVICE_URLS: users is not a service of the stack/,
    ],
    [
      'gateway replicas without a shared token store',
      (s) => delete s.services.gateway.environment!.REDIS_URL,
      /^gateway: several replicas need REDIS_URL/,
    ],
    [
      'a healthcheck on a route that does not exist',
      (s) =>
        (s.services['user-service'].healthcheck!.test![3] =
          "fetch('http://127.0.0.1:3002/health')"),
      /^user-service: healthcheck probes \/health, not one of/,
    ],
    [
      'a rollout watched for less than the healthchecks take',
      (s) => (s.services.gateway.deploy!.update_config!.monitor = '30s'),
      /^gateway: update monitor 30s is shorter than 50s/,
    ],
    [
      'a grace period shorter than the drain',
      (s) => (s.services['checkout-service'].stop_grace_period = '10s'),
      /^checkout-service: stop_grace_period 10s is not above/,
    ],
    [
      'a backend publishing a port',
      (s) => (s.services['product-service'].ports = [{ target: 3001, published: 3001 }]),
      /^product-service: a backend publishes ports/,
    ],
    [
      'SQLite replicas free to spread',
      (s) => delete s.services['user-service'].deploy!.placement,
      /^user-service: keeps data on a local volume but is not pinned/,
    ],
    [
      'the wrong replica count',
      (s) => (s.services['user-service'].deploy!.replicas = 3),
      /^user-service: replicas 3, expected 2/,
    ],
  ];

  it.each(breakages)('should report %s', (_name, edit, problem) => {
    const stack = loadStack([STACK_FILE], DEPLOY);
    edit(stack);
    const problems = stackProblems(stack);
    expect(problems).toContainEqual(expect.stringMatching(problem));
  });
});

/**
 * Starts every app from the build with the environment the stack gives it, translated to this
 * machine: service names and ports to 127.0.0.1 on free ports, /run/secrets to files holding fresh
 * secrets, volumes to temporary directories. Redis runs the stack's own command. Then the stack's
 * healthcheck commands must pass and a client's journey through the gateway must work.
 */
describeWhen('the stack environment on real processes', redisServerStatus(), () => {
  const stack = loadStack([STACK_FILE], DEPLOY);
  // Made in beforeAll, so that a run filtering these tests out leaves nothing behind.
  let dir = '';
  let secretsDir = '';
  const secrets: Record<string, string> = {};
  /** `host:port` inside the stack → `127.0.0.1:port` here. */
  const addresses = new Map<string, string>();
  const localPorts = new Map<string, number>();
  const apps = new Map<string, AppProcess>();
  let redis: ChildProcess | undefined;
  let redisOutput = '';

  const toLocal = (text: string, service?: string): string => {
    let out = text.replaceAll('/run/secrets/', `${secretsDir}/`);
    for (const [from, to] of addresses) out = out.replaceAll(`//${from}`, `//${to}`);
    for (const volume of service ? namedVolumesOf(stack.services[service]) : []) {
      out = out.replaceAll(`${volume.target}/`, `${join(dir, 'volumes', volume.source)}/`);
    }
    return out;
  };

  /** Variables a developer's shell or CI may export that the stack does not set must not leak in. */
  const unset = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => /^(DATABASE|REDIS|JWT|AUTH|GATEWAY|PRODUCT|USER|UPSTREAM|SEED|ADMIN)_/.test(k))
      .map((k) => [k, '']),
  );

  const redisCli = (...args: string[]) =>
    run('redis-cli', ['-p', String(localPorts.get('redis')), ...args], { timeout: 5_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'stack-e2e-'));
    secretsDir = join(dir, 'secrets');
    mkdirSync(secretsDir, { recursive: true });
    for (const name of Object.keys(stack.secrets ?? {})) {
      // URL-special characters prove the Redis password survives its trip into REDIS_URL.
      secrets[name] =
        `${name}-${randomBytes(24).toString('hex')}${name.includes('redis') ? '@:/%' : ''}`;
      writeFileSync(join(secretsDir, name), `${secrets[name]}\n`);
    }
    for (const [name, service] of Object.entries(stack.services)) {
      const port = await freePort();
      localPorts.set(name, port);
      const inStack = appOf(service) ? appPort(service) : 6379;
      addresses.set(`${name}:${inStack}`, `127.0.0.1:${port}`);
      addresses.set(`tasks.${name}:${inStack}`, `127.0.0.1:${port}`);
      for (const volume of namedVolumesOf(service)) {
        mkdirSync(join(dir, 'volumes', volume.source), { recursive: true });
      }
    }

    const script = stack.services.redis.command!.at(-1)!;
    redis = spawn(
      'sh',
      ['-c', `${toLocal(script)} --port ${localPorts.get('redis')} --bind 127.0.0.1`],
      { cwd: join(dir, 'volumes', 'redis-data'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    redis.stdout?.on('data', (c: Buffer) => (redisOutput += c.toString()));
    redis.stderr?.on('data', (c: Buffer) => (redisOutput += c.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const answer = await redisCli('ping').then(
        (r) => r.stdout,
        () => '',
      );
      if (/NOAUTH|PONG/.test(answer)) break;
      if (Date.now() > deadline) throw new Error(`redis did not start:\n${redisOutput}`);
      await new Promise((r) => setTimeout(r, 100));
    }

    for (const [name, service] of Object.entries(stack.services)) {
      const app = appOf(service);
      if (!app) continue;
      const env = Object.fromEntries(
        Object.entries(effectiveEnv(service)).map(([k, v]) => [k, toLocal(v, name)]),
      );
      if (env.GATEWAY_CONFIG) {
        const config = join(dir, 'gateway.yaml');
        writeFileSync(config, toLocal(readFileSync(join(ROOT, env.GATEWAY_CONFIG), 'utf8')));
        env.GATEWAY_CONFIG = config;
      }
      // Production starts with empty databases; the journey below needs the catalogue's products,
      // while the users start as in production: the administrator from ADMIN_EMAIL alone.
      const seed = name === 'user-service' ? 'false' : 'true';
      const local = { ...unset, ...env, HOST: '127.0.0.1', SEED_DATA: seed };
      apps.set(name, new AppProcess(app, localPorts.get(name)!, local));
    }
    const backends = [...apps].filter(([name]) => name !== 'gateway').map(([, p]) => p);
    await Promise.all(backends.map((p) => p.start(45_000)));
    await apps.get('gateway')!.start(45_000);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...apps.values()].map((p) => p.stop()));
    if (redis && redis.exitCode === null) {
      const exited = new Promise((r) => redis!.once('exit', r));
      redis.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('should leave no stack address untranslated in any app environment', () => {
    const leftovers = [...apps].flatMap(([name]) =>
      Object.entries(stack.services[name].environment ?? {})
        .map(([k, v]) => [k, toLocal(v, name)])
        .filter(([, v]) => /\/\/(tasks\.)?[a-z-]+:\d+|\/run\/secrets|\/app\/data/.test(v))
        .map(([k, v]) => `${name}: ${k}=${v}`),
    );
    expect(leftovers).toEqual([]);
  });

  it("should pass every service's own healthcheck command", async () => {
    const results: Record<string, string> = {};
    for (const [name, service] of Object.entries(stack.services)) {
      const [kind, ...command] = service.healthcheck!.test!;
      let local = command.map((part) => {
        let out = toLocal(part);
        if (appOf(service)) {
          out = out.replaceAll(
            `127.0.0.1:${appPort(service)}/`,
            `127.0.0.1:${localPorts.get(name)}/`,
          );
        }
        return out.replaceAll('redis-cli', `redis-cli -p ${localPorts.get(name)}`);
      });
      if (kind === 'CMD-SHELL') local = ['sh', '-c', local.join(' ')];
      const [file, ...args] = local;
      results[name] = await run(file === 'node' ? process.execPath : file, args, {
        timeout: 10_000,
      }).then(
        () => 'healthy',
        (err: Error) => `unhealthy: ${err.message}`,
      );
    }
    expect(results).toEqual(
      Object.fromEntries(Object.keys(stack.services).map((name) => [name, 'healthy'])),
    );
  });

  it('should let only clients with the secret password into Redis', async () => {
    await expect(redisCli('ping').then((r) => r.stdout.trim())).resolves.toMatch(/NOAUTH/);
    const password = secrets.redis_password;
    await expect(
      redisCli('--no-auth-warning', '-a', password, 'ping').then((r) => r.stdout.trim()),
    ).resolves.toBe('PONG');
  });

  it('should serve a whole journey through the gateway with the secrets from files', async () => {
    const gateway = apps.get('gateway')!.url;
    const call = async (
      path: string,
      init: { method?: string; body?: unknown; token?: string },
    ) => {
      const res = await fetch(`${gateway}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          'content-type': 'application/json',
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.method === 'POST' ? { 'idempotency-key': `stack-${Date.now()}` } : {}),
        },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await res.text();
      const body: any = text ? JSON.parse(text) : undefined;
      return { status: res.status, body };
    };

    const ready = await call('/health/ready', {});
    expect(ready.status).toBe(200);
    expect(ready.body.details.tokenStore).toMatchObject({ store: 'redis', reachable: true });

    const email = `stack-${Date.now()}@example.com`;
    const user = await call('/api/users', {
      method: 'POST',
      body: { name: 'Stack', email, password: 'stack-password-1' },
    });
    expect(user.status).toBe(201);
    const login = await call('/api/auth/login', {
      method: 'POST',
      body: { email, password: 'stack-password-1' },
    });
    expect(login.status).toBe(200);
    const token = login.body.accessToken as string;

    // Signed with the secret from jwt_secret: verifying with it proves the file was used.
    const [header, payload, signature] = token.split('.');
    const expected = createHmac('sha256', secrets.jwt_secret)
      .update(`${header}.${payload}`)
      .digest('base64url');
    expect(signature).toBe(expected);

    const order = await call('/api/checkout', {
      method: 'POST',
      token,
      body: { productId: 2, quantity: 3 },
    });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ userId: user.body.id, productId: 2, quantity: 3 });

    const products = await call('/api/products', {});
    expect(products.status).toBe(200);

    // No seed users: the only administrator is the one from ADMIN_EMAIL and the admin_password
    // secret, and only that account may read the admin API and change the catalogue.
    await expect(call('/api/admin/status', { token })).resolves.toMatchObject({ status: 403 });
    const adminLogin = await call('/api/auth/login', {
      method: 'POST',
      body: { email: DEPLOY.ADMIN_EMAIL, password: secrets.admin_password },
    });
    expect(adminLogin.status).toBe(200);
    const adminToken = adminLogin.body.accessToken as string;
    const status = await call('/api/admin/status', { token: adminToken });
    expect(status.status).toBe(200);
    expect(status.body.services.map((s: { name: string }) => s.name)).toEqual([
      'product-service',
      'user-service',
      'checkout-service',
    ]);
    const everyone = await call('/api/users?limit=100', { token: adminToken });
    expect(everyone.status).toBe(200);
    expect(
      everyone.body.items.map((u: { email: string; roles: string[] }) => [u.email, u.roles]),
    ).toEqual([
      [DEPLOY.ADMIN_EMAIL, ['admin', 'user']],
      [email, ['user']],
    ]);
    const product = await call('/api/products', {
      method: 'POST',
      token: adminToken,
      body: { name: 'Stack lamp', price: '12.50' },
    });
    expect(product.status).toBe(201);

    // The token store wrote to the stack's Redis, through the password from the secret file.
    const keys = await redisCli('--no-auth-warning', '-a', secrets.redis_password, '--scan');
    expect(keys.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(0);
  });
});
