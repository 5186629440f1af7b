import { request } from 'undici';
import { TestGateway } from './support/test-gateway';
import { TestUpstream, UpstreamBehaviour } from './support/test-upstream';

const noActiveChecks = { enabled: false };

/** A server-sent-event stream: one event at once, the next after `gapMs` of silence, then the end. */
const eventsWithGap =
  (gapMs: number): UpstreamBehaviour =>
  (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: first\n\n');
    setTimeout(() => res.end('data: second\n\n'), gapMs);
  };

/** Reads a streamed answer through the gateway: its status and body, or how it was cut. */
async function readStream(url: string): Promise<{ status: number; body: string; cut: boolean }> {
  const res = await request(url);
  let body = '';
  try {
    for await (const chunk of res.body) body += (chunk as Buffer).toString();
    return { status: res.statusCode, body, cut: false };
  } catch {
    return { status: res.statusCode, body, cut: true };
  }
}

describe('gateway: time to headers per try, idle time within a body per service', () => {
  const sse = new TestUpstream(eventsWithGap(6_000));
  const stalls = new TestUpstream(eventsWithGap(1_000));
  let gateway: TestGateway;

  beforeAll(async () => {
    await Promise.all([sse.start(), stalls.start()]);
    gateway = await new TestGateway({
      defaults: { activeHealth: noActiveChecks },
      services: [
        {
          name: 'events',
          basePath: '/api/events',
          targets: [sse.origin],
          // The defaults: 5 s per try, the body's idle bound left at its default of 60 s.
          timeouts: { perTryMs: 5_000 },
        },
        {
          name: 'stalls',
          basePath: '/api/stalls',
          targets: [stalls.origin],
          timeouts: { perTryMs: 5_000, idleMs: 300 },
        },
      ],
    }).start();
  });

  afterAll(async () => {
    await Promise.all([sse.kill(), stalls.kill()]);
    await gateway.close();
  });

  it('should not cut an event stream idle for 6 s under a 5 s per-try timeout', async () => {
    const started = performance.now();
    const res = await readStream(`${gateway.origin}/api/events/stream`);
    expect(res).toEqual({ status: 200, body: 'data: first\n\ndata: second\n\n', cut: false });
    expect(performance.now() - started).toBeGreaterThanOrEqual(5_900);
    expect(sse.count).toBe(1);
  }, 15_000);

  it('should cut a body idle for longer than idleMs, after what it had sent', async () => {
    const res = await readStream(`${gateway.origin}/api/stalls/stream`);
    expect(res).toEqual({ status: 200, body: 'data: first\n\n', cut: true });
    expect(stalls.count).toBe(1);
  }, 10_000);
});
