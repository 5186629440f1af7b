import type { TestingModuleBuilder } from '@nestjs/testing';
import { HOST_RESOLVER, HostResolver } from '../src/discovery/host-resolver';
import { eventually, inParallel, metric, Reply, TestGateway } from './support/test-gateway';
import { echo, TestUpstream } from './support/test-upstream';

const NAME = 'tasks.svc';
const HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];

/** What `tasks.svc` resolves to, as the test decides: addresses, or an error. */
class ControlledResolver {
  answer: readonly string[] | Error = new Error(`queryA ENOTFOUND ${NAME}`);
  calls = 0;

  readonly resolve: HostResolver = (host) => {
    this.calls += 1;
    if (host !== NAME) return Promise.reject(new Error(`queryA ENOTFOUND ${host}`));
    const answer = this.answer;
    return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
  };

  override = (builder: TestingModuleBuilder) =>
    builder.overrideProvider(HOST_RESOLVER).useValue(this.resolve);
}

/** Starts one upstream per loopback address, all on the same port. */
async function onOnePort(): Promise<TestUpstream[]> {
  for (let tries = 0; ; tries++) {
    const first = await new TestUpstream(echo, HOSTS[0]).start(0);
    const others = HOSTS.slice(1).map((host) => new TestUpstream(echo, host));
    try {
      for (const upstream of others) await upstream.start(first.port);
      return [first, ...others];
    } catch (err) {
      await Promise.all([first, ...others].map((u) => u.kill()));
      if (tries === 5) throw err;
    }
  }
}

/** The targets of `service` that `/metrics` reports, sorted. */
function reportedTargets(text: string, service: string): string[] {
  const prefix = `gateway_upstream_target_healthy{service="${service}",target="`;
  return text
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length, line.indexOf('"', prefix.length)))
    .sort();
}

function config(port: number) {
  return {
    services: [
      {
        name: 'svc',
        basePath: '/api/svc',
        targets: [`http://${NAME}:${port}`],
        discovery: { enabled: true, intervalMs: 100 },
        activeHealth: { intervalMs: 100, timeoutMs: 1000 },
        // Held responses in these tests must not run into the per-try timeout.
        timeouts: { perTryMs: 30_000 },
      },
    ],
  };
}

const statuses = (replies: Reply[]) => replies.filter((r) => r.status !== 200).map((r) => r.status);

