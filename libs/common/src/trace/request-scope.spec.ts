import type { IncomingMessage } from 'node:http';
import {
  currentRequestScope,
  openRequestScope,
  peerCallTrace,
  requestScopeLogFields,
  runInRequestScope,
} from './request-scope';
import { parseTraceparent } from './traceparent';
import { Tracing } from './tracing';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';

function request(headers: Record<string, string>): IncomingMessage {
  return { headers, method: 'GET' } as unknown as IncomingMessage;
}

describe('request scope (export off)', () => {
  const tracing = new Tracing(null);

  it("should continue the caller's trace under a span id of its own", () => {
    const scope = openRequestScope(
      tracing,
      request({ traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: 'congo=1' }),
      'req-1',
    );
    expect(scope).toEqual({
      requestId: 'req-1',
      traceId: TRACE_ID,
      spanId: expect.stringMatching(/^[0-9a-f]{16}$/),
      sampled: true,
      tracestate: 'congo=1',
      span: null,
    });
    expect(scope.spanId).not.toBe(CALLER_SPAN);
  });

  it('should start a new, unsampled trace for a missing or invalid traceparent', () => {
    const a = openRequestScope(tracing, request({}), 'a');
    const b = openRequestScope(tracing, request({ traceparent: 'x', tracestate: 'k=v' }), 'b');
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.traceId).not.toBe(b.traceId);
    expect([a.sampled, b.sampled, b.tracestate]).toEqual([false, false, null]);
  });

  it('should hand its ids to log lines and peer calls made within it, across awaits', async () => {
    const scope = openRequestScope(
      tracing,
      request({ traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-00`, tracestate: 'congo=1' }),
      'req-2',
    );
    expect(requestScopeLogFields()).toEqual({});
    const seen = await runInRequestScope(scope, async () => {
      await new Promise((r) => setTimeout(r, 1));
      const tries = [1, 2].map(
        () => peerCallTrace(tracing, 'GET peer', 'GET', 'http://peer/1', 'http://peer').headers,
      );
      return { fields: requestScopeLogFields(), tries, current: currentRequestScope() };
    });
    expect(seen.fields).toEqual({ requestId: 'req-2', traceId: TRACE_ID });
    expect(seen.current).toBe(scope);
    expect(seen.tries.map((h) => h.tracestate)).toEqual(['congo=1', 'congo=1']);
    const parents = seen.tries.map((h) => parseTraceparent(h.traceparent));
    expect(parents.map((p) => [p?.traceId, p?.sampled])).toEqual([
      [TRACE_ID, false],
      [TRACE_ID, false],
    ]);
    expect(parents[0]?.parentId).not.toBe(parents[1]?.parentId);
    expect(currentRequestScope()).toBeUndefined();
  });

  it('should add nothing to a call made outside any request', () => {
    expect(
      peerCallTrace(tracing, 'GET peer', 'GET', 'http://peer/1', 'http://peer').headers,
    ).toEqual({});
  });
});
