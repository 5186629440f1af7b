import { createHmac } from 'node:crypto';
import { api, login, ordersOf, signUp, User } from './http';
import {
  createProduct,
  expectClientJourney,
  expectSharedStoreAndDiscovery,
  statusOf,
} from './journeys';
import { describeLoad, Load, LoadReport } from './load';
import {
  docker,
  fetchIn,
  nodeIn,
  secret,
  serviceState,
  sleep,
  STACK,
  swarmState,
  tasksOf,
  waitFor,
} from './swarm-env';

// The stack deployed by `npm run swarm:up`, reached only through the host's port 8080 (and, where a
// test needs one task, from inside the stack's own containers).
const state = swarmState();
if (!state) {
  const reason = 'no swarm deployed by "npm run swarm:up" (state file missing)';
  // npm run test:swarm sets SWARM_REQUIRED: there a missing swarm is a failure, not a skip.
  if (process.env.SWARM_REQUIRED === '1') throw new Error(reason);
  console.warn(`SKIPPED swarm suite: ${reason}.`);
}
// The PostgreSQL deploy (`SWARM_POSTGRES=1 npm run swarm:up`) runs test 8 instead.
const describeSwarm = state && !state.postgres ? describe : describe.skip;

const APPS = ['gateway', 'product-service', 'user-service', 'checkout-service'];

/** Figures of this run, printed at the end (the README's Swarm section quotes a run). */
const figures: string[] = [];
const figure = (line: string) => {
  figures.push(line);
  console.log(`swarm figure: ${line}`);
};

