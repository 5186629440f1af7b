import type { OnApplicationShutdown } from '@nestjs/common';
import {
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { ReportingExporter } from './reporting-exporter';
import { TraceExportConfig, traceExportConfig } from './trace-export';
import { TraceIds, traceIds } from './trace-ids';
import type { TraceParent } from './traceparent';

/** Bound on the flush of the last spans when the app stops (inside the shutdown hooks' own bound). */
const SHUTDOWN_FLUSH_MS = 5_000;

/**
 * The app's trace ids, and its OpenTelemetry tracer when the export is on (`exporting`). Off,
 * there is no SDK object at all: callers check `tracer` and only carry ids. On, every span is
 * recorded unless the caller's `traceparent` says it was not sampled (parent-based sampling), goes
 * out in batches over OTLP/HTTP (JSON), and the last batch is flushed on shutdown. The SDK draws
 * its ids from the same pooled generator.
 */
export class Tracing implements OnApplicationShutdown {
  readonly tracer: Tracer | null;
  private readonly provider: TracerProvider | null;

  constructor(
    readonly config: TraceExportConfig | null,
    readonly ids: TraceIds = traceIds,
  ) {
    if (config === null) {
      this.tracer = null;
      this.provider = null;
      return;
    }
    const exporter = new ReportingExporter(new OTLPTraceExporter({ url: config.url }), config.url);
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }),
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      idGenerator: ids,
      // Batch size and delay: the standard OTEL_BSP_* variables (default every 5 s).
      spanProcessors: [new BatchSpanProcessor({ exporter })],
    });
    this.tracer = this.provider.getTracer(config.serviceName);
  }

  /** From `OTEL_*` (see `traceExportConfig`); `appName` is the default service name. */
  static fromEnv(appName: string): Tracing {
    return new Tracing(traceExportConfig(appName));
  }

  get exporting(): boolean {
    return this.tracer !== null;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.provider === null) return;
    const bound = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_FLUSH_MS).unref());
    await Promise.race([this.provider.shutdown(), bound]);
  }
}

/** The context under which a span is the child of `parent`; `ROOT_CONTEXT` for a new trace. */
export function remoteContext(parent: TraceParent | null, tracestate: string | null): Context {
  if (parent === null) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.parentId,
    traceFlags: parent.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
    isRemote: true,
    traceState: tracestate === null ? undefined : createTraceState(tracestate),
  });
}

/** Whether an OpenTelemetry span (recording or not) continues a sampled trace. */
export function isSampled(span: Span): boolean {
  return (span.spanContext().traceFlags & TraceFlags.SAMPLED) !== 0;
}
