import type { HttpService } from '@nestjs/axios';
import { Logger } from '@nestjs/common';
import { AxiosResponse, isAxiosError } from 'axios';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstValueFrom } from 'rxjs';
import {
  BackoffOptions,
  fullJitterBackoffMs,
  isIdempotentMethod,
  isRetryableStatus,
} from './retry-rules';
import { peerCallTrace } from './trace/request-scope';
import type { Tracing } from './trace/tracing';

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 25, maxMs: 250 };

/** The replicas of one peer service and how patiently they are asked. */
export interface ReplicaSet {
  /** Name used in logs and in the reason of an unavailable outcome. */
  service: string;
  /** Base URLs of the replicas. */
  urls: readonly string[];
  /** Bound on one try, connection to last byte. */
  timeoutMs: number;
  /** Tries per call across replicas, the first included; one per replica when not given. */
  attempts?: number;
  backoff?: BackoffOptions;
}

export interface ReplicaRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  /**
   * The endpoint has no side effect (a check, a lookup), so repeating the call is safe whatever
   * its method. Without it only GET/HEAD/PUT/DELETE, or a call carrying `Idempotency-Key`, is
   * repeated after it may have reached a replica.
   */
  idempotent?: boolean;
}

export type ReplicaOutcome<T> =
  | { readonly kind: 'answered'; readonly response: AxiosResponse<T>; readonly target: string }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** Connection failures before any byte of the request left: any request may go elsewhere. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN']);

/** Axios's idle timeout, and the abort of the whole-try deadline. */
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT', 'ERR_CANCELED']);

type Try<T> =
  | { kind: 'answered'; response: AxiosResponse<T> }
  | { kind: 'failed'; reason: string; sent: boolean };

/**
 * Calls one peer service over its replicas: round-robin over the base URLs, each try bounded by
 * the timeout, and on a connection error, a timeout or a 502/503/504 the next replica after a
 * full-jitter backoff. A call that may already have reached a replica is repeated only when it is
 * safe to repeat (see `ReplicaRequest.idempotent`); one refused before it was sent always may be.
 * Given the app's `Tracing`, a call made while serving a request continues its trace: each try
 * sends its own `traceparent` (a client span of its own when exporting) under the request's span.
 */
export class ReplicaCaller {
  private readonly logger = new Logger(ReplicaCaller.name);
  private readonly backoff: BackoffOptions;
  private next = 0;

  constructor(
    private readonly http: HttpService,
    private readonly replicas: ReplicaSet,
    private readonly tracing?: Tracing,
  ) {
    this.backoff = replicas.backoff ?? DEFAULT_BACKOFF;
  }

  get service(): string {
    return this.replicas.service;
  }

  /**
   * The first answer that is not a 502/503/504 (any other status, 4xx and 5xx included), or
   * `unavailable` when no try got one.
   */
  async call<T>(request: ReplicaRequest): Promise<ReplicaOutcome<T>> {
    const { urls } = this.replicas;
    if (urls.length === 0) {
      return { kind: 'unavailable', reason: `${this.service}: no replica configured` };
    }
    const attempts = this.replicas.attempts ?? urls.length;
    const repeatable = isRepeatable(request);
    const first = this.next++ % urls.length;
    let reason = 'no answer';
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(fullJitterBackoffMs(this.backoff, attempt));
      const target = urls[(first + attempt) % urls.length];
      const outcome = await this.tryOnce<T>(target, request);
      if (outcome.kind === 'answered') {
        return { kind: 'answered', response: outcome.response, target };
      }
      reason = `${target}: ${outcome.reason}`;
      this.logger.warn({
        msg: 'replica try failed',
        // Not `service`: that key names this app on every log line.
        upstream: this.service,
        target,
        attempt: attempt + 1,
        of: attempts,
        reason: outcome.reason,
        requestId: request.headers?.['x-request-id'],
      });
      if (outcome.sent && !repeatable) break;
    }
    return { kind: 'unavailable', reason };
  }

  private async tryOnce<T>(target: string, request: ReplicaRequest): Promise<Try<T>> {
    const { timeoutMs } = this.replicas;
    const url = `${target}${request.path}`;
    const traced = peerCallTrace(
      this.tracing,
      `${request.method} ${this.service}`,
      request.method,
      url,
      target,
    );
    try {
      const response = await firstValueFrom(
        this.http.request<T>({
          url,
          method: request.method,
          data: request.body,
          headers: { accept: 'application/json', ...request.headers, ...traced.headers },
          // `timeout` is a socket idle bound; the signal also bounds a slowly dripping answer.
          timeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
          validateStatus: () => true,
          maxRedirects: 0,
        }),
      );
      traced.end(response.status);
      if (isRetryableStatus(response.status)) {
        return { kind: 'failed', reason: `HTTP ${response.status}`, sent: true };
      }
      return { kind: 'answered', response };
    } catch (err) {
      // No response at all: refused, reset, unreachable or timed out.
      if (isAxiosError(err) && !err.response) {
        const code = err.code ?? err.message;
        const reason = TIMEOUT_CODES.has(code) ? `timed out after ${timeoutMs} ms` : code;
        traced.end(null, reason);
        return { kind: 'failed', reason, sent: !NOT_SENT_CODES.has(code) };
      }
      traced.end(null, (err as Error).message);
      throw err;
    }
  }
}

function isRepeatable(request: ReplicaRequest): boolean {
  if (request.idempotent === true || isIdempotentMethod(request.method)) return true;
  return Object.keys(request.headers ?? {}).some(
    (name) => name.toLowerCase() === 'idempotency-key',
  );
}
