import { parseTraceparent } from '@app/common';
import { CLIENT, OtlpReceiver, SERVER } from '../../../test/support/otlp-receiver';
import { GatewayProcess, runGatewayToExit } from './support/gateway-process';
import { eventually, TestGateway, writeConfig } from './support/test-gateway';
import { closedPort, echo, TestUpstream, UpstreamBehaviour } from './support/test-upstream';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${CLIENT_SPAN}-01`;

/** Answers 503 to the first `n` requests of each path, then echoes. */
function failingFirst(n: number): UpstreamBehaviour {
  const seenPaths = new Map<string, number>();
  return (req, res, seen) => {
    const count = (seenPaths.get(req.url ?? '') ?? 0) + 1;
    seenPaths.set(req.url ?? '', count);
    if (count <= n) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('busy');
      return;
    }
    echo(req, res, seen);
  };
}

function config(upstream: TestUpstream, flaky: TestUpstream) {
  return {
    defaults: {
      // Public: these suites are about tracing, not authentication.
      auth: { default: 'public' },
      retry: { attempts: 3, backoffBaseMs: 1, backoffMaxMs: 5 },
      passiveHealth: { failures: 100, cooldownMs: 1000, maxCooldownMs: 5000 },
    },
    services: [
      { name: 'echo', basePath: '/api/echo', targets: [upstream.origin] },
      { name: 'flaky', basePath: '/api/flaky', targets: [flaky.origin] },
    ],
  };
}

/** The `traceparent` each attempt of the request with `path` carried upstream. */
function sentUpstream(upstream: TestUpstream, path: string) {
  return upstream.seen
    .filter((s) => s.url === path)
    .map((s) => {
      const parsed = parseTraceparent(s.headers.traceparent);
      if (parsed === null)
        throw new Error(`invalid traceparent upstream: ${String(s.headers.traceparent)}`);
      return { ...parsed, tracestate: s.headers.tracestate };
    });
}

describe('gateway: W3C trace context', () => {
  const upstream = new TestUpstream();
  const flaky = new TestUpstream(failingFirst(2));
  let gateway: TestGateway;

  beforeAll(async () => {
    await Promise.all([upstream.start(), flaky.start()]);
    gateway = await new TestGateway(config(upstream, flaky)).start();
  });

  afterAll(async () => {
    await gateway?.close();
    await Promise.all([upstream.kill(), flaky.kill()]);
  });

  it("should keep a valid traceparent's trace and flags, with the gateway's span as parent", async () => {
    const res = await gateway.send('GET', '/api/echo/kept', {
      headers: { traceparent: VALID, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE' },
    });
    expect(res.status).toBe(200);
    const [sent] = sentUpstream(upstream, '/kept');
    expect(sent).toEqual({
      traceId: TRACE_ID,
      parentId: expect.stringMatching(/^[0-9a-f]{16}$/),
      sampled: true,
      tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    });
    expect(sent.parentId).not.toBe(CLIENT_SPAN);
  });

  it.each([
    ['garbage', 'not-a-traceparent'],
    ['upper-case hex', VALID.toUpperCase()],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${CLIENT_SPAN}-01`],
    ['version ff', `ff-${TRACE_ID}-${CLIENT_SPAN}-01`],
  ])('should start a new trace for %s, and drop its tracestate', async (_case, traceparent) => {
    const path = `/new-${Math.random().toString(36).slice(2)}`;
    await gateway.send('GET', `/api/echo${path}`, {
      headers: { traceparent, tracestate: 'rojo=1' },
    });
    const [sent] = sentUpstream(upstream, path);
    expect(sent.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(sent.traceId).not.toBe(TRACE_ID);
    expect(sent.sampled).toBe(false);
    expect(sent.tracestate).toBeUndefined();
  });

  it('should start a new trace for each request without a traceparent', async () => {
    await gateway.send('GET', '/api/echo/a');
    await gateway.send('GET', '/api/echo/b');
    const [a] = sentUpstream(upstream, '/a');
    const [b] = sentUpstream(upstream, '/b');
    expect(a.traceId).not.toBe(b.traceId);
  });

  it('should give each retried attempt its own span id in the same trace', async () => {
    const res = await gateway.send('GET', '/api/flaky/retried', {
      headers: { traceparent: VALID },
    });
    expect(res.status).toBe(200);
    const sent = sentUpstream(flaky, '/retried');
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((s) => s.traceId))).toEqual(new Set([TRACE_ID]));
    expect(new Set(sent.map((s) => s.parentId)).size).toBe(3);
  });
});

