import type { IncomingMessage, ServerResponse } from 'node:http';
import { startAuthGateway as startGateway } from './support/auth-gateway';
import { Reply, TestGateway } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

const ETAG = 'W/"v7"';
const LAST_MODIFIED = 'Tue, 01 Dec 2026 10:00:00 GMT';
const BODY = JSON.stringify({ item: 1 });

/**
 * An origin that evaluates conditions itself (RFC 9110 §13.2.2), so every cache hit can be
 * compared with what the origin answers to the same request.
 */
function origin(req: IncomingMessage, res: ServerResponse): void {
  const common = {
    etag: ETAG,
    'last-modified': LAST_MODIFIED,
    'cache-control': 'max-age=60',
    vary: 'Accept',
  };
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  const tags = (inm ?? '').split(',').map((t) => t.trim().replace(/^W\//, ''));
  const matched =
    inm !== undefined
      ? inm.trim() === '*' || tags.includes(ETAG.slice(2))
      : ims !== undefined &&
        !Number.isNaN(Date.parse(ims)) &&
        Date.parse(LAST_MODIFIED) <= Date.parse(ims);
  if (req.headers['if-match'] !== undefined && req.headers['if-match'] !== '*') {
    res.writeHead(412, { 'content-type': 'application/json', 'content-length': 2 });
    res.end('{}');
    return;
  }
  if (matched) {
    res.writeHead(304, common);
    res.end();
    return;
  }
  res.writeHead(200, {
    ...common,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(BODY),
  });
  res.end(BODY);
}

describe('conditional requests answered from the cache (RFC 9110 §13, RFC 9111 §4.3.2)', () => {
  const catalog = new TestUpstream();
  let gw: TestGateway;
  let path = '';
  let n = 0;

  const get = (headers: Record<string, string> = {}) => gw.send('GET', path, { headers });
  /** The origin's own answer to the same request, straight from it. */
  const fromOrigin = async (headers: Record<string, string>): Promise<number> => {
    const res = await fetch(`${catalog.origin}/items/${n}`, { headers });
    await res.arrayBuffer();
    return res.status;
  };

  beforeAll(async () => {
    await catalog.start();
    gw = await startGateway({
      services: [
        {
          name: 'catalog',
          basePath: '/api/catalog',
          targets: [catalog.origin],
          activeHealth: { enabled: false },
          cache: { ttlSeconds: 30 },
          auth: { default: 'public' },
        },
      ],
    });
  });

  afterAll(async () => {
    await gw?.close();
    await catalog.kill();
  });

  beforeEach(async () => {
    catalog.reset();
    catalog.behaviour = origin;
    path = `/api/catalog/items/${++n}`;
    const first = await get();
    expect([first.status, first.headers['x-cache']]).toEqual([200, 'MISS']);
  });

  const notModified = (res: Reply) => {
    expect(res.status).toBe(304);
    expect(res.headers['x-cache']).toBe('HIT');
    expect(res.text).toBe('');
    expect(res.headers.etag).toBe(ETAG);
    expect(res.headers['cache-control']).toBe('max-age=60');
    expect(res.headers.vary).toBe('Accept');
    expect(res.headers['content-type']).toBeUndefined();
    expect(res.headers['content-length']).toBeUndefined();
    expect(Number(res.headers.age)).toBeGreaterThanOrEqual(0);
  };

  it.each([
    ['the same weak tag', { 'if-none-match': ETAG }],
    ['the strong form of the tag (weak comparison)', { 'if-none-match': '"v7"' }],
    ['a list holding the tag', { 'if-none-match': '"a", W/"v7", "b"' }],
    ['*', { 'if-none-match': '*' }],
    ['If-Modified-Since at Last-Modified', { 'if-modified-since': LAST_MODIFIED }],
    ['If-Modified-Since after it', { 'if-modified-since': 'Wed, 02 Dec 2026 10:00:00 GMT' }],
    ['an RFC 850 date', { 'if-modified-since': 'Wednesday, 02-Dec-26 10:00:00 GMT' }],
    ['an asctime date', { 'if-modified-since': 'Wed Dec  2 10:00:00 2026' }],
  ])('should answer 304 from the cache, like the origin, to %s', async (_, headers) => {
    notModified(await get(headers));
    expect(await fromOrigin(headers)).toBe(304);
    expect(catalog.count).toBe(2);
  });

  it.each([
    ['another tag', { 'if-none-match': '"v6"' }],
    ['an unreadable tag list', { 'if-none-match': 'v7' }],
    [
      'If-Modified-Since before Last-Modified',
      { 'if-modified-since': 'Mon, 30 Nov 2026 10:00:00 GMT' },
    ],
    ['an invalid date (ignored)', { 'if-modified-since': 'yesterday' }],
    [
      'If-None-Match that fails, whatever If-Modified-Since says',
      { 'if-none-match': '"v6"', 'if-modified-since': 'Wed, 02 Dec 2026 10:00:00 GMT' },
    ],
  ])('should answer the full 200 from the cache, like the origin, to %s', async (_, headers) => {
    const res = await get(headers);
    expect([res.status, res.headers['x-cache'], res.text]).toEqual([200, 'HIT', BODY]);
    expect(await fromOrigin(headers)).toBe(200);
    expect(catalog.count).toBe(2);
  });

  it('should pass If-Match and If-Unmodified-Since to the origin, which answers 412', async () => {
    const res = await get({ 'if-match': '"other"' });
    expect([res.status, res.headers['x-cache']]).toEqual([412, 'BYPASS']);
    const unmodified = await get({ 'if-unmodified-since': 'Mon, 30 Nov 2026 10:00:00 GMT' });
    expect(unmodified.headers['x-cache']).toBe('BYPASS');
    expect(catalog.count).toBe(3);
  });

  it('should not answer Cache-Control: no-cache or max-age=0 from the cache', async () => {
    for (const control of ['no-cache', 'max-age=0']) {
      const res = await get({ 'cache-control': control, 'if-none-match': ETAG });
      expect(res.headers['x-cache']).toBe('BYPASS');
    }
    expect(catalog.count).toBe(3);
  });
});
