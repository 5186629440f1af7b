import { CreateOrderDto, OrderView, Page, PaginationQueryDto } from '@app/contracts';
import { ApiErrors, ApiIdParam, ApiPageResponse, IdParamPipe } from '@app/common';
import { IdempotencyKeyHeader, IdempotencyKeyPipe, sendIdempotent } from '@app/database';
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
import {
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { CallContext } from '../clients/call-context';
import { Caller, IdentityGuard } from '../identity/identity.guard';
import { OrdersService } from './orders.service';

/** Mounted at the service root: the gateway strips `/api/checkout` before forwarding. */
@ApiTags('orders')
@Controller()
@UseGuards(IdentityGuard)
export class OrdersController {
  constructor(private readonly orders: OrdersService) {}

  /** Checkout: one order for the caller, priced by the product service. */
  @Post()
  @ApiOperation({
    summary: 'Check out: order a quantity of one product',
    description:
      'With an `Idempotency-Key`, a retried request returns the first answer (marked ' +
      '`Idempotency-Replayed: true`) instead of ordering twice.',
  })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: '1 to 255 visible ASCII characters, unique per intended order',
  })
  @ApiCreatedResponse({ type: OrderView })
  @ApiErrors(400, 409, 422, 502, 503)
  async create(
    @Caller() caller: CallContext,
    @Body() dto: CreateOrderDto,
    @IdempotencyKeyHeader(IdempotencyKeyPipe) key: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    if (key === undefined) return this.orders.place(caller, dto);
    return sendIdempotent(res, await this.orders.placeOnce(caller, dto, key));
  }

  @Get('orders')
  @ApiOperation({ summary: 'List your orders, newest first' })
  @ApiPageResponse(OrderView)
  @ApiErrors(400)
  list(
    @Caller() caller: CallContext,
    @Query() query: PaginationQueryDto,
  ): Promise<Page<OrderView>> {
    return this.orders.list(caller.identity.userId, query);
  }

  @Get('orders/:id')
  @ApiOperation({ summary: 'Get one of your orders' })
  @ApiIdParam()
  @ApiOkResponse({ type: OrderView })
  @ApiErrors(400, 404)
  get(@Caller() caller: CallContext, @Param('id', IdParamPipe) id: number): Promise<OrderView> {
    return this.orders.get(caller.identity.userId, id);
  }

  @Post('orders/:id/cancel')
  @HttpCode(200)
  @ApiOperation({ summary: 'Cancel one of your orders' })
  @ApiIdParam()
  @ApiOkResponse({ type: OrderView })
  @ApiErrors(400, 404, 409)
  cancel(@Caller() caller: CallContext, @Param('id', IdParamPipe) id: number): Promise<OrderView> {
    return this.orders.cancel(caller.identity.userId, id);
  }
}
