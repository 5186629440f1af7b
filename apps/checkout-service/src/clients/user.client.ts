import { ReplicaCaller, Tracing } from '@app/common';
import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { CallContext, identityHeaders, traceHeaders } from './call-context';
import { clientsConfig } from './clients.config';
import { getFromPeer, UpstreamFailedException } from './peer-call';

/** Asks a user-service replica about users, as the calling user (its own-record rule applies). */
@Injectable()
export class UserClient {
  private readonly caller: ReplicaCaller;

  constructor(
    http: HttpService,
    @Inject(clientsConfig.KEY) config: ConfigType<typeof clientsConfig>,
    tracing: Tracing,
  ) {
    this.caller = new ReplicaCaller(http, config.user, tracing);
  }

  /**
   * Whether the user exists.
   * @throws UpstreamUnavailableException when no replica answers.
   */
  async exists(userId: number, ctx: CallContext): Promise<boolean> {
    const res = await getFromPeer<{ id?: unknown }>(this.caller, `/${userId}`, {
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
