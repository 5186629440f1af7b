import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { GatewayMetrics } from '../../metrics/gateway-metrics';

/** Why a WebSocket handshake was answered without an upgrade (the `reason` label). */
export type TunnelRefusal =
  | 'bad-handshake'
  | 'not-found'
  | 'not-enabled'
  | 'unauthorized'
  | 'forbidden'
  | 'auth-unavailable'
  | 'draining'
  | 'gateway-limit'
  | 'user-limit'
  | 'no-target'
  | 'upstream-failed'
  | 'upstream-refused';

type Inc = { inc(value?: number): void };

/** One service's tunnel series, bound to their labels once. */
export interface ServiceTunnelMetrics {
  readonly open: { inc(value?: number): void; dec(): void };
  /** Bytes from the client to the upstream, frames as they are. */
  readonly toUpstream: Inc;
  /** Bytes from the upstream to the client. */
  readonly toClient: Inc;
  refused(reason: TunnelRefusal): void;
}

/** The WebSocket series in the gateway's registry. */
@Injectable()
export class TunnelMetrics {
  private readonly open: Gauge<'service'>;
  private readonly bytes: Counter<'service' | 'direction'>;
  private readonly refusals: Counter<'service' | 'reason'>;
  private readonly byService = new Map<string, ServiceTunnelMetrics>();

  constructor(metrics: GatewayMetrics) {
    const registers = [metrics.registry];
    this.open = new Gauge({
      name: 'gateway_websocket_tunnels_open',
      help: 'WebSocket tunnels open now, by service',
      labelNames: ['service'] as const,
      registers,
    });
    this.bytes = new Counter({
      name: 'gateway_websocket_bytes_total',
      help: 'Bytes relayed through WebSocket tunnels, by service and direction (to_upstream, to_client)',
      labelNames: ['service', 'direction'] as const,
      registers,
    });
    this.refusals = new Counter({
      name: 'gateway_websocket_refused_total',
      help: 'WebSocket handshakes answered without an upgrade, by service and reason',
      labelNames: ['service', 'reason'] as const,
      registers,
    });
  }

  /** The series of `service`, made once; `present`: its open gauge is reported from now on (0). */
  forService(service: string, present: boolean): ServiceTunnelMetrics {
    let metrics = this.byService.get(service);
    if (metrics === undefined) {
      const refusals = this.refusals;
      metrics = {
        open: this.open.labels(service),
        toUpstream: this.bytes.labels(service, 'to_upstream'),
        toClient: this.bytes.labels(service, 'to_client'),
        refused: (reason) => refusals.labels(service, reason).inc(),
      };
      this.byService.set(service, metrics);
    }
    // So that a dashboard of a WebSocket service has data before its first tunnel.
    if (present) metrics.open.inc(0);
    return metrics;
  }
}
