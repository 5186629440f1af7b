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

/** JSON of the few strings every line repeats (methods, service names, target origins). */
const repeated = new Map<string, string>();

function repeatedJsonString(value: string): string {
  let json = repeated.get(value);
  if (json === undefined) {
    // Targets come and go with discovery: the map stays small whatever the churn.
    if (repeated.size >= 1024) repeated.clear();
    json = jsonString(value);
    repeated.set(value, json);
  }
  return json;
}

/**
 * A latency in ms with at most three decimals, as `String(latencyMs)` writes it, from integers:
 * formatting a fractional number is the slow path of number-to-string.
 */
export function decimalMs(latencyMs: number): string {
  const micros = Math.round(latencyMs * 1000);
  const whole = Math.floor(micros / 1000);
  let fraction = micros - whole * 1000;
  if (fraction === 0) return `${whole}`;
  let digits = 3;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits -= 1;
  }
  return `${whole}.${`${fraction}`.padStart(digits, '0')}`;
}

export interface AccessLogEntry {
  requestId: string;
  /** The W3C trace id: the client's when its `traceparent` was valid, else the gateway's new one. */
  traceId: string;
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
 * Lines are handed to the destination in batches of about this many characters: each write is a
 * hand-off to a thread-pool thread, which on a busy machine costs the event loop more than
 * formatting a dozen lines. Half a default pipe (64 KiB), so a batch fits a draining stdout pipe...
 */
const BATCH_CHARS = 32 * 1024;
/** ...and at least this often when traffic is light. */
const FLUSH_INTERVAL_MS = 250;

/**
 * One JSON line per request on the proxy path, written in batches of about 32 KiB (at least every
 * 250 ms) through an asynchronous destination, so that logging never waits on stdout. The line is
 * the one a pino logger with the system's settings writes (`level`, `time`, `service`, the entry,
 * `msg: "proxy"`), formatted here field by field: a generic serialiser walking the entry cost
 * several microseconds a request. Off when `GATEWAY_ACCESS_LOG=false` or `LOG_LEVEL` is above info.
 */
@Injectable()
export class AccessLog implements OnApplicationShutdown {
  private readonly destination?: ReturnType<typeof pino.destination>;
  private readonly flushTimer?: NodeJS.Timeout;
  /** Lines not yet handed to the destination: one write of a batch costs less than one per line. */
  private pending = '';

  constructor(config: ConfigService) {
    const settings = config.getOrThrow<GatewaySettings>(GATEWAY_SETTINGS);
    const levels = ['trace', 'debug', 'info'];
    if (!settings.accessLog || !levels.includes(settings.logLevel)) return;
    this.destination = pino.destination({
      dest: 1,
      sync: false,
      // Batches come from `write` below; the destination writes each as it gets it.
      minLength: 0,
      // A stalled stdout drops lines rather than growing the heap without bound.
      maxLength: 16 * 1024 * 1024,
    });
    this.flushTimer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
  }

  get enabled(): boolean {
    return this.destination !== undefined;
  }

  write(entry: AccessLogEntry): void {
    if (this.destination === undefined) return;
    const method =
      entry.method === undefined ? '' : `,"method":${repeatedJsonString(entry.method)}`;
    const target = entry.target === null ? 'null' : repeatedJsonString(entry.target);
    this.pending += `{"level":"info","time":"${isoTimeOncePerMillisecond()}","service":"gateway","requestId":${jsonString(entry.requestId)},"traceId":"${entry.traceId}"${method},"path":${jsonString(entry.path)},"status":${entry.status},"latencyMs":${decimalMs(entry.latencyMs)},"upstream":${repeatedJsonString(entry.upstream)},"target":${target},"attempts":${entry.attempts},"msg":"proxy"}\n`;
    if (this.pending.length >= BATCH_CHARS) this.flush();
  }

  onApplicationShutdown(): void {
    clearInterval(this.flushTimer);
    this.flush();
    try {
      this.destination?.flushSync();
    } catch {
      // an asynchronous write still in flight finishes on its own before exit
    }
  }

  private flush(): void {
    if (this.pending === '' || this.destination === undefined) return;
    const batch = this.pending;
    this.pending = '';
    this.destination.write(batch);
  }
}
