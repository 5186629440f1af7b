import fc from 'fast-check';
import { parseGatewayConfig } from '../src/routing/gateway-config.loader';
import { isSegmentPrefix } from '../src/routing/gateway-config.rules';
import { PathCanonicalizer } from '../src/routing/path-canonicalizer';
import { RouteTable } from '../src/routing/route-table';
import { DOT_AND_ESCAPE_FORMS } from './support/path-forms';
import { TestGateway } from './support/test-gateway';
import { TestUpstream } from './support/test-upstream';

const BASE_PATHS = ['/api/products', '/api/products/special', '/api/users', '/v2'];

/** Pieces that make paths interesting: base path segments, dot and encoded forms, odd escapes. */
const TRICKY_SEGMENT = fc.constantFrom(
  ...DOT_AND_ESCAPE_FORMS,
  'internal',
  'Internal',
  'docs-json',
  'Docs-Json',
  'Products',
);
const PLAIN_SEGMENT = fc.oneof(
  fc.constantFrom('api', 'products', 'special', 'users', 'v2', '%41', '%61pi', '%7E', '%c3%a9'),
  fc.constantFrom(';x=1', 'a.b', '...', '~u', 'internals'),
  fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@-]{1,6}$/),
);
const SEGMENT = fc.oneof(
  { arbitrary: PLAIN_SEGMENT, weight: 5 },
  { arbitrary: TRICKY_SEGMENT, weight: 1 },
);

const PATH = fc
  .tuple(
    fc.constantFrom(
      '/',
      '',
      '//',
      '/api/',
      '/api/products/',
      '/api/users/',
      '/v2/',
      '/api/products/special/',
    ),
    fc.array(SEGMENT, { maxLength: 5 }),
    fc.constantFrom('', '/', '?q=1', '?a=%2F&b=..', '?'),
  )
  .map(([lead, segments, tail]) => `${lead}${segments.join('/')}${tail}`);

const ANY_TARGET = fc.oneof(
  PATH,
  fc.webPath(),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => `/${s}`),
);

describe('gateway: path canonicalisation and routing, property-based', () => {
  const config = parseGatewayConfig({
    services: BASE_PATHS.map((basePath, i) => ({
      name: `svc-${i}`,
      basePath,
      targets: [`http://127.0.0.1:${10_000 + i}`],
    })),
  });
  const canonicalizer = new PathCanonicalizer();
  const table = new RouteTable(config);

  it('should never throw, and route what it accepts to at most one service on a segment boundary', () => {
    fc.assert(
      fc.property(ANY_TARGET, fc.constantFrom('GET', 'POST', 'DELETE'), (target, method) => {
        const result = canonicalizer.canonicalize(target);
        if (!result.ok) {
          expect(typeof result.reason).toBe('string');
          return;
        }
        const { path } = result;
        expect(path.startsWith('/')).toBe(true);
        expect(path).not.toMatch(/\/\/|\\|%2f|%5c|%2e|%00|#/i);
        expect(path.split('/').slice(1)).not.toContain('..');
        expect(path.split('/').slice(1)).not.toContain('.');
        if (path !== '/') expect(path.endsWith('/')).toBe(false);
        expect(canonicalizer.canonicalize(path)).toEqual({ ok: true, path, query: '' });

        const prefixes = config.services.filter((s) => isSegmentPrefix(s.basePath, path));
        const route = table.resolve(result, method);
        if (prefixes.length === 0) {
          expect(route).toBeUndefined();
          return;
        }
        const longest = prefixes.reduce((a, b) => (b.basePath.length > a.basePath.length ? b : a));
        expect(route?.service).toBe(longest);
        expect(route!.service.basePath + (route!.path === '/' ? '' : route!.path)).toBe(path);
      }),
      { numRuns: 5_000 },
    );
  });

  describe('over HTTP', () => {
    const upstreams = BASE_PATHS.map(() => new TestUpstream());
    let gateway: TestGateway;

    beforeAll(async () => {
      await Promise.all(upstreams.map((u) => u.start()));
      gateway = await new TestGateway({
        services: BASE_PATHS.map((basePath, i) => ({
          name: `svc-${i}`,
          basePath,
          targets: [upstreams[i].origin],
        })),
      }).start();
    });

    afterAll(async () => {
      await Promise.all(upstreams.map((u) => u.kill()));
      await gateway.close();
    });

    it('should answer each generated path as the canonicaliser and route table decide', async () => {
      const samples = fc.sample(PATH, { numRuns: 400, seed: 20260126 });
      const outcomes = { refused: 0, notFound: 0, forwarded: 0 };
      for (const target of samples) {
        for (const u of upstreams) u.reset();
        const res = await gateway.send('GET', target.startsWith('/') ? target : `/${target}`);
        const sent = target.startsWith('/') ? target : `/${target}`;
        const canonical = canonicalizer.canonicalize(sent);
        const seen = upstreams.reduce((n, u) => n + u.count, 0);
        if (!canonical.ok) {
          expect({ sent, status: res.status }).toEqual({ sent, status: 400 });
          expect(seen).toBe(0);
          outcomes.refused += 1;
          continue;
        }
        const route = table.resolve(canonical, 'GET');
        if (!route || route.fenced) {
          expect({ sent, status: res.status }).toEqual({ sent, status: 404 });
          expect(seen).toBe(0);
          outcomes.notFound += 1;
          continue;
        }
        expect({ sent, status: res.status }).toEqual({ sent, status: 200 });
        expect(seen).toBe(1);
        expect(upstreams[route.service.index].seen[0].url).toBe(route.path + canonical.query);
        outcomes.forwarded += 1;
      }
      // The sample exercises every outcome, not just the refusals.
      expect(outcomes.refused).toBeGreaterThan(40);
      expect(outcomes.notFound).toBeGreaterThan(40);
      expect(outcomes.forwarded).toBeGreaterThan(100);
    });
  });
});