describeSwarm('the stack on a live swarm', () => {
  let adminToken: string;
  let productId: number;
  let loadUsers: User[];

  beforeAll(async () => {
    adminToken = await login(state!.adminEmail, secret('admin_password'));
    productId = await createProduct(adminToken);
    loadUsers = [];
    for (const label of ['load-a', 'load-b', 'load-c']) loadUsers.push(await signUp(label));
  }, 60_000);

  afterAll(() => {
    if (figures.length > 0) console.log(`swarm figures:\n  ${figures.join('\n  ')}`);
  });

  it('1. serves the client journey, with no seed data and the first admin from the secret', async () => {
    await expectClientJourney(state!.adminEmail, adminToken, productId);
  });

  it('2. signs with the jwt_secret secret and keeps Redis behind the redis_password secret', async () => {
    const token = await login(loadUsers[0].email, loadUsers[0].password);
    const [header, payload, signature] = token.split('.');
    const sign = (key: string) =>
      createHmac('sha256', key).update(`${header}.${payload}`).digest('base64url');
    expect(signature).toBe(sign(secret('jwt_secret')));
    const forged = `${header}.${payload}.${sign('another-secret-of-at-least-32-bytes!!')}`;
    expect((await api('GET', '/api/auth/me', { token: forged })).status).toBe(401);
    expect((await api('GET', '/api/auth/me', { token })).status).toBe(200);

    const [redis] = await tasksOf('redis');
    const noPassword = await docker(['exec', redis.container, 'redis-cli', 'ping']);
    expect(noPassword).toMatch(/NOAUTH/);
    const wrong = await docker([
      'exec',
      '-e',
      'REDISCLI_AUTH=wrong-password',
      redis.container,
      'redis-cli',
      'ping',
    ]);
    // redis-cli reports the failed AUTH on stderr; the command after it is refused all the same.
    expect(wrong).toMatch(/NOAUTH|WRONGPASS/);
    const right = await docker([
      'exec',
      '-e',
      `REDISCLI_AUTH=${secret('redis_password')}`,
      redis.container,
      'redis-cli',
      'config',
      'get',
      'maxmemory-policy',
    ]);
    expect(right.split('\n')).toEqual(['maxmemory-policy', 'noeviction']);
  });

  it('3. shares the user volume between replicas and discovers every task', async () => {
    await expectSharedStoreAndDiscovery(adminToken);
  });

  it('6. refuses a token logged out through one gateway replica on the other within 1 s', async () => {
    const gateways = await tasksOf('gateway');
    expect(gateways).toHaveLength(2);
    const [one, other] = gateways;
    const token = await login(loadUsers[1].email, loadUsers[1].password);
    const auth = { authorization: `Bearer ${token}` };
    const me = 'http://127.0.0.1:8080/api/auth/me';
    expect((await fetchIn(other.container, me, { headers: auth })).status).toBe(200);

    // The other replica polls its own port every 20 ms from before the logout until it refuses
    // the token; the time counts from the logout's answer (both containers share the host clock).
    const polling = nodeIn(
      other.container,
      `(async () => { const until = Date.now() + 20000; let tries = 0; for (;;) { tries++; ` +
        `const r = await fetch(${JSON.stringify(me)}, { headers: ${JSON.stringify(auth)} }); ` +
        `if (r.status === 401 || Date.now() > until) { ` +
        `console.log(JSON.stringify({ status: r.status, at: Date.now(), tries })); return; } ` +
        `await new Promise((r) => setTimeout(r, 20)); } })()`,
    );
    await sleep(3000);
    const logout = await fetchIn(one.container, 'http://127.0.0.1:8080/api/auth/logout', {
      method: 'POST',
      headers: auth,
    });
    expect(logout.status).toBe(204);
    const refusal = JSON.parse(await polling) as { status: number; at: number; tries: number };
    expect(refusal.status).toBe(401);
    expect(refusal.tries).toBeGreaterThan(1);
    const polled = { ms: Math.max(0, refusal.at - logout.at) };
    figure(`revocation seen by the other gateway replica ${polled.ms} ms after logout`);
    expect(polled.ms).toBeGreaterThanOrEqual(0);
    expect(polled.ms).toBeLessThanOrEqual(1000);
  });

  it('5. survives docker kill of a product task and of a gateway task under load', async () => {
    const before = await ordersBefore(loadUsers);
    const load = new Load({
      users: loadUsers,
      productId,
      readers: 4,
      checkoutEveryMs: 700,
      signUpEveryMs: 0,
    });
    try {
      await sleep(5000);
      const killedProduct = await killOne('product-service');
      figure(`product-service task replaced ${killedProduct.replacedMs} ms after docker kill`);
      await waitFor(
        'both gateways to route to the new product task',
        async () => {
          for (const gateway of await tasksOf('gateway')) {
            const status = await statusOf(gateway, adminToken);
            if (!status['product-service'].includes(`http://${killedProduct.address}:3001`)) {
              return undefined;
            }
          }
          return true;
        },
        30_000,
      );
      const killedGateway = await killOne('gateway');
      figure(`gateway task replaced ${killedGateway.replacedMs} ms after docker kill`);
      // The edge sends requests to the new gateway task.
      await waitFor(
        'the new gateway task to serve proxied requests',
        async () => {
          const logs = await docker(['logs', '--tail', '500', killedGateway.container]);
          return /\/api\/(products|users)\//.test(logs) ? true : undefined;
        },
        30_000,
      );
      await sleep(3000);
    } finally {
      const report = await load.stop();
      figure(describeLoad('docker kill under load', report));
      await expectExactlyOnce(productId, loadUsers, before, report);
      expect({ failedIdempotent: report.failedIdempotent, failures: report.failures }).toEqual({
        failedIdempotent: 0,
        failures: [],
      });
    }
  }, 240_000);

  it('4. rolls every app service under mixed load with no failed request', async () => {
    const before = await ordersBefore(loadUsers);
    const images = Object.fromEntries(
      await Promise.all(APPS.map(async (app) => [app, await tasksOf(app)] as const)),
    );
    const load = new Load({
      users: loadUsers,
      productId,
      readers: 3,
      checkoutEveryMs: 900,
      signUpEveryMs: 10_000,
    });
    const started = Date.now();
    try {
      await sleep(3000);
      for (const app of APPS) {
        await docker([
          'service',
          'update',
          '--detach',
          '--force',
          '--no-resolve-image',
          `${STACK}_${app}`,
        ]);
      }
      for (const app of APPS) {
        await waitFor(
          `the rolling update of ${app}`,
          async () => ((await serviceState(app)).update === 'completed' ? true : undefined),
          420_000,
          2000,
        );
        const now = await tasksOf(app);
        const old = images[app].map((t) => t.id);
        expect(now.filter((t) => old.includes(t.id))).toEqual([]);
      }
      figure(`rolling update of 4 services took ${Math.round((Date.now() - started) / 1000)} s`);
    } finally {
      const report = await load.stop();
      figure(describeLoad('rolling update under load', report));
      await expectExactlyOnce(productId, loadUsers, before, report);
      expect({ failed: report.failed, failures: report.failures }).toEqual({
        failed: 0,
        failures: [],
      });
      expect(report.signUps).toBeGreaterThan(0);
    }
  }, 600_000);

  it('7. rolls back an update whose healthcheck fails and keeps answering', async () => {
    const service = `${STACK}_product-service`;
    const good = (await tasksOf('product-service'))[0].image;
    const broken = `${good.split(':')[0]}:broken`;
    // The app's image, answering 503 on every path: its healthcheck can never pass.
    const dockerfile =
      `FROM ${good}\n` +
      `CMD ["node", "-e", "require('http').createServer((q, s) => { s.statusCode = 503; s.end('broken'); }).listen(process.env.PORT)"]\n`;
    await buildFromStdin(broken, dockerfile);
    const load = new Load({
      users: loadUsers,
      productId,
      readers: 2,
      checkoutEveryMs: 2000,
      signUpEveryMs: 0,
    });
    const started = Date.now();
    try {
      await docker([
        'service',
        'update',
        '--detach',
        '--no-resolve-image',
        '--image',
        broken,
        service,
      ]);
      const final = await waitFor(
        'the rollback',
        async () => {
          const { update } = await serviceState('product-service');
          return ['rollback_completed', 'rollback_paused', 'paused'].includes(update)
            ? update
            : undefined;
        },
        300_000,
        2000,
      );
      expect(final).toBe('rollback_completed');
      figure(`failed update rolled back after ${Math.round((Date.now() - started) / 1000)} s`);
      const image = await docker([
        'service',
        'inspect',
        '-f',
        '{{.Spec.TaskTemplate.ContainerSpec.Image}}',
        service,
      ]);
      expect(image).toBe(good);
      const tasks = await tasksOf('product-service');
      expect(tasks.map((t) => t.image)).toEqual([good, good]);
    } finally {
      const report = await load.stop();
      figure(describeLoad('failed update and rollback under load', report));
      expect({ failed: report.failed, failures: report.failures }).toEqual({
        failed: 0,
        failures: [],
      });
      await docker(['image', 'rm', broken]).catch(() => undefined);
    }
  }, 420_000);
});

