import type { MetricValueWithName } from 'prom-client';

/** Upper bounds (seconds) of `gateway_request_duration_seconds`. */
const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Value = MetricValueWithName<'service' | 'le'>;

/** What prom-client's registry reads of a metric (its typings have `type` as a numeric enum, the registry prints the string). */
interface CollectedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'histogram';
  readonly aggregator: 'sum';
  readonly values: Value[];
}

/** One service's latencies: a count per bucket (the last one past every bound), and their sum. */
export class LatencyCounts {
  readonly buckets = new Float64Array(BOUNDS.length + 1);
  count = 0;
  sum = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < BOUNDS.length && seconds > BOUNDS[i]) i++;
    this.buckets[i] += 1;
    this.count += 1;
    this.sum += seconds;
  }

  reset(): void {
    this.buckets.fill(0);
    this.count = 0;
    this.sum = 0;
  }
}

/**
 * `gateway_request_duration_seconds` by service, counted in plain numbers and formatted only when
 * scraped: prom-client's own histogram hashes the labels and turns the bound into a property key
 * on every `observe`, about half a microsecond of each proxied request. The registry reads a
 * metric through `get()`; what this one gives is what a prom-client `Histogram` of the same name,
 * label and buckets gives (a service appears once it has a request).
 */
export class RequestLatencyHistogram {
  readonly name = 'gateway_request_duration_seconds';
  readonly help = 'Time from request to the end of the response on the proxy path';
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  private readonly services = new Map<string, LatencyCounts>();

  /** The counts of `service`: one object per service, whoever asks. */
  of(service: string): LatencyCounts {
    let counts = this.services.get(service);
    if (counts === undefined) {
      counts = new LatencyCounts();
      this.services.set(service, counts);
    }
    return counts;
  }

  get(): Promise<CollectedMetric> {
    const values: Value[] = [];
    const bucket = `${this.name}_bucket`;
    for (const [service, counts] of this.services) {
      if (counts.count === 0) continue;
      let cumulative = 0;
      for (let i = 0; i < BOUNDS.length; i++) {
        cumulative += counts.buckets[i];
        values.push({ metricName: bucket, labels: { le: BOUNDS[i], service }, value: cumulative });
      }
      values.push(
        { metricName: bucket, labels: { le: '+Inf', service }, value: counts.count },
        { metricName: `${this.name}_sum`, labels: { service }, value: counts.sum },
        { metricName: `${this.name}_count`, labels: { service }, value: counts.count },
      );
    }
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values,
    });
  }

  reset(): void {
    for (const counts of this.services.values()) counts.reset();
  }
}
