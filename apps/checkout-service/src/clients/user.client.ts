import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { CallContext, identityHeaders, traceHeaders } from './call-context';
import { clientsConfig } from './clients.config';
import { UpstreamCaller, UpstreamFailedException } from './upstream-caller';

/** Asks a user-service replica about users, as the calling user (its own-record rule applies). */
@Injectable()
export class UserClient {
  private readonly caller: UpstreamCaller;

  constructor(
    http: HttpService,
    @Inject(clientsConfig.KEY) config: ConfigType<typeof clientsConfig>,
  ) {
    this.caller = new UpstreamCaller(http, config.user);
  }

  /**
   * Whether the user exists.
   * @throws UpstreamUnavailableException when no replica answers.
   */
  async exists(userId: number, ctx: CallContext): Promise<boolean> {
    const res = await this.caller.get<{ id?: unknown }>(`/${userId}`, {
      ...traceHeaders(ctx),
      ...identityHeaders(ctx),
    });
    if (res.status === 404) return false;
    if (res.status !== 200 || res.data?.id !== userId) {
      throw new UpstreamFailedException(this.caller.service, res.status);
    }
    return true;
  }
}
