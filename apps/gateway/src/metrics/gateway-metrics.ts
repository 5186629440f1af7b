import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** Counters of one service, bound to their labels once so a request only increments. */
export class ServiceMetrics {
  private readonly byStatus: (Inc | undefined)[] = [];

  constructor(
    private readonly requests: Counter<'service' | 'status'>,
    private readonly latency: Observe,
    readonly retries: Inc,
    private readonly service: string,
  ) {}

  /** Records one finished request; `status` is the code sent to the client (499 when it left). */
  record(status: number, seconds: number): void {
    let counter = this.byStatus[status];
    if (counter === undefined) {
      counter = this.requests.labels(this.service, String(status));
      this.byStatus[status] = counter;
    }
    counter.inc();
    this.latency.observe(seconds);
  }
}

/** The gateway's Prometheus registry: its own, so nothing else in the process leaks into `/metrics`. */
@Injectable()
export class GatewayMetrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'gateway_requests_total',
    help: 'Requests answered on the proxy path, by service and status sent to the client',
    labelNames: ['service', 'status'] as const,
    registers: [this.registry],
  });

  private readonly latency = new Histogram({
    name: 'gateway_request_duration_seconds',
    help: 'Time from request to the end of the response on the proxy path',
    labelNames: ['service'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

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

  private readonly healthProbes: (() => void)[] = [];

  private readonly targetHealthy = new Gauge({
    name: 'gateway_upstream_target_healthy',
    help: '1 when a target receives traffic, 0 when ejected or failing its active check',
    labelNames: ['service', 'target'] as const,
    registers: [this.registry],
    collect: () => {
      for (const probe of this.healthProbes) probe();
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  forService(service: string): ServiceMetrics {
    return new ServiceMetrics(
      this.requests,
      this.latency.labels(service),
      this.retries.labels(service),
      service,
    );
  }

  ejectionsOf(service: string, target: string): Inc {
    return this.ejections.labels(service, target);
  }

  /** Reports a target's health on every scrape, read from its live state. */
  trackTargetHealth(service: string, target: string, healthy: () => boolean): void {
    const labels = { service, target };
    this.healthProbes.push(() => this.targetHealthy.set(labels, healthy() ? 1 : 0));
  }
}
