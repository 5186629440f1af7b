import { CreateOrderDto, OrderView, Page, PaginationQueryDto } from '@app/contracts';
import { IdParamPipe } from '@app/common';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { Response } from 'express';
import type { CallContext } from '../clients/call-context';
import { Caller, IdentityGuard } from '../identity/identity.guard';
import { IdempotencyKeyHeader, IdempotencyKeyPipe } from './idempotency-key.pipe';
import { OrdersService } from './orders.service';

export const IDEMPOTENCY_REPLAYED_HEADER = 'Idempotency-Replayed';

/** Mounted at the service root: the gateway strips `/api/checkout` before forwarding. */
@Controller()
@UseGuards(IdentityGuard)
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  /** Checkout: one order for the caller, priced by the product service. */
  @Post()
  async create(
    @Caller() caller: CallContext,
    @Body() dto: CreateOrderDto,
    @IdempotencyKeyHeader(IdempotencyKeyPipe) key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    if (key === undefined) return this.orders.place(caller, dto);
    const { response, replayed } = await this.orders.placeOnce(caller, dto, key);
    res.status(response.status);
    if (replayed) res.setHeader(IDEMPOTENCY_REPLAYED_HEADER, 'true');
    return response.body;
  }

  @Get('orders')
  list(
    @Caller() caller: CallContext,
    @Query() query: PaginationQueryDto,
  ): Promise<Page<OrderView>> {
    return this.orders.list(caller.identity.userId, query);
  }

  @Get('orders/:id')
  get(@Caller() caller: CallContext, @Param('id', IdParamPipe) id: number): Promise<OrderView> {
    return this.orders.get(caller.identity.userId, id);
  }

  @Post('orders/:id/cancel')
  @HttpCode(200)
  cancel(@Caller() caller: CallContext, @Param('id', IdParamPipe) id: number): Promise<OrderView> {
    return this.orders.cancel(caller.identity.userId, id);
  }
}
