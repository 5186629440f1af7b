import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import pino from 'pino';
import { GATEWAY_SETTINGS, GatewaySettings } from '../routing/gateway-env';

let lastMs = 0;
let lastTime = '';

/** The ISO `time` field, formatted once per millisecond however many lines share it. */
function isoTimeOncePerMillisecond(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = new Date(now).toISOString();
  }
  return lastTime;
}

/** Printable ASCII without a quote or a backslash: written as it is; anything else goes through `JSON.stringify`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

function jsonString(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
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
 * so that logging never waits on stdout. The line is the one a pino logger with the system's
 * settings writes (`level`, `time`, `service`, the entry, `msg: "proxy"`), formatted here field by
 * field: a generic serialiser walking the entry cost several microseconds a request. Off when
 * `GATEWAY_ACCESS_LOG=false` or `LOG_LEVEL` is above info.
 */
@Injectable()
export class AccessLog implements OnApplicationShutdown {
  private readonly destination?: ReturnType<typeof pino.destination>;

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
  }

  get enabled(): boolean {
    return this.destination !== undefined;
  }

  write(entry: AccessLogEntry): void {
    if (this.destination === undefined) return;
    const method = entry.method === undefined ? '' : `,"method":${jsonString(entry.method)}`;
    const target = entry.target === null ? 'null' : jsonString(entry.target);
    this.destination.write(
      `{"level":"info","time":"${isoTimeOncePerMillisecond()}","service":"gateway","requestId":${jsonString(entry.requestId)}${method},"path":${jsonString(entry.path)},"status":${entry.status},"latencyMs":${entry.latencyMs},"upstream":${jsonString(entry.upstream)},"target":${target},"attempts":${entry.attempts},"msg":"proxy"}\n`,
    );
  }

  onApplicationShutdown(): void {
    try {
      this.destination?.flushSync();
    } catch {
      // an asynchronous write still in flight finishes on its own before exit
    }
  }
}
