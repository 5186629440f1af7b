import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Metric, Registry } from 'prom-client';
import { LatencyCounts, RequestLatencyHistogram } from './request-latency';
import { TrafficWindow } from './traffic-window';

type Inc = { inc(value?: number): void };

/**
 * The figures of one service. A request adds to plain numbers (an array slot per status, the
 * latency buckets); the Prometheus counter gets them when scraped, so that the proxy path never
 * hashes labels.
 */
export class ServiceMetrics {
  /** Requests by status (Node answers 100 to 999) counted since the last scrape. */
  private readonly unpublished = new Float64Array(1000);
  /** The statuses with a count in `unpublished`. */
  private readonly pending: number[] = [];
  /** The last minute of this service's traffic, for the status report. */
  readonly recent = new TrafficWindow();
  /** Counts a retry in Prometheus and in the recent window. */
  readonly retries: Inc;

  constructor(
    private readonly latency: LatencyCounts,
    retries: Inc,
    private readonly service: string,
  ) {
    this.retries = {
      inc: () => {
        retries.inc();
        this.recent.retried();
      },
    };
  }

  /** Records one finished request; `status` is the code sent to the client (499 when it left). */
  record(status: number, seconds: number): void {
    if (this.unpublished[status]++ === 0) this.pending.push(status);
    this.latency.observe(seconds);
    this.recent.record(status, seconds);
  }

  /** Adds the requests counted since the last call to `requests`. */
  publish(requests: Counter<'service' | 'status'>): void {
    for (const status of this.pending) {
      requests.inc({ service: this.service, status: String(status) }, this.unpublished[status]);
      this.unpublished[status] = 0;
    }
    this.pending.length = 0;
  }
}

/** The gateway's Prometheus registry: its own, so nothing else in the process leaks into `/metrics`. */
@Injectable()
export class GatewayMetrics {
  readonly registry = new Registry();

  /** One per service name, so that a service configured again keeps its counts. */
  private readonly services = new Map<string, ServiceMetrics>();

  private readonly requests: Counter<'service' | 'status'> = new Counter({
    name: 'gateway_requests_total',
    help: 'Requests answered on the proxy path, by service and status sent to the client',
    labelNames: ['service', 'status'] as const,
    registers: [this.registry],
    collect: () => {
      for (const service of this.services.values()) service.publish(this.requests);
    },
  });

  private readonly latency = new RequestLatencyHistogram();

  private readonly retries = new Counter({
    name: 'gateway_upstream_retries_total',
    help: 'Attempts sent again to a target after a retryable failure',
    labelNames: ['service'] as const,
    registers: [this.registry],
  });

  private readonly ejections = new Counter({
    name: 'gateway_upstream_ejections_total',
    help: 'Times a target was ejected by passive health checks',
    labelNames: ['service', 'target'] as const,
    registers: [this.registry],
  });

  /** Keyed by service and target, so that a target that goes away stops being reported. */
  private readonly healthProbes = new Map<string, () => void>();

  private readonly targetHealthy = new Gauge({
    name: 'gateway_upstream_target_healthy',
    help: '1 when a target receives traffic, 0 when ejected or failing its active check',
    labelNames: ['service', 'target'] as const,
    registers: [this.registry],
    collect: () => {
      for (const probe of this.healthProbes.values()) probe();
    },
  });

  constructor() {
    // prom-client's registry reads a metric through `get()`; its types name only its own classes.
    this.registry.registerMetric(this.latency as unknown as Metric);
    collectDefaultMetrics({ register: this.registry });
  }

  forService(service: string): ServiceMetrics {
    let metrics = this.services.get(service);
    if (metrics === undefined) {
      metrics = new ServiceMetrics(this.latency.of(service), this.retries.labels(service), service);
      this.services.set(service, metrics);
    }
    return metrics;
  }

  ejectionsOf(service: string, target: string): Inc {
    return this.ejections.labels(service, target);
  }

  /** Reports a target's health on every scrape, read from its live state. */
  trackTargetHealth(service: string, target: string, healthy: () => boolean): void {
    const labels = { service, target };
    this.healthProbes.set(`${service} ${target}`, () =>
      this.targetHealthy.set(labels, healthy() ? 1 : 0),
    );
  }

  /** Removes every series of a target that left its service, so that churn does not grow them. */
  forgetTarget(service: string, target: string): void {
    const labels = { service, target };
    this.healthProbes.delete(`${service} ${target}`);
    this.targetHealthy.remove(labels);
    this.ejections.remove(labels);
  }
}
