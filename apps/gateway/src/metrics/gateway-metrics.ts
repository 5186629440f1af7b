import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TrafficWindow } from './traffic-window';

type Inc = { inc(value?: number): void };
type Observe = { observe(value: number): void };

/** Counters of one service, bound to their labels once so a request only increments. */
export class ServiceMetrics {
  private readonly byStatus: (Inc | undefined)[] = [];
  /** The last minute of this service's traffic, for the status report. */
  readonly recent = new TrafficWindow();
  /** Counts a retry in Prometheus and in the recent window. */
  readonly retries: Inc;

  constructor(
    private readonly requests: Counter<'service' | 'status'>,
    private readonly latency: Observe,
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
    let counter = this.byStatus[status];
    if (counter === undefined) {
      counter = this.requests.labels(this.service, String(status));
      this.byStatus[status] = counter;
    }
    counter.inc();
    this.latency.observe(seconds);
    this.recent.record(status, seconds);
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
