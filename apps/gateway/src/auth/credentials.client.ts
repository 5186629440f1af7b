import { ROLE_NAME, UserView } from '@app/contracts';
import { ReplicaCaller, Tracing } from '@app/common';
import { HttpService } from '@nestjs/axios';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { ConfigType } from '@nestjs/config';
import { authConfig } from './auth.config';

/** The route config's service whose replicas check credentials at login. */
export const USER_SERVICE_NAME = 'user-service';

/** Where the user-service replicas listen (`readonly string[]`), read once at start. */
export const USER_SERVICE_URLS = Symbol('USER_SERVICE_URLS');

export type CredentialsCheck =
  | { readonly kind: 'valid'; readonly user: UserView }
  | { readonly kind: 'invalid' }
  | { readonly kind: 'unavailable'; readonly reason: string };

const VERIFY_PATH = '/internal/credentials/verify';

/**
 * Asks user-service whether an email and password match, over its replicas (see `ReplicaCaller`).
 * Checking credentials has no side effect, so repeating it on another replica is safe.
 */
@Injectable()
export class CredentialsClient {
  private readonly logger = new Logger(CredentialsClient.name);
  private readonly caller: ReplicaCaller;

  constructor(
    http: HttpService,
    @Inject(USER_SERVICE_URLS) urls: readonly string[],
    @Inject(authConfig.KEY) config: ConfigType<typeof authConfig>,
    @Optional() tracing?: Tracing,
  ) {
    this.caller = new ReplicaCaller(
      http,
      { service: 'user-service', urls, timeoutMs: config.userServiceTimeoutMs },
      tracing,
    );
  }

  async verify(email: string, password: string, requestId?: string): Promise<CredentialsCheck> {
    const outcome = await this.caller.call<unknown>({
      method: 'POST',
      path: VERIFY_PATH,
      body: { email, password },
      headers: requestId ? { 'x-request-id': requestId } : {},
      idempotent: true,
    });
    if (outcome.kind === 'unavailable') {
      this.logger.warn({ msg: 'user-service unreachable', reason: outcome.reason });
      return { kind: 'unavailable', reason: outcome.reason };
    }
    const { response, target } = outcome;
    if (response.status === 200) {
      const user = asUserView(response.data);
      if (user) return { kind: 'valid', user };
      this.logger.error({ msg: 'user-service sent an unexpected user', target });
      return { kind: 'unavailable', reason: 'unexpected answer from user-service' };
    }
    if (response.status === 401) return { kind: 'invalid' };
    this.logger.error({ msg: 'credential check refused', target, status: response.status });
    return { kind: 'unavailable', reason: `${target}: HTTP ${response.status}` };
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
