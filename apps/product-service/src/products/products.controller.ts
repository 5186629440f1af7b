import {
  CreateProductDto,
  Page,
  PaginationQueryDto,
  ProductView,
  UpdateProductDto,
} from '@app/contracts';
import { IdParamPipe } from '@app/common';
import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ProductsService } from './products.service';

/** Mounted at the service root: the gateway strips `/api/products` before forwarding. */
@Controller()
export class ProductsController {
  constructor(private readonly products: ProductsService) {}

  @Get()
  list(@Query() query: PaginationQueryDto): Promise<Page<ProductView>> {
    return this.products.list(query);
  }

  @Get(':id')
  get(@Param('id', IdParamPipe) id: number): Promise<ProductView> {
    return this.products.get(id);
  }

  @Post()
  create(@Body() dto: CreateProductDto): Promise<ProductView> {
    return this.products.create(dto);
  }

  @Patch(':id')
  update(
    @Param('id', IdParamPipe) id: number,
    @Body() dto: UpdateProductDto,
  ): Promise<ProductView> {
    return this.products.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@Param('id', IdParamPipe) id: number): Promise<void> {
    return this.products.remove(id);
  }
}