/** The gateway as its own process (main.ts through ts-node): the exporter runs as in production. */
describe('gateway: OpenTelemetry export', () => {
  const upstream = new TestUpstream();
  const flaky = new TestUpstream(failingFirst(1));
  const receiver = new OtlpReceiver();
  let routes: { file: string; remove(): void };

  beforeAll(async () => {
    await Promise.all([upstream.start(), flaky.start(), receiver.start()]);
    routes = writeConfig(config(upstream, flaky));
  });

  afterAll(async () => {
    routes.remove();
    await Promise.all([upstream.kill(), flaky.kill(), receiver.stop()]);
  });

  it('should refuse an endpoint that is not an http(s) URL, naming the variable', () => {
    const run = runGatewayToExit({
      GATEWAY_CONFIG: routes.file,
      OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
    });
    expect(run.status).toBe(1);
    expect(run.stderr + run.stdout).toContain(
      'OTEL_EXPORTER_OTLP_ENDPOINT=\\"collector:4318\\": must be an http(s) base URL',
    );
  }, 70_000);

  it('should say once, not per batch, that spans were lost when the collector cannot be reached', async () => {
    const gateway = await GatewayProcess.start({
      GATEWAY_CONFIG: routes.file,
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      const origin = gateway.origin;
      for (let i = 0; i < 3; i++) {
        await (await fetch(`${origin}/api/echo/lost-${i}`)).text();
        await new Promise((r) => setTimeout(r, 300));
      }
      // The exporter retries a refused connection for about 9 s before it gives a batch up.
      await eventually(() => gateway.output.includes('spans could not be exported'), 40_000);
      // The later batches fail within the next second: none of them is logged again.
      await new Promise((r) => setTimeout(r, 2_000));
    } finally {
      gateway.kill();
    }
    const warnings = gateway.jsonLines().filter((l) => l.msg === 'spans could not be exported');
    expect(warnings).toEqual([
      expect.objectContaining({ level: 'warn', context: 'TraceExport', spans: expect.any(Number) }),
    ]);
  }, 90_000);

  it('should export the request as a server span and each attempt as a sibling client span, flushed on SIGTERM', async () => {
    const gateway = await GatewayProcess.start({
      GATEWAY_CONFIG: routes.file,
      LOG_LEVEL: 'warn',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      // Only the flush at shutdown can deliver the spans within the test.
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });
    try {
      const origin = gateway.origin;
      const res = await fetch(`${origin}/api/flaky/spans`, { headers: { traceparent: VALID } });
      expect(res.status).toBe(200);
      await res.text();
      expect(receiver.trace(TRACE_ID)).toEqual([]);
      expect(await gateway.stop('SIGTERM')).toBe(0);
    } finally {
      gateway.kill();
    }
    const spans = receiver.trace(TRACE_ID);
    expect({ spans: spans.length, output: gateway.output }).toEqual({
      spans: 3,
      output: gateway.output,
    });
    const request = spans.find((s) => s.kind === SERVER)!;
    expect(request).toMatchObject({
      service: 'gateway',
      parentSpanId: CLIENT_SPAN,
      name: 'GET /api/flaky',
      attributes: { 'http.request.method': 'GET', 'http.response.status_code': 200 },
    });
    const attempts = spans.filter((s) => s.kind === CLIENT);
    expect(attempts.map((a) => a.name)).toEqual(['GET flaky', 'GET flaky']);
    expect(attempts.map((a) => a.parentSpanId)).toEqual([request.spanId, request.spanId]);
    expect(attempts.map((a) => a.attributes['http.response.status_code']).sort()).toEqual([
      200, 503,
    ]);
    expect(attempts.map((a) => a.attributes['http.request.resend_count']).sort()).toEqual([0, 1]);
    // What the upstream saw as its parent is the attempt's span.
    const upstreamParents = sentUpstream(flaky, '/spans').map((s) => s.parentId);
    expect(upstreamParents.sort()).toEqual(attempts.map((a) => a.spanId).sort());
    expect(receiver.rejected).toEqual([]);
  }, 60_000);
});
