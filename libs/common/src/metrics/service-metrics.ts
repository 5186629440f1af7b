import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Where every service answers Prometheus' scrape; the gateway never forwards a client there. */
export const METRICS_PATH = '/metrics';

/** The one `route` label of every request no route matched, so unknown paths add no series. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Seconds; from a cached read to a slow write behind the SQLite lock. */
export const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * The service's Prometheus registry, one per app (so two apps in one process, as in tests, never
 * mix their series), with the process' default metrics and the HTTP request metrics. Other
 * modules register their own metrics in `registry`.
 */
@Injectable()
export class ServiceMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests answered, by method, route template and status (499: the client left first)',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from the request to the end of its response, by method and route template',
    labelNames: ['method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Records one finished request; `route` is its template (e.g. `/:id`) or `UNMATCHED_ROUTE`. */
  recordRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.labels(method, route, String(status)).inc();
    this.latency.labels(method, route).observe(seconds);
  }

  /** The registry in Prometheus' text format. */
  scrape(): Promise<string> {
    return this.registry.metrics();
  }
}
