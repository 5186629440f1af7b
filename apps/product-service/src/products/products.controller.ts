import {
  CreateProductDto,
  Page,
  PaginationQueryDto,
  ProductView,
  toMinorUnits,
  UpdateProductDto,
} from '@app/contracts';
import { ApiErrors, ApiIdParam, ApiPageResponse, IdParamPipe } from '@app/common';
import { IdempotencyService, IdempotentWrite, sendIdempotent, WriteRequest } from '@app/database';
import { Body, Controller, Delete, Get, Param, Patch, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  ApiCreatedResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
} from '@nestjs/swagger';
import { ProductsService } from './products.service';

const IDEMPOTENCY_KEY_HEADER = {
  name: 'Idempotency-Key',
  required: false,
  description:
    '1 to 255 visible ASCII characters: a retry with the same key and body gets the first answer ' +
    '(`Idempotency-Replayed: true`), with another body 422, while the first still runs 409',
} as const;

/** Mounted at the service root: the gateway strips `/api/products` before forwarding. */
@ApiTags('products')
@Controller()
export class ProductsController {
  constructor(
    private readonly products: ProductsService,
    private readonly idempotency: IdempotencyService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'List products, by id' })
  @ApiPageResponse(ProductView)
  @ApiErrors(400)
  list(@Query() query: PaginationQueryDto): Promise<Page<ProductView>> {
    return this.products.list(query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get one product' })
  @ApiIdParam()
  @ApiOkResponse({ type: ProductView })
  @ApiErrors(400, 404)
  get(@Param('id', IdParamPipe) id: number): Promise<ProductView> {
    return this.products.get(id);
  }

  @Post()
  @ApiOperation({ summary: 'Add a product' })
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiCreatedResponse({ type: ProductView })
  @ApiErrors(400, 409, 422)
  async create(
    @Body() dto: CreateProductDto,
    @IdempotentWrite() write: WriteRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    const fingerprint = { op: 'products.create', name: dto.name, price: toMinorUnits(dto.price) };
    const result = await this.idempotency.perform(write, fingerprint, 201, (sealBody) =>
      this.products.create(dto, sealBody),
    );
    return sendIdempotent(res, result);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change the name or price of a product' })
  @ApiIdParam()
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiOkResponse({ type: ProductView })
  @ApiErrors(400, 404, 409, 422)
  async update(
    @Param('id', IdParamPipe) id: number,
    @Body() dto: UpdateProductDto,
    @IdempotentWrite() write: WriteRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    const fingerprint = {
      op: 'products.update',
      id,
      name: dto.name ?? null,
      price: dto.price === undefined ? null : toMinorUnits(dto.price),
    };
    const result = await this.idempotency.perform(write, fingerprint, 200, (sealBody) =>
      this.products.update(id, dto, sealBody),
    );
    return sendIdempotent(res, result);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Remove a product' })
  @ApiIdParam()
  @ApiHeader(IDEMPOTENCY_KEY_HEADER)
  @ApiNoContentResponse({ description: 'Removed' })
  @ApiErrors(400, 404, 409, 422)
  async remove(
    @Param('id', IdParamPipe) id: number,
    @IdempotentWrite() write: WriteRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<unknown> {
    const result = await this.idempotency.perform(
      write,
      { op: 'products.remove', id },
      204,
      (sealBody) => this.products.remove(id, sealBody),
    );
    return sendIdempotent(res, result);
  }
}
