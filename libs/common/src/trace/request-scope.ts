import {
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_URL_FULL,
} from '@opentelemetry/semantic-conventions';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  formatTraceparent,
  parseTraceparent,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  validTracestate,
} from './traceparent';
import { isSampled, remoteContext, Tracing } from './tracing';

/** What every log line and every call to a peer made while serving one request needs to know. */
export interface RequestScope {
  readonly requestId: string;
  readonly traceId: string;
  /** This app's span for the request: the parent of its calls to peers. */
  readonly spanId: string;
  readonly sampled: boolean;
  readonly tracestate: string | null;
  /** The server span when the export is on. */
  readonly span: Span | null;
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** The scope of the request being served, if any. */
export function currentRequestScope(): RequestScope | undefined {
  return scopes.getStore();
}

/** Runs `fn` (the rest of the request's handling) within `scope`. */
export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

/**
 * pino's mixin: `requestId` and `traceId` on every line written while a request is served (a new
 * object each time: pino merges the line's own fields into it).
 */
export function requestScopeLogFields(): object {
  const scope = scopes.getStore();
  return scope === undefined ? {} : { requestId: scope.requestId, traceId: scope.traceId };
}

/**
 * The scope of an incoming request: the caller's trace when its `traceparent` is valid, else a
 * new one, and a span of this app's own (an OpenTelemetry server span when exporting).
 */
export function openRequestScope(
  tracing: Tracing,
  req: IncomingMessage,
  requestId: string,
): RequestScope {
  const parent = parseTraceparent(req.headers[TRACEPARENT_HEADER]);
  const tracestate = parent === null ? null : validTracestate(req.headers[TRACESTATE_HEADER]);
  if (tracing.tracer === null) {
    return {
      requestId,
      traceId: parent?.traceId ?? tracing.ids.generateTraceId(),
      spanId: tracing.ids.generateSpanId(),
      sampled: parent?.sampled ?? false,
      tracestate,
      span: null,
    };
  }
  const method = req.method ?? 'GET';
  const span = tracing.tracer.startSpan(
    method,
    { kind: SpanKind.SERVER, attributes: { [ATTR_HTTP_REQUEST_METHOD]: method } },
    remoteContext(parent, tracestate),
  );
  const { traceId, spanId } = span.spanContext();
  return { requestId, traceId, spanId, sampled: isSampled(span), tracestate, span };
}

/** Ends the request's server span, named by the route template (`GET /:id`) once it is known. */
export function closeRequestScope(
  scope: RequestScope,
  req: IncomingMessage,
  route: string | null,
  res: ServerResponse,
): void {
  const span = scope.span;
  if (span === null) return;
  const status = res.writableFinished ? res.statusCode : 499;
  if (route !== null) {
    span.updateName(`${req.method ?? 'GET'} ${route}`);
    span.setAttribute(ATTR_HTTP_ROUTE, route);
  }
  span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** One call to a peer made while serving a request: its headers and, when exporting, its span. */
export interface PeerCallTrace {
  readonly headers: Record<string, string>;
  readonly end: (status: number | null, error?: string) => void;
}

const noSpan = (): void => undefined;
const NO_CALL_TRACE: PeerCallTrace = Object.freeze({ headers: {}, end: noSpan });

/**
 * `traceparent` (and `tracestate`) for one try of a call to a peer, each try its own span id
 * under the request's span; a client span around it when exporting.
 */
export function peerCallTrace(
  tracing: Tracing | undefined,
  name: string,
  method: string,
  url: string,
  serverAddress: string,
): PeerCallTrace {
  const scope = scopes.getStore();
  if (scope === undefined || tracing === undefined) return NO_CALL_TRACE;
  const span =
    scope.span === null || tracing.tracer === null
      ? null
      : clientSpan(tracing.tracer, scope.span, name, method, url, serverAddress);
  const spanId = span === null ? tracing.ids.generateSpanId() : span.spanContext().spanId;
  const headers: Record<string, string> = {
    [TRACEPARENT_HEADER]: formatTraceparent(scope.traceId, spanId, scope.sampled),
  };
  if (scope.tracestate !== null) headers[TRACESTATE_HEADER] = scope.tracestate;
  if (span === null) return { headers, end: noSpan };
  return {
    headers,
    end(status, error) {
      if (status !== null) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      if (error !== undefined || (status !== null && status >= 500)) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      }
      span.end();
    },
  };
}

function clientSpan(
  tracer: Tracer,
  parent: Span,
  name: string,
  method: string,
  url: string,
  serverAddress: string,
): Span {
  return tracer.startSpan(
    name,
    {
      kind: SpanKind.CLIENT,
      attributes: {
        [ATTR_HTTP_REQUEST_METHOD]: method,
        [ATTR_URL_FULL]: url,
        [ATTR_SERVER_ADDRESS]: serverAddress,
      },
    },
    trace.setSpan(ROOT_CONTEXT, parent),
  );
}
