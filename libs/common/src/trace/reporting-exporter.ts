import { Logger } from '@nestjs/common';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { LogThrottle } from '../log-throttle';

/**
 * An exporter that says when its spans were lost: the SDK reports a failed export to a diagnostic
 * logger that is silent unless configured, so a collector that is down or a wrong endpoint would
 * go unnoticed. One warning per interval, however many batches fail.
 */
export class ReportingExporter implements SpanExporter {
  private readonly logger = new Logger('TraceExport');
  private readonly throttle = new LogThrottle();

  constructor(
    private readonly inner: SpanExporter,
    private readonly url: string,
  ) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS && this.throttle.allow()) {
        this.logger.warn({
          msg: 'spans could not be exported',
          url: this.url,
          spans: spans.length,
          reason: result.error?.message ?? 'unknown',
        });
      }
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
