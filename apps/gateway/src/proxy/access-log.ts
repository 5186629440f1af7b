import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import pino from 'pino';
import { GATEWAY_SETTINGS, GatewaySettings } from '../routing/gateway-env';
import { LineBatch } from './line-batch';

let lastSecond = -1;
let secondPrefix = '';
let lastMs = -1;
let lastTime = '';

/**
 * The ISO `time` field. `toISOString` runs once a second for the `YYYY-MM-DDTHH:MM:SS.` part;
 * each new millisecond only appends its three digits.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now === lastMs) return lastTime;
  const second = Math.floor(now / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const ms = now - second * 1000;
  lastMs = now;
  lastTime = `${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`;
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
 * A batch goes to the destination once it holds this many bytes: each write is a hand-off to a
 * thread-pool thread, which on a busy machine costs the event loop more than formatting a dozen
 * lines. Half a default pipe (64 KiB), so a batch fits a draining stdout pipe...
 */
const BATCH_BYTES = 32 * 1024;
/** ...and at least this often when traffic is light. */
const FLUSH_INTERVAL_MS = 250;

/** pino's destination (sonic-boom) in `contentMode: 'buffer'`, which writes Buffers; its types only name strings. */
type BufferDestination = Omit<ReturnType<typeof pino.destination>, 'write'> & {
  write(chunk: Buffer): boolean;
};

/**
 * One JSON line per request on the proxy path, encoded straight into a buffer and written in
 * batches of about 32 KiB (at least every 250 ms) through an asynchronous destination, so that
 * logging never waits on stdout. The line is the one a pino logger with the system's settings
 * writes (`level`, `time`, `service`, the entry, `msg: "proxy"`), formatted here field by field:
 * a generic serialiser walking the entry cost several microseconds a request. Off when
 * `GATEWAY_ACCESS_LOG=false` or `LOG_LEVEL` is above info.
 */
@Injectable()
export class AccessLog implements OnApplicationShutdown {
  private readonly destination?: BufferDestination;
  private readonly flushTimer?: NodeJS.Timeout;
  /** Lines not yet handed to the destination: one write of a batch costs less than one per line. */
  private readonly lines?: LineBatch;

  constructor(config: ConfigService) {
    const settings = config.getOrThrow<GatewaySettings>(GATEWAY_SETTINGS);
    const levels = ['trace', 'debug', 'info'];
    if (!settings.accessLog || !levels.includes(settings.logLevel)) return;
    const destination = pino.destination({
      dest: 1,
      sync: false,
      contentMode: 'buffer',
      // Batches come from `write` below; the destination writes each as it gets it.
      minLength: 0,
      // A stalled stdout drops lines rather than growing the heap without bound.
      maxLength: 16 * 1024 * 1024,
    }) as unknown as BufferDestination;
    this.destination = destination;
    this.lines = new LineBatch((batch) => destination.write(batch), BATCH_BYTES);
    this.flushTimer = setInterval(() => this.lines?.flush(), FLUSH_INTERVAL_MS);
    this.flushTimer.unref();
  }

  get enabled(): boolean {
    return this.destination !== undefined;
  }

  write(entry: AccessLogEntry): void {
    if (this.lines === undefined) return;
    const method =
      entry.method === undefined ? '' : `,"method":${repeatedJsonString(entry.method)}`;
    const target = entry.target === null ? 'null' : repeatedJsonString(entry.target);
    // Request ids are tokens by construction (`requestIdOf`): no escaping to check for.
    this.lines.add(
      `{"level":"info","time":"${isoTime()}","service":"gateway","requestId":"${entry.requestId}","traceId":"${entry.traceId}"${method},"path":${jsonString(entry.path)},"status":${entry.status},"latencyMs":${decimalMs(entry.latencyMs)},"upstream":${repeatedJsonString(entry.upstream)},"target":${target},"attempts":${entry.attempts},"msg":"proxy"}\n`,
    );
  }

  onApplicationShutdown(): void {
    clearInterval(this.flushTimer);
    this.lines?.flush();
    try {
      this.destination?.flushSync();
    } catch {
      // an asynchronous write still in flight finishes on its own before exit
    }
  }
}
