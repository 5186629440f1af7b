import { DependencyUnavailableException } from '@app/common';
import { HttpService } from '@nestjs/axios';
import { BadGatewayException, Logger } from '@nestjs/common';
import { AxiosResponse, isAxiosError } from 'axios';
import { setTimeout as sleep } from 'node:timers/promises';
import { firstValueFrom } from 'rxjs';
import { PeerConfig } from './clients.config';

/** Every replica of a peer failed or timed out: the caller may retry later, nothing was decided. */
export class UpstreamUnavailableException extends DependencyUnavailableException {
  constructor(readonly service: string) {
    super(service);
  }
}

/** A peer answered, but not in a way its contract allows (say a 500 or a malformed body). */
export class UpstreamFailedException extends BadGatewayException {
  constructor(
    readonly service: string,
    status: number,
  ) {
    super(`${service} gave an unexpected answer (status ${status})`);
  }
}

/** Gateway-style answers that mean "this replica cannot serve now": another one may. */
const RETRYABLE_STATUSES = new Set([502, 503, 504]);

export interface BackoffOptions {
  /** Delay bound before the second try; doubles for each further try (full jitter). */
  baseMs: number;
  maxMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 25, maxMs: 250 };

type Attempt<T> =
  { kind: 'answered'; response: AxiosResponse<T> } | { kind: 'failed'; reason: string };

/**
 * GETs from one peer service over its replicas: round-robin over the base URLs, each try bounded
 * by the timeout, and on a connection error, a timeout or a 502/503/504 the next replica after a
 * short jittered backoff. Only idempotent reads go through here, so a retry cannot act twice.
 */
export class UpstreamCaller {
  private readonly logger = new Logger(UpstreamCaller.name);
  private next = 0;

  constructor(
    private readonly http: HttpService,
    private readonly peer: PeerConfig,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {
    if (peer.urls.length === 0) throw new Error(`${peer.service}: no replica URL configured`);
  }

  get service(): string {
    return this.peer.service;
  }

  /**
   * The first non-retryable answer (any status, 4xx included) from a replica.
   * @throws UpstreamUnavailableException when every try failed.
   */
  async get<T>(path: string, headers: Record<string, string>): Promise<AxiosResponse<T>> {
    const { urls, attempts } = this.peer;
    const first = this.next;
    this.next = (this.next + 1) % urls.length;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(this.backoffDelay(attempt));
      const target = urls[(first + attempt) % urls.length];
      const outcome = await this.tryOnce<T>(`${target}${path}`, headers);
      if (outcome.kind === 'answered') return outcome.response;
      this.logger.warn({
        msg: 'upstream try failed',
        // Not `service`: that key names this app on every log line.
        upstream: this.peer.service,
        target,
        attempt: attempt + 1,
        of: attempts,
        reason: outcome.reason,
        requestId: headers['x-request-id'],
      });
    }
    throw new UpstreamUnavailableException(this.peer.service);
  }

  private async tryOnce<T>(url: string, headers: Record<string, string>): Promise<Attempt<T>> {
    const { timeoutMs } = this.peer;
    try {
      const response = await firstValueFrom(
        this.http.get<T>(url, {
          headers: { accept: 'application/json', ...headers },
          // `timeout` is a socket idle bound; the signal also bounds a slowly dripping answer.
          timeout: timeoutMs,
          signal: AbortSignal.timeout(timeoutMs),
          validateStatus: () => true,
          maxRedirects: 0,
        }),
      );
      if (RETRYABLE_STATUSES.has(response.status)) {
        return { kind: 'failed', reason: `status ${response.status}` };
      }
      return { kind: 'answered', response };
    } catch (err) {
      // No response at all: refused, reset, unreachable or timed out.
      if (isAxiosError(err) && !err.response) {
        return { kind: 'failed', reason: err.code ?? err.message };
      }
      throw err;
    }
  }

  private backoffDelay(attempt: number): number {
    const bound = Math.min(this.backoff.maxMs, this.backoff.baseMs * 2 ** (attempt - 1));
    return Math.floor(Math.random() * bound);
  }
}
