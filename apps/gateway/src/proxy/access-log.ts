import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import pino, { Logger } from 'pino';
import { GATEWAY_SETTINGS, GatewaySettings } from '../routing/gateway-env';

let lastMs = 0;
let lastTime = '';

/** pino's ISO `time` field, formatted once per millisecond however many lines share it. */
function isoTimeOncePerMillisecond(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

export interface AccessLogEntry {
  requestId: string;
  method: string | undefined;
  path: string;
  status: number;
  latencyMs: number;
  /** The routed service (`service` is the app writing the line, as on every log line of the system). */
  upstream: string;
  target: string | null;
  attempts: number;
}

/**
 * One JSON line per request on the proxy path, written through an asynchronous, batching destination
 * so that logging never waits on stdout. Off when `GATEWAY_ACCESS_LOG=false` or `LOG_LEVEL` is above
 * info.
 */
@Injectable()
export class AccessLog implements OnApplicationShutdown {
  private readonly destination?: ReturnType<typeof pino.destination>;
  private readonly logger?: Logger;

  constructor(config: ConfigService) {
    const settings = config.getOrThrow<GatewaySettings>(GATEWAY_SETTINGS);
    const levels = ['trace', 'debug', 'info'];
    if (!settings.accessLog || !levels.includes(settings.logLevel)) return;
    this.destination = pino.destination({
      dest: 1,
      sync: false,
      // Lines are written in batches of 4 KiB, and at least every 250 ms when traffic is light.
      minLength: 4096,
      periodicFlush: 250,
      // A stalled stdout drops lines rather than growing the heap without bound.
      maxLength: 16 * 1024 * 1024,
    });
    this.logger = pino(
      {
        level: 'info',
        base: { service: 'gateway' },
        timestamp: isoTimeOncePerMillisecond,
        formatters: { level: (label) => ({ level: label }) },
      },
      this.destination,
    );
  }

  get enabled(): boolean {
    return this.logger !== undefined;
  }

  write(entry: AccessLogEntry): void {
    this.logger?.info(entry, 'proxy');
  }

  onApplicationShutdown(): void {
    try {
      this.destination?.flushSync();
    } catch {
      // an asynchronous write still in flight finishes on its own before exit
    }
  }
}
