import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { Agent, request } from 'undici';
import { ProofResults, round } from './support/proof-results';
import { ProofSystem, USER } from './support/proof-system';

const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
const CLIENTS = 16;
/** Heap may sit a little above its baseline (JIT code, pool bookkeeping, metrics) without leaking. */
const HEAP_SLACK_BYTES = 24 * 1024 * 1024;

const results = new ProofResults('soak', 'Soak: bounded mixed load, then back to baseline');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Footprint {
  rssBytes: number;
  heapUsedBytes: number;
  openSockets: number;
  openFds: number;
}

describe('proof: soak under bounded mixed load', () => {
  const proof = new ProofSystem();

  beforeAll(() => proof.start(), 120_000);

  afterAll(async () => {
    results.write();
    await proof.stop();
  }, 30_000);

  /** The gateway's footprint, read from outside: /proc for RSS and sockets, /metrics for the heap. */
  async function footprint(): Promise<Footprint> {
    const pid = proof.gateway.pid;
    if (pid === undefined) throw new Error('the gateway is not running');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    const fds = readdirSync(`/proc/${pid}/fd`);
    let sockets = 0;
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets += 1;
      } catch {
        // closed while listing
      }
    }
    // A connection of its own, closed at once, so that the next reading does not count it.
    const scraper = new Agent({ pipelining: 0 });
    const metrics = await (
      await request(`${proof.url}/metrics`, { dispatcher: scraper })
    ).body.text();
    await scraper.close();
    const heap = Number(/^nodejs_heap_size_used_bytes\s+(\S+)/m.exec(metrics)?.[1] ?? NaN);
    return {
      rssBytes: rssKb * 1024,
      heapUsedBytes: heap,
      openSockets: sockets,
      openFds: fds.length,
    };
  }

  /**
   * Waits for the gateway to go idle (its upstream keep-alive sockets expire after 4 s, V8
   * collects), then reads its footprint; with a `target`, polls up to 30 s for it to be reached.
   */
  async function settled(target?: Footprint): Promise<Footprint> {
    await sleep(6_000);
    if (!target) return footprint();
    const deadline = Date.now() + 30_000;
    let now = await footprint();
    while (Date.now() < deadline) {
      if (
        now.openSockets <= target.openSockets &&
        now.heapUsedBytes <= target.heapUsedBytes + HEAP_SLACK_BYTES
      ) {
        break;
      }
      await sleep(1_000);
      now = await footprint();
    }
    return now;
  }

  async function load(seconds: number, token: string) {
    const agent = new Agent({ connections: CLIENTS });
    const counts = { sent: 0, answered: 0, ok: 0, aborted: 0, failed: [] as string[] };
    const until = Date.now() + seconds * 1000;
    let n = 0;
    const auth = { authorization: `Bearer ${token}` };
    const worker = async () => {
      while (Date.now() < until) {
        const i = n++;
        counts.sent += 1;
        const kind = i % 20;
        try {
          if (kind === 0) {
            // A client that gives up mid-request: the gateway must free what it held for it.
            const controller = new AbortController();
            const pending = request(`${proof.url}/api/products`, {
              dispatcher: agent,
              signal: controller.signal,
            });
            controller.abort();
            await pending.catch(() => undefined);
            counts.aborted += 1;
            continue;
          }
          const res =
            kind === 1
              ? await request(`${proof.url}/api/checkout`, {
                  dispatcher: agent,
                  method: 'POST',
                  headers: {
                    ...auth,
                    'content-type': 'application/json',
                    'idempotency-key': `soak-${i}`,
                  },
                  body: JSON.stringify({ productId: (i % 4) + 1, quantity: 1 }),
                })
              : kind < 5
                ? await request(`${proof.url}/api/checkout/orders?limit=5`, {
                    dispatcher: agent,
                    headers: auth,
                  })
                : kind === 5
                  ? await request(`${proof.url}/api/products/does-not-exist`, { dispatcher: agent })
                  : await request(`${proof.url}/api/products/${(i % 4) + 1}`, {
                      dispatcher: agent,
                    });
          await res.body.text();
          counts.answered += 1;
          const expected = kind === 1 ? 201 : kind === 5 ? 400 : 200;
          if (res.statusCode === expected || (kind === 5 && res.statusCode === 404)) counts.ok += 1;
          else counts.failed.push(`${kind}:${res.statusCode}`);
        } catch (err) {
          counts.failed.push(`${kind}:${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, worker));
    await agent.close();
    return counts;
  }

  it(
    `should hold ${SOAK_SECONDS} s of mixed load and return to its memory and socket baseline`,
    async () => {
      const token = await proof.login(USER);
      await load(5, token); // warm-up: pools, JIT, caches
      const before = await settled();

      const started = performance.now();
      const run = await load(SOAK_SECONDS, token);
      const seconds = (performance.now() - started) / 1000;
      const endOfLoad = await footprint();
      const after = await settled(before);

      expect(run.failed.slice(0, 5)).toEqual([]);
      expect(run.answered + run.aborted).toBe(run.sent);
      expect(run.ok).toBe(run.answered);
      expect(after.openSockets).toBeLessThanOrEqual(before.openSockets);
      expect(after.heapUsedBytes).toBeLessThanOrEqual(before.heapUsedBytes + HEAP_SLACK_BYTES);
      expect(proof.gateway.running).toBe(true);
      const mb = (b: number) => round(b / 1024 / 1024, 1);
      results.record(`${SOAK_SECONDS} s mixed load`, {
        seconds: round(seconds, 1),
        clients: CLIENTS,
        sent: run.sent,
        answered: run.answered,
        answeredAsExpected: run.ok,
        abortedByClient: run.aborted,
        lost: run.sent - run.answered - run.aborted,
        requestsPerSecond: round(run.sent / seconds, 0),
        heapUsedMbBefore: mb(before.heapUsedBytes),
        heapUsedMbEndOfLoad: mb(endOfLoad.heapUsedBytes),
        heapUsedMbAfter: mb(after.heapUsedBytes),
        rssMbBefore: mb(before.rssBytes),
        rssMbEndOfLoad: mb(endOfLoad.rssBytes),
        rssMbAfter: mb(after.rssBytes),
        openSocketsBefore: before.openSockets,
        openSocketsEndOfLoad: endOfLoad.openSockets,
        openSocketsAfter: after.openSockets,
        openFdsBefore: before.openFds,
        openFdsAfter: after.openFds,
      });
    },
    (SOAK_SECONDS + 120) * 1000,
  );
});
