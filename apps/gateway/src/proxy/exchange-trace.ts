import {
  formatTraceparent,
  isSampled,
  parseTraceparent,
  remoteContext,
  TRACEPARENT_HEADER,
  TRACESTATE_HEADER,
  type Tracing,
  validTracestate,
} from '@app/common';
import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import {
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_SERVER_ADDRESS,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { IncomingMessage } from 'node:http';

/**
 * The trace of one proxied request. The client's `traceparent` is kept when valid (its trace id
 * and sampled flag; `tracestate` goes along when valid too), else the request starts a new trace.
 * Each attempt upstream gets its own span id, a child of the gateway's span for the request, so
 * that retries are siblings; the upstream sees that id as its parent. With the export off these
 * are ids only; on, the request and every attempt are OpenTelemetry spans (server and client).
 */
export class ExchangeTrace {
  private constructor(
    private readonly tracing: Tracing,
    readonly traceId: string,
    private readonly sampled: boolean,
    /** The gateway's request span (export on), and the context its attempts start under. */
    private readonly span: Span | null,
    private readonly spanContext: Context | null,
    /** Where in the upstream headers the `traceparent` value goes. */
    private readonly headerAt: number,
  ) {}

  /**
   * Starts the request's trace and appends `traceparent` (and a valid `tracestate`) to the
   * upstream headers; `attempt` fills in the value for each attempt. The request span is named
   * after the method and the service's base path; `path` is the canonical path.
   */
  static begin(
    tracing: Tracing,
    req: IncomingMessage,
    basePath: string,
    path: string,
    headers: string[],
  ): ExchangeTrace {
    const parent = parseTraceparent(req.headers[TRACEPARENT_HEADER]);
    const tracestate = parent === null ? null : validTracestate(req.headers[TRACESTATE_HEADER]);
    if (tracestate !== null) headers.push(TRACESTATE_HEADER, tracestate);
    headers.push(TRACEPARENT_HEADER, '');
    const at = headers.length - 1;
    const tracer = tracing.tracer;
    if (tracer === null) {
      const traceId = parent?.traceId ?? tracing.ids.generateTraceId();
      return new ExchangeTrace(tracing, traceId, parent?.sampled ?? false, null, null, at);
    }
    const method = req.method ?? 'GET';
    const span = tracer.startSpan(
      `${method} ${basePath}`,
      {
        kind: SpanKind.SERVER,
        attributes: { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path },
      },
      remoteContext(parent, tracestate),
    );
    const { traceId } = span.spanContext();
    const context = trace.setSpan(ROOT_CONTEXT, span);
    return new ExchangeTrace(tracing, traceId, isSampled(span), span, context, at);
  }

  /**
   * The span of attempt `attempt` (1 for the first) on `target` of `service`, whose id goes
   * upstream in `traceparent`; `null` with the export off, where only the header changes.
   */
  attempt(
    headers: string[],
    method: string,
    service: string,
    target: string,
    attempt: number,
  ): Span | null {
    if (this.span === null || this.spanContext === null) {
      headers[this.headerAt] = formatTraceparent(
        this.traceId,
        this.tracing.ids.generateSpanId(),
        this.sampled,
      );
      return null;
    }
    const span = this.tracing.tracer!.startSpan(
      `${method} ${service}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: method,
          [ATTR_SERVER_ADDRESS]: target,
          [ATTR_HTTP_REQUEST_RESEND_COUNT]: attempt - 1,
        },
      },
      this.spanContext,
    );
    headers[this.headerAt] = formatTraceparent(
      this.traceId,
      span.spanContext().spanId,
      this.sampled,
    );
    return span;
  }

  /** Ends the request's span with the status the client got (499: it left first). */
  end(status: number): void {
    const span = this.span;
    if (span === null) return;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
  }
}

/** Ends an attempt's span with its final status, or the reason it has none. */
export function endAttemptSpan(span: Span, status: number, error: string | null): void {
  if (status > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
  if (error !== null) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  else if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
