import { ReplicaCaller, Tracing } from '@app/common';
import { MONEY_PATTERN, ProductView } from '@app/contracts';
import { HttpService } from '@nestjs/axios';
import { Inject, Injectable } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { CallContext, traceHeaders } from './call-context';
import { clientsConfig } from './clients.config';
import { getFromPeer, UpstreamFailedException } from './peer-call';

function isProductView(value: unknown): value is ProductView {
  const p = value as Partial<ProductView> | null;
  return (
    typeof p === 'object' &&
    p !== null &&
    Number.isSafeInteger(p.id) &&
    typeof p.name === 'string' &&
    typeof p.price === 'string' &&
    MONEY_PATTERN.test(p.price)
  );
}

/** Reads products (and so their current price) from a product-service replica. */
@Injectable()
export class ProductClient {
  private readonly caller: ReplicaCaller;

  constructor(
    http: HttpService,
    @Inject(clientsConfig.KEY) config: ConfigType<typeof clientsConfig>,
    tracing: Tracing,
  ) {
    this.caller = new ReplicaCaller(http, config.product, tracing);
  }

  /**
   * The product as the catalogue has it now, or `null` when the catalogue does not know it.
   * @throws UpstreamUnavailableException when no replica answers.
   */
  async find(productId: number, ctx: CallContext): Promise<ProductView | null> {
    const res = await getFromPeer<unknown>(this.caller, `/${productId}`, traceHeaders(ctx));
    if (res.status === 404) return null;
    if (res.status !== 200 || !isProductView(res.data) || res.data.id !== productId) {
      throw new UpstreamFailedException(this.caller.service, res.status);
    }
    return res.data;
  }
}
