import { CLIENT, OtlpReceiver, ReceivedSpan, SERVER } from './support/otlp-receiver';
import { System } from './support/system';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';

/** One checkout through the gateway, over real processes of every app exporting to one OTLP receiver. */
describe('system: trace context and OpenTelemetry export', () => {
  const receiver = new OtlpReceiver();
  let system: System;

  beforeAll(async () => {
    await receiver.start();
    system = new System({
      env: {
        LOG_LEVEL: 'info',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
    });
    await system.start();
  }, 90_000);

  afterAll(async () => {
    await system?.stop();
    await receiver.stop();
  }, 30_000);

  async function call(
    path: string,
    init: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
  ): Promise<{ status: number; body: any; requestId: string | null }> {
    const res = await fetch(`${system.gateway.url}${path}`, {
      method: init.method ?? 'GET',
      headers: { 'content-type': 'application/json', ...init.headers },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return {
      status: res.status,
      body: text ? JSON.parse(text) : undefined,
      requestId: res.headers.get('x-request-id'),
    };
  }

  /** Waits until the trace has `count` spans (exports arrive in batches), then a little longer. */
  async function traceOf(traceId: string, count: number): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + 15_000;
    while (receiver.trace(traceId).length < count && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    return receiver.trace(traceId);
  }

  function logLines(app: { logs: string }): Array<Record<string, unknown>> {
    return app.logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  it("should make one checkout one trace: gateway, its attempt, checkout, and checkout's calls to product and user", async () => {
    const email = `trace-${Date.now()}@example.com`;
    const registered = await call('/api/users', {
      method: 'POST',
      body: { name: 'Trace', email, password: 'trace-password-1' },
    });
    expect(registered.status).toBe(201);
    const login = await call('/api/auth/login', {
      method: 'POST',
      body: { email, password: 'trace-password-1' },
    });
    expect(login.status).toBe(200);

    const order = await call('/api/checkout', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${login.body.accessToken}`,
        'idempotency-key': `trace-${Date.now()}`,
        traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01`,
      },
      body: { productId: 2, quantity: 1 },
    });
    expect(order.status).toBe(201);

    // gateway request + attempt, checkout handler, 2 calls out, product and user handlers.
    const spans = await traceOf(TRACE_ID, 7);
    const summary = spans.map((s) => `${s.service} ${s.kind} ${s.name}`).sort();
    expect(summary).toEqual(
      [
        `checkout-service ${CLIENT} GET product-service`,
        `checkout-service ${CLIENT} GET user-service`,
        `checkout-service ${SERVER} POST /`,
        `gateway ${CLIENT} POST checkout-service`,
        `gateway ${SERVER} POST /api/checkout`,
        `product-service ${SERVER} GET /:id`,
        `user-service ${SERVER} GET /:id`,
      ].sort(),
    );
    const one = (service: string, kind: number, name?: string): ReceivedSpan => {
      const found = spans.filter(
        (s) => s.service === service && s.kind === kind && (name === undefined || s.name === name),
      );
      expect(found).toHaveLength(1);
      return found[0];
    };
    const gatewayRequest = one('gateway', SERVER);
    const gatewayAttempt = one('gateway', CLIENT);
    const checkout = one('checkout-service', SERVER);
    const toProduct = one('checkout-service', CLIENT, 'GET product-service');
    const toUser = one('checkout-service', CLIENT, 'GET user-service');
    const product = one('product-service', SERVER);
    const user = one('user-service', SERVER);
    // Each span's parent is the one whose id its caller sent in traceparent.
    expect({
      gatewayRequest: gatewayRequest.parentSpanId,
      gatewayAttempt: gatewayAttempt.parentSpanId,
      checkout: checkout.parentSpanId,
      toProduct: toProduct.parentSpanId,
      toUser: toUser.parentSpanId,
      product: product.parentSpanId,
      user: user.parentSpanId,
    }).toEqual({
      gatewayRequest: CLIENT_SPAN,
      gatewayAttempt: gatewayRequest.spanId,
      checkout: gatewayAttempt.spanId,
      toProduct: checkout.spanId,
      toUser: checkout.spanId,
      product: toProduct.spanId,
      user: toUser.spanId,
    });
    expect(gatewayRequest.attributes['http.response.status_code']).toBe(201);
    expect(checkout.attributes['http.response.status_code']).toBe(201);
    expect(product.attributes['http.response.status_code']).toBe(200);
    expect(receiver.rejected).toEqual([]);

    // The trace id is on the log lines of the request, beside its request id, in every app.
    const requestId = order.requestId;
    const gatewayLine = logLines(system.gateway).find(
      (l) => l.msg === 'proxy' && l.requestId === requestId,
    );
    expect(gatewayLine).toMatchObject({ traceId: TRACE_ID, upstream: 'checkout-service' });
    const checkoutLine = logLines(system.checkout).find(
      (l) => l.msg === 'request' && l.requestId === requestId,
    );
    expect(checkoutLine).toMatchObject({ traceId: TRACE_ID, method: 'POST', status: 201 });
    for (const replicas of [system.products, system.users]) {
      const lines = replicas.flatMap(logLines).filter((l) => l.requestId === requestId);
      expect(lines.map((l) => ({ msg: l.msg, traceId: l.traceId }))).toEqual([
        { msg: 'request', traceId: TRACE_ID },
      ]);
    }
  }, 60_000);

  it('should start one trace at the gateway for a request without traceparent', async () => {
    const res = await call('/api/products/1');
    expect(res.status).toBe(200);
    const line = (): Record<string, unknown> | undefined =>
      logLines(system.gateway).find((l) => l.msg === 'proxy' && l.requestId === res.requestId);
    const deadline = Date.now() + 5_000;
    while (line() === undefined && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const traceId = String(line()?.traceId);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await traceOf(traceId, 3);
    expect(spans.map((s) => `${s.service} ${s.kind}`).sort()).toEqual(
      [`gateway ${SERVER}`, `gateway ${CLIENT}`, `product-service ${SERVER}`].sort(),
    );
    const root = spans.find((s) => s.service === 'gateway' && s.kind === SERVER)!;
    expect(root.parentSpanId).toBe('');
  }, 30_000);
});