/** Kills one task's container; resolves when Swarm runs a healthy replacement. */
async function killOne(
  service: string,
): Promise<{ replacedMs: number; address: string; container: string }> {
  const tasks = await tasksOf(service);
  const victim = tasks[0];
  const killedAt = Date.now();
  await docker(['kill', victim.container]);
  const replacement = await waitFor(
    `a replacement ${service} task`,
    async () => {
      const now = await tasksOf(service);
      const fresh = now.find((t) => !tasks.some((old) => old.id === t.id));
      return fresh && now.length === tasks.length ? fresh : undefined;
    },
    120_000,
    250,
  );
  return {
    replacedMs: Date.now() - killedAt,
    address: replacement.address,
    container: replacement.container,
  };
}

async function ordersBefore(users: User[]): Promise<Set<number>> {
  const ids = new Set<number>();
  for (const user of users) for (const order of await ordersOf(user.token)) ids.add(order.id);
  return ids;
}

/** Every keyed checkout that answered made one order, and no other order appeared. */
async function expectExactlyOnce(
  productId: number,
  users: User[],
  before: Set<number>,
  report: LoadReport,
): Promise<void> {
  const created: number[] = [];
  for (const user of users) {
    for (const order of await ordersOf(user.token))
      if (!before.has(order.id)) created.push(order.id);
  }
  const answered = [...report.checkouts.values()];
  expect(answered.length).toBeGreaterThan(0);
  expect(new Set(answered).size).toBe(answered.length);
  expect(created.sort((a, b) => a - b)).toEqual(answered.sort((a, b) => a - b));
  // A replay of an answered key gives the same order back and creates nothing.
  const [key, id] = [...report.checkouts.entries()][0];
  const replay = await api('POST', '/api/checkout', {
    token: users[0].token,
    headers: { 'idempotency-key': key },
    body: { productId, quantity: 1 },
  });
  expect({ status: replay.status, replayed: replay.headers.get('idempotency-replayed') }).toEqual({
    status: 201,
    replayed: 'true',
  });
  expect((replay.body as { id: number }).id).toBe(id);
}

async function buildFromStdin(tag: string, dockerfile: string): Promise<void> {
  const { spawn } = await import('node:child_process');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('docker', ['build', '-q', '-t', tag, '-'], {
      env: { ...process.env, DOCKER_HOST: state!.dockerHost, DOCKER_BUILDKIT: '0' },
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(err))));
    child.stdin.end(dockerfile);
  });
}