describe('gateway: targets discovered from a DNS name of tasks', () => {
  const resolver = new ControlledResolver();
  let upstreams: TestUpstream[];
  let gateway: TestGateway;

  /** Makes the name resolve to the upstreams at `which` and waits until the gateway uses them. */
  async function resolveTo(...which: number[]): Promise<void> {
    resolver.answer = which.map((i) => HOSTS[i]);
    const wanted = which.map((i) => upstreams[i].origin).sort();
    await eventually(
      async () => reportedTargets(await gateway.metrics(), 'svc').join() === wanted.join(),
      10_000,
    );
  }

  const counts = () => upstreams.map((u) => u.count);
  const retries = async () =>
    metric(await gateway.metrics(), 'gateway_upstream_retries_total{service="svc"}');

  beforeAll(async () => {
    upstreams = await onOnePort();
    resolver.answer = [HOSTS[0], HOSTS[1]];
    gateway = await new TestGateway(config(upstreams[0].port), {
      override: resolver.override,
    }).start();
  });

  afterAll(async () => {
    await gateway.close();
    await Promise.all(upstreams.map((u) => u.kill()));
  });

  beforeEach(() => {
    for (const u of upstreams) {
      u.reset();
      u.behaviour = echo;
      u.healthy = true;
    }
  });

  it('should resolve the name before the first request and spread GETs equally over its addresses', async () => {
    // No waiting: the first resolution happened before the gateway listened.
    const replies = await inParallel(600, 20, (i) => gateway.send('GET', `/api/svc/items/${i}`));
    expect(statuses(replies)).toEqual([]);
    expect(counts()).toEqual([300, 300, 0]);
    expect(reportedTargets(await gateway.metrics(), 'svc')).toEqual(
      [upstreams[0].origin, upstreams[1].origin].sort(),
    );
    const ready = await gateway.send('GET', '/health/ready');
    expect(ready.json.details.upstreams).toEqual({ status: 'up', svc: { healthy: 2, total: 2 } });
  }, 30_000);

  it('should give an added address its share and health-check it on its own', async () => {
    await resolveTo(0, 1, 2);
    const replies = await inParallel(900, 20, (i) => gateway.send('GET', `/api/svc/items/${i}`));
    expect(statuses(replies)).toEqual([]);
    expect(counts()).toEqual([300, 300, 300]);

    const gauge = `gateway_upstream_target_healthy{service="svc",target="${upstreams[2].origin}"}`;
    upstreams[2].healthy = false;
    await eventually(async () => metric(await gateway.metrics(), gauge) === 0, 10_000);
    for (const u of upstreams) u.reset();
    const whileDown = await inParallel(600, 20, (i) => gateway.send('GET', `/api/svc/x/${i}`));
    expect(statuses(whileDown)).toEqual([]);
    expect(counts()).toEqual([300, 300, 0]);

    upstreams[2].healthy = true;
    await eventually(async () => metric(await gateway.metrics(), gauge) === 1, 10_000);
  }, 60_000);

  it('should send nothing new to a removed address and finish the requests in flight on it', async () => {
    await resolveTo(0, 1, 2);
    const retriesBefore = await retries();
    const held: (() => void)[] = [];
    upstreams[1].behaviour = (req, res, seen) => held.push(() => echo(req, res, seen));

    const first = inParallel(30, 30, (i) => gateway.send('GET', `/api/svc/held/${i}`));
    await eventually(
      () => upstreams[1].count === 10 && upstreams[0].count + upstreams[2].count === 20,
    );
    expect(held).toHaveLength(10);

    await resolveTo(0, 2);
    const after = await inParallel(60, 10, (i) => gateway.send('GET', `/api/svc/after/${i}`));
    expect(statuses(after)).toEqual([]);
    expect(counts()).toEqual([40, 10, 40]);

    for (const release of held) release();
    const replies = await first;
    expect(statuses(replies)).toEqual([]);
    expect(replies.map((r) => String(r.json.url)).sort()).toEqual(
      Array.from({ length: 30 }, (_, i) => `/held/${i}`).sort(),
    );
    expect(counts()).toEqual([40, 10, 40]);
    expect(await retries()).toBe(retriesBefore);
  }, 60_000);

  it('should lose no request under steady load while addresses come and go', async () => {
    await resolveTo(0, 1);
    const retriesBefore = await retries();
    let stop = false;
    let sent = 0;
    const replies: Reply[] = [];
    const worker = async () => {
      while (!stop) {
        const i = sent++;
        replies.push(await gateway.send('GET', `/api/svc/load/${i}`));
      }
    };
    const load = Promise.all(Array.from({ length: 16 }, worker));
    const steps = [[0, 1, 2], [1, 2], [2], [0, 2], [0], [0, 1, 2], [1]];
    for (const step of steps) {
      const before = replies.length;
      await resolveTo(...step);
      // Some traffic on each set before it changes again.
      await eventually(() => replies.length >= before + 100, 20_000);
    }
    stop = true;
    await load;

    // At least 100 requests on each of the 7 sets.
    expect(sent).toBeGreaterThanOrEqual(700);
    expect(replies).toHaveLength(sent);
    expect(statuses(replies)).toEqual([]);
    expect(counts().reduce((a, b) => a + b, 0)).toBe(sent);
    expect(await retries()).toBe(retriesBefore);
    // Only the last set is still reported.
    expect(reportedTargets(await gateway.metrics(), 'svc')).toEqual([upstreams[1].origin]);
  }, 120_000);

  it('should keep the last known addresses while the name fails to resolve', async () => {
    await resolveTo(0, 1, 2);
    resolver.answer = new Error(`queryA ETIMEOUT ${NAME}`);
    const calls = resolver.calls;
    await eventually(() => resolver.calls >= calls + 3, 10_000);
    resolver.answer = [];
    await eventually(() => resolver.calls >= calls + 6, 10_000);

    const replies = await inParallel(300, 20, (i) => gateway.send('GET', `/api/svc/items/${i}`));
    expect(statuses(replies)).toEqual([]);
    expect(counts()).toEqual([100, 100, 100]);
    expect(reportedTargets(await gateway.metrics(), 'svc')).toHaveLength(3);
  }, 30_000);
});

describe('gateway: a DNS name of tasks that does not resolve at start', () => {
  const resolver = new ControlledResolver();
  let upstreams: TestUpstream[];
  let gateway: TestGateway;

  beforeAll(async () => {
    upstreams = await onOnePort();
    gateway = await new TestGateway(config(upstreams[0].port), {
      override: resolver.override,
    }).start();
  });

  afterAll(async () => {
    await gateway.close();
    await Promise.all(upstreams.map((u) => u.kill()));
  });

  it('should answer 503 until the name resolves, then serve from its addresses', async () => {
    const refused = await inParallel(5, 5, (i) => gateway.send('GET', `/api/svc/items/${i}`));
    expect(refused.map((r) => r.status)).toEqual([503, 503, 503, 503, 503]);
    expect(refused[0].json.message).toBe('svc has no healthy target');
    expect(upstreams.map((u) => u.count)).toEqual([0, 0, 0]);

    resolver.answer = [HOSTS[2]];
    await eventually(
      async () => (await gateway.send('GET', '/api/svc/probe')).status === 200,
      10_000,
    );
    const replies = await inParallel(20, 5, (i) => gateway.send('GET', `/api/svc/items/${i}`));
    expect(statuses(replies)).toEqual([]);
    expect(upstreams.map((u) => u.count)).toEqual([0, 0, 21]);
  }, 30_000);
});
