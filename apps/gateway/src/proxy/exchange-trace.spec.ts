import { parseTraceparent, Tracing } from '@app/common';
import type { IncomingMessage } from 'node:http';
import { ExchangeTrace } from './exchange-trace';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers, method: 'GET' } as unknown as IncomingMessage;
}

function header(headers: string[], name: string): string | undefined {
  const at = headers.indexOf(name);
  return at < 0 ? undefined : headers[at + 1];
}

describe('ExchangeTrace (export off)', () => {
  const tracing = new Tracing(null);

  it('should give each attempt its own span id in the kept trace, in one traceparent header', () => {
    const headers = ['x-request-id', 'r'];
    const trace = ExchangeTrace.begin(
      tracing,
      request({
        traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
        tracestate: 'congo=t61rcWkgMzE',
      }),
      '/api/x',
      '/api/x/1',
      headers,
    );
    expect(trace.traceId).toBe(TRACE_ID);
    const sent: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      expect(trace.attempt(headers, 'GET', 'x', 'http://a', attempt)).toBeNull();
      sent.push(header(headers, 'traceparent')!);
    }
    expect(headers.filter((h) => h === 'traceparent')).toHaveLength(1);
    expect(header(headers, 'tracestate')).toBe('congo=t61rcWkgMzE');
    const parsed = sent.map((h) => parseTraceparent(h));
    expect(parsed.map((p) => p?.traceId)).toEqual([TRACE_ID, TRACE_ID, TRACE_ID]);
    expect(parsed.map((p) => p?.sampled)).toEqual([true, true, true]);
    expect(new Set(parsed.map((p) => p?.parentId)).size).toBe(3);
  });

  it('should start an unsampled trace of its own for an invalid traceparent, without its tracestate', () => {
    const headers: string[] = [];
    const trace = ExchangeTrace.begin(
      tracing,
      request({ traceparent: 'garbage', tracestate: 'congo=1' }),
      '/api/x',
      '/api/x',
      headers,
    );
    trace.attempt(headers, 'GET', 'x', 'http://a', 1);
    const sent = parseTraceparent(header(headers, 'traceparent'));
    expect(sent).toEqual({ traceId: trace.traceId, parentId: expect.any(String), sampled: false });
    expect(header(headers, 'tracestate')).toBeUndefined();
  });
});
