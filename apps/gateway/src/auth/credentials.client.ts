import { ROLE_NAME, UserView } from '@app/contracts';
import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { AxiosError, AxiosResponse } from 'axios';
import { firstValueFrom } from 'rxjs';
import { authConfig } from './auth.config';

/** Where the user-service replicas listen; read at each login, so a config reload is picked up. */
export const USER_SERVICE_URLS = Symbol('USER_SERVICE_URLS');
export type UserServiceUrls = () => readonly string[];

export type CredentialsCheck =
  | { readonly kind: 'valid'; readonly user: UserView }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'unavailable'; readonly reason: string };

const VERIFY_PATH = '/internal/credentials/verify';

/** Failures where another replica may well answer: nothing reached the service, or it said so. */
const RETRY_ON_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);
const RETRY_ON_STATUS = new Set([502, 503, 504]);

/**
 * Asks user-service whether an email and password match, trying each replica in turn (starting
 * from a rotating one) when a replica cannot be reached. Checking credentials has no side effect,
 * so repeating it on another replica is safe.
 */
@Injectable()
export class CredentialsClient {
  private readonly logger = new Logger(CredentialsClient.name);
  private next = 0;

  constructor(
    private readonly http: HttpService,
    @Inject(USER_SERVICE_URLS) private readonly urls: UserServiceUrls,
    @Inject(authConfig.KEY) private readonly config: ConfigType<typeof authConfig>,
  ) {}

  async verify(email: string, password: string, requestId?: string): Promise<CredentialsCheck> {
    const urls = this.urls();
    if (urls.length === 0) return { kind: 'unavailable', reason: 'no user-service target' };
    const first = this.next++ % urls.length;
    let reason = 'no answer';
    for (let i = 0; i < urls.length; i++) {
      const base = urls[(first + i) % urls.length];
      let res: AxiosResponse<unknown>;
      try {
        res = await firstValueFrom(
          this.http.post<unknown>(
            `${base}${VERIFY_PATH}`,
            { email, password },
            {
              timeout: this.config.userServiceTimeoutMs,
              validateStatus: () => true,
              maxRedirects: 0,
              headers: requestId ? { 'x-request-id': requestId } : {},
            },
          ),
        );
      } catch (err) {
        const code = (err as AxiosError).code ?? 'unknown';
        reason = `${base}: ${code}`;
        if (RETRY_ON_CODES.has(code)) continue;
        this.logger.error({ msg: 'credential check failed', target: base, error: String(err) });
        return { kind: 'unavailable', reason };
      }
      if (res.status === 200) {
        const user = asUserView(res.data);
        if (user) return { kind: 'valid', user };
        this.logger.error({ msg: 'user-service sent an unexpected user', target: base });
        return { kind: 'unavailable', reason: 'unexpected answer from user-service' };
      }
      if (res.status === 401) return { kind: 'invalid' };
      reason = `${base}: HTTP ${res.status}`;
      if (RETRY_ON_STATUS.has(res.status)) continue;
      this.logger.error({ msg: 'credential check refused', target: base, status: res.status });
      return { kind: 'unavailable', reason };
    }
    this.logger.warn({ msg: 'user-service unreachable', reason });
    return { kind: 'unavailable', reason };
  }
}

function asUserView(data: unknown): UserView | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const u = data as Record<string, unknown>;
  if (
    typeof u.id === 'number' &&
    Number.isSafeInteger(u.id) &&
    u.id > 0 &&
    typeof u.email === 'string' &&
    typeof u.name === 'string' &&
    Array.isArray(u.roles) &&
    u.roles.every((r) => typeof r === 'string' && ROLE_NAME.test(r))
  ) {
    return { id: u.id, name: u.name, email: u.email, roles: u.roles as string[] };
  }
  return undefined;
}
