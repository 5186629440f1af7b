import { formatTraceparent, parseTraceparent, validTracestate } from './traceparent';
import { TraceIds } from './trace-ids';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it('should read the example of the W3C specification', () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-01`)).toEqual({
      traceId: TRACE,
      parentId: PARENT,
      sampled: true,
    });
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-00`)?.sampled).toBe(false);
  });

  it('should read only the sampled bit of the flags', () => {
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-03`)?.sampled).toBe(true);
    expect(parseTraceparent(`00-${TRACE}-${PARENT}-fe`)?.sampled).toBe(false);
  });

  it('should read a later version by its first four fields', () => {
    expect(parseTraceparent(`01-${TRACE}-${PARENT}-01`)?.traceId).toBe(TRACE);
    expect(parseTraceparent(`cc-${TRACE}-${PARENT}-01-what-comes-next`)?.parentId).toBe(PARENT);
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['repeated (two headers)', [`00-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01`]],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['version 00 with more after it', `00-${TRACE}-${PARENT}-01-extra`],
    ['a later version followed by other than a dash', `01-${TRACE}-${PARENT}-01x`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['upper-case version', `0A-${TRACE}-${PARENT}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['an all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['a short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['a long parent id', `00-${TRACE}-${PARENT}0-01`],
    ['a one-digit flags field', `00-${TRACE}-${PARENT}-1`],
    ['a non-hex character', `00-${TRACE.slice(0, 31)}g-${PARENT}-01`],
    ['other separators', `00_${TRACE}_${PARENT}_01`],
    ['blanks inside', `00- ${TRACE}-${PARENT}-01`],
    ['garbage', 'not a traceparent at all, but long enough to be measured'],
  ])('should refuse %s', (_case, value) => {
    expect(parseTraceparent(value)).toBeNull();
  });
});

describe('formatTraceparent', () => {
  it('should write version 00 with the sampled flag', () => {
    expect(formatTraceparent(TRACE, PARENT, true)).toBe(`00-${TRACE}-${PARENT}-01`);
    expect(formatTraceparent(TRACE, PARENT, false)).toBe(`00-${TRACE}-${PARENT}-00`);
  });

  it('should write what it reads', () => {
    const ids = new TraceIds();
    const header = formatTraceparent(ids.generateTraceId(), ids.generateSpanId(), true);
    expect(formatTraceparent(...fields(header))).toBe(header);
  });

  function fields(header: string): [string, string, boolean] {
    const parsed = parseTraceparent(header);
    if (parsed === null) throw new Error(`${header} does not parse`);
    return [parsed.traceId, parsed.parentId, parsed.sampled];
  }
});

describe('validTracestate', () => {
  it.each([
    'congo=t61rcWkgMzE',
    'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE',
    'rojo=00f067aa0ba902b7 , ,\tcongo=t61rcWkgMzE',
    'tenant1@vendor=opaque value',
    'a*b/c_d-e=x',
    Array.from({ length: 32 }, (_, i) => `k${i}=v`).join(','),
  ])('should pass on %p as it is', (value) => {
    expect(validTracestate(value)).toBe(value);
  });

  it.each([
    ['absent', undefined],
    ['only blanks and commas', ' , '],
    ['a member without "="', 'congo'],
    ['an upper-case key', 'Congo=1'],
    ['a key starting with a digit', '1congo=1'],
    ['an empty value', 'congo='],
    ['a value of blanks only', 'congo=   ,rojo=1'],
    ['a blank inside a key', 'con go=1'],
    ['a "," or "=" inside a value', 'congo=a=b'],
    ['a non-ASCII value', 'congo=caf\u00e9'],
    ['a duplicate key', 'congo=1,rojo=2,congo=3'],
    ['33 members', Array.from({ length: 33 }, (_, i) => `k${i}=v`).join(',')],
    ['a key over 256 characters', `${'k'.repeat(257)}=v`],
    ['a value over 256 characters', `k=${'v'.repeat(257)}`],
    ['a system id over 14 characters', `t@${'s'.repeat(15)}=v`],
  ])('should drop a list with %s', (_case, value) => {
    expect(validTracestate(value)).toBeNull();
  });
});

describe('TraceIds', () => {
  it('should make lower-case hex ids of W3C length, distinct over many refills', () => {
    const ids = new TraceIds();
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 5_000; i++) {
      traces.add(ids.generateTraceId());
      spans.add(ids.generateSpanId());
    }
    expect(traces.size).toBe(5_000);
    expect(spans.size).toBe(5_000);
    for (const id of traces) expect(id).toMatch(/^[0-9a-f]{32}$/);
    for (const id of spans) expect(id).toMatch(/^[0-9a-f]{16}$/);
    const header = formatTraceparent([...traces][0], [...spans][0], false);
    expect(parseTraceparent(header)).not.toBeNull();
  });
});
